"""The media type a raw upload records: what the client named, not what its tool defaulted to."""

from __future__ import annotations

import pytest

from tests.support.live_server import LiveVault


@pytest.mark.parametrize(
    ("headers", "params", "expected"),
    [
        # curl --data-binary's default: says nothing about the evidence
        ({"Content-Type": "application/x-www-form-urlencoded"}, {}, "application/octet-stream"),
        ({}, {}, "application/octet-stream"),
        ({"Content-Type": "image/png"}, {}, "image/png"),
        ({"Content-Type": "Text/Plain; charset=utf-8"}, {}, "text/plain"),
        (
            {"Content-Type": "application/x-www-form-urlencoded"},
            {"media_type": "application/vnd.tcpdump.pcap"},
            "application/vnd.tcpdump.pcap",
        ),
    ],
    ids=["curl default", "none", "named", "with parameters", "query wins"],
)
def test_raw_upload_media_type(
    live: LiveVault,
    case_id: str,
    headers: dict[str, str],
    params: dict[str, str],
    expected: str,
) -> None:
    with live.client("collector") as c:
        r = c.post(
            f"/v1/cases/{case_id}/artifacts",
            params={"file_name": "e.bin", **params},
            content=b"evidence",
            headers=headers,
        )
    assert r.status_code == 201, r.text
    assert r.json()["artifact"]["media_type"] == expected
    assert r.json()["receipt"]["event"]["body"]["media_type"] == expected
