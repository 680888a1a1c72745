"""Getting RFC 3161 time-stamp tokens for checkpoints.

The imprint is always the SHA-256 digest we already hold (a checkpoint body's hash), sent as
is: rfc3161-client's request builder would hash it again, so requests are built here with
asn1crypto. Every token is verified, nonce included, before it is handed out.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx
from asn1crypto import algos, core, tsp

from verify.errors import TimestampChainError, TimestampError, TimestampFormatError
from verify.timestamp import TimestampInfo, tsa_certificate_chain, verify_timestamp

__all__ = [
    "HttpTSA",
    "TSAUnavailable",
    "TimestampAuthority",
    "TimestampToken",
    "build_request",
    "new_nonce",
]

QUERY_CONTENT_TYPE = "application/timestamp-query"
# RFC 3161 §3.4 names the reply type; "timestamp-response" is what some older servers send.
REPLY_CONTENT_TYPES = ("application/timestamp-reply", "application/timestamp-response")
MAX_RESPONSE_BYTES = 1 << 20


class TSAUnavailable(TimestampError):
    """The TSA could not be reached or did not answer with a time-stamp reply."""

    check = "tsa-unavailable"


@dataclass(frozen=True)
class TimestampToken:
    """A verified token as stored with a checkpoint."""

    tsa: str  # the configured name of the authority that issued it
    tsr_der: bytes  # the whole TimeStampResp, exactly as received
    info: TimestampInfo
    chain_der: tuple[bytes, ...]  # TSA certificate, intermediates, root


class TimestampAuthority(Protocol):
    """Something that timestamps a SHA-256 digest and says which roots to trust for it."""

    @property
    def name(self) -> str: ...

    def timestamp(self, digest: bytes) -> TimestampToken: ...

    def trust_roots(self) -> Sequence[bytes]: ...


def new_nonce() -> int:
    """A fresh positive 64-bit nonce, as OpenSSL sends."""
    return secrets.randbits(63) | (1 << 62)


def build_request(
    digest: bytes, *, nonce: int, policy: str | None = None, cert_req: bool = True
) -> bytes:
    """DER TimeStampReq whose SHA-256 imprint is `digest` itself (it is not hashed again)."""
    if not isinstance(digest, bytes) or len(digest) != 32:
        raise TimestampFormatError("the digest to timestamp must be a 32-byte SHA-256 digest")
    fields: dict[str, object] = {
        "version": "v1",
        "message_imprint": tsp.MessageImprint(
            {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "hashed_message": digest,
            }
        ),
        "nonce": nonce,
        "cert_req": cert_req,
    }
    if policy is not None:
        fields["req_policy"] = core.ObjectIdentifier(policy)
    return bytes(tsp.TimeStampReq(fields).dump())


class HttpTSA(TimestampAuthority):
    """An RFC 3161 TSA reached over HTTP (RFC 3161 §3.4)."""

    def __init__(
        self,
        name: str,
        url: str,
        roots: Sequence[bytes],
        timeout: float = 10.0,
        policy: str | None = None,
        *,
        intermediates: Sequence[bytes] = (),
    ) -> None:
        if not roots:
            raise TimestampChainError(
                "no trusted root certificate configured", subject=f"TSA {name}"
            )
        self._name = name
        self.url = url
        self._roots = tuple(roots)
        self._intermediates = tuple(intermediates)
        self.timeout = timeout
        self.policy = policy
        # One client for the authority's lifetime: creating one costs tens of milliseconds
        # (TLS context), more than a whole local TSA round trip. httpx clients are thread-safe.
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    def trust_roots(self) -> Sequence[bytes]:
        return self._roots

    def timestamp(self, digest: bytes) -> TimestampToken:
        nonce = new_nonce()
        request = build_request(digest, nonce=nonce, policy=self.policy)
        tsr = self._post(request)
        try:
            info = verify_timestamp(
                tsr,
                digest,
                roots=self._roots,
                intermediates=self._intermediates,
                nonce=nonce,
                policy=self.policy,
            )
            chain = tsa_certificate_chain(tsr, roots=self._roots, intermediates=self._intermediates)
        except TimestampError as exc:
            exc.subject = exc.subject or f"TSA {self._name}"
            raise
        return TimestampToken(tsa=self._name, tsr_der=tsr, info=info, chain_der=chain)

    def close(self) -> None:
        """Release the HTTP connection pool; a later `timestamp` opens a new one."""
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _http(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)
            return self._client

    def _post(self, request: bytes) -> bytes:
        subject = f"TSA {self._name}"
        headers = {"Content-Type": QUERY_CONTENT_TYPE, "Accept": REPLY_CONTENT_TYPES[0]}
        try:
            with self._http().stream(
                "POST", self.url, content=request, headers=headers
            ) as response:
                if response.status_code != 200:
                    raise TSAUnavailable(
                        f"{self.url} answered HTTP {response.status_code}", subject=subject
                    )
                content_type = response.headers.get("content-type", "").split(";")[0].strip()
                if content_type.lower() not in REPLY_CONTENT_TYPES:
                    raise TSAUnavailable(
                        f"{self.url} answered {content_type or 'no content type'}, "
                        f"not {REPLY_CONTENT_TYPES[0]}",
                        subject=subject,
                    )
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_RESPONSE_BYTES:
                        raise TSAUnavailable(
                            f"{self.url} sent more than {MAX_RESPONSE_BYTES} bytes",
                            subject=subject,
                        )
        except httpx.HTTPError as exc:
            raise TSAUnavailable(f"{self.url} unreachable: {exc!r}", subject=subject) from exc
        return bytes(body)
