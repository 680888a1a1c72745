"""RFC 3161 time-stamp tokens: parse and verify, offline.

rfc3161-client (OpenSSL underneath) is the second opinion on the signature, the certificate
chain at genTime, the EKU, nonce, policy and imprint. It does not check the ESSCertID(v2)
binding (RFC 2634, RFC 5035, RFC 5816), refuses certificate SETs that are not DER-sorted, and
fails with untyped errors (a ValueError for a rejection response). So this module parses with
asn1crypto, checks the CMS signature, the signer binding and the chain itself first, and turns
every failure into a typed `TimestampError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import rfc3161_client
from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from verify.errors import (
    TimestampChainError,
    TimestampError,
    TimestampFormatError,
    TimestampImprintMismatch,
    TimestampNonceMismatch,
    TimestampPolicyMismatch,
    TimestampRejected,
    TimestampSignatureError,
    TimestampSignerMismatch,
    VerificationError,
)

__all__ = [
    "TimeStampResponse",
    "TimestampInfo",
    "check_ess_cert_id",
    "load_pem_or_der_certs",
    "parse_timestamp_response",
    "tsa_certificate_chain",
    "verify_timestamp",
]

SHA256_LEN = 32
# Digests accepted for the CMS signature; SHA-1 and MD5 are no longer evidence-grade.
_SIGNATURE_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
# ESSCertID (v1) is SHA-1 by definition (RFC 2634); it only binds the certificate, and
# OpenSSL still writes it unless told otherwise, so it stays accepted here.
_ESS_HASHES = ("sha1", "sha256", "sha384", "sha512")
_MAX_CHAIN = 8
_DER = Encoding.DER


class TimeStampResponse(tsp.TimeStampResp):  # type: ignore[misc]
    """TimeStampResp with the token OPTIONAL, as RFC 3161 §2.4.2 has it.

    asn1crypto marks the token mandatory, which cannot represent a rejection.
    """

    _fields = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class TimestampInfo:
    """What a token says, as read from it. Trustworthy only once `verify_timestamp` returned it."""

    gen_time: datetime
    policy: str
    serial: int
    nonce: int | None
    tsa_name: str
    hash_algorithm: str
    imprint: bytes
    signer_cert_der: bytes
    #: the TSA's stated accuracy of genTime (RFC 3161 Accuracy), None when it states none
    accuracy: timedelta | None = None


@dataclass(frozen=True)
class _Token:
    info: TimestampInfo
    tst_der: bytes
    signed_attrs_der: bytes  # as received, [0] IMPLICIT tag included
    tst_info: tsp.TSTInfo
    signer_info: cms.SignerInfo
    signer: x509.Certificate
    signer_asn1: asn1_x509.Certificate
    embedded: tuple[bytes, ...]
    signer_embedded: bool


# ---------------------------------------------------------------------------------------------
# parsing


def parse_timestamp_response(tsr_der: bytes, *, certs: Sequence[bytes] = ()) -> TimestampInfo:
    """Read a DER TimeStampResp. Makes no trust decision.

    `certs` are searched for the signer certificate when the token does not embed it.
    Raises `TimestampRejected` for a non-granted status and `TimestampFormatError` (a
    `MalformedInput`) for anything unparsable.
    """
    return _parse(tsr_der, certs).info


def _parse(tsr_der: bytes, extra_certs: Sequence[bytes]) -> _Token:
    if not isinstance(tsr_der, bytes | bytearray):
        raise TimestampFormatError("time-stamp response must be bytes")
    try:
        return _parse_unchecked(bytes(tsr_der), extra_certs)
    except VerificationError:
        raise
    except Exception as exc:  # asn1crypto parses lazily and fails with assorted exceptions
        raise TimestampFormatError(
            f"time-stamp response is not a valid RFC 3161 DER: {exc}"
        ) from exc


def _accuracy(value: Any) -> timedelta | None:
    # RFC 3161 §2.4.2: seconds, millis (1..999) and micros (1..999), each optional.
    if isinstance(value, core.Void):
        return None
    parts = value.native or {}
    seconds, millis, micros = (parts.get(k) or 0 for k in ("seconds", "millis", "micros"))
    if seconds < 0 or not 0 <= millis <= 999 or not 0 <= micros <= 999:
        raise TimestampFormatError("the token's accuracy is out of range")
    return timedelta(seconds=seconds, milliseconds=millis, microseconds=micros)


def _parse_unchecked(tsr_der: bytes, extra_certs: Sequence[bytes]) -> _Token:
    # asn1crypto parses lazily and `.native` may fill in DEFAULT fields, after which `.dump()`
    # re-encodes: the signed bytes are therefore taken (below) before any `.native` on them.
    resp = TimeStampResponse.load(tsr_der, strict=True)
    _raise_for_status(resp["status"])
    token = resp["time_stamp_token"]
    if isinstance(token, core.Void):
        raise TimestampFormatError("status is granted but the response carries no token")
    if token["content_type"].native != "signed_data":
        raise TimestampFormatError("the token is not a CMS SignedData")
    signed_data = token["content"]
    encap = signed_data["encap_content_info"]
    if encap["content_type"].native != "tst_info":
        raise TimestampFormatError("the token does not encapsulate a TSTInfo")
    if isinstance(encap["content"], core.Void):
        raise TimestampFormatError("the token has no encapsulated TSTInfo")
    tst_der = bytes(encap["content"])
    tst = tsp.TSTInfo.load(tst_der, strict=True)
    tst.native  # noqa: B018 -- parse the small TSTInfo fully now, so it fails here, typed
    if tst["version"].native != "v1":
        raise TimestampFormatError(f"unsupported TSTInfo version {tst['version'].native}")
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        # RFC 3161 §2.4.2: the token MUST NOT carry signatures other than the TSA's.
        raise TimestampFormatError(f"expected exactly one SignerInfo, found {len(signer_infos)}")
    signer_info = signer_infos[0]
    # RFC 5652 §5.1/§5.3: a TSTInfo is not id-data, so SignedData is v3 or later; the
    # SignerInfo version follows its sid. Unsigned fields, but a changed one is tampering.
    if signed_data["version"].native not in ("v3", "v4", "v5"):
        raise TimestampFormatError(f"SignedData version {signed_data['version'].native}")
    sid_version = "v1" if signer_info["sid"].name == "issuer_and_serial_number" else "v3"
    if signer_info["version"].native != sid_version:
        raise TimestampFormatError(f"SignerInfo version {signer_info['version'].native}")
    signed_attrs = signer_info["signed_attrs"]
    signed_attrs_der = b"" if isinstance(signed_attrs, core.Void) else signed_attrs.dump()

    embedded: list[bytes] = []
    if not isinstance(signed_data["certificates"], core.Void):
        embedded = [c.chosen.dump() for c in signed_data["certificates"] if c.name == "certificate"]
    signer_der = _find_signer(signer_info["sid"], embedded)
    signer_embedded = signer_der is not None
    if signer_der is None:
        signer_der = _find_signer(signer_info["sid"], list(extra_certs))
    if signer_der is None:
        raise TimestampFormatError(
            "the token does not embed the TSA certificate and none was supplied "
            "(request it with certReq)"
        )
    signer = x509.load_der_x509_certificate(signer_der)
    gen_time = tst["gen_time"].native
    if not isinstance(gen_time, datetime) or gen_time.tzinfo is None:
        raise TimestampFormatError("genTime is not a usable UTC time")
    nonce = tst["nonce"].native
    info = TimestampInfo(
        accuracy=_accuracy(tst["accuracy"]),
        gen_time=gen_time.astimezone(UTC),
        policy=tst["policy"].dotted,
        serial=int(tst["serial_number"].native),
        nonce=None if nonce is None else int(nonce),
        tsa_name=signer.subject.rfc4514_string(),
        hash_algorithm=str(tst["message_imprint"]["hash_algorithm"]["algorithm"].native),
        imprint=bytes(tst["message_imprint"]["hashed_message"].native),
        signer_cert_der=signer_der,
    )
    return _Token(
        info=info,
        tst_der=tst_der,
        signed_attrs_der=signed_attrs_der,
        tst_info=tst,
        signer_info=signer_info,
        signer=signer,
        signer_asn1=asn1_x509.Certificate.load(signer_der),
        embedded=tuple(embedded),
        signer_embedded=signer_embedded,
    )


def _raise_for_status(status_info: tsp.PKIStatusInfo) -> None:
    status = status_info["status"].native
    if status == "granted":
        return
    text = ""
    if not isinstance(status_info["status_string"], core.Void):
        text = "; ".join(str(s) for s in status_info["status_string"].native)
    fail_info: tuple[str, ...] = ()
    if not isinstance(status_info["fail_info"], core.Void):
        fail_info = tuple(sorted(str(f) for f in status_info["fail_info"].native))
    detail = ", ".join(p for p in (", ".join(fail_info), repr(text) if text else "") if p)
    raise TimestampRejected(
        f"the TSA did not grant a token: status {status}" + (f" ({detail})" if detail else ""),
        status=str(status),
        fail_info=fail_info,
        status_text=text,
    )


def _same_name(a: asn1_x509.Name, b: asn1_x509.Name) -> bool:
    # Byte-equal names are equal; only differently encoded ones need asn1crypto's
    # RFC 5280 comparison, whose string preparation costs more than the rest of a check.
    return bool(_name_der(a) == _name_der(b) or a == b)


def _name_der(name: asn1_x509.Name) -> bytes:
    # A name inside a GeneralName carries its [4] tag, which its dump would include: the
    # bytes of the same name as a certificate states it would never match.
    return bytes(name.untag().dump() if name.explicit or name.implicit else name.dump())


def _find_signer(sid: cms.SignerIdentifier, candidates: Sequence[bytes]) -> bytes | None:
    for der in candidates:
        cert = asn1_x509.Certificate.load(der)
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            if cert.serial_number != ias["serial_number"].native:
                continue
            if _same_name(cert.issuer, ias["issuer"]):
                return der
        elif sid.name == "subject_key_identifier" and cert.key_identifier == sid.chosen.native:
            return der
    return None


# ---------------------------------------------------------------------------------------------
# verification


def verify_timestamp(
    tsr_der: bytes,
    digest: bytes,
    *,
    roots: Sequence[bytes],
    intermediates: Sequence[bytes] = (),
    nonce: int | None = None,
    policy: str | None = None,
) -> TimestampInfo:
    """Verify that `tsr_der` is a granted token over the SHA-256 `digest` from a trusted TSA.

    Checks, in order: status and format, the CMS signature and messageDigest, the chain from
    the TSA certificate to one of `roots` (DER) at genTime, the critical timeStamping EKU, the
    ESSCertID(v2) binding and TSA name, the imprint, the nonce and the policy; then lets
    rfc3161-client check the same token independently. Every failure is a `TimestampError`.
    """
    if not isinstance(digest, bytes) or len(digest) != SHA256_LEN:
        raise TimestampFormatError("the digest to check must be a 32-byte SHA-256 digest")
    token = _parse(tsr_der, intermediates)
    try:
        _check_signature(token)
        chain = _build_chain(token, roots, intermediates)
        _check_tsa_certificate(token.signer)
        _check_ess(token.signer_info, token.info.signer_cert_der, token.signer_asn1)
        _check_tsa_name(token)
    except VerificationError:
        raise
    except Exception as exc:  # a lazily parsed field turned out malformed
        raise TimestampFormatError(f"the token is malformed: {exc}") from exc
    _check_content(token.info, digest, nonce, policy)
    _second_opinion(bytes(tsr_der), token, chain, digest, nonce, policy)
    return token.info


def tsa_certificate_chain(
    tsr_der: bytes, *, roots: Sequence[bytes], intermediates: Sequence[bytes] = ()
) -> tuple[bytes, ...]:
    """The TSA certificate, intermediates and trusted root (DER) that the token chains to.

    Raises `TimestampChainError` when there is no such chain valid at genTime.
    """
    token = _parse(tsr_der, intermediates)
    try:
        chain = _build_chain(token, roots, intermediates)
    except VerificationError:
        raise
    except Exception as exc:
        raise TimestampFormatError(f"the token is malformed: {exc}") from exc
    return tuple(c.public_bytes(_DER) for c in chain)


def check_ess_cert_id(tsr_der: bytes, cert_der: bytes) -> None:
    """Check that the token's signed SigningCertificate(V2) attribute names `cert_der`.

    Raises `TimestampSignerMismatch` when it names another certificate.
    """
    token = _parse(tsr_der, ())
    try:
        cert = asn1_x509.Certificate.load(cert_der, strict=True)
        _check_ess(token.signer_info, cert_der, cert)
    except VerificationError:
        raise
    except Exception as exc:
        raise TimestampFormatError(f"cannot check the ESSCertID: {exc}") from exc


def load_pem_or_der_certs(data: bytes) -> list[bytes]:
    """All certificates in a PEM bundle, or the single DER certificate `data` is; as DER."""
    try:
        if b"-----BEGIN" in data:
            return [c.public_bytes(_DER) for c in x509.load_pem_x509_certificates(data)]
        return [x509.load_der_x509_certificate(data).public_bytes(_DER)]
    except (ValueError, TypeError) as exc:
        raise TimestampFormatError(f"no readable X.509 certificate: {exc}") from exc


def _check_signature(token: _Token) -> None:
    si = token.signer_info
    digest_name = si["digest_algorithm"]["algorithm"].native
    if digest_name not in _SIGNATURE_HASHES:
        raise TimestampSignatureError(f"unsupported signer digest algorithm {digest_name}")
    attrs = si["signed_attrs"]
    if isinstance(attrs, core.Void) or len(attrs) == 0:
        # Without signed attributes nothing binds the ESSCertID; RFC 3161 requires them.
        raise TimestampSignatureError("the token has no signed attributes")
    content_type = _single_attr(attrs, "content_type", TimestampSignatureError)
    if content_type.native != "tst_info":
        raise TimestampSignatureError("the signed content-type attribute is not id-ct-TSTInfo")
    message_digest = _single_attr(attrs, "message_digest", TimestampSignatureError)
    if message_digest.native != hashlib.new(digest_name, token.tst_der).digest():
        raise TimestampSignatureError("the signed message digest does not match the TSTInfo")

    # RFC 5652 §5.4: the signature covers the attributes DER-encoded with an explicit SET OF
    # tag, not the [0] IMPLICIT tag they carry inside SignerInfo.
    signed_bytes = b"\x31" + token.signed_attrs_der[1:]
    signature = si["signature"].native
    algorithm = si["signature_algorithm"]
    name = algorithm.signature_algo
    try:
        hash_name = algorithm.hash_algo
    except ValueError:  # a bare key algorithm OID (rsaEncryption): the digest field decides
        hash_name = digest_name
    if hash_name not in _SIGNATURE_HASHES:
        raise TimestampSignatureError(f"unsupported signature hash {hash_name}")
    hash_algo = _SIGNATURE_HASHES[hash_name]()
    key = token.signer.public_key()
    try:
        if name == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed_bytes, ec.ECDSA(hash_algo))
        elif name == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed_bytes, padding.PKCS1v15(), hash_algo)
        elif name == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey):
            params = algorithm["parameters"]
            mgf_hash = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
            if mgf_hash not in _SIGNATURE_HASHES:
                raise TimestampSignatureError(f"unsupported PSS MGF1 hash {mgf_hash}")
            pss = padding.PSS(
                mgf=padding.MGF1(_SIGNATURE_HASHES[mgf_hash]()),
                salt_length=int(params["salt_length"].native),
            )
            key.verify(signature, signed_bytes, pss, hash_algo)
        else:
            raise TimestampSignatureError(
                f"unsupported signature algorithm {name} for a {type(key).__name__}"
            )
    except InvalidSignature as exc:
        raise TimestampSignatureError("the TSA signature over the token does not verify") from exc


def _single_attr(
    attrs: cms.CMSAttributes, attr_type: str, error: type[TimestampError]
) -> core.Asn1Value:
    found = [a for a in attrs if a["type"].native == attr_type]
    if len(found) != 1 or len(found[0]["values"]) != 1:
        raise error(f"expected exactly one signed {attr_type} attribute with one value")
    return found[0]["values"][0]


def _build_chain(
    token: _Token, roots: Sequence[bytes], intermediates: Sequence[bytes]
) -> list[x509.Certificate]:
    """Path from the signer to a trusted root, every certificate valid at genTime.

    Embedded certificates only help to find the path; trust comes from `roots` alone. As with
    OpenSSL (no partial chains), the path must end at a self-signed root: a configured root
    that is not self-signed only serves as an intermediate.
    """
    if not roots:
        raise TimestampChainError("no trusted TSA root certificate is configured")
    configured = [_load_trusted(der, "trusted root") for der in roots]
    anchors = [c for c in configured if _issued_by(c, c)]
    pool = [c for c in configured if c not in anchors]
    pool += [_load_trusted(der, "intermediate") for der in intermediates]
    for der in token.embedded:
        try:
            pool.append(x509.load_der_x509_certificate(der))
        except ValueError:
            continue  # an unreadable extra certificate cannot be on a valid path anyway
    at = token.info.gen_time
    chain = [token.signer]
    while len(chain) <= _MAX_CHAIN:
        current = chain[-1]
        if current in anchors:
            break
        root = next((r for r in anchors if _issued_by(current, r)), None)
        if root is not None:
            chain.append(root)
            break
        nxt = next(
            (c for c in pool if c not in chain and _is_ca(c) and _issued_by(current, c)), None
        )
        if nxt is None:
            raise TimestampChainError(
                f"the TSA certificate ({token.info.tsa_name}) does not chain to a trusted "
                "self-signed root"
            )
        chain.append(nxt)
    else:
        raise TimestampChainError("the TSA certificate chain is too long")
    for cert in chain:
        if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            raise TimestampChainError(
                f"certificate {cert.subject.rfc4514_string()} was not valid at genTime "
                f"{at.isoformat()}"
            )
    return chain


def _load_trusted(der: bytes, what: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except (ValueError, TypeError) as exc:
        raise TimestampChainError(f"a configured {what} is not a DER certificate") from exc


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):
        return False


def _check_tsa_certificate(cert: x509.Certificate) -> None:
    """RFC 3161 §2.3: one critical EKU extension holding only id-kp-timeStamping."""
    subject = cert.subject.rfc4514_string()
    try:
        extensions = cert.extensions
    except ValueError as exc:
        raise TimestampChainError(f"the TSA certificate ({subject}) has bad extensions") from exc
    try:
        eku = extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound as exc:
        raise TimestampChainError(
            f"the TSA certificate ({subject}) has no extendedKeyUsage; "
            "RFC 3161 requires a critical id-kp-timeStamping"
        ) from exc
    if not eku.critical:
        raise TimestampChainError(f"the TSA certificate's ({subject}) EKU is not critical")
    if list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise TimestampChainError(
            f"the TSA certificate's ({subject}) EKU must be id-kp-timeStamping only"
        )
    try:
        usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not (usage.digital_signature or usage.content_commitment):
        raise TimestampChainError(f"the TSA certificate's ({subject}) key usage forbids signing")


def _check_ess(signer_info: cms.SignerInfo, cert_der: bytes, cert: asn1_x509.Certificate) -> None:
    """The signed SigningCertificate(V2) must name the signer (RFC 3161 §2.4.2, RFC 5816)."""
    attrs = signer_info["signed_attrs"]
    if isinstance(attrs, core.Void):
        raise TimestampSignerMismatch("the token has no signed attributes naming its signer")
    found = {
        version: [a for a in attrs if a["type"].native == attr]
        for version, attr in (("v1", "signing_certificate"), ("v2", "signing_certificate_v2"))
    }
    if not found["v1"] and not found["v2"]:
        raise TimestampSignerMismatch(
            "the token has no SigningCertificate or SigningCertificateV2 attribute"
        )
    for version, attrs_of_kind in found.items():
        if not attrs_of_kind:
            continue
        if len(attrs_of_kind) != 1 or len(attrs_of_kind[0]["values"]) != 1:
            raise TimestampSignerMismatch(f"ambiguous ESSCertID{version} attribute")
        ids = attrs_of_kind[0]["values"][0]["certs"]
        if len(ids) == 0:
            raise TimestampSignerMismatch(f"empty ESSCertID{version} list")
        first = ids[0]  # the first one identifies the signing certificate
        hash_name = "sha1" if version == "v1" else first["hash_algorithm"]["algorithm"].native
        if hash_name not in _ESS_HASHES:
            raise TimestampSignerMismatch(f"unsupported ESSCertID{version} hash {hash_name}")
        if hashlib.new(hash_name, cert_der).digest() != first["cert_hash"].native:
            raise TimestampSignerMismatch(
                f"ESSCertID{version} names another certificate than the TSA certificate "
                f"({cert.subject.human_friendly})"
            )
        issuer_serial = first["issuer_serial"]
        if isinstance(issuer_serial, core.Void):
            continue
        same_issuer = any(
            gn.name == "directory_name" and _same_name(gn.chosen, cert.issuer)
            for gn in issuer_serial["issuer"]
        )
        if not same_issuer or issuer_serial["serial_number"].native != cert.serial_number:
            raise TimestampSignerMismatch(
                f"ESSCertID{version} issuer/serial does not match the TSA certificate"
            )


def _check_tsa_name(token: _Token) -> None:
    # RFC 3161 §2.4.2: a TSA name, if present, must correspond to the signer's subject.
    # Only directory names can be compared without SAN matching rules; others are hints.
    tsa = token.tst_info["tsa"]
    if isinstance(tsa, core.Void) or tsa.name != "directory_name":
        return
    if not _same_name(tsa.chosen, token.signer_asn1.subject):
        raise TimestampSignerMismatch(
            f"the token's TSA name {tsa.chosen.human_friendly} is not its signer's subject"
        )


def _check_content(
    info: TimestampInfo, digest: bytes, nonce: int | None, policy: str | None
) -> None:
    if info.hash_algorithm != "sha256":
        raise TimestampImprintMismatch(
            f"the token's imprint uses {info.hash_algorithm}, a SHA-256 imprint was expected"
        )
    if info.imprint != digest:
        raise TimestampImprintMismatch(
            f"the token timestamps {info.imprint.hex()}, not {digest.hex()}"
        )
    if nonce is not None and info.nonce != nonce:
        raise TimestampNonceMismatch(
            f"the token's nonce {info.nonce} is not the nonce sent ({nonce}): "
            "a replayed or foreign response"
        )
    if policy is not None and info.policy != policy:
        raise TimestampPolicyMismatch(
            f"the token's policy {info.policy} is not the required {policy}"
        )


# ---------------------------------------------------------------------------------------------
# rfc3161-client


def _second_opinion(
    tsr_der: bytes,
    token: _Token,
    chain: list[x509.Certificate],
    digest: bytes,
    nonce: int | None,
    policy: str | None,
) -> None:
    """Run rfc3161-client over the same token; anything it refuses is reported typed."""
    try:
        # Its trust store also holds the intermediates, so it only gets the path we already
        # checked, never certificates that merely came with the token.
        builder = rfc3161_client.VerifierBuilder().add_root_certificate(chain[-1])
        for cert in chain[1:-1]:
            builder = builder.add_intermediate_certificate(cert)
        if not token.signer_embedded:
            builder = builder.tsa_certificate(token.signer)
        if nonce is not None and nonce >= 0:
            builder = builder.nonce(nonce)
        if policy is not None:
            builder = builder.policy_id(x509.ObjectIdentifier(policy))
        response = rfc3161_client.decode_timestamp_response(_der_sorted_certificates(tsr_der))
        builder.build().verify(response, digest)
    except (rfc3161_client.VerificationError, ValueError, TypeError) as exc:
        raise _classify(str(exc)) from exc
    except Exception as exc:
        raise TimestampFormatError(f"rfc3161-client cannot read the token: {exc!r}") from exc
    except BaseException as exc:
        # A Rust panic inside rfc3161-client surfaces as pyo3's PanicException, which is a
        # BaseException; it means the token is malformed in a way asn1crypto tolerated.
        if type(exc).__name__ == "PanicException":
            raise TimestampFormatError(f"rfc3161-client cannot read the token: {exc}") from exc
        raise


def _classify(message: str) -> TimestampError:
    text = f"rfc3161-client refused the token: {message}"
    if "Nonce" in message:
        return TimestampNonceMismatch(text)
    if "Policy" in message:
        return TimestampPolicyMismatch(text)
    if "Mismatch between messages" in message:
        return TimestampImprintMismatch(text)
    if "ASN.1" in message or "parse" in message:
        return TimestampFormatError(text)
    if "certificate verify error" in message:  # OpenSSL's PKCS7_verify could not build a path
        return TimestampChainError(text)
    if "signature failure" in message or "digest failure" in message:
        return TimestampSignatureError(text)
    return TimestampChainError(text)


def _der_sorted_certificates(tsr_der: bytes) -> bytes:
    """The same response with its certificate SET in DER order.

    rfc3161-client refuses SETs that are not sorted (OpenSSL writes chains unsorted). The
    certificates are outside the signed attributes and TSTInfo, so the signature still holds.
    """
    resp = TimeStampResponse.load(tsr_der)
    token = resp["time_stamp_token"]
    signed_data = token["content"]
    certs = signed_data["certificates"]
    if isinstance(certs, core.Void):
        return tsr_der
    encodings = [c.dump() for c in certs]
    if encodings == sorted(encodings):
        return tsr_der
    signed_data["certificates"] = cms.CertificateSet(
        [cms.CertificateChoices.load(e) for e in sorted(encodings)]
    )
    token["content"] = signed_data
    resp["time_stamp_token"] = token
    return bytes(resp.dump())
