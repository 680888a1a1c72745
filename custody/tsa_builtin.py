"""The embedded, self-operated RFC 3161 time-stamp authority.

It exists so that a single-box install timestamps every checkpoint from day one. Its tokens are
ordinary RFC 3161 / RFC 5816 tokens (OpenSSL verifies them) but they only prove what the vault
operator's own clock said: reports must call it self-operated, and production should point at an
external TSA as well.

The TSA key is ECDSA P-256 because Ed25519 tokens verify neither with OpenSSL 3.0 nor with
rfc3161-client.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from custody import pkcs11_ec, pki
from custody.ca_signer import CAKey, sign_certificate
from custody.pkcs11_keys import TokenConfig
from custody.pki import ISSUING_CERT_FILE, ISSUING_KEY_FILE, ROOT_CERT_FILE, ROOT_KEY_FILE
from custody.timestamps import TimestampToken, build_request, new_nonce
from storage.fsio import fsync_dir_quietly
from verify.errors import VerificationError
from verify.timestamp import TimeStampResponse, verify_timestamp

__all__ = [
    "CERT_FILE",
    "KEY_FILE",
    "POLICY_OID",
    "ROOT_CERT_FILE",
    "ROOT_KEY_FILE",
    "BuiltinTSA",
    "BuiltinTSAError",
    "TSAKeyExists",
]

#: TSA policy of the built-in TSA. A UUID-derived OID under the ITU-T X.667 arc 2.25, which
#: anyone may mint without registering, so it cannot collide with a real TSA's policy. It means
#: "Locard built-in, self-operated TSA: the vault operator's own clock, no external assurance".
POLICY_OID = "2.25.214759889696743871913303803508136909867"

CERT_FILE = "tsa.pem"
KEY_FILE = "tsa.key"
_FILES = (ROOT_CERT_FILE, ROOT_KEY_FILE, ISSUING_CERT_FILE, ISSUING_KEY_FILE, CERT_FILE, KEY_FILE)
#: key labels in a PKCS#11 token, after the prefix the operator chose at `locard init`
ISSUING_CA_LABEL = "issuing-ca"
TSA_LABEL = "tsa"
# Hashes a client may use for its imprint (RFC 3161 §2.4.1), with their digest sizes.
_IMPRINT_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
_ACCURACY_SECONDS = 1


class BuiltinTSAError(Exception):
    """The built-in TSA's key directory is missing, unreadable or inconsistent."""


class TSAKeyExists(BuiltinTSAError, FileExistsError):
    """`create` refused to overwrite an existing TSA key or certificate."""


