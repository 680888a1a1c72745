"""Bad input over real HTTP: always a 4xx with a JSON reason, never a 5xx, and never a trace.

Every refusal is checked with `untouched`: no new object under the store's objects/,
nothing left in staging/, no ledger event and no new row (artifacts, cases, members,
principals, upload sessions). The vault runs with a 1 KiB upload limit.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from tests.api.helpers import (
    assert_refused,
    auth,
    connect,
    read_response,
    request_head,
    staging_files,
    untouched,
    wait_for_staging,
)
from tests.support.live_server import LiveVault

LIMIT = 1024
LIVE_SETTINGS = {"max_upload_bytes": LIMIT}
CONTENT = b"0123456789"
BOUNDARY = "locard-test-boundary"


@dataclass
class Ctx:
    live: LiveVault
    http: httpx.Client
    case: str
    artifact: str

    def token(self, name: str = "collector") -> str:
        return self.live.tokens[name]

    def as_(self, name: str) -> dict[str, str]:
        return auth(self.token(name))

    def upload(self, case: str | None = None, **kw: Any) -> httpx.Response:
        return self.http.post(f"/v1/cases/{case or self.case}/artifacts", **kw)


@pytest.fixture(scope="module")
def ctx(module_live: LiveVault) -> Iterator[Ctx]:
    http = httpx.Client(base_url=module_live.url, headers=auth(module_live.tokens["collector"]))
    with http:
        r = http.post("/v1/cases", json={"title": "bad input", "severity": "P2"})
        assert r.status_code == 201, r.text
        case = r.json()["case"]["id"]
        r = http.post(
            f"/v1/cases/{case}/artifacts", params={"file_name": "ok.bin"}, content=CONTENT
        )
        assert r.status_code == 201, r.text
        yield Ctx(module_live, http, case, r.json()["artifact"]["id"])


def multipart(*parts: tuple[dict[str, str], bytes], close: bool = True) -> bytes:
    out = b""
    for headers, body in parts:
        out += f"--{BOUNDARY}\r\n".encode()
        for k, v in headers.items():
            out += f"{k}: {v}\r\n".encode()
        out += b"\r\n" + body + b"\r\n"
    return out + (f"--{BOUNDARY}--\r\n".encode() if close else b"")


def file_part(
    data: bytes = CONTENT, filename: str = "disk.img", content_type: str | None = None
) -> tuple[dict[str, str], bytes]:
    headers = {"Content-Disposition": f'form-data; name="file"; filename="{filename}"'}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers, data


def field(name: str, value: str) -> tuple[dict[str, str], bytes]:
    return {"Content-Disposition": f'form-data; name="{name}"'}, value.encode()


MULTIPART = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


# -- file names ----------------------------------------------------------------------

BAD_NAMES = {
    "traversal": "../../etc/passwd",
    "slash": "a/b",
    "backslash traversal": "..\\x",
    "windows path": "C:\\Windows\\evil.exe",
    "NUL": "a\x00b",
    "newline": "a\nb",
    "carriage return": "a\rb",
    "tab": "a\tb",
    "escape": "a\x1b[31mred",
    "RTL override": "invoice\u202efdp.exe",
    "zero-width space": "a\u200bb",
    "empty": "",
    "256 characters": "x" * 256,
    "dot": ".",
    "dot dot": "..",
    "leading space": " a.txt",
    "trailing dot and space": "a. ",
}


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_bad_file_name_raw(ctx: Ctx, name: str) -> None:
    with untouched(ctx.live):
        r = ctx.upload(params={"file_name": name}, content=CONTENT)
    assert_refused(r, 400, 422)


@pytest.mark.parametrize("name", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_bad_file_name_multipart(ctx: Ctx, name: str) -> None:
    # Raw bytes on the wire, as a client would put them in the header (UTF-8).
    head = b'Content-Disposition: form-data; name="file"; filename="' + name.encode() + b'"'
    body = (
        f"--{BOUNDARY}\r\n".encode()
        + head
        + b"\r\n\r\n"
        + CONTENT
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    with untouched(ctx.live):
        r = ctx.upload(content=body, headers=MULTIPART)
    assert_refused(r, 400)


def test_unicode_file_name_kept_exactly(ctx: Ctx) -> None:
    """Names are refused or kept byte for byte, never rewritten (they go into the ledger)."""
    for name in ("Beweis_ü.txt", "证据.txt", "résumé (1).pdf"):
        r = ctx.upload(
            content=multipart(file_part(filename=name, data=name.encode())), headers=MULTIPART
        )
        assert r.status_code == 201, r.text
        assert r.json()["artifact"]["file_name"] == name
        r = ctx.upload(params={"file_name": name}, content=name.encode() + b"raw")
        assert r.status_code == 201, r.text
        assert r.json()["artifact"]["file_name"] == name


# -- sizes and lengths ---------------------------------------------------------------


def test_zero_byte_body(ctx: Ctx) -> None:
    with untouched(ctx.live):
        r = ctx.upload(params={"file_name": "empty.bin"}, content=b"")
    assert_refused(r, 400)
    with untouched(ctx.live):
        r = ctx.upload(content=multipart(file_part(b"")), headers=MULTIPART)
    assert_refused(r, 400)


def test_over_limit_body(ctx: Ctx) -> None:
    big = b"x" * (LIMIT + 1)
    with untouched(ctx.live):
        r = ctx.upload(params={"file_name": "big.bin"}, content=big)
    assert_refused(r, 413)
    # chunked: no length declared, so the limit bites while streaming
    with untouched(ctx.live):
        r = ctx.upload(
            params={"file_name": "big.bin"}, content=iter([b"x" * 600, b"x" * 600, b"x" * 600])
        )
    assert_refused(r, 413)
    with untouched(ctx.live):
        r = ctx.upload(content=iter([multipart(file_part(big))]), headers=MULTIPART)
    assert_refused(r, 413)


def _raw_upload_head(ctx: Ctx, headers: dict[str, str], query: str = "file_name=raw.bin") -> bytes:
    return request_head("POST", f"/v1/cases/{ctx.case}/artifacts?{query}", ctx.token(), headers)


@pytest.mark.parametrize("kind", ["raw", "multipart"])
def test_declared_length_over_limit_refused_before_reading(ctx: Ctx, kind: str) -> None:
    """A terabyte announced, nothing sent: the answer comes without waiting for a body."""
    headers = {"Content-Length": str(1 << 40)}
    if kind == "multipart":
        headers |= MULTIPART
    with untouched(ctx.live), connect(ctx.live.url, timeout=10) as sock:
        sock.sendall(_raw_upload_head(ctx, headers))
        resp = read_response(sock)
    assert resp.status == 413
    assert json.loads(resp.body)["error"] == "payload_too_large"


def test_no_length_and_not_chunked(ctx: Ctx) -> None:
    with untouched(ctx.live), connect(ctx.live.url) as sock:
        sock.sendall(_raw_upload_head(ctx, {}))
        resp = read_response(sock)
    assert resp.status == 411
    assert json.loads(resp.body)["error"] == "length_required"


def _send_then_vanish(ctx: Ctx, head: bytes, body: bytes) -> None:
    """Send part of an upload, wait until the server has begun storing it, then drop the
    connection: the staged bytes must go."""
    assert not staging_files(ctx.live.settings.store_dir)
    with connect(ctx.live.url) as sock:
        sock.sendall(head + body)
        started = wait_for_staging(ctx.live.settings.store_dir, empty=False)
        assert started, "the server never began the upload"


def test_length_larger_than_sent_then_close(ctx: Ctx) -> None:
    with untouched(ctx.live):
        _send_then_vanish(ctx, _raw_upload_head(ctx, {"Content-Length": "1000"}), b"a" * 500)


@pytest.mark.parametrize("kind", ["raw", "chunked", "multipart"])
def test_client_disconnect_mid_upload(ctx: Ctx, kind: str) -> None:
    if kind == "raw":
        head, body = _raw_upload_head(ctx, {"Content-Length": "1000"}), b"b" * 400
    elif kind == "chunked":
        head = _raw_upload_head(ctx, {"Transfer-Encoding": "chunked"})
        body = b"190\r\n" + b"c" * 400 + b"\r\n"
    else:
        part = multipart(file_part(b"d" * 400), close=False)
        head = _raw_upload_head(ctx, {**MULTIPART, "Content-Length": "1000"}, query="")
        body = part[: len(part) - 100]
    with untouched(ctx.live):
        _send_then_vanish(ctx, head, body)


def test_length_smaller_than_sent(ctx: Ctx) -> None:
    """The server reads exactly Content-Length bytes; the rest is not part of the upload.
    With the digest of everything sent declared, the short body can never become evidence.
    """
    sent = b"e" * 100
    head = _raw_upload_head(
        ctx,
        {"Content-Length": "10"},
        query=f"file_name=short.bin&sha256={hashlib.sha256(sent).hexdigest()}",
    )
    with untouched(ctx.live, settle=0.5), connect(ctx.live.url) as sock:
        sock.sendall(head + sent)
        resp = read_response(sock)
    # 422 when the app answered the 10-byte request first (digest mismatch); uvicorn
    # answers the trailing bytes, an invalid next request, itself with a plain 400.
    assert resp.status in (400, 422), resp
    if resp.status == 422:
        assert json.loads(resp.body)["error"] == "digest_mismatch"


# -- declared metadata ---------------------------------------------------------------


def test_sha256_mismatch(ctx: Ctx) -> None:
    wrong = hashlib.sha256(b"something else").hexdigest()
    with untouched(ctx.live):
        r = ctx.upload(params={"file_name": "m.bin", "sha256": wrong}, content=b"evidence")
    assert_refused(r, 422)
    assert r.json()["error"] == "digest_mismatch"
    with untouched(ctx.live):
        r = ctx.upload(
            content=multipart(field("sha256", wrong), file_part(b"evidence")), headers=MULTIPART
        )
    assert_refused(r, 422)


BAD_SHA256 = {
    "short": "ab" * 31,
    "long": "ab" * 33,
    "not hex": "g" * 64,
    "spaces": " " + "a" * 63,
    "prefixed": "sha256:" + "a" * 57,
    "base64": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=",
}


@pytest.mark.parametrize("value", BAD_SHA256.values(), ids=BAD_SHA256.keys())
def test_malformed_sha256(ctx: Ctx, value: str) -> None:
    with untouched(ctx.live):
        r = ctx.upload(params={"file_name": "m.bin", "sha256": value}, content=CONTENT)
    assert_refused(r, 400, 422)


BAD_COLLECTED_AT = {
    "words": "yesterday",
    "no timezone": "2026-01-01T10:00:00",
    "impossible date": "2026-02-30T10:00:00Z",
    "far future": "2999-01-01T00:00:00Z",
    "before year 1 in UTC": "0001-01-01T00:00:00+05:00",
    "after year 9999 in UTC": "9999-12-31T23:59:59-23:00",
    "too long": "2026-01-01T10:00:00Z" + " " * 60,
}


@pytest.mark.parametrize("value", BAD_COLLECTED_AT.values(), ids=BAD_COLLECTED_AT.keys())
def test_bad_collected_at(ctx: Ctx, value: str) -> None:
    with untouched(ctx.live):
        r = ctx.upload(params={"file_name": "t.bin", "collected_at": value}, content=CONTENT)
    assert_refused(r, 400, 422)


BAD_MEDIA_TYPES = {
    "no slash": "notamediatype",
    "no subtype": "text/",
    "traversal": "../etc",
    "spaces": "text/ plain",
    "control": "text/pl\x01ain",
    "too long": "application/" + "x" * 200,
}


@pytest.mark.parametrize("value", BAD_MEDIA_TYPES.values(), ids=BAD_MEDIA_TYPES.keys())
def test_bad_media_type(ctx: Ctx, value: str) -> None:
    with untouched(ctx.live):
        r = ctx.upload(params={"file_name": "t.bin", "media_type": value}, content=CONTENT)
    assert_refused(r, 400, 422)
    if "\x01" in value:
        return  # not sendable as a header
    with untouched(ctx.live):
        r = ctx.upload(
            params={"file_name": "t.bin"}, content=CONTENT, headers={"content-type": value}
        )
    assert_refused(r, 400)
    with untouched(ctx.live):
        r = ctx.upload(content=multipart(file_part(content_type=value)), headers=MULTIPART)
    assert_refused(r, 400)


BAD_FIELDS = {
    "control chars in source_host": {"source_host": "fs01\x00"},
    "control chars in notes": {"notes": "a\x07b"},
    "notes too long": {"notes": "n" * 4001},
    "unknown case": {"_case": "IR-1999-0404"},
    # the item's description (ingest v3)
    "control chars in device_serial": {"device_serial": "SN\x1b[2J"},
    "device_model too long": {"device_model": "m" * 256},
    "seal number twice": {"seals": "SEAL-1, SEAL-1"},
    "seal number too long": {"seals": "S" * 101},
    "too many seals": {"seals": ",".join(f"S{i}" for i in range(21))},
    "control chars in collection_place": {"collection_place": "room\x00B2"},
}


@pytest.mark.parametrize("values", BAD_FIELDS.values(), ids=BAD_FIELDS.keys())
def test_bad_metadata(ctx: Ctx, values: dict[str, str]) -> None:
    params = {"file_name": "t.bin", **values}
    case = params.pop("_case", ctx.case)
    with untouched(ctx.live):
        r = ctx.upload(case, params=params, content=CONTENT)
    assert_refused(r, 400, 404, 422)


def test_signature_without_registered_key(ctx: Ctx) -> None:
    digest = hashlib.sha256(CONTENT).hexdigest()
    with untouched(ctx.live):
        r = ctx.upload(
            params={"file_name": "s.bin", "sha256": digest},
            content=CONTENT,
            headers={"X-Locard-Manifest-Signature": "AAAA"},
        )
    assert_refused(r, 400)


# -- broken multipart ----------------------------------------------------------------

_TWO_FILES = multipart(file_part(b"one"), file_part(b"two", filename="b.img"))
BROKEN_MULTIPART = {
    "no boundary": ("multipart/form-data", multipart(file_part())),
    "empty boundary": ('multipart/form-data; boundary=""', multipart(file_part())),
    "boundary too long": (f"multipart/form-data; boundary={'b' * 300}", b"--" + b"b" * 300),
    "other boundary": ("multipart/form-data; boundary=other", multipart(file_part())),
    "truncated before closing boundary": (
        MULTIPART["content-type"],
        multipart(file_part(), close=False),
    ),
    "truncated mid part": (MULTIPART["content-type"], multipart(file_part())[:80]),
    "garbage": (MULTIPART["content-type"], b"\x00\xff garbage " * 20),
    "empty body": (MULTIPART["content-type"], b""),
    "only closing boundary": (MULTIPART["content-type"], f"--{BOUNDARY}--\r\n".encode()),
    "no file part": (MULTIPART["content-type"], multipart(field("file_name", "x.bin"))),
    "file part without name": (
        MULTIPART["content-type"],
        multipart(({"Content-Disposition": 'form-data; filename="a.img"'}, CONTENT)),
    ),
    "not form-data": (
        MULTIPART["content-type"],
        multipart(({"Content-Disposition": 'attachment; name="file"'}, CONTENT)),
    ),
    "two file parts": (MULTIPART["content-type"], _TWO_FILES),
    "field after the file": (
        MULTIPART["content-type"],
        multipart(file_part(), field("sha256", "0" * 64)),
    ),
    "unknown field": (MULTIPART["content-type"], multipart(field("colour", "red"), file_part())),
    "huge field": (MULTIPART["content-type"], multipart(field("notes", "n" * 70_000), file_part())),
    "non-UTF-8 field": (
        MULTIPART["content-type"],
        multipart(({"Content-Disposition": 'form-data; name="notes"'}, b"\xff\xfe"), file_part()),
    ),
}


@pytest.mark.parametrize("case", BROKEN_MULTIPART.values(), ids=BROKEN_MULTIPART.keys())
def test_broken_multipart(ctx: Ctx, case: tuple[str, bytes]) -> None:
    content_type, body = case
    with untouched(ctx.live):
        r = ctx.upload(content=body, headers={"content-type": content_type})
    assert_refused(r, 400, 413)


# -- downloads -----------------------------------------------------------------------

BAD_RANGES = {
    "start past the end": "bytes=10-",
    "far past the end": "bytes=20-30",
    "reversed": "bytes=5-2",
    "several ranges": "bytes=0-1,3-4",
    "empty suffix": "bytes=-0",
    "not numbers": "bytes=abc",
    "no range": "bytes=",
    "no dash": "bytes=5",
    "two dashes": "bytes=1-2-3",
    "negative": "bytes=--1",
    "5000-digit start": "bytes=" + "9" * 5000 + "-",
}


@pytest.mark.parametrize("value", BAD_RANGES.values(), ids=BAD_RANGES.keys())
def test_bad_range(ctx: Ctx, value: str) -> None:
    """Refused before the access is recorded: no bytes, no access event."""
    with untouched(ctx.live):
        r = ctx.http.get(
            f"/v1/artifacts/{ctx.artifact}/content",
            params={"reason": "triage"},
            headers={"Range": value},
        )
    assert_refused(r, 416)


@pytest.mark.parametrize(
    ("params", "status"),
    [({}, 422), ({"reason": ""}, 422), ({"reason": "   "}, 400), ({"reason": "r" * 2001}, 422)],
    ids=["missing", "empty", "blank", "too long"],
)
def test_download_reason_required(ctx: Ctx, params: dict[str, str], status: int) -> None:
    with untouched(ctx.live):
        r = ctx.http.get(f"/v1/artifacts/{ctx.artifact}/content", params=params)
    assert_refused(r, status)


# -- unknown things ------------------------------------------------------------------

UNKNOWN_IDS = {
    "absent": "IR-1999-0404",
    "NUL": "a%00b",
    "long": "x" * 3000,
    "invalid UTF-8": "%ED%A0%80",
    "encoded traversal": "..%2F..%2Fetc",
}


def _unknown_calls(x: str, ctx: Ctx) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(role, method, url, kwargs) for every place a case, artifact or principal id goes:
    the path (percent-encoded, as sent) or a JSON body (decoded)."""
    y = unquote(x)
    case, art = ctx.case, ctx.artifact
    return [
        ("collector", "GET", f"/v1/cases/{x}", {}),
        ("collector", "PATCH", f"/v1/cases/{x}", {"json": {"title": "t"}}),
        ("collector", "POST", f"/v1/cases/{x}/members", {"json": {"principal": "legal"}}),
        ("legal", "POST", f"/v1/cases/{x}/hold", {"json": {"on": True, "reason": "r"}}),
        ("collector", "GET", f"/v1/cases/{x}/artifacts", {}),
        (
            "collector",
            "POST",
            f"/v1/cases/{x}/artifacts",
            {"params": {"file_name": "a"}, "content": CONTENT},
        ),
        ("collector", "GET", f"/v1/cases/{x}/actions", {}),
        (
            "collector",
            "POST",
            f"/v1/cases/{x}/actions",
            {"json": {"action": "other", "target": "t", "outcome": "failed"}},
        ),
        ("collector", "GET", f"/v1/artifacts/{x}", {}),
        ("collector", "HEAD", f"/v1/artifacts/{x}/content", {}),
        ("collector", "GET", f"/v1/artifacts/{x}/content", {"params": {"reason": "r"}}),
        ("collector", "GET", f"/v1/artifacts/{x}/custody", {}),
        (
            "collector",
            "POST",
            f"/v1/artifacts/{x}/transfers",
            {"json": {"to": "legal", "reason": "r"}},
        ),
        ("collector", "POST", f"/v1/artifacts/{x}/annotations", {"json": {"text": "t"}}),
        ("collector", "POST", f"/v1/artifacts/{art}/transfers", {"json": {"to": y, "reason": "r"}}),
        ("collector", "POST", f"/v1/cases/{case}/members", {"json": {"principal": y}}),
        ("collector", "POST", "/v1/cases", {"json": {"title": "t", "severity": "P1", "owner": y}}),
        ("collector", "PATCH", f"/v1/cases/{case}", {"json": {"owner": y}}),
    ]


