"""PAdES signing of custody reports, timestamped by the vault's own TSA.

The signature makes the PDF tamper-evident on its own, without the vault: any PAdES
validator (pyHanko, Adobe, `pdfsig`) checks it against the root a third party already pins
for the vault's TSA tokens. The signing certificate is therefore issued by the built-in
PKI's issuing CA (`custody.pki`), so one trust anchor covers checkpoints and reports and
the root key need not be on the box. A single-tier vault from an earlier release issues it
from its root when that key is still there; otherwise it is self-signed and must be pinned
itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import io
import logging
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import cms
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from pyhanko.pdf_utils import embed
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from app.reports.token_signer import TokenSigner
from custody import pkcs11_ec, pki
from custody.ca_signer import CAKey, sign_certificate
from custody.keyring import REPORT_SIGNER_REF, TSA_DIR
from custody.pkcs11_keys import TokenKeyError
from custody.timestamps import HttpTSA, TimestampAuthority
from custody.tsa_builtin import BuiltinTSA

SIGNER_FILE = "report-signer.pem"
SIGNATURE_FIELD = "LocardCustodyReport"
DOC_TIMESTAMP_FIELD = "LocardDocumentTimestamp"
_CN = "Locard custody report signer"
#: id-kp-documentSigning (RFC 9336)
_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
_ORGANIZATION = "Locard (self-operated)"
_VALIDITY = timedelta(days=3 * 365)
# A verifier whose clock lags a little must still see a valid certificate.
_BACKDATE = timedelta(minutes=5)


class _ExpectedNoFetch(logging.Filter):
    """pyHanko warns on every signature that it may not fetch revocation data. The vault
    hands it the issuing CA's CRL itself and nothing here is fetched over the network, so
    the warning would only drown real ones."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "fetching is not allowed" not in record.getMessage()


logging.getLogger("pyhanko.sign.signers.pdf_signer").addFilter(_ExpectedNoFetch())


class ReportSigningError(Exception):
    """The report could not be signed or timestamped; nothing was issued."""


@dataclass(frozen=True)
class SigningIdentity:
    #: a key file's key, or the report signer's key in a PKCS#11 token
    key: CAKey
    cert: x509.Certificate
    #: issuer certificates up to the root; empty when the certificate is self-signed
    issuers: tuple[x509.Certificate, ...]
    #: the CAs' current CRLs (DER), embedded so the report validates long-term
    crls: tuple[bytes, ...] = ()

    @property
    def root(self) -> x509.Certificate:
        return self.issuers[-1] if self.issuers else self.cert

    @property
    def issued_by_tsa_root(self) -> bool:
        return bool(self.issuers)


@dataclass(frozen=True)
class SignedReport:
    pdf: bytes
    signer_subject: str
    signer_cert_sha256: str
    trust_root_pem: str
    tsa: str
    tsa_self_operated: bool
    #: the chain of the document timestamp's TSA (TSA certificate … root, DER)
    tsa_chain: tuple[bytes, ...] = ()


def load_or_create_identity(
    keys_dir: Path, origin: str, *, crl_url: str | None = None
) -> SigningIdentity:
    """The report-signing key and certificate, created on first use (naming `crl_url`, the
    issuing CA's published CRL, when given), with the CAs' current CRLs.

    The file holds the private key, so it is 0600 like every other key in the directory.
    It is published with an atomic link(2): two processes issuing the first report at the
    same moment both end up with the same identity, never with a half-written file.
    """
    path = keys_dir / SIGNER_FILE
    if not path.exists():
        identity = _new_identity(keys_dir, origin, crl_url)
        _publish(path, _to_pem(identity))
    identity = _load(path)
    crls: list[bytes] = []
    for current in (pki.current_crl, pki.root_crl):
        with contextlib.suppress(pki.PKIError, OSError):
            if (der := current(keys_dir / TSA_DIR)) is not None:
                crls.append(der)
    return dataclasses.replace(identity, crls=tuple(crls))


