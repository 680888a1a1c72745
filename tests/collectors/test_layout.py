"""The member names Velociraptor gives uploads (utils.SanitizeStringForZip) and the times
collectors write, read as they write them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.collectors.plan import parse_when
from app.collectors.velociraptor import member_of, sanitize_component


@pytest.mark.parametrize(
    ("component", "stored"),
    [
        ("C:", "C%3A"),
        ("Users", "Users"),
        (".bashrc", "%2Ebashrc"),  # a leading dot or space is escaped
        (" x", "%20x"),
        ("name.", "name%2E"),  # so is a trailing one (Windows drops it)
        ("tail ", "tail%20"),
        ("100%", "100%25"),
        ('a?b*c"d|e<f>g', "a%3Fb%2Ac%22d%7Ce%3Cf%3Eg"),
        ("back\\slash/", "back%5Cslash%2F"),
        ("файл.txt", "файл.txt"),  # UTF-8 is kept
    ],
)
def test_components_escaped_as_velociraptor_does(component: str, stored: str) -> None:
    assert sanitize_component(component) == stored


def test_member_of_joins_escaped_components() -> None:
    comps = ["uploads", "ntfs", "\\\\.\\C:", "$MFT"]
    assert member_of(comps) == "uploads/ntfs/%5C%5C.%5CC%3A/$MFT"


@pytest.mark.parametrize(
    ("told", "when"),
    [
        ("2026-11-03T09:15:00.123456789Z", datetime(2026, 11, 3, 9, 15, 0, 123456, tzinfo=UTC)),
        ("2026-11-03 09:15:02.1234567", datetime(2026, 11, 3, 9, 15, 2, 123456, tzinfo=UTC)),
        ("2026-11-03T10:15:00+01:00", datetime(2026, 11, 3, 9, 15, tzinfo=UTC)),
        ("not a time", None),
        ("", None),
    ],
)
def test_collector_times(told: str, when: datetime | None) -> None:
    assert parse_when(told) == when