@pytest.mark.parametrize("unknown", UNKNOWN_IDS.values(), ids=UNKNOWN_IDS.keys())
def test_unknown_ids(ctx: Ctx, unknown: str) -> None:
    for role, method, url, kw in _unknown_calls(unknown, ctx):
        with untouched(ctx.live):
            r = ctx.http.request(method, url, headers=ctx.as_(role), **kw)
        assert_refused(r, 404, 422)


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "/v1/cases", {"title": "a\x00b", "severity": "P1"}),
        ("POST", "/v1/cases", {"title": "t", "description": "a\x00b", "severity": "P1"}),
        ("PATCH", "/v1/cases/{case}", {"title": "a\x00b"}),
        ("PATCH", "/v1/cases/{case}", {"description": "\x00"}),
        ("POST", "/v1/cases", {"title": "line\nbreak", "severity": "P1"}),
    ],
)
def test_control_characters_in_case_text(
    ctx: Ctx, method: str, url: str, body: dict[str, Any]
) -> None:
    """PostgreSQL cannot store NUL (this was a 500 there); titles are single lines."""
    with untouched(ctx.live):
        r = ctx.http.request(method, url.format(case=ctx.case), json=body)
    assert_refused(r, 422)


# -- JSON endpoints ------------------------------------------------------------------


