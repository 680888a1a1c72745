from __future__ import annotations

from tests.support.ledger_fixtures import ORIGIN, builtin_tsa, ledger, signer

__all__ = ["ORIGIN", "builtin_tsa", "ledger", "signer"]