class BuiltinTSA:
    """A self-operated TSA answering DER TimeStampReq with DER TimeStampResp.

    It holds no mutable state (serial numbers are random), so one instance may serve any number
    of threads.
    """

    def __init__(
        self,
        *,
        key: CAKey,
        cert_der: bytes,
        root_cert_der: bytes,
        intermediates_der: Sequence[bytes] = (),
        name: str = "builtin",
        policy_oid: str = POLICY_OID,
    ) -> None:
        if not isinstance(key, ec.EllipticCurvePrivateKey | pkcs11_ec.TokenECKey):
            raise BuiltinTSAError("the built-in TSA key must be an ECDSA key")
        self._key = key
        self._cert_der = cert_der
        self._root_cert_der = root_cert_der
        # The issuing CA (two-tier) or nothing (single-tier, from earlier releases).
        self._intermediates_der = tuple(intermediates_der)
        self._intermediates = [asn1_x509.Certificate.load(c) for c in self._intermediates_der]
        self._name = name
        self._policy_oid = policy_oid
        cert = asn1_x509.Certificate.load(cert_der)
        self._cert = cert
        self._tsa_name = asn1_x509.GeneralName(name="directory_name", value=cert.subject)
        self._sid = cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value=cms.IssuerAndSerialNumber(
                {"issuer": cert.issuer, "serial_number": cert.serial_number}
            ),
        )
        # RFC 5816 ESSCertIDv2 with SHA-256 (the DEFAULT, hence no algorithm field in DER).
        self._signing_cert_v2 = tsp.SigningCertificateV2(
            {
                "certs": [
                    {
                        "cert_hash": hashlib.sha256(cert_der).digest(),
                        "issuer_serial": {
                            "issuer": [
                                asn1_x509.GeneralName(name="directory_name", value=cert.issuer)
                            ],
                            "serial_number": cert.serial_number,
                        },
                    }
                ]
            }
        )
        # asn1crypto re-encodes a constructed value on every dump (a SET OF sorts by
        # encoding each member), which made the static parts of each token most of its
        # cost; encoded once here and loaded lazily per token, they dump as stored.
        self._tsa_name_der = self._tsa_name.dump()
        self._sid_der = self._sid.dump()
        self._signing_cert_v2_der = self._signing_cert_v2.dump()
        self._certs_der = cms.CertificateSet(
            [
                cms.CertificateChoices(name="certificate", value=c)
                for c in (cert, *self._intermediates)
            ]
        ).dump()

    # -- key directory ------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        directory: Path,
        *,
        common_name: str = "Locard built-in TSA (self-operated)",
        name: str = "builtin",
        token: TokenConfig | None = None,
        public_url: str | None = None,
    ) -> BuiltinTSA:
        """Make a root CA (10 years), an issuing CA signed by it (9 years), a TSA certificate
        issued by the issuing CA (5 years) and the first CRLs of both CAs in `directory`.
        With `public_url`, the certificates name where the vault serves those CRLs.

        With `token` (its label a prefix), the issuing CA's and the TSA's keys are made in
        that PKCS#11 token (`<prefix>-issuing-ca`, `<prefix>-tsa`) and only references to
        them are written here; the root key stays a file, to be exported and removed.

        Refuses, with `TSAKeyExists`, if any of the key files is already there: replacing a
        TSA key silently would orphan every token it issued.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        existing = [
            f for f in _FILES if (directory / f).exists() or pkcs11_ec.has_ref(directory / f)
        ]
        if existing:
            raise TSAKeyExists(
                f"{directory} already holds {', '.join(existing)}; refusing to overwrite"
            )
        ca_key = tsa_key = None
        if token is not None:
            ca_key = pkcs11_ec.generate(token.labelled(ISSUING_CA_LABEL))
            tsa_key = pkcs11_ec.generate(token.labelled(TSA_LABEL))
        urls = pki.crl_urls(public_url) if public_url else None
        (root_key, root_cert), issuer, (key, cert) = _new_hierarchy(
            common_name, ca_key, tsa_key, urls
        )
        root_issuer = pki.Issuer(root_key, root_cert, (root_cert,))
        until_issuer_expires = issuer.cert.not_valid_after_utc - datetime.now(UTC)
        pem = serialization.Encoding.PEM
        files = {
            ROOT_CERT_FILE: (root_cert.public_bytes(pem), 0o644),
            ROOT_KEY_FILE: (pki.pem_key(root_key), 0o600),
            ISSUING_CERT_FILE: (issuer.cert.public_bytes(pem), 0o644),
            CERT_FILE: (cert.public_bytes(pem), 0o644),
            pki.CRL_FILE: (pki.new_crl(issuer), 0o644),
            pki.ROOT_CRL_FILE: (pki.new_crl(root_issuer, valid_for=until_issuer_expires), 0o644),
        }
        for file_name, private in ((ISSUING_KEY_FILE, issuer.key), (KEY_FILE, key)):
            if isinstance(private, pkcs11_ec.TokenECKey):
                files[pkcs11_ec.ref_path(Path(file_name)).name] = (
                    pkcs11_ec.ref_json(private.config),
                    0o600,
                )
            else:
                files[file_name] = (pki.pem_key(private), 0o600)
        written: list[Path] = []
        try:
            for file_name, (data, mode) in files.items():
                path = directory / file_name
                try:
                    pki.write_new(path, data, mode)
                except FileExistsError as exc:
                    raise TSAKeyExists(f"{path} already exists; refusing to overwrite") from exc
                written.append(path)
            fsync_dir_quietly(directory)
        except BaseException:
            # No half-made key directory: it would fail `load` and block the next `create`.
            for path in written:
                with contextlib.suppress(OSError):
                    path.unlink()
            raise
        return cls(
            key=key,
            cert_der=cert.public_bytes(serialization.Encoding.DER),
            root_cert_der=root_cert.public_bytes(serialization.Encoding.DER),
            intermediates_der=(issuer.cert.public_bytes(serialization.Encoding.DER),),
            name=name,
        )

    @classmethod
    def load(cls, directory: Path, *, name: str = "builtin") -> BuiltinTSA:
        """Load the TSA from `directory` and prove it works by issuing and verifying a token."""
        directory = Path(directory)
        try:
            key: object = pki.load_ca_key(directory / KEY_FILE)
            cert = x509.load_pem_x509_certificate((directory / CERT_FILE).read_bytes())
            root = x509.load_pem_x509_certificate((directory / ROOT_CERT_FILE).read_bytes())
            intermediates = (
                [x509.load_pem_x509_certificate((directory / ISSUING_CERT_FILE).read_bytes())]
                if (directory / ISSUING_CERT_FILE).exists()
                else []
            )
        except (OSError, ValueError, TypeError, pki.PKIError) as exc:
            raise BuiltinTSAError(f"cannot read the built-in TSA from {directory}: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey | pkcs11_ec.TokenECKey):
            raise BuiltinTSAError(f"{directory / KEY_FILE} is not an ECDSA key")
        if key.public_key() != cert.public_key():
            raise BuiltinTSAError(f"{directory / KEY_FILE} does not belong to {CERT_FILE}")
        tsa = cls(
            key=key,
            cert_der=cert.public_bytes(serialization.Encoding.DER),
            root_cert_der=root.public_bytes(serialization.Encoding.DER),
            intermediates_der=[c.public_bytes(serialization.Encoding.DER) for c in intermediates],
            name=name,
        )
        try:
            tsa.timestamp(hashlib.sha256(b"locard built-in TSA self-test").digest())
        except VerificationError as exc:
            raise BuiltinTSAError(f"the built-in TSA in {directory} is unusable: {exc}") from exc
        return tsa

    # -- identity -----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def policy_oid(self) -> str:
        return self._policy_oid

    @property
    def cert_der(self) -> bytes:
        return self._cert_der

    @property
    def root_cert_der(self) -> bytes:
        return self._root_cert_der

    @property
    def intermediates_der(self) -> tuple[bytes, ...]:
        """The issuing CA's certificate (two-tier), or nothing (single-tier)."""
        return self._intermediates_der

    def trust_roots(self) -> Sequence[bytes]:
        return (self._root_cert_der,)

    # -- protocol -----------------------------------------------------------------------------

    def timestamp(self, digest: bytes) -> TimestampToken:
        """Timestamp a SHA-256 digest in-process, verified exactly as an external token is."""
        nonce = new_nonce()
        tsr = self.respond(build_request(digest, nonce=nonce, policy=self._policy_oid))
        info = verify_timestamp(
            tsr, digest, roots=self.trust_roots(), nonce=nonce, policy=self._policy_oid
        )
        return TimestampToken(
            tsa=self._name,
            tsr_der=tsr,
            info=info,
            chain_der=(self._cert_der, *self._intermediates_der, self._root_cert_der),
        )

    def respond(self, request_der: bytes) -> bytes:
        """Answer one DER TimeStampReq: a granted token, or a rejection saying why."""
        try:
            request = tsp.TimeStampReq.load(bytes(request_der), strict=True)
            request.native  # noqa: B018 -- parse everything now; asn1crypto is lazy
        except Exception:  # any parse failure is the client's malformed request
            return _rejection("bad_data_format", "the request is not a DER TimeStampReq")
        if request["version"].native != "v1":
            return _rejection("bad_request", "only TimeStampReq version 1 is supported")
        imprint = request["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        if algorithm not in _IMPRINT_SIZES:
            return _rejection(
                "bad_alg", f"unsupported imprint hash {algorithm}; use sha256, sha384 or sha512"
            )
        if len(imprint["hashed_message"].native) != _IMPRINT_SIZES[algorithm]:
            return _rejection("bad_data_format", f"the imprint is not a {algorithm} digest")
        policy = request["req_policy"]
        if not isinstance(policy, core.Void) and policy.dotted != self._policy_oid:
            return _rejection("unaccepted_policy", f"only policy {self._policy_oid} is offered")
        if not isinstance(request["extensions"], core.Void):
            return _rejection("unaccepted_extensions", "no request extensions are supported")
        return self._grant(request)

    def _grant(self, request: tsp.TimeStampReq) -> bytes:
        now = datetime.now(UTC).replace(microsecond=0)
        fields: dict[str, object] = {
            "version": "v1",
            "policy": self._policy_oid,
            "message_imprint": tsp.MessageImprint.load(request["message_imprint"].dump()),
            # Random 127-bit serials are unique without a counter shared between processes.
            "serial_number": secrets.randbits(127) | 1,
            "gen_time": now,
            "accuracy": {"seconds": _ACCURACY_SECONDS},
            "tsa": asn1_x509.GeneralName.load(self._tsa_name_der),
        }
        if not isinstance(request["nonce"], core.Void):
            fields["nonce"] = request["nonce"].native
        tst_der = tsp.TSTInfo(fields).dump()

        signed_attrs = cms.CMSAttributes(
            [
                cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
                cms.CMSAttribute(
                    {
                        "type": "signing_time",
                        "values": [cms.Time(name="utc_time", value=now)],
                    }
                ),
                cms.CMSAttribute(
                    {"type": "message_digest", "values": [hashlib.sha256(tst_der).digest()]}
                ),
                cms.CMSAttribute(
                    {
                        "type": "signing_certificate_v2",
                        "values": [tsp.SigningCertificateV2.load(self._signing_cert_v2_der)],
                    }
                ),
            ]
        )
        # The signature covers the attributes as a DER SET OF (RFC 5652 §5.4), which is what
        # an untagged CMSAttributes dumps to.
        signature = self._key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier.load(self._sid_der),
                "digest_algorithm": {"algorithm": "sha256"},
                "signed_attrs": signed_attrs,
                "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                "signature": signature,
            }
        )
        signed_data: dict[str, object] = {
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {
                "content_type": "tst_info",
                "content": core.ParsableOctetString(tst_der),
            },
            "signer_infos": [signer_info],
        }
        if request["cert_req"].native:
            # With the issuing CA, so that a verifier pinning only the root finds the path.
            signed_data["certificates"] = cms.CertificateSet.load(self._certs_der)
        token = cms.ContentInfo({"content_type": "signed_data", "content": signed_data})
        response = TimeStampResponse({"status": {"status": "granted"}, "time_stamp_token": token})
        return bytes(response.dump())