@dataclass(frozen=True)
class JsonEndpoint:
    role: str
    method: str
    url: str  # {case} / {artifact} filled in from the context
    valid: dict[str, Any]


JSON_ENDPOINTS = {
    "create case": JsonEndpoint("collector", "POST", "/v1/cases", {"title": "t", "severity": "P2"}),
    "update case": JsonEndpoint("collector", "PATCH", "/v1/cases/{case}", {"title": "t2"}),
    "add member": JsonEndpoint(
        "collector", "POST", "/v1/cases/{case}/members", {"principal": "legal"}
    ),
    "hold": JsonEndpoint("legal", "POST", "/v1/cases/{case}/hold", {"on": True, "reason": "r"}),
    "action": JsonEndpoint(
        "collector",
        "POST",
        "/v1/cases/{case}/actions",
        {"action": "block_ioc", "target": "1.2.3.4", "outcome": "succeeded", "details": "d"},
    ),
    "transfer": JsonEndpoint(
        "collector", "POST", "/v1/artifacts/{artifact}/transfers", {"to": "legal", "reason": "r"}
    ),
    "annotate": JsonEndpoint(
        "collector", "POST", "/v1/artifacts/{artifact}/annotations", {"text": "t"}
    ),
    "add principal": JsonEndpoint(
        "admin", "POST", "/v1/principals", {"name": "p", "role": "legal"}
    ),
    "resumable upload": JsonEndpoint(
        "collector",
        "POST",
        "/v1/cases/{case}/uploads",
        {"file_name": "u.bin", "size": 10, "sha256": hashlib.sha256(CONTENT).hexdigest()},
    ),
}

