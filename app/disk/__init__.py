"""The vault's own disks: free space, the reserve kept for holds and the ledger, the
read-only mode below it, and disk failures answered as 507."""
