"""Collector-signed upload manifests: the collector's own Ed25519 signature over what it sent.

The manifest is the RFC 8785 encoding of {case, file_name, sha256}. The declared
SHA-256 pins the content, so a signature made before upload covers the bytes too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verify.errors import MalformedInput, SignatureError
from verify.events import canonicalize
from verify.strict_json import b64


def manifest_bytes(case: str, file_name: str, sha256: str) -> bytes:
    return canonicalize({"case": case, "file_name": file_name, "sha256": sha256})


def verify_manifest_signature(
    case: str, file_name: str, sha256: str, signature_b64: object, public_key_b64: object
) -> None:
    raw_key = b64(public_key_b64, "collector public key")
    if len(raw_key) != 32:
        raise MalformedInput("collector public key must be 32 raw Ed25519 bytes")
    sig = b64(signature_b64, "manifest signature")
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(
            sig, manifest_bytes(case, file_name, sha256)
        )
    except InvalidSignature as exc:
        raise SignatureError("the collector's manifest signature does not verify") from exc


def check_ingest_signature(case: str | None, body: Mapping[str, Any]) -> str | None:
    """Verify the collector signature recorded in an ingest event, if there is one."""
    signed = body.get("collector_signature")
    if signed is None:
        return None
    if not isinstance(signed, Mapping) or case is None:
        raise MalformedInput("collector_signature must be an object on a case event")
    file_name, sha256 = body.get("file_name"), body.get("sha256")
    # str(None) would be signed-over text "None": refuse instead of reporting a bad signature.
    if not isinstance(file_name, str) or not isinstance(sha256, str):
        raise MalformedInput("a signed ingest event must record file_name and sha256 as text")
    public_key = signed.get("public_key")
    verify_manifest_signature(case, file_name, sha256, signed.get("signature"), public_key)
    return f"collector manifest signed by Ed25519 key {public_key}"