RAW_BODIES = {
    "empty": b"",
    "truncated": b'{"title": "t"',
    "not JSON": b"title=t&severity=P1",
    "array": b"[]",
    "null": b"null",
    "string": b'"t"',
    "number overflow": b"1e999999",
    "NaN": b'{"title": NaN}',
    "deep nesting": b"[" * 50_000,
    "invalid UTF-8": b'{"title": "\xff\xfe"}',
    "lone surrogate": b'{"title": "\\ud800"}',
}


def _url(ep: JsonEndpoint, ctx: Ctx) -> str:
    return ep.url.format(case=ctx.case, artifact=ctx.artifact)


def _send_json(
    ctx: Ctx, ep: JsonEndpoint, content: bytes, content_type: str = "application/json"
) -> httpx.Response:
    headers = {**ctx.as_(ep.role), "content-type": content_type}
    return ctx.http.request(ep.method, _url(ep, ctx), content=content, headers=headers)


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS.values(), ids=JSON_ENDPOINTS.keys())
@pytest.mark.parametrize("body", RAW_BODIES.values(), ids=RAW_BODIES.keys())
def test_invalid_json(ctx: Ctx, endpoint: JsonEndpoint, body: bytes) -> None:
    with untouched(ctx.live):
        r = _send_json(ctx, endpoint, body)
    assert_refused(r, 400, 422)


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS.values(), ids=JSON_ENDPOINTS.keys())
def test_json_shape_errors(ctx: Ctx, endpoint: JsonEndpoint) -> None:
    """Extra fields, wrong types, huge strings, wrong content type: each field in turn."""
    bodies: list[Any] = [
        {**endpoint.valid, "extra": 1},
        {**endpoint.valid, "id": "IR-0000-0001"},
    ]
    for key, value in endpoint.valid.items():
        for wrong in ([value], {"v": value}):
            bodies.append({**endpoint.valid, key: wrong})
        if isinstance(value, str):
            bodies.append({**endpoint.valid, key: "x" * 1_000_000})
        if isinstance(value, int) and not isinstance(value, bool):
            bodies += [{**endpoint.valid, key: -1}, {**endpoint.valid, key: 10**30}]
    for body in bodies:
        with untouched(ctx.live):
            r = _send_json(ctx, endpoint, json.dumps(body).encode())
        assert_refused(r, 400, 404, 413, 422)
    with untouched(ctx.live):
        r = _send_json(ctx, endpoint, json.dumps(endpoint.valid).encode(), "text/plain")
    assert_refused(r, 415, 422)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("performed_at", "0001-01-01T00:00:00+05:00"),
        ("performed_at", "9999-12-31T23:59:59-23:00"),
        ("performed_at", "2026-01-01T10:00:00"),
        ("action", "nuke_from_orbit"),
        ("outcome", "maybe"),
    ],
)
def test_bad_action_fields(ctx: Ctx, key: str, value: str) -> None:
    body = {**JSON_ENDPOINTS["action"].valid, key: value}
    with untouched(ctx.live):
        r = _send_json(ctx, JSON_ENDPOINTS["action"], json.dumps(body).encode())
    assert_refused(r, 422)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/ledger/checkpoints/99999999999999999999",
        "/v1/ledger/checkpoints/-1",
        "/v1/ledger/receipts/99999999999999999999",
        "/v1/ledger/receipts/0?tree_size=99999999999999999999",
        "/v1/ledger/receipts/999999",
        "/v1/ledger/entries?start=99999999999999999999",
        "/v1/ledger/entries?start=10&end=5",
        "/v1/ledger/entries?start=0&end=5000",
        "/v1/ledger/proofs/inclusion?index=99999999999999999999&tree_size=1",
        "/v1/ledger/proofs/inclusion?index=5&tree_size=2",
        "/v1/ledger/proofs/consistency?first=3&second=1",
        "/v1/ledger/proofs/consistency?first=1&second=99999999999999999999",
    ],
)
def test_bad_ledger_queries(ctx: Ctx, path: str) -> None:
    with untouched(ctx.live):
        r = ctx.http.get(path, headers=ctx.as_("auditor"))
    assert_refused(r, 400, 404, 422)


def test_the_vault_still_works(ctx: Ctx) -> None:
    """After all of the above, a good upload and download still go through."""
    data = f"still fine {time.time()}".encode()
    r = ctx.upload(params={"file_name": "fine.bin"}, content=data)
    assert r.status_code == 201, r.text
    got = ctx.http.get(
        f"/v1/artifacts/{r.json()['artifact']['id']}/content", params={"reason": "x"}
    )
    assert got.content == data
