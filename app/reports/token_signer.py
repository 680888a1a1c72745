"""A pyHanko signer over the report signer's key in a PKCS#11 token.

pyHanko's own PKCS#11 signer would open a second session on the token and ask it for a
hash-and-sign mechanism (optional in PKCS#11). This one goes through `custody.pkcs11_ec`, the
same key object, session lock and raw `CKM_ECDSA` the issuing CA and the TSA use.
"""

from __future__ import annotations

import asyncio

from asn1crypto import algos
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import CertificateStore

from custody.pkcs11_ec import TokenECKey

#: a DER ECDSA-Sig-Value over P-256 is at most 72 bytes: room for it in a dry run
_MAX_SIGNATURE = 72


class TokenSignerError(Exception):
    """pyHanko asked for a digest the token key does not sign with."""


class TokenSigner(signers.Signer):
    def __init__(
        self, key: TokenECKey, signing_cert: asn1_x509.Certificate, registry: CertificateStore
    ) -> None:
        super().__init__(
            signing_cert=signing_cert,
            cert_registry=registry,
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
        )
        self._key = key

    async def async_sign_raw(
        self, data: bytes, digest_algorithm: str, dry_run: bool = False
    ) -> bytes:
        if digest_algorithm.lower() != "sha256":
            raise TokenSignerError(f"the token key signs SHA-256 only, not {digest_algorithm}")
        if dry_run:
            return bytes(_MAX_SIGNATURE)
        return await asyncio.to_thread(self._key.sign, data, ec.ECDSA(hashes.SHA256()))
