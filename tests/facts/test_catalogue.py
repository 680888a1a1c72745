"""The event catalogue: every type declared once, bodies versioned, one summary, and no
event type compared as a bare string anywhere else in the code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.events import CATALOGUE, EventType, occurred_at, spec_of, summary
from app.events.artifact_events import Access
from app.events.case_events import CaseCreatedV1, CaseCreatedV2, Text
from app.events.catalogue import BadBody, new_body
from tests.facts.v1_events import v1_case_events

ROOT = Path(__file__).resolve().parents[2]


def test_every_type_is_declared_once() -> None:
    assert set(CATALOGUE) == {t.value for t in EventType}
    for name, spec in CATALOGUE.items():
        assert spec.name == name and spec.bodies and min(spec.bodies) == 1


def test_new_bodies_carry_their_version() -> None:
    v2 = CaseCreatedV2(
        title="t",
        description="d",
        severity="P1",
        status="new",
        owner="o",
        retention_days=1,
        declared_at=None,
        personal_data=False,
        notification_required=False,
        aware_at=None,
    )
    assert new_body(EventType.case_created, v2)["v"] == 2
    assert "v" not in new_body(EventType.access, Access(reason="r", sha256="a" * 64))
    # an unset optional field stays out, as services always wrote it
    assert "range" not in new_body(EventType.access, Access(reason="r", sha256="a" * 64))
    with pytest.raises(BadBody):  # only the current version is written
        new_body(
            EventType.case_created,
            CaseCreatedV1(title="t", severity="P1", status="new", owner="o", retention_days=1),
        )
    with pytest.raises(BadBody):
        new_body(EventType.case_note, Access(reason="r", sha256="a" * 64))


def test_bodies_refuse_unknown_fields_and_versions() -> None:
    spec = spec_of(EventType.case_note)
    assert spec.parse_body({"text": "x"}) == Text(text="x")
    with pytest.raises(BadBody):
        spec.parse_body({"text": "x", "extra": 1})
    with pytest.raises(BadBody):
        spec.parse_body({"text": "x", "v": 9})


def test_v1_events_read_with_their_own_model() -> None:
    created, action, updated = v1_case_events()
    assert isinstance(spec_of(created.type).parse(created), CaseCreatedV1)
    assert summary(created) == "Case opened: t (P1)"
    assert occurred_at(action).isoformat() == "2026-11-01T10:05:00+00:00"
    assert occurred_at(updated) == updated.at  # v1 status changes took effect when sealed


def _type_literals_compared(tree: ast.AST) -> list[tuple[int, str]]:
    names = {t.value for t in EventType}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        for side in [node.left, *node.comparators]:
            consts = side.elts if isinstance(side, ast.Tuple | ast.List | ast.Set) else [side]
            for c in consts:
                if isinstance(c, ast.Constant) and c.value in names:
                    found.append((node.lineno, str(c.value)))
    return found


def test_no_event_type_is_a_bare_string_elsewhere() -> None:
    offenders = []
    for package in ("app", "cli", "custody"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for line, name in _type_literals_compared(ast.parse(path.read_text())):
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {name!r}")
    assert offenders == []
