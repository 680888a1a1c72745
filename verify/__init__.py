"""Locard's offline verifier: receipts and evidence bundles, with no database, server or network.

An auditor can use it alone::

    from verify import VerificationPolicy, Verifier, verify_bundle

    policy = VerificationPolicy(trusted_log_keys=(vkey,), trusted_tsa_roots=(root_der,))
    report = Verifier(policy).verify_receipt(receipt_bytes)
    report = verify_bundle(Path("case.zip"), policy)
    report.verdict  # "verified", "failed" or "unpinned"

Modules: `report` (checks and verdicts), `policy` (what is pinned), `verifier` (the receipt
checks, shared by bundles), `receipt` and `bundle.manifest`/`bundle.layout` (the wire formats,
also used by their writers), `strict_json`, `times`, and the primitives `merkle`, `note`,
`checkpoint`, `timestamp`, `events`, `event_types` (the names shared with the vault's
catalogue), `chains` (the per-item prev walk), `artifacts`, `manifest` (collector
signatures), `errors`.
"""

from verify.bundle import verify_bundle
from verify.errors import PolicyError, VerificationError
from verify.policy import VerificationPolicy, parse_trusted_keys
from verify.receipt import RECEIPT_FORMAT, parse_receipt
from verify.report import FAILED, UNPINNED, VERIFIED, Check, Report
from verify.verifier import Verifier

__all__ = [
    "FAILED",
    "RECEIPT_FORMAT",
    "UNPINNED",
    "VERIFIED",
    "Check",
    "PolicyError",
    "Report",
    "VerificationError",
    "VerificationPolicy",
    "Verifier",
    "parse_receipt",
    "parse_trusted_keys",
    "verify_bundle",
]
