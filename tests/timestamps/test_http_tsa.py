"""HttpTSA against OpenSSL's TSA over HTTP, and against broken or replaying servers."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator

import httpx
import pytest
from asn1crypto import algos, tsp

from custody.timestamps import HttpTSA, TimestampAuthority, TSAUnavailable, build_request
from custody.tsa_builtin import BuiltinTSA
from tests.support.openssl_tsa import (
    OPENSSL_TSA_POLICY,
    QUERY_TYPE,
    FixedResponseServer,
    OpenSSLTSA,
    openssl_ts_verify,
)
from verify.errors import (
    TimestampChainError,
    TimestampError,
    TimestampFormatError,
    TimestampImprintMismatch,
    TimestampNonceMismatch,
    TimestampRejected,
)
from verify.timestamp import parse_timestamp_response, verify_timestamp


@pytest.fixture
def http_tsa(openssl_tsa: OpenSSLTSA) -> Iterator[HttpTSA]:
    tsa = HttpTSA("openssl", openssl_tsa.url, [openssl_tsa.ca_der], timeout=5)
    yield tsa
    tsa.close()


def test_token_from_openssl_verifies_with_us_and_openssl(
    http_tsa: HttpTSA, openssl_tsa: OpenSSLTSA, digest: bytes
) -> None:
    authority: TimestampAuthority = http_tsa
    token = authority.timestamp(digest)
    assert token.tsa == "openssl"
    assert token.info.imprint == digest and token.info.policy == OPENSSL_TSA_POLICY
    assert token.chain_der == (openssl_tsa.tsa_cert_der, openssl_tsa.ca_der)
    assert token.info.signer_cert_der == openssl_tsa.tsa_cert_der
    assert verify_timestamp(token.tsr_der, digest, roots=authority.trust_roots()) == token.info
    openssl_ts_verify(token.tsr_der, digest, openssl_tsa.ca_pem_path.read_bytes())
    assert http_tsa.timestamp(digest).info.serial != token.info.serial


def test_wrong_imprint_and_wrong_root(
    http_tsa: HttpTSA, openssl_tsa: OpenSSLTSA, builtin_tsa: BuiltinTSA, digest: bytes
) -> None:
    token = http_tsa.timestamp(digest)
    with pytest.raises(TimestampImprintMismatch):
        verify_timestamp(token.tsr_der, hashlib.sha256(b"x").digest(), roots=[openssl_tsa.ca_der])
    with pytest.raises(TimestampChainError):
        HttpTSA("openssl", openssl_tsa.url, builtin_tsa.trust_roots()).timestamp(digest)


def test_policy_is_requested_and_checked(openssl_tsa: OpenSSLTSA, digest: bytes) -> None:
    good = HttpTSA("openssl", openssl_tsa.url, [openssl_tsa.ca_der], policy=OPENSSL_TSA_POLICY)
    assert good.timestamp(digest).info.policy == OPENSSL_TSA_POLICY
    other = HttpTSA("openssl", openssl_tsa.url, [openssl_tsa.ca_der], policy="1.3.6.1.4.1.9.9.9")
    with pytest.raises(TimestampRejected) as caught:
        other.timestamp(digest)
    assert "unaccepted_policy" in caught.value.fail_info


def test_replayed_response_fails_the_nonce(openssl_tsa: OpenSSLTSA, digest: bytes) -> None:
    old = openssl_tsa.reply(build_request(digest, nonce=1234))
    with FixedResponseServer(old) as replay:
        tsa = HttpTSA("replay", replay.url, [openssl_tsa.ca_der])
        with pytest.raises(TimestampNonceMismatch):
            tsa.timestamp(digest)


def test_sha1_query_is_rejected_by_openssl_and_reported_typed(
    openssl_tsa: OpenSSLTSA, digest: bytes
) -> None:
    query = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha1"}),
                "hashed_message": hashlib.sha1(b"x").digest(),
            },
            "nonce": 42,
            "cert_req": True,
        }
    ).dump()
    response = httpx.post(openssl_tsa.url, content=query, headers={"Content-Type": QUERY_TYPE})
    assert response.status_code == 200
    with pytest.raises(TimestampRejected) as caught:
        parse_timestamp_response(response.content)
    assert caught.value.status == "rejection" and "bad_alg" in caught.value.fail_info
    with pytest.raises(TimestampRejected):
        verify_timestamp(response.content, digest, roots=[openssl_tsa.ca_der])


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_tsa_down_is_unavailable(openssl_tsa: OpenSSLTSA, digest: bytes) -> None:
    tsa = HttpTSA("down", f"http://127.0.0.1:{_closed_port()}/", [openssl_tsa.ca_der], timeout=2)
    with pytest.raises(TSAUnavailable) as caught:
        tsa.timestamp(digest)
    assert isinstance(caught.value, TimestampError) and caught.value.subject == "TSA down"


@pytest.mark.parametrize(
    ("status", "content_type", "body", "error"),
    [
        (500, "text/plain", b"boom", TSAUnavailable),
        (200, "text/html", b"<html>captive portal</html>", TSAUnavailable),
        (200, "application/timestamp-reply", b"\x30\x03\x02\x01\x00", TimestampFormatError),
        (200, "application/timestamp-reply", b"garbage", TimestampFormatError),
    ],
)
def test_broken_servers_are_typed_errors(
    openssl_tsa: OpenSSLTSA,
    digest: bytes,
    status: int,
    content_type: str,
    body: bytes,
    error: type[TimestampError],
) -> None:
    with FixedResponseServer(body, status=status, content_type=content_type) as server:
        tsa = HttpTSA("broken", server.url, [openssl_tsa.ca_der])
        with pytest.raises(error):
            tsa.timestamp(digest)


def test_digest_must_be_sha256(http_tsa: HttpTSA) -> None:
    with pytest.raises(TimestampFormatError):
        http_tsa.timestamp(b"short")
