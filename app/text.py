"""Free text that ends up in the ledger and in reports: what characters it may hold.

Refused, never stored: control characters (PostgreSQL cannot store NUL at all, and
controls can hide text in a report) and bidirectional overrides, which can make a
reason or a title read differently from what it says ("Trojan Source").

This is the one rule: every request field whose text reaches the ledger (case titles,
notes and decisions, reviews, reasons, annotations, principal names) is `SingleLine` or
`MultiLine`, or calls `single_line` / `multi_line`. C1 controls (U+0080-U+009F, e.g.
NEL) are control characters too.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def no_controls(value: str, allowed: str = "") -> str:
    for ch in value:
        if ch in _BIDI:
            raise ValueError("bidirectional override characters are not allowed")
        category = unicodedata.category(ch)
        if category == "Cc" and ch not in allowed:
            raise ValueError("control characters are not allowed")
        if category == "Cs":  # a lone surrogate ("\ud800" in JSON) has no UTF-8 form
            raise ValueError("unpaired surrogates are not text")
    return value


def single_line(value: str) -> str:
    return no_controls(value)


def multi_line(value: str) -> str:
    return no_controls(value, "\n\r\t")


SingleLine = Annotated[str, AfterValidator(single_line)]
MultiLine = Annotated[str, AfterValidator(multi_line)]
