"""The verification endpoints against a live vault (issue 4).

`GET /v1/artifacts/{id}/verification` re-reads and re-hashes the stored bytes and runs the
`verify/` checks; `POST /v1/verify` says whether and where the vault holds a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.helpers import (
    assert_refused,
    connect,
    live_verifier,
    read_response,
    request_head,
    untouched,
)
from tests.support.live_server import LiveVault

LIVE_SETTINGS = {"max_upload_bytes": 4 * 1024 * 1024}


def new_case(c: httpx.Client) -> str:
    r = c.post("/v1/cases", json={"title": "verification", "severity": "P2"})
    assert r.status_code == 201, r.text
    return str(r.json()["case"]["id"])


def ingest(c: httpx.Client, case: str, data: bytes, name: str = "mem.raw") -> dict[str, Any]:
    r = c.post(f"/v1/cases/{case}/artifacts", params={"file_name": name}, content=data)
    assert r.status_code == 201, r.text
    art: dict[str, Any] = r.json()["artifact"]
    return art


@pytest.fixture(scope="module")
def held(module_live: LiveVault) -> dict[str, Any]:
    """A case of the collector's holding one artifact (1.5 MiB: more than one read chunk)."""
    module_live.add_user("collector-2", "collector")
    data = os.urandom(3 * 512 * 1024 + 11)
    with module_live.client("collector") as c:
        case = new_case(c)
        art = ingest(c, case, data)
    return {"case": case, "data": data, "artifact": art}


def test_verification_rehashes_and_records_the_read(
    module_live: LiveVault, held: dict[str, Any]
) -> None:
    art = held["artifact"]
    size = module_live.vault.ledger.size()
    with module_live.client("auditor") as c:
        r = c.get(f"/v1/artifacts/{art['id']}/verification")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True, body["checks"]
    states = {c["name"]: c["state"] for c in body["checks"]}
    assert states["ingest recorded"] == "pass" and states["custody chain"] == "pass"
    assert states["stored bytes"] == "pass"
    assert art["sha256"] in next(c["detail"] for c in body["checks"] if c["name"] == "stored bytes")
    assert any(n.startswith("latest event: inclusion") for n in states)
    # The read is a custody fact: one access event, sealed, its receipt handed back.
    assert module_live.vault.ledger.size() == size + 1
    receipt = body["receipt"]
    assert receipt["event"]["type"] == "access" and receipt["event"]["item"] == art["id"]
    assert receipt["event"]["body"]["reason"].startswith("integrity verification")
    assert receipt["event"]["actor"]["role"] == "auditor"
    assert live_verifier(module_live).verify_receipt(receipt).ok
    with module_live.client("legal") as c:
        r = c.get(f"/v1/artifacts/{art['id']}/verification", params={"reason": "court exhibit 4"})
    assert r.status_code == 200 and r.json()["receipt"]["event"]["body"]["reason"] == (
        "court exhibit 4"
    )


def test_verification_names_altered_stored_bytes(module_live: LiveVault) -> None:
    data = os.urandom(200_000)
    with module_live.client("collector") as c:
        art = ingest(c, new_case(c), data, "flipped.bin")
    [path] = [
        p
        for p in (Path(module_live.settings.store_dir) / "objects").rglob("*")
        if p.is_file() and p.name.endswith(art["sha256"])
    ]
    original = path.read_bytes()
    os.chmod(path, 0o600)
    try:
        path.write_bytes(original[:1000] + bytes([original[1000] ^ 1]) + original[1001:])
        with module_live.client("auditor") as c:
            r = c.get(f"/v1/artifacts/{art['id']}/verification")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["ok"] is False
        [bytes_check] = [c for c in body["checks"] if c["name"] == "stored bytes"]
        assert bytes_check["state"] == "fail"
        assert "sha256" in bytes_check["detail"] and art["sha256"] in bytes_check["detail"]
        # Everything else about the record still checks out: only the bytes are named.
        assert [c["name"] for c in body["checks"] if c["state"] == "fail"] == ["stored bytes"]
    finally:
        path.write_bytes(original)
        os.chmod(path, 0o444)


def test_verification_is_refused_for_others_cases_and_unknown_ids(
    module_live: LiveVault, held: dict[str, Any]
) -> None:
    art = held["artifact"]
    with untouched(module_live):
        with module_live.client("collector-2") as c:
            assert_refused(c.get(f"/v1/artifacts/{art['id']}/verification"), 404)
            assert_refused(c.get("/v1/artifacts/art-nope/verification"), 404)
            assert_refused(c.get("/v1/artifacts/art-x%00/verification"), 404)
        with module_live.client() as anonymous:
            assert_refused(anonymous.get(f"/v1/artifacts/{art['id']}/verification"), 401)
        with module_live.client("auditor") as c:
            for bad in ("", "\x1b[2Jforged", "x" * 2001):
                r = c.get(f"/v1/artifacts/{art['id']}/verification", params={"reason": bad})
                assert_refused(r, 400, 422)


