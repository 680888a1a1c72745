from __future__ import annotations

# `locard verify` is exercised on receipts sealed by a real ledger.
from tests.support.ledger_fixtures import builtin_tsa, ledger, signer

__all__ = ["builtin_tsa", "ledger", "signer"]