def _rejection(fail_info: str, text: str) -> bytes:
    response = TimeStampResponse(
        {
            "status": {
                "status": "rejection",
                "status_string": [text],
                "fail_info": tsp.PKIFailureInfo({fail_info}),
            }
        }
    )
    return bytes(response.dump())


def _new_hierarchy(
    common_name: str,
    ca_key: CAKey | None = None,
    tsa_key: CAKey | None = None,
    crl_urls: tuple[str, str] | None = None,
) -> tuple[
    tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
    pki.Issuer,
    tuple[CAKey, x509.Certificate],
]:
    root_key, root = pki.new_root(common_name)
    crl_url, root_crl_url = crl_urls or (None, None)
    ca_key, ca_cert = pki.new_issuing_ca(
        root_key, root, common_name, ca_key, root_crl_url=root_crl_url
    )
    issuer = pki.Issuer(ca_key, ca_cert, (ca_cert, root))
    return (root_key, root), issuer, _issue_tsa_cert(issuer, common_name, tsa_key, crl_url)


def _issue_tsa_cert(
    issuer: pki.Issuer, common_name: str, key: CAKey | None = None, crl_url: str | None = None
) -> tuple[CAKey, x509.Certificate]:
    start = datetime.now(UTC) - pki.BACKDATE
    key = key if key is not None else ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(pki.name(common_name))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(min(start + timedelta(days=1826), issuer.cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(pki.key_usage(digital_signature=True), critical=True)
        # RFC 3161 §2.3: exactly id-kp-timeStamping, critical.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    )
    if crl_url is not None:
        builder = builder.add_extension(pki.crl_distribution_point(crl_url), critical=False)
    return key, sign_certificate(builder, issuer.key)
