"""Timeline categories, summaries, filters and CSV export (pure functions)."""

from __future__ import annotations

import csv
import io

from app.incidents import timeline
from tests.incidents.events import T0, at, created, event, updated


def _events() -> list[tuple[int, object]]:
    return list(
        enumerate(
            [
                created(),
                event(
                    "ingest",
                    at(minutes=1),
                    {
                        "file_name": "mem.raw",
                        "size": 4096,
                        "sha256": "ab" * 32,
                        "source_host": "fs01",
                    },
                    item="art-1",
                ),
                event(
                    "access",
                    at(minutes=2),
                    {"reason": "triage", "range": [0, 2]},
                    item="art-1",
                    actor="bob",
                    role="legal",
                ),
                event(
                    "transfer",
                    at(minutes=3),
                    {
                        "from": {"id": "alice"},
                        "to": {"id": "bob", "role": "legal"},
                        "reason": "court",
                    },
                    item="art-1",
                ),
                event(
                    "containment",
                    at(minutes=4),
                    {
                        "action": "isolate_host",
                        "target": "fs01",
                        "outcome": "succeeded",
                        "performed_by": "edr",
                    },
                ),
                updated(at(minutes=5), status=("new", "triaged")),
                event("case.decision", at(minutes=6), {"text": '=HYPERLINK("http://x")'}),
                event(
                    "hold.set",
                    at(minutes=7),
                    {"reason": "litigation", "objects": 1},
                    role="legal",
                    actor="bob",
                ),
                event("report.issued", at(minutes=8), {"format": "pdf"}),
                event("something.new", at(minutes=9), {"k": "v"}),
            ]
        )
    )


def test_every_event_is_categorised_and_summarised() -> None:
    entries = timeline.build(_events(), timeline.TimelineFilter())  # type: ignore[arg-type]
    got = [(e.category, e.summary) for e in entries]
    assert got[0] == ("case", "Case opened: Ransomware on FS01 (P1)")
    assert got[1][0] == "evidence" and "mem.raw (4.0 KiB" in got[1][1] and "from fs01" in got[1][1]
    # Sentences with names: the artifact by its file name (its id beside), not a field dump.
    assert got[2] == ("access", "Read mem.raw (art-1) bytes 0–2: triage")
    assert got[3] == ("transfer", "alice handed mem.raw (art-1) to bob: court")
    assert got[4] == ("containment", "Isolated host fs01 (edr)")
    # a status change is the case's history, not a decision
    assert got[5] == ("case", "Status changed from new to triaged")
    assert got[7] == ("legal", "Legal hold placed on 1 object(s): litigation")
    assert got[8][0] == "report" and got[9][0] == "other"
    assert [e.index for e in entries] == list(range(10))


def test_filters_by_category_actor_text_and_time() -> None:
    ev = _events()

    def run(**kw: object) -> list[int]:
        flt = timeline.TimelineFilter(**kw)  # type: ignore[arg-type]
        return [e.index for e in timeline.build(ev, flt)]  # type: ignore[arg-type]

    assert run(categories=frozenset({"access", "transfer"})) == [2, 3]
    assert run(actors=frozenset({"bob"})) == [2, 7]
    assert run(types=frozenset({"hold.set"})) == [7]
    assert run(item="art-1") == [1, 2, 3]
    assert run(query="FS01 isolate") == [4]  # every word, any case
    assert run(query="abab") == [1]  # searches the body (the hash) too
    assert run(since=at(minutes=8)) == [8, 9]
    assert run(until=at(minutes=1)) == [0]
    assert run(since=T0, until=at(minutes=2), actors=frozenset({"alice"})) == [0, 1]


def test_csv_export_is_complete_and_defuses_formulas() -> None:
    entries = timeline.build(_events(), timeline.TimelineFilter())  # type: ignore[arg-type]
    text = "".join(timeline.to_csv_rows(entries))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(timeline.CSV_COLUMNS_FULL)
    assert len(rows) == 11
    decision = rows[7]
    assert decision[4] == "case.decision"
    assert decision[8].startswith("Decision: =HYPERLINK")  # not at the start of a cell
    assert rows[1][9] == entries[0].leaf_hash
    evil = timeline.build(
        [(0, event("case.note", T0, {"text": "x"}, actor="-cmd"))], timeline.TimelineFilter()
    )
    row = list(csv.reader(io.StringIO("".join(timeline.to_csv_rows(evil)))))[1]
    assert row[5] == "'-cmd"
