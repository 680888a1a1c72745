"""The built-in two-tier PKI: an offline root, an online issuing CA, their CRL.

Whoever reads a directory holding a CA key can issue certificates that pass every pin on that
CA. So the root, which auditors pin, only signs the issuing CA at `init`; its key can then be
exported (`locard keys export-root`) and removed (`locard keys remove-root`), and the vault keeps
working on the issuing CA alone: it issues the TSA and report-signer certificates and signs the
CRL that long-term validation of reports looks for.

Vaults made by earlier releases have a single tier (the root issued the TSA certificate
directly). They keep working unchanged: `issuer_of` falls back to the root key, when present.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from custody import pkcs11_ec
from custody.ca_signer import CAKey, sign_crl
from storage.fsio import fsync_dir_quietly as fsync_dir

ROOT_CERT_FILE = "tsa-root.pem"
ROOT_KEY_FILE = "tsa-root.key"
ISSUING_CERT_FILE = "issuing-ca.pem"
ISSUING_KEY_FILE = "issuing-ca.key"
CRL_FILE = "issuing-ca.crl"
#: the root's CRL (an ARL: it only lists issuing CAs), signed while the root key is here
ROOT_CRL_FILE = "tsa-root.crl"
#: where the vault serves each CRL, below its public base URL (the distribution points)
CRL_PATH = "/v1/keys/crl"
ROOT_CRL_PATH = "/v1/keys/root.crl"
#: CRLs kept in the write-once store, so long-term validation finds them after the vault
CRL_STORE_PREFIX = "pki/crl/"
#: written by `export_root`: the SHA-256 of the exported key, so removal can check it was kept
ROOT_EXPORTED_FILE = "tsa-root.exported"

ORGANIZATION = "Locard (self-operated)"
# Backdated so that a verifier whose clock lags a little still sees a valid certificate.
BACKDATE = timedelta(minutes=5)
_ROOT_DAYS = 3653
_ISSUING_DAYS = 3288
# Short-lived CRLs re-signed daily (by `locard serve`, and on use): a revocation reaches every
# validator within a day, and a stolen copy of an old CRL is useless within a week.
CRL_VALIDITY = timedelta(days=7)
CRL_RENEW_AFTER = timedelta(days=1)


class PKIError(Exception):
    """A CA key or certificate is missing, unreadable or does not belong where it is."""


class RootKeyAbsent(PKIError):
    """The root key is not in the key directory (exported and removed, or never there)."""


class RootNotExported(PKIError):
    """`remove_root` refused: no export of this very key is recorded."""


@dataclass(frozen=True)
class Issuer:
    """The CA that issues leaf certificates here, and its chain up to the pinned root."""

    #: a key file's key, or the issuing CA's key in a PKCS#11 token (`custody.ca_signer`)
    key: CAKey
    cert: x509.Certificate
    #: the issuer's own certificate first, then up to and including the root
    chain: tuple[x509.Certificate, ...]

    @property
    def two_tier(self) -> bool:
        return len(self.chain) > 1


def name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def key_usage(
    *,
    digital_signature: bool = False,
    content_commitment: bool = False,
    key_cert_sign: bool = False,
    crl_sign: bool = False,
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def new_root(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed root that may certify one CA below it (path length 1)."""
    start = datetime.now(UTC) - BACKDATE
    key = ec.generate_private_key(ec.SECP256R1())
    subject = name(f"{common_name} root CA")
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=_ROOT_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def crl_distribution_point(url: str) -> x509.CRLDistributionPoints:
    """The extension naming where the issuer's CRL is published (RFC 5280 §4.2.1.13)."""
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(url)],
                relative_name=None,
                reasons=None,
                crl_issuer=None,
            )
        ]
    )


def crl_urls(public_url: str) -> tuple[str, str]:
    """The issuing CA's and the root's CRL URLs under the vault's public base URL."""
    base = public_url.rstrip("/")
    return base + CRL_PATH, base + ROOT_CRL_PATH


