"""verify.timestamp against tampered, re-signed and foreign tokens, and OpenSSL chains."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
import rfc3161_client
from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from custody.timestamps import build_request
from custody.tsa_builtin import KEY_FILE, ROOT_CERT_FILE, BuiltinTSA
from tests.support.openssl_tsa import (
    OpenSSLTSA,
    der_of,
    make_ca,
    make_tsa_cert,
    openssl_ts_verify,
)
from verify.errors import (
    MalformedInput,
    TimestampChainError,
    TimestampError,
    TimestampFormatError,
    TimestampSignatureError,
    TimestampSignerMismatch,
)
from verify.timestamp import (
    TimeStampResponse,
    _same_name,
    check_ess_cert_id,
    load_pem_or_der_certs,
    parse_timestamp_response,
    tsa_certificate_chain,
    verify_timestamp,
)

Attrs = list[cms.CMSAttribute]


def _resign(tsr_der: bytes, key_pem: bytes, mutate: Callable[[Attrs], Attrs]) -> bytes:
    """The token with its signed attributes changed by `mutate` and validly signed again."""
    key = serialization.load_pem_private_key(key_pem, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    resp = TimeStampResponse.load(tsr_der)
    token = resp["time_stamp_token"]
    signed_data = token["content"]
    signer_info = signed_data["signer_infos"][0]
    attrs = cms.CMSAttributes(
        mutate([cms.CMSAttribute.load(a.dump()) for a in signer_info["signed_attrs"]])
    )
    signer_info["signed_attrs"] = attrs
    signer_info["signature"] = key.sign(attrs.dump(), ec.ECDSA(hashes.SHA256()))
    signed_data["signer_infos"] = cms.SignerInfos([signer_info])
    token["content"] = signed_data
    resp["time_stamp_token"] = token
    return bytes(resp.dump())


def _replace_ess(cert_der: bytes) -> Callable[[Attrs], Attrs]:
    def mutate(attrs: Attrs) -> Attrs:
        claim = tsp.SigningCertificateV2(
            {"certs": [{"cert_hash": hashlib.sha256(cert_der).digest()}]}
        )
        kept = [a for a in attrs if a["type"].native != "signing_certificate_v2"]
        return [*kept, cms.CMSAttribute({"type": "signing_certificate_v2", "values": [claim]})]

    return mutate


def test_every_single_byte_change_is_a_typed_error(builtin_tsa: BuiltinTSA, digest: bytes) -> None:
    tsr = builtin_tsa.timestamp(digest).tsr_der
    seen: set[type[TimestampError]] = set()
    for position in range(len(tsr)):
        for mask in (0x01, 0x80):
            tampered = bytearray(tsr)
            tampered[position] ^= mask
            # Anything but a TimestampError (a ValueError, a Rust panic) fails the test.
            with pytest.raises(TimestampError) as caught:
                verify_timestamp(bytes(tampered), digest, roots=builtin_tsa.trust_roots())
            seen.add(type(caught.value))
    assert {TimestampFormatError, TimestampSignatureError} <= seen
    for length in range(0, len(tsr), 7):
        with pytest.raises(TimestampFormatError):
            verify_timestamp(tsr[:length], digest, roots=builtin_tsa.trust_roots())


def test_byte_changes_to_an_openssl_chain_token(
    openssl_chain_tsa: OpenSSLTSA, digest: bytes
) -> None:
    tsr = openssl_chain_tsa.reply(build_request(digest, nonce=8))
    ca_der = openssl_chain_tsa.ca_der
    # The embedded copy of the root is never relied on (trust comes from `roots`), so changing
    # it leaves a valid token; every other change must be refused, typed.
    root_start = tsr.index(ca_der)
    unused = range(root_start, root_start + len(ca_der))
    for position in range(0, len(tsr), 3):
        tampered = bytearray(tsr)
        tampered[position] ^= 0x01
        try:
            verify_timestamp(bytes(tampered), digest, roots=[ca_der])
        except TimestampError:
            continue
        assert position in unused


def test_ess_check_against_another_certificate(
    builtin_tsa: BuiltinTSA, openssl_tsa: OpenSSLTSA, digest: bytes
) -> None:
    tsr = builtin_tsa.timestamp(digest).tsr_der
    check_ess_cert_id(tsr, builtin_tsa.cert_der)
    with pytest.raises(TimestampSignerMismatch):
        check_ess_cert_id(tsr, openssl_tsa.tsa_cert_der)


def test_resigned_token_naming_another_certificate_is_refused(
    builtin_tsa: BuiltinTSA, builtin_tsa_dir: Path, openssl_tsa: OpenSSLTSA, digest: bytes
) -> None:
    tsr = builtin_tsa.timestamp(digest).tsr_der
    key_pem = (builtin_tsa_dir / KEY_FILE).read_bytes()
    root_pem = (builtin_tsa_dir / ROOT_CERT_FILE).read_bytes()
    roots = builtin_tsa.trust_roots()

    unchanged = _resign(tsr, key_pem, lambda attrs: attrs)
    verify_timestamp(unchanged, digest, roots=roots)  # the re-signing itself is sound

    forged = _resign(tsr, key_pem, _replace_ess(openssl_tsa.tsa_cert_der))
    with pytest.raises(TimestampSignerMismatch):
        verify_timestamp(forged, digest, roots=roots)
    with pytest.raises(AssertionError):
        openssl_ts_verify(forged, digest, root_pem)
    # rfc3161-client alone accepts it: the ESSCertID check is ours.
    assert _rfc3161_client_accepts(forged, digest, roots[0])

    stripped = _resign(
        tsr, key_pem, lambda a: [x for x in a if x["type"].native != "signing_certificate_v2"]
    )
    with pytest.raises(TimestampSignerMismatch):
        verify_timestamp(stripped, digest, roots=roots)


def _rfc3161_client_accepts(tsr: bytes, digest: bytes, root_der: bytes) -> bool:
    from cryptography import x509

    root = x509.load_der_x509_certificate(root_der)
    verifier = rfc3161_client.VerifierBuilder().add_root_certificate(root).build()
    return verifier.verify(rfc3161_client.decode_timestamp_response(tsr), digest)


@pytest.mark.parametrize(
    ("eku", "valid"),
    [
        ("critical,timeStamping", True),
        (None, False),
        ("timeStamping", False),
        ("critical,timeStamping,codeSigning", False),
    ],
)
def test_tsa_certificate_needs_the_critical_timestamping_eku(
    tmp_path: Path, digest: bytes, eku: str | None, valid: bool
) -> None:
    ca, ca_key = make_ca(tmp_path)
    cert, key = make_tsa_cert(tmp_path, ca, ca_key, eku=eku)
    private = serialization.load_pem_private_key(key.read_bytes(), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    # The built-in TSA signs with whatever certificate it is given: OpenSSL's refuses to.
    tsa = BuiltinTSA(key=private, cert_der=der_of(cert), root_cert_der=der_of(ca))
    tsr = tsa.respond(build_request(digest, nonce=1))
    if valid:
        verify_timestamp(tsr, digest, roots=[der_of(ca)])
        openssl_ts_verify(tsr, digest, ca.read_bytes())
        return
    with pytest.raises(TimestampChainError):
        verify_timestamp(tsr, digest, roots=[der_of(ca)])
    with pytest.raises(AssertionError):
        openssl_ts_verify(tsr, digest, ca.read_bytes())


def test_openssl_chain_with_unsorted_certificate_set(
    openssl_chain_tsa: OpenSSLTSA, digest: bytes
) -> None:
    tsr = openssl_chain_tsa.reply(build_request(digest, nonce=99))
    signed_data = TimeStampResponse.load(tsr)["time_stamp_token"]["content"]
    encodings = [c.dump() for c in signed_data["certificates"]]
    assert len(encodings) == 3 and encodings != sorted(encodings)  # the case worked around
    with pytest.raises(ValueError, match="InvalidSetOrdering"):
        rfc3161_client.decode_timestamp_response(tsr)

    ca_der = openssl_chain_tsa.ca_der
    assert openssl_chain_tsa.intermediate_pem_path is not None
    intermediate = der_of(openssl_chain_tsa.intermediate_pem_path)
    info = verify_timestamp(tsr, digest, roots=[ca_der], nonce=99)
    assert info.signer_cert_der == openssl_chain_tsa.tsa_cert_der
    assert tsa_certificate_chain(tsr, roots=[ca_der]) == (
        openssl_chain_tsa.tsa_cert_der,
        intermediate,
        ca_der,
    )
    openssl_ts_verify(tsr, digest, openssl_chain_tsa.ca_pem_path.read_bytes())
    # Trust ends at a self-signed root, as with `openssl ts -verify` (no partial chains).
    with pytest.raises(TimestampChainError):
        verify_timestamp(tsr, digest, roots=[intermediate])


def test_embedded_certificates_are_not_trusted(
    openssl_chain_tsa: OpenSSLTSA, builtin_tsa: BuiltinTSA, digest: bytes
) -> None:
    tsr = openssl_chain_tsa.reply(build_request(digest, nonce=5))
    with pytest.raises(TimestampChainError):
        verify_timestamp(tsr, digest, roots=builtin_tsa.trust_roots())


def test_parse_without_trust(openssl_tsa: OpenSSLTSA, digest: bytes) -> None:
    info = parse_timestamp_response(openssl_tsa.reply(build_request(digest, nonce=3)))
    assert info.nonce == 3 and info.imprint == digest
    assert info.tsa_name == "CN=OpenSSL test TSA,O=Locard tests"


def test_load_pem_or_der_certs(openssl_chain_tsa: OpenSSLTSA) -> None:
    bundle = openssl_chain_tsa.directory / "chain.pem"
    ders = load_pem_or_der_certs(bundle.read_bytes())
    assert len(ders) == 2 and ders[1] == openssl_chain_tsa.ca_der
    assert load_pem_or_der_certs(openssl_chain_tsa.ca_der) == [openssl_chain_tsa.ca_der]
    for junk in (
        b"",
        b"garbage",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ):
        with pytest.raises(MalformedInput):
            load_pem_or_der_certs(junk)


def test_rfc2634_sha1_signing_certificate_is_checked(
    tmp_path: Path, openssl_tsa: OpenSSLTSA, digest: bytes
) -> None:
    legacy = OpenSSLTSA(tmp_path, ess_cert_id_alg=None)  # used without its HTTP server
    tsr = legacy.reply(build_request(digest, nonce=11))
    attrs = TimeStampResponse.load(tsr)["time_stamp_token"]["content"]["signer_infos"][0][
        "signed_attrs"
    ]
    assert "signing_certificate" in {a["type"].native for a in attrs}
    verify_timestamp(tsr, digest, roots=[legacy.ca_der], nonce=11)
    check_ess_cert_id(tsr, legacy.tsa_cert_der)
    with pytest.raises(TimestampSignerMismatch):
        check_ess_cert_id(tsr, openssl_tsa.tsa_cert_der)


def test_names_the_token_states_as_its_certificate_does_need_no_string_preparation(
    builtin_tsa: BuiltinTSA, digest: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The TSA name and the ESSCertIDv2 issuer sit in GeneralNames ([4]-tagged); compared
    by their untagged bytes they match the certificate's at once. asn1crypto's RFC 5280
    comparison (LDAP string preparation, most of a built-in token's check) is only for
    names encoded differently."""
    tsr = builtin_tsa.timestamp(digest).tsr_der

    def refuse(a: object, b: object) -> bool:
        raise AssertionError("compared by string preparation")

    monkeypatch.setattr(asn1_x509.Name, "__eq__", refuse)
    monkeypatch.setattr(asn1_x509.Name, "__ne__", refuse)
    verify_timestamp(tsr, digest, roots=builtin_tsa.trust_roots())


def test_a_name_encoded_otherwise_is_still_the_same_name() -> None:
    utf8 = asn1_x509.Name.build({"common_name": "Locard TSA", "country_name": "DE"})
    printable = asn1_x509.Name.build(
        {"common_name": "Locard TSA", "country_name": "DE"}, use_printable=True
    )
    tagged = asn1_x509.GeneralName(name="directory_name", value=utf8).chosen
    other = asn1_x509.Name.build({"common_name": "Another TSA", "country_name": "DE"})
    assert utf8.dump() != printable.dump()
    assert _same_name(tagged, utf8) and _same_name(tagged, printable)
    assert not _same_name(tagged, other)
