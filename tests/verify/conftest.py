from __future__ import annotations

# Receipts under test come from a real ledger (SQLite and PostgreSQL), not hand-made JSON.
from tests.support.ledger_fixtures import builtin_tsa, ledger, signer

__all__ = ["builtin_tsa", "ledger", "signer"]