def new_issuing_ca(
    root_key: ec.EllipticCurvePrivateKey,
    root: x509.Certificate,
    common_name: str,
    key: CAKey | None = None,
    *,
    root_crl_url: str | None = None,
) -> tuple[CAKey, x509.Certificate]:
    """The online CA, signed by the root: issues end-entity certificates and signs CRLs.

    Its key is `key` (one made in a PKCS#11 token) when given, else a new one for a file."""
    key = key if key is not None else ec.generate_private_key(ec.SECP256R1())
    start = datetime.now(UTC) - BACKDATE
    end = min(start + timedelta(days=_ISSUING_DAYS), root.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(f"{common_name} issuing CA"))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
    )
    if root_crl_url is not None:
        builder = builder.add_extension(crl_distribution_point(root_crl_url), critical=False)
    return key, builder.sign(root_key, hashes.SHA256())


def new_crl(
    issuer: Issuer,
    revoked: tuple[x509.RevokedCertificate, ...] = (),
    *,
    now: datetime | None = None,
    valid_for: timedelta = CRL_VALIDITY,
) -> bytes:
    """A CRL (DER) signed by `issuer`, valid for `valid_for` from `now`."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(now - BACKDATE)
        .next_update(now + valid_for)
        # Monotonic enough across re-signings: RFC 5280 only asks that it increases.
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    )
    for entry in revoked:
        builder = builder.add_revoked_certificate(entry)
    return sign_crl(builder, issuer.key).public_bytes(serialization.Encoding.DER)


def load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise PKIError(f"cannot read the certificate {path}: {exc}") from exc


def load_ca_key(path: Path) -> CAKey:
    """The key file at `path`, or the token key its reference names (`custody.pkcs11_ec`).

    A token that cannot be used raises `TokenKeyError`, not PKIError: callers that fall back
    when no CA is present must not fall back when the CA is there but locked."""
    if not path.exists() and pkcs11_ec.has_ref(path):
        return pkcs11_ec.load_ref(path)
    return load_key(path)


def load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), None)
    except (OSError, ValueError, TypeError) as exc:
        raise PKIError(f"cannot read the key {path}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PKIError(f"{path} is not an ECDSA key")
    return key


def issuer_of(tsa_dir: Path) -> Issuer | None:
    """The CA that issues certificates in this key directory.

    The issuing CA when there is one; in a single-tier directory from an earlier release, the
    root if its key is still there; else None (nothing here can issue).
    """
    root = load_cert(tsa_dir / ROOT_CERT_FILE)
    if (tsa_dir / ISSUING_CERT_FILE).exists():
        cert = load_cert(tsa_dir / ISSUING_CERT_FILE)
        key = load_ca_key(tsa_dir / ISSUING_KEY_FILE)
        if key.public_key() != cert.public_key():
            raise PKIError(f"{ISSUING_KEY_FILE} does not belong to {ISSUING_CERT_FILE}")
        return Issuer(key, cert, (cert, root))
    if not (tsa_dir / ROOT_KEY_FILE).exists():
        return None
    key = load_key(tsa_dir / ROOT_KEY_FILE)
    if key.public_key() != root.public_key():
        raise PKIError(f"{ROOT_KEY_FILE} does not belong to {ROOT_CERT_FILE}")
    return Issuer(key, root, (root,))


def current_crl(tsa_dir: Path) -> bytes | None:
    """The issuing CA's CRL (DER), re-signed first when it is near its nextUpdate.

    None for a single-tier directory: its only CA is the root, which must not stay online
    just to sign CRLs.
    """
    if not (tsa_dir / ISSUING_CERT_FILE).exists():
        return None
    path = tsa_dir / CRL_FILE
    with contextlib.suppress(OSError, ValueError):
        crl = x509.load_der_x509_crl(path.read_bytes())
        if datetime.now(UTC) - crl.last_update_utc < CRL_RENEW_AFTER + BACKDATE:
            return crl.public_bytes(serialization.Encoding.DER)
    issuer = issuer_of(tsa_dir)
    assert issuer is not None  # an issuing CA exists, so issuer_of returned it
    der = new_crl(issuer)
    replace_file(path, der, 0o644)
    return der


def root_crl(tsa_dir: Path) -> bytes | None:
    """The root's CRL (DER), which states the issuing CA is not revoked; None when there is
    none and the root key is gone (a vault whose root left before root CRLs existed).

    The root is offline, so its CRL cannot follow the issuing CA's daily schedule: it is
    signed while the root key is here, valid until the issuing CA expires. Revoking the
    issuing CA takes the root key out of its safe anyway, and that ceremony signs a new one.
    """
    if not (tsa_dir / ISSUING_CERT_FILE).exists():
        return None
    path = tsa_dir / ROOT_CRL_FILE
    issuing = load_cert(tsa_dir / ISSUING_CERT_FILE)
    with contextlib.suppress(OSError, ValueError):
        crl = x509.load_der_x509_crl(path.read_bytes())
        next_update = crl.next_update_utc
        if next_update is not None and next_update > datetime.now(UTC):
            return crl.public_bytes(serialization.Encoding.DER)
    if not (tsa_dir / ROOT_KEY_FILE).exists():
        return None
    root = load_cert(tsa_dir / ROOT_CERT_FILE)
    key = load_key(tsa_dir / ROOT_KEY_FILE)
    if key.public_key() != root.public_key():
        raise PKIError(f"{ROOT_KEY_FILE} does not belong to {ROOT_CERT_FILE}")
    now = datetime.now(UTC)
    der = new_crl(Issuer(key, root, (root,)), now=now, valid_for=issuing.not_valid_after_utc - now)
    replace_file(path, der, 0o644)
    return der


def crl_store_key(der: bytes) -> str:
    """Where the write-once store keeps a CRL: each one ever issued, by its hash."""
    return f"{CRL_STORE_PREFIX}{hashlib.sha256(der).hexdigest()}.crl"


def export_root(tsa_dir: Path, out: Path) -> str:
    """Copy the root key to `out` (a new file, 0600); returns the key's SHA-256 (hex)."""
    src = tsa_dir / ROOT_KEY_FILE
    if not src.exists():
        raise RootKeyAbsent(f"the root key is not in {tsa_dir}: it was removed already")
    data = src.read_bytes()
    key = load_key(src)
    if key.public_key() != load_cert(tsa_dir / ROOT_CERT_FILE).public_key():
        raise PKIError(f"{ROOT_KEY_FILE} does not belong to {ROOT_CERT_FILE}")
    digest = hashlib.sha256(data).hexdigest()
    write_new(out, data, 0o600)
    replace_file(tsa_dir / ROOT_EXPORTED_FILE, (digest + "\n").encode(), 0o600)
    return digest


