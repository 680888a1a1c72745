from __future__ import annotations

from tests.support.ledger_fixtures import builtin_tsa, ledger, signer

__all__ = ["builtin_tsa", "ledger", "signer"]
