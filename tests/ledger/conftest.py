from __future__ import annotations

# Re-exported: the fixtures live in tests/support so tests/verify and tests/cli share them.
from tests.support.ledger_fixtures import ORIGIN, builtin_tsa, ledger, signer

__all__ = ["ORIGIN", "builtin_tsa", "ledger", "signer"]
