"""Sign X.509 certificates and CRLs with a CA key that is a file or lives in a PKCS#11 token.

cryptography's builders sign only with its own private keys. For a token key the builder
signs first with a throwaway P-256 key: ECDSA with SHA-256 has one AlgorithmIdentifier for
every P-256 key (`ecdsa-with-SHA256`, no parameters), so the to-be-signed bytes, the
signatureAlgorithm inside them included, are exactly those the token key must sign. The
token signs those bytes and asn1crypto puts them back together with its signature. This keeps
one builder per certificate profile for both kinds of key (extensions added to a builder
apply to both), where building the TBS with asn1crypto would be a second profile to keep
in step.
"""

from __future__ import annotations

from typing import TypeAlias

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from custody.pkcs11_ec import TokenECKey

#: what can sign as a CA here: a P-256 key in a file (loaded) or in a token
CAKey: TypeAlias = ec.EllipticCurvePrivateKey | TokenECKey

_DER = serialization.Encoding.DER
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


class CASigningError(Exception):
    """The CA key's signature over a certificate or CRL did not verify."""


def _token_signature(key: TokenECKey, tbs: bytes) -> bytes:
    signature = key.sign(tbs, _ECDSA_SHA256)
    try:
        key.public_key().verify(signature, tbs, _ECDSA_SHA256)
    except InvalidSignature as exc:
        raise CASigningError("the token's signature does not verify under its own key") from exc
    return signature


def sign_certificate(builder: x509.CertificateBuilder, key: CAKey) -> x509.Certificate:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return builder.sign(key, hashes.SHA256())
    draft = builder.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    outer = asn1_x509.Certificate.load(draft.public_bytes(_DER))
    tbs = draft.tbs_certificate_bytes
    cert = asn1_x509.Certificate(
        {
            "tbs_certificate": asn1_x509.TbsCertificate.load(tbs),
            "signature_algorithm": outer["signature_algorithm"],
            "signature_value": _token_signature(key, tbs),
        }
    )
    return x509.load_der_x509_certificate(cert.dump())


def sign_crl(
    builder: x509.CertificateRevocationListBuilder, key: CAKey
) -> x509.CertificateRevocationList:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return builder.sign(key, hashes.SHA256())
    draft = builder.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    outer = asn1_crl.CertificateList.load(draft.public_bytes(_DER))
    tbs = draft.tbs_certlist_bytes
    crl = asn1_crl.CertificateList(
        {
            "tbs_cert_list": asn1_crl.TbsCertList.load(tbs),
            "signature_algorithm": outer["signature_algorithm"],
            "signature": _token_signature(key, tbs),
        }
    )
    return x509.load_der_x509_crl(crl.dump())
