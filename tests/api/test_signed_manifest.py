"""Collector-signed upload manifests, end to end over HTTP.

The collector signs RFC 8785 {case, file_name, sha256} with its own Ed25519 key; the
signature travels in X-Locard-Manifest-Signature and is recorded in the ingest event, where
an auditor checks it with verify/ alone. A signature that does not verify stores nothing.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.api.helpers import assert_refused, auth, live_verifier, untouched
from tests.support.live_server import LiveVault
from verify.errors import SignatureError
from verify.manifest import check_ingest_signature, manifest_bytes

HEADER = "X-Locard-Manifest-Signature"
DATA = b"\x7fELF" + bytes(range(256)) * 64
SHA = hashlib.sha256(DATA).hexdigest()


def public_b64(key: Ed25519PrivateKey) -> str:
    return base64.b64encode(key.public_key().public_bytes_raw()).decode()


def sign(key: Ed25519PrivateKey, case: str, file_name: str, sha256: str) -> str:
    return base64.b64encode(key.sign(manifest_bytes(case, file_name, sha256))).decode()


@dataclass
class Signer:
    live: LiveVault
    key: Ed25519PrivateKey
    http: httpx.Client
    case: str

    def upload(self, signature: str | None, **params: str) -> httpx.Response:
        headers = {HEADER: signature} if signature is not None else {}
        return self.http.post(
            f"/v1/cases/{self.case}/artifacts",
            params={"file_name": "implant.elf", **params},
            content=DATA,
            headers=headers,
        )


@pytest.fixture(scope="module")
def signer(module_live: LiveVault) -> Iterator[Signer]:
    key = Ed25519PrivateKey.generate()
    token = module_live.add_user("edr-bot", "collector", public_b64(key))
    with httpx.Client(base_url=module_live.url, headers=auth(token), timeout=60) as http:
        r = http.post("/v1/cases", json={"title": "signed uploads", "severity": "P1"})
        assert r.status_code == 201, r.text
        yield Signer(module_live, key, http, r.json()["case"]["id"])


def _ingest_checks(s: Signer, result: dict[str, Any], file_name: str) -> None:
    event = result["receipt"]["event"]
    assert event["type"] == "ingest"
    signed = event["body"]["collector_signature"]
    assert signed["public_key"] == public_b64(s.key)
    assert check_ingest_signature(event["case"], event["body"])
    assert event["body"]["file_name"] == file_name and event["body"]["sha256"] == SHA
    assert live_verifier(s.live).verify_receipt(result["receipt"]).ok
    # The same event as the ledger serves it to an auditor, not only as the upload answered.
    with s.live.client("auditor") as a:
        sealed = a.get(f"/v1/ledger/receipts/{result['receipt']['leaf_index']}").json()
    assert sealed["event"]["body"]["collector_signature"] == signed
    assert check_ingest_signature(sealed["event"]["case"], sealed["event"]["body"])


def test_signed_raw_upload(signer: Signer) -> None:
    r = signer.upload(sign(signer.key, signer.case, "implant.elf", SHA), sha256=SHA)
    assert r.status_code == 201, r.text
    _ingest_checks(signer, r.json(), "implant.elf")


def test_signed_multipart_upload(signer: Signer) -> None:
    boundary = "sig-boundary"
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="sha256"\r\n\r\n'
            f"{SHA}\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="implant-2.elf"\r\n\r\n'
        ).encode()
        + DATA
        + f"\r\n--{boundary}--\r\n".encode()
    )
    r = signer.http.post(
        f"/v1/cases/{signer.case}/artifacts",
        content=body,
        headers={
            "content-type": f"multipart/form-data; boundary={boundary}",
            HEADER: sign(signer.key, signer.case, "implant-2.elf", SHA),
        },
    )
    assert r.status_code == 201, r.text
    _ingest_checks(signer, r.json(), "implant-2.elf")


def test_a_tampered_event_fails_the_signature_check(signer: Signer) -> None:
    r = signer.upload(sign(signer.key, signer.case, "implant.elf", SHA), sha256=SHA)
    assert r.status_code == 201, r.text
    event = r.json()["receipt"]["event"]
    forged = {**event["body"], "file_name": "harmless.txt"}
    with pytest.raises(SignatureError):
        check_ingest_signature(event["case"], forged)
    with pytest.raises(SignatureError):
        check_ingest_signature("IR-1999-0001", event["body"])


def _bad_signatures(s: Signer) -> dict[str, str]:
    other = Ed25519PrivateKey.generate()
    good = sign(s.key, s.case, "implant.elf", SHA)
    raw = base64.b64decode(good)
    bad = {
        "another key": sign(other, s.case, "implant.elf", SHA),
        "another file name": sign(s.key, s.case, "other.elf", SHA),
        "another case": sign(s.key, "IR-1999-0001", "implant.elf", SHA),
        "another digest": sign(s.key, s.case, "implant.elf", "0" * 64),
        "one bit flipped": base64.b64encode(bytes([raw[0] ^ 1]) + raw[1:]).decode(),
        "truncated": base64.b64encode(raw[:63]).decode(),
        "not base64": "not*base64!",
        "empty": "",
        "huge": "A" * 8000,
    }
    assert set(bad) == set(BAD)
    return bad


BAD = [
    "another key",
    "another file name",
    "another case",
    "another digest",
    "one bit flipped",
    "truncated",
    "not base64",
    "empty",
    "huge",
]


@pytest.mark.parametrize("which", BAD)
def test_bad_signature_stores_nothing(signer: Signer, which: str) -> None:
    signature = _bad_signatures(signer)[which]
    with untouched(signer.live):
        r = signer.upload(signature, sha256=SHA)
    assert_refused(r, 400)


def test_signature_without_declared_sha256(signer: Signer) -> None:
    with untouched(signer.live):
        r = signer.upload(sign(signer.key, signer.case, "implant.elf", SHA))
    assert_refused(r, 400)
    assert "sha256" in r.json()["detail"]


def test_valid_signature_but_other_bytes(signer: Signer) -> None:
    """The signature pins the declared digest; bytes that do not match it are refused."""
    with untouched(signer.live):
        r = signer.http.post(
            f"/v1/cases/{signer.case}/artifacts",
            params={"file_name": "implant.elf", "sha256": SHA},
            content=DATA + b"!",
            headers={HEADER: sign(signer.key, signer.case, "implant.elf", SHA)},
        )
    assert_refused(r, 422)


def test_signature_from_collector_without_key(signer: Signer) -> None:
    key = Ed25519PrivateKey.generate()
    with signer.live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "unsigned collector", "severity": "P4"})
        assert r.status_code == 201, r.text
        case = r.json()["case"]["id"]
        with untouched(signer.live):
            r = c.post(
                f"/v1/cases/{case}/artifacts",
                params={"file_name": "x.bin", "sha256": SHA},
                content=DATA,
                headers={HEADER: sign(key, case, "x.bin", SHA)},
            )
    assert_refused(r, 400)
    assert "public key" in r.json()["detail"]
