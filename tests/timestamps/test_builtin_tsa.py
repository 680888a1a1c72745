"""The built-in TSA: key directory, responses, and tokens both verifiers accept."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import algos, cms, tsp
from cryptography import x509

from custody.pki import ISSUING_CERT_FILE
from custody.timestamps import TimestampAuthority, build_request
from custody.tsa_builtin import (
    CERT_FILE,
    KEY_FILE,
    POLICY_OID,
    ROOT_CERT_FILE,
    ROOT_KEY_FILE,
    BuiltinTSA,
    BuiltinTSAError,
    TSAKeyExists,
)
from tests.support.openssl_tsa import openssl_ts_verify
from verify.errors import (
    MalformedInput,
    TimestampChainError,
    TimestampFormatError,
    TimestampImprintMismatch,
    TimestampNonceMismatch,
    TimestampPolicyMismatch,
    TimestampRejected,
)
from verify.timestamp import TimeStampResponse, parse_timestamp_response, verify_timestamp


def _root_pem(directory: Path) -> bytes:
    return (directory / ROOT_CERT_FILE).read_bytes()


def test_create_writes_private_keys_0600(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    tsa = BuiltinTSA.create(directory)
    for name in (KEY_FILE, ROOT_KEY_FILE):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600
    for name in (CERT_FILE, ROOT_CERT_FILE):
        assert (directory / name).read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    loaded = BuiltinTSA.load(directory)
    assert loaded.cert_der == tsa.cert_der
    assert loaded.root_cert_der == tsa.root_cert_der
    assert loaded.policy_oid == POLICY_OID


def test_create_refuses_to_overwrite(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    BuiltinTSA.create(directory)
    before = {p.name: p.read_bytes() for p in directory.iterdir()}
    with pytest.raises(TSAKeyExists):
        BuiltinTSA.create(directory)
    (directory / CERT_FILE).unlink()  # even one key left behind is enough to refuse
    with pytest.raises(TSAKeyExists):
        BuiltinTSA.create(directory)
    after = {p.name: p.read_bytes() for p in directory.iterdir()}
    assert after == {k: v for k, v in before.items() if k != CERT_FILE}


def test_load_rejects_a_key_that_is_not_the_certificates(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    BuiltinTSA.create(a)
    BuiltinTSA.create(b)
    shutil.copy(b / KEY_FILE, a / KEY_FILE)
    with pytest.raises(BuiltinTSAError):
        BuiltinTSA.load(a)
    with pytest.raises(BuiltinTSAError):
        BuiltinTSA.load(tmp_path / "missing")


def test_tsa_certificate_profile(builtin_tsa: BuiltinTSA) -> None:
    cert = x509.load_der_x509_certificate(builtin_tsa.cert_der)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature
    # Two tiers: the root signs the issuing CA, which issues the TSA certificate.
    root = x509.load_der_x509_certificate(builtin_tsa.root_cert_der)
    (issuing_der,) = builtin_tsa.intermediates_der
    issuing = x509.load_der_x509_certificate(issuing_der)
    issuing.verify_directly_issued_by(root)
    cert.verify_directly_issued_by(issuing)
    assert issuing.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert "self-operated" in cert.subject.rfc4514_string()


def test_token_verifies_with_us_and_openssl(
    builtin_tsa: BuiltinTSA, builtin_tsa_dir: Path, digest: bytes
) -> None:
    authority: TimestampAuthority = builtin_tsa
    token = authority.timestamp(digest)
    assert token.tsa == authority.name == "builtin"
    assert token.chain_der == (
        builtin_tsa.cert_der,
        *builtin_tsa.intermediates_der,
        builtin_tsa.root_cert_der,
    )
    info = verify_timestamp(
        token.tsr_der, digest, roots=builtin_tsa.trust_roots(), policy=POLICY_OID
    )
    assert info == token.info
    assert info.imprint == digest and info.hash_algorithm == "sha256"
    assert info.gen_time.utcoffset() == timedelta(0)
    assert info.signer_cert_der == builtin_tsa.cert_der
    openssl_ts_verify(token.tsr_der, digest, _root_pem(builtin_tsa_dir))


def test_response_fields(builtin_tsa: BuiltinTSA, digest: bytes) -> None:
    response = builtin_tsa.respond(build_request(digest, nonce=123456789, policy=POLICY_OID))
    info = parse_timestamp_response(response)
    assert info.nonce == 123456789 and info.policy == POLICY_OID
    signed_data = TimeStampResponse.load(response)["time_stamp_token"]["content"]
    tst = signed_data["encap_content_info"]["content"].parsed
    assert tst["accuracy"]["seconds"].native == 1
    attrs = {a["type"].native for a in signed_data["signer_infos"][0]["signed_attrs"]}
    assert attrs == {"content_type", "signing_time", "message_digest", "signing_certificate_v2"}
    # A DER SET OF: sorted, so compared as a set.
    assert {c.chosen.dump() for c in signed_data["certificates"]} == {
        builtin_tsa.cert_der,
        *builtin_tsa.intermediates_der,
    }
    verify_timestamp(response, digest, roots=builtin_tsa.trust_roots(), nonce=123456789)


def test_serials_are_unique_across_threads(builtin_tsa: BuiltinTSA) -> None:
    digests = [hashlib.sha256(str(i).encode()).digest() for i in range(40)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        tokens = list(pool.map(builtin_tsa.timestamp, digests))
    assert [t.info.imprint for t in tokens] == digests
    assert len({t.info.serial for t in tokens}) == len(tokens)


def test_without_cert_req_the_certificate_is_left_out(
    builtin_tsa: BuiltinTSA, builtin_tsa_dir: Path, digest: bytes
) -> None:
    response = builtin_tsa.respond(build_request(digest, nonce=7, cert_req=False))
    signed_data = TimeStampResponse.load(response)["time_stamp_token"]["content"]
    assert signed_data["certificates"].native is None
    with pytest.raises(TimestampFormatError):
        verify_timestamp(response, digest, roots=builtin_tsa.trust_roots())
    # The TSA certificate and the issuing CA's then come from outside the token.
    info = verify_timestamp(
        response,
        digest,
        roots=builtin_tsa.trust_roots(),
        intermediates=[builtin_tsa.cert_der, *builtin_tsa.intermediates_der],
    )
    assert info.nonce == 7
    openssl_ts_verify(
        response,
        digest,
        _root_pem(builtin_tsa_dir),
        untrusted_pem=(builtin_tsa_dir / CERT_FILE).read_bytes()
        + (builtin_tsa_dir / ISSUING_CERT_FILE).read_bytes(),
    )


def _request(algorithm: str, hashed: bytes, **extra: object) -> bytes:
    fields: dict[str, object] = {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": algorithm}),
            "hashed_message": hashed,
        },
        "cert_req": True,
        **extra,
    }
    return bytes(tsp.TimeStampReq(fields).dump())


@pytest.mark.parametrize(
    ("request_der", "fail_info"),
    [
        (b"not a request", "bad_data_format"),
        (b"\x30\x03\x02\x01\x01", "bad_data_format"),
        (_request("sha1", hashlib.sha1(b"x").digest()), "bad_alg"),
        (_request("md5", hashlib.md5(b"x").digest()), "bad_alg"),
        (_request("sha256", b"\x00" * 31), "bad_data_format"),
        (_request("sha256", b"\x00" * 32, version="v2"), "bad_request"),
        (_request("sha256", b"\x00" * 32, req_policy="1.3.6.1.4.1.99999.1"), "unaccepted_policy"),
        (
            _request(
                "sha256",
                b"\x00" * 32,
                extensions=[{"extn_id": "1.3.6.1.4.1.99999.2", "extn_value": b"\x05\x00"}],
            ),
            "unaccepted_extensions",
        ),
    ],
)
def test_bad_requests_get_a_rejection_response(
    builtin_tsa: BuiltinTSA, request_der: bytes, fail_info: str
) -> None:
    response = builtin_tsa.respond(request_der)
    status = TimeStampResponse.load(response)["status"]
    assert status["status"].native == "rejection"
    assert fail_info in status["fail_info"].native
    with pytest.raises(TimestampRejected) as caught:
        parse_timestamp_response(response)
    assert fail_info in caught.value.fail_info
    assert caught.value.status_text
    with pytest.raises(TimestampRejected):
        verify_timestamp(response, b"\x00" * 32, roots=builtin_tsa.trust_roots())


def test_sha512_imprint_is_granted_but_not_accepted_as_sha256(builtin_tsa: BuiltinTSA) -> None:
    hashed = hashlib.sha512(b"x").digest()
    response = builtin_tsa.respond(_request("sha512", hashed))
    info = parse_timestamp_response(response)
    assert info.hash_algorithm == "sha512" and info.imprint == hashed
    with pytest.raises(TimestampImprintMismatch):
        verify_timestamp(response, hashed[:32], roots=builtin_tsa.trust_roots())


def test_wrong_digest_root_nonce_and_policy(
    builtin_tsa: BuiltinTSA, foreign_root: bytes, digest: bytes
) -> None:
    token = builtin_tsa.timestamp(digest)
    roots = builtin_tsa.trust_roots()
    with pytest.raises(TimestampImprintMismatch):
        verify_timestamp(token.tsr_der, hashlib.sha256(b"other").digest(), roots=roots)
    with pytest.raises(TimestampChainError):
        verify_timestamp(token.tsr_der, digest, roots=[foreign_root])
    with pytest.raises(TimestampChainError):
        verify_timestamp(token.tsr_der, digest, roots=[])
    with pytest.raises(TimestampNonceMismatch):
        verify_timestamp(token.tsr_der, digest, roots=roots, nonce=(token.info.nonce or 0) + 1)
    with pytest.raises(TimestampPolicyMismatch):
        verify_timestamp(token.tsr_der, digest, roots=roots, policy="1.3.6.1.4.1.99999.1")


def test_garbage_is_malformed_input(builtin_tsa: BuiltinTSA, digest: bytes) -> None:
    for junk in (b"", b"\x30", b"\x30\x00", os.urandom(64), b"\x30\x03\x02\x01\x00" + b"x"):
        with pytest.raises(TimestampFormatError) as caught:
            verify_timestamp(junk, digest, roots=builtin_tsa.trust_roots())
        assert isinstance(caught.value, MalformedInput)


@pytest.fixture
def foreign_root(builtin_tsa: BuiltinTSA, tmp_path: Path) -> bytes:
    """A root that did not issue the built-in TSA certificate."""
    return BuiltinTSA.create(tmp_path / "other").root_cert_der


def test_signed_attributes_are_a_der_set(builtin_tsa: BuiltinTSA, digest: bytes) -> None:
    # DER requires the SET OF in sorted order, else strict parsers (rfc3161-client) refuse.
    signer_info = TimeStampResponse.load(builtin_tsa.timestamp(digest).tsr_der)["time_stamp_token"][
        "content"
    ]["signer_infos"][0]
    encodings = [a.dump() for a in signer_info["signed_attrs"]]
    assert encodings == sorted(encodings)
    assert isinstance(signer_info, cms.SignerInfo)
