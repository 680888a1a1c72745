"""The status messages a page shows after a form redirects back to it, by code."""

from __future__ import annotations

from app.web.action_item_pages import DONE as ITEM_DONE
from app.web.asset_pages import DONE as ASSET_DONE
from app.web.category_pages import DONE as CATEGORY_DONE
from app.web.comms_pages import DONE as COMMS_DONE
from app.web.playbook_pages import DONE as PLAYBOOK_DONE

#: messages after a form, by code: never echo text from the URL into the page
DONE = {
    "hold_set": "Legal hold placed. Every artifact of the case is now under legal hold.",
    "hold_released": "Legal hold released.",
    "updated": "Case updated.",
    "unchanged": "Nothing changed.",
    "privacy": "Legal and privacy flags updated.",
    "note": "Note recorded in the ledger.",
    "decision": "Decision recorded in the ledger.",
    "signed_out": "You are signed out.",
    "assessed": "Detection and root cause recorded in the ledger.",
    **PLAYBOOK_DONE,
    **ITEM_DONE,
    **ASSET_DONE,
    **COMMS_DONE,
    **CATEGORY_DONE,
}


def flash(done: str | None) -> str | None:
    return DONE.get(done or "")