def remove_root(tsa_dir: Path, *, force: bool = False) -> None:
    """Delete the root key from the key directory, once an export of it is recorded.

    A single-tier directory has no issuing CA to carry on, so removal is refused there
    unless forced (the vault then keeps timestamping, but issues no new certificates).
    """
    path = tsa_dir / ROOT_KEY_FILE
    if not path.exists():
        raise RootKeyAbsent(f"the root key is not in {tsa_dir}: it was removed already")
    if not force:
        recorded = ""
        with contextlib.suppress(OSError):
            recorded = (tsa_dir / ROOT_EXPORTED_FILE).read_text().strip()
        if recorded != hashlib.sha256(path.read_bytes()).hexdigest():
            raise RootNotExported(
                "refusing to remove the only copy of the root key: run "
                "`locard keys export-root --out FILE` first (or pass --force)"
            )
        if not (tsa_dir / ISSUING_CERT_FILE).exists():
            raise PKIError(
                "this vault's PKI has a single tier (made by an earlier release): without the "
                "root key it cannot issue certificates; pass --force to remove it anyway"
            )
    path.unlink()
    fsync_dir(tsa_dir)


def pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_new(path: Path, data: bytes, mode: int) -> None:
    """Create `path` with `data` and `mode`; never replaces an existing file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # explicit, so the result does not depend on the umask
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to `path` atomically (temporary file, fsync, rename)."""
    # Unique per call: two threads may re-sign the CRL at once (the last rename wins).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    try:
        write_new(tmp, data, mode)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_dir(path.parent)