@pytest.mark.parametrize("how", ["raw", "multipart", "chunked"])
def test_held_file_is_found_with_its_ingest_receipt(
    module_live: LiveVault, held: dict[str, Any], how: str
) -> None:
    data: bytes = held["data"]
    with untouched(module_live), module_live.client("legal") as c:
        if how == "raw":
            r = c.post("/v1/verify", content=data)
        elif how == "multipart":
            r = c.post("/v1/verify", files={"file": ("mem.raw", data)})
        else:
            r = c.post("/v1/verify", content=iter([data[:1000], data[1000:]]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["held"] is True
    assert body["sha256"] == hashlib.sha256(data).hexdigest() == held["artifact"]["sha256"]
    assert body["size"] == len(data) and body["md5"] == hashlib.md5(data).hexdigest()
    [match] = body["matches"]
    assert match["artifact"]["id"] == held["artifact"]["id"]
    receipt = match["receipt"]
    assert receipt["event"]["type"] == "ingest"
    assert live_verifier(module_live).verify_receipt(receipt).ok


def test_asked_by_hash_and_not_held(module_live: LiveVault, held: dict[str, Any]) -> None:
    sha = held["artifact"]["sha256"]
    with untouched(module_live):
        with module_live.client("auditor") as c:
            r = c.post("/v1/verify", json={"sha256": sha})
            assert r.status_code == 200 and r.json()["held"] is True
            assert r.json()["size"] is None
            r = c.post("/v1/verify", content=b"bytes the vault never saw")
            assert r.status_code == 200
            assert r.json()["held"] is False and r.json()["matches"] == []
        # Collectors see only their own cases: another's evidence is "not held" for them.
        with module_live.client("collector-2") as c:
            r = c.post("/v1/verify", json={"sha256": sha})
            assert r.status_code == 200 and r.json() == {
                "sha256": sha,
                "size": None,
                "sha1": None,
                "md5": None,
                "held": False,
                "matches": [],
            }


def test_bad_questions_are_refused_and_change_nothing(module_live: LiveVault) -> None:
    json_headers = {"Content-Type": "application/json"}
    with untouched(module_live), module_live.client("auditor") as c:
        assert_refused(c.post("/v1/verify", content=b""), 400)
        assert_refused(c.post("/v1/verify", json={"sha256": "ABC"}), 400)
        assert_refused(c.post("/v1/verify", json={"sha256": "0" * 63 + "g"}), 400)
        assert_refused(c.post("/v1/verify", json={"sha256": "0" * 64, "extra": 1}), 400)
        assert_refused(c.post("/v1/verify", json=["0" * 64]), 400)
        assert_refused(c.post("/v1/verify", content=b"{not json", headers=json_headers), 400)
        big = b'{"sha256": "' + b"0" * 5000 + b'"}'
        assert_refused(c.post("/v1/verify", content=big, headers=json_headers), 413)
        too_big = b"x" * (LIVE_SETTINGS["max_upload_bytes"] + 1)
        assert_refused(c.post("/v1/verify", content=too_big), 413)
        chunked_too_big = iter([b"x" * (1 << 20)] * 5)
        assert_refused(c.post("/v1/verify", content=chunked_too_big), 413)
        assert_refused(c.post("/v1/verify", files={"other": ("a", b"abc")}), 400)
        broken = b"--XX\r\nContent-Disposition: form-data; name=file\r\n\r\nabc"
        assert_refused(
            c.post(
                "/v1/verify",
                content=broken,
                headers={"Content-Type": "multipart/form-data; boundary=XX"},
            ),
            400,
        )
        for headers, body, status in (
            ({}, b"", 411),  # neither a length nor chunked
            ({"Content-Length": "12a"}, b"", 400),
        ):
            with connect(module_live.url) as sock:
                token = module_live.tokens["auditor"]
                sock.sendall(request_head("POST", "/v1/verify", token, headers) + body)
                got = read_response(sock)
            assert got.status == status, (headers, got)
        # A body shorter than its Content-Length, then the client hangs up: there is
        # nobody left to answer, and nothing may have been recorded.
        with connect(module_live.url) as sock:
            head = request_head("POST", "/v1/verify", token, {"Content-Length": "7"})
            sock.sendall(head + b"abc")
            sock.shutdown(socket.SHUT_WR)
            with contextlib.suppress(ConnectionError):
                assert read_response(sock).status == 400
    with module_live.client() as anonymous:
        assert_refused(anonymous.post("/v1/verify", json={"sha256": "0" * 64}), 401)
