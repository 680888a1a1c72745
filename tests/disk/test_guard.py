"""What read-only mode still serves: reads, legal holds, abandoning uploads, questions."""

from __future__ import annotations

import pytest

from app.disk.guard import allowed_when_full


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/cases"),
        ("GET", "/v1/artifacts/art-1/content"),
        ("HEAD", "/v1/uploads/upl-1"),
        ("POST", "/v1/cases/IR-2026-0001/hold"),
        ("POST", "/cases/IR-2026-0001/hold"),
        ("DELETE", "/v1/uploads/upl-1"),
        ("POST", "/v1/verify"),
        ("POST", "/signin"),
    ],
)
def test_served_below_the_reserve(method: str, path: str) -> None:
    assert allowed_when_full(method, path)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/cases"),
        ("POST", "/v1/cases/IR-2026-0001/notes"),
        ("POST", "/v1/cases/IR-2026-0001/artifacts"),
        ("POST", "/v1/cases/IR-2026-0001/uploads"),
        ("PATCH", "/v1/uploads/upl-1"),
        ("POST", "/v1/uploads/upl-1/complete"),
        ("DELETE", "/v1/cases/IR-2026-0001"),
        ("POST", "/v1/cases/IR-2026-0001/hold/extra"),
        ("PUT", "/v1/cases/IR-2026-0001/hold"),
    ],
)
def test_refused_below_the_reserve(method: str, path: str) -> None:
    assert not allowed_when_full(method, path)
