"""A draft declaration for FRE 902(13) and 902(14), generated from the report's facts for
the legal role to check, complete and sign.

The software does not certify itself: the draft states the procedure, the algorithms and the
matching hashes in full, and leaves the declarant's name, qualification and signature blank.
"""

from __future__ import annotations

from app.reports.models import ArtifactReport, CaseReport
from app.reports.pdf_style import utc
from app.reports.sections import Section

_BLANK = "_" * 38


def _latest_verification(art: ArtifactReport) -> str:
    verified = [h for h in art.hand_overs if h.sha256_verified is not None]
    if not verified:
        return "at acquisition only"
    last = verified[-1]
    same = "matches" if last.matches_acquisition else "DOES NOT MATCH"
    return f"re-hashed at the hand-over of {utc(last.at)} (leaf {last.index}): {same}"


def declaration(r: CaseReport) -> Section:
    tsas = ", ".join(
        f"{t.name} ({'self-operated by the vault' if t.self_operated else 'external'})"
        for t in r.vault.tsas
    )
    return Section(
        "declaration.html",
        {
            "tsas": tsas,
            "passed": sum(1 for c in r.checks if c.ok),
            "verified": {a.id: _latest_verification(a) for a in r.artifacts},
            "blank": _BLANK,
        },
    )