def _new_identity(keys_dir: Path, origin: str, crl_url: str | None) -> SigningIdentity:
    issuer: pki.Issuer | None = None
    try:
        with contextlib.suppress(pki.PKIError):
            issuer = pki.issuer_of(keys_dir / TSA_DIR)
    except TokenKeyError as exc:
        # Not a self-signed fallback: the issuing CA is there, its token is not usable.
        raise ReportSigningError(f"the issuing CA's token key: {exc}") from exc
    issuer_key = issuer.key if issuer is not None else None
    issuer_cert = issuer.cert if issuer is not None else None
    key: CAKey
    if (keys_dir / REPORT_SIGNER_REF).exists():
        try:
            key = pkcs11_ec.load_ref(keys_dir / SIGNER_FILE)  # made in the token at `init`
        except TokenKeyError as exc:
            raise ReportSigningError(f"the report signer's token key: {exc}") from exc
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{_CN} ({origin})"[:64]),
        ]
    )
    start = datetime.now(UTC) - _BACKDATE
    end = start + _VALIDITY
    if issuer_cert is not None:
        # A certificate outliving its issuer would fail validation before its own expiry.
        end = min(end, issuer_cert.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # PAdES validators look for non-repudiation
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        # NSS (poppler's `pdfsig`) checks a PDF signer for e-mail signing usage, which a
        # certificate with an EKU only passes when it lists emailProtection.
        .add_extension(
            x509.ExtendedKeyUsage([_DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer_cert is not None and issuer_key is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        if crl_url is not None:
            builder = builder.add_extension(pki.crl_distribution_point(crl_url), critical=False)
        cert = sign_certificate(builder, issuer_key)
        assert issuer is not None
        return SigningIdentity(key, cert, issuer.chain)
    return SigningIdentity(key, sign_certificate(builder, key), ())


def _to_pem(identity: SigningIdentity) -> bytes:
    """The key (unless it lives in a token) and the certificates, key first."""
    key_pem = (
        b""
        if isinstance(identity.key, pkcs11_ec.TokenECKey)
        else identity.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    certs = (identity.cert, *identity.issuers)
    return key_pem + b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _publish(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".report-signer-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        # link(2) never replaces an existing file: a concurrent first use keeps the winner's.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _load(path: Path) -> SigningIdentity:
    try:
        data = path.read_bytes()
        key: object = (
            serialization.load_pem_private_key(data, None)
            if b"PRIVATE KEY-----" in data
            else pkcs11_ec.load_ref(path)  # the key is in a token: the file has certificates
        )
        certs = x509.load_pem_x509_certificates(data)
    except (OSError, ValueError, TokenKeyError) as exc:
        raise ReportSigningError(f"cannot read the report-signing key {path}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | pkcs11_ec.TokenECKey) or not certs:
        raise ReportSigningError(f"{path} must hold an ECDSA key and its certificate")
    if key.public_key() != certs[0].public_key():
        raise ReportSigningError(f"the key in {path} does not belong to its certificate")
    if certs[0].not_valid_after_utc <= datetime.now(UTC):
        raise ReportSigningError(
            f"the report-signing certificate in {path} expired on "
            f"{certs[0].not_valid_after_utc:%Y-%m-%d}; move the file aside to issue a new one"
        )
    return SigningIdentity(key, certs[0], tuple(certs[1:]))


# -- time-stamping ------------------------------------------------------------------------------


class VaultTimeStamper(TimeStamper):
    """A pyHanko time-stamper backed by one of the vault's own TSAs.

    It goes through `TimestampAuthority.timestamp`, so the built-in TSA answers in-process
    and an external one over the same HTTP client the ledger uses — and every token is
    verified (chain, EKU, nonce, imprint) before pyHanko embeds it.
    """

    def __init__(self, authority: TimestampAuthority) -> None:
        super().__init__(include_nonce=True)  # type: ignore[no-untyped-call]
        self.authority = authority
        #: the certificate chain of the last token (TSA certificate … root): its expiry is
        #: when the document needs its next archive timestamp
        self.last_chain: tuple[bytes, ...] = ()

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        if md_algorithm.lower() != "sha256":
            raise ReportSigningError(f"the vault's TSAs timestamp SHA-256 only, not {md_algorithm}")
        token = await asyncio.to_thread(self.authority.timestamp, bytes(message_digest))
        self.last_chain = token.chain_der
        response = cms.ContentInfo.load(_token_of(token.tsr_der))
        return response


def _token_of(tsr_der: bytes) -> bytes:
    """The TimeStampToken (a CMS ContentInfo) inside a granted TimeStampResp."""
    from verify.timestamp import TimeStampResponse

    resp = TimeStampResponse.load(tsr_der)
    token = resp["time_stamp_token"]
    return bytes(token.dump())


def report_authority(authorities: Sequence[TimestampAuthority]) -> TimestampAuthority:
    """The TSA that timestamps reports: an external one when configured, as it is independent
    of the vault operator; else the built-in one."""
    if not authorities:
        raise ReportSigningError("no TSA is configured: a report needs a trusted timestamp")
    external = [a for a in authorities if not isinstance(a, BuiltinTSA)]
    return external[0] if external else authorities[0]


def is_self_operated(authority: TimestampAuthority) -> bool:
    return not isinstance(authority, HttpTSA)


# -- signing ------------------------------------------------------------------------------------


def _asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def long_term(
    identity: SigningIdentity,
    authority: TimestampAuthority,
    tsa_chain: Sequence[bytes] = (),
) -> bool:
    """Whether the vault holds a CRL for every certificate below the roots in the signer's
    and the TSA's chains: then the report embeds them all and validates long-term (PAdES
    B-LTA) with no network. An external TSA's chain is `tsa_chain` (its CRLs fetched once
    into `identity.crls`, `app.reports.revocation`); without it, it is not long-term."""
    if isinstance(authority, BuiltinTSA):
        tsa_certs = [authority.cert_der, *authority.intermediates_der]
    elif tsa_chain:
        tsa_certs = list(tsa_chain[:-1])
    else:
        return False
    crl_issuers = {x509.load_der_x509_crl(c).issuer for c in identity.crls}
    chain = [identity.cert, *identity.issuers[:-1]] if identity.issuers else []
    chain += [x509.load_der_x509_certificate(c) for c in tsa_certs]
    return all(c.issuer in crl_issuers for c in chain)


def validation_context(
    identity: SigningIdentity, authority: TimestampAuthority, tsa_chain: Sequence[bytes] = ()
) -> ValidationContext:
    roots = [_asn1_cert(identity.root)]
    roots += [asn1_x509.Certificate.load(r) for r in authority.trust_roots()]
    # The CRLs come from the vault, never from the network: signing fails rather than embed
    # less than a long-term validator needs, when the vault holds them all.
    return ValidationContext(
        trust_roots=roots,
        crls=list(identity.crls),
        allow_fetching=False,
        revocation_mode="require" if long_term(identity, authority, tsa_chain) else "soft-fail",
    )


def sign_pdf(
    pdf: bytes,
    identity: SigningIdentity,
    authority: TimestampAuthority,
    *,
    origin: str,
    reason: str,
    attachments: Sequence[tuple[str, bytes, str]] = (),
    tsa_chain: Sequence[bytes] = (),
) -> SignedReport:
    """PAdES B-T signature (signature timestamp) plus a document timestamp (DocTimeStamp).

    The signature timestamp dates the signature; the document timestamp, added after the
    signing certificates are stored in the DSS, seals the whole revision (PAdES B-LTA
    shape) so the report's time does not rest on the vault's key alone. `attachments`
    (name, bytes, description) are embedded before signing, so the signature covers them.
    """
    issuers = [_asn1_cert(c) for c in identity.issuers]
    registry = SimpleCertificateStore.from_certs(issuers)  # type: ignore[no-untyped-call]
    signer: signers.Signer
    if isinstance(identity.key, pkcs11_ec.TokenECKey):
        signer = TokenSigner(identity.key, _asn1_cert(identity.cert), registry)
    else:
        key_info = asn1_keys.PrivateKeyInfo.load(
            identity.key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        signer = signers.SimpleSigner(
            signing_cert=_asn1_cert(identity.cert), signing_key=key_info, cert_registry=registry
        )
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=origin,
        embed_validation_info=True,
        use_pades_lta=True,
        timestamp_field_name=DOC_TIMESTAMP_FIELD,
        validation_context=validation_context(identity, authority, tsa_chain),
    )
    timestamper = VaultTimeStamper(authority)
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        for name, data, description in attachments:
            embed.embed_file(
                writer,
                embed.FileSpec(
                    file_spec_string=name,
                    file_name=name,
                    embedded_data=embed.EmbeddedFileObject.from_file_data(writer, data),
                    description=description,
                ),
            )
        pdf_signer = signers.PdfSigner(meta, signer=signer, timestamper=timestamper)
        # pyHanko runs its own event loop (asyncio.run): in a thread of its own it works
        # whatever loop the caller's thread has running or left behind.
        with ThreadPoolExecutor(1, thread_name_prefix="report-signing") as pool:
            out = pool.submit(pdf_signer.sign_pdf, writer).result()
        signed = bytes(out.getvalue())
    except ReportSigningError:
        raise
    except Exception as exc:  # pyHanko and the TSA raise many types; all mean "not issued"
        raise ReportSigningError(f"signing the report failed: {exc}") from exc
    return SignedReport(
        pdf=signed,
        signer_subject=identity.cert.subject.rfc4514_string(),
        signer_cert_sha256=hashlib.sha256(
            identity.cert.public_bytes(serialization.Encoding.DER)
        ).hexdigest(),
        trust_root_pem=identity.root.public_bytes(serialization.Encoding.PEM).decode(),
        tsa=authority.name,
        tsa_self_operated=is_self_operated(authority),
        tsa_chain=timestamper.last_chain,
    )
