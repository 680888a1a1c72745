"""Range requests: one parser, never a 5xx, and no way around the download re-hash."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import assert_refused, untouched
from tests.support.live_server import LiveVault

CONTENT = bytes(range(256)) * 40
HUGE = "9" * 5000  # past Python's int-from-string digit limit


@pytest.fixture
def artifact(live: LiveVault, case_id: str) -> str:
    with live.client("collector") as c:
        r = c.post(f"/v1/cases/{case_id}/artifacts", params={"file_name": "r.bin"}, content=CONTENT)
        assert r.status_code == 201, r.text
        return str(r.json()["artifact"]["id"])


def _get(live: LiveVault, artifact: str, rng: str) -> httpx.Response:
    with live.client("legal") as c:
        return c.get(
            f"/v1/artifacts/{artifact}/content", params={"reason": "r"}, headers={"Range": rng}
        )


def _last_access_range(live: LiveVault, artifact: str) -> object:
    with live.client("legal") as c:
        chain = c.get(f"/v1/artifacts/{artifact}/custody").json()
    assert chain[-1]["event"]["type"] == "access"
    return chain[-1]["event"]["body"].get("range")


def test_huge_numbers_are_refused_or_clamped_never_a_500(live: LiveVault, artifact: str) -> None:
    with untouched(live):
        assert_refused(_get(live, artifact, f"bytes={HUGE}-"), 416)
        assert_refused(_get(live, artifact, f"bytes={HUGE}-{HUGE}"), 416)
    # a last position past the end means "to the end"; a suffix longer than the object, all
    tail = _get(live, artifact, f"bytes=10-{HUGE}")
    assert tail.status_code == 206 and tail.content == CONTENT[10:]
    assert tail.headers["content-range"] == f"bytes 10-{len(CONTENT) - 1}/{len(CONTENT)}"
    whole = _get(live, artifact, f"bytes=-{HUGE}")
    assert whole.status_code == 200 and whole.content == CONTENT


def test_unknown_range_unit_is_ignored(live: LiveVault, artifact: str) -> None:
    """RFC 9110 §14.2: a range unit the server does not understand is ignored."""
    for rng in ("items=0-1", "lines=1-2", "none"):
        r = _get(live, artifact, rng)
        assert r.status_code == 200, (rng, r.text)
        assert r.content == CONTENT and "content-range" not in r.headers
        assert _last_access_range(live, artifact) is None


def test_a_range_covering_everything_is_a_full_rehashed_download(
    live: LiveVault, artifact: str
) -> None:
    r = _get(live, artifact, "bytes=0-")
    assert r.status_code == 200 and r.content == CONTENT
    assert _last_access_range(live, artifact) is None
    # tampered at rest: the whole-object range must fail like a plain full download does
    objects = [p for p in (live.settings.store_dir / "objects").rglob("*") if p.is_file()]
    (path,) = objects
    _tamper(path)
    for rng in ("bytes=0-", f"bytes=0-{len(CONTENT) - 1}", f"bytes=-{len(CONTENT)}"):
        with pytest.raises(httpx.HTTPError):
            _get(live, artifact, rng)
    part = _get(live, artifact, "bytes=0-9")  # a part is not re-hashed (it cannot be)
    assert part.status_code == 206 and len(part.content) == 10


def _tamper(path: Path) -> None:
    path.chmod(0o644)
    path.write_bytes(os.urandom(path.stat().st_size))
