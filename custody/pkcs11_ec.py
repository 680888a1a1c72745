"""ECDSA P-256 keys in a PKCS#11 token: the issuing CA, the built-in TSA, the report signer.

Like the log key (`custody.pkcs11_keys`), each key pair is made inside the token
(`CKM_EC_KEY_PAIR_GEN`, sensitive, non-extractable) and signs there: the digest is taken
here (SHA-256) and the token signs it with raw `CKM_ECDSA`, which every token has (the
hash-and-sign mechanisms are optional), returning r||s that is DER-encoded for X.509 and CMS.

Where a key file would lie, a key reference (`<name>.pkcs11.json`: module, token label, key
label) says which token holds the key, so whatever loads that key finds it the same way
whether it is a file or in a token. The PIN comes from `LOCARD_PKCS11_PIN`, as for the log key.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from custody.pkcs11_keys import TokenConfig, TokenKeyError, open_key_pair, open_session

REF_FORMAT = "locard-pkcs11-key/1"
REF_SUFFIX = ".pkcs11.json"
#: CKA_EC_PARAMS names the curve by OID: secp256r1 (P-256)
_P256 = "secp256r1"


class TokenECKey:
    """A P-256 private key inside a token, used like cryptography's `EllipticCurvePrivateKey`
    where the vault signs: `sign(data, ECDSA(SHA256()))` returns a DER signature."""

    def __init__(self, config: TokenConfig, session: Any, private: Any, public: Any) -> None:
        self.config = config
        self._session = session
        self._private = private
        self._public = _public_key(public)
        # One session, one operation at a time: PKCS#11 sessions are not for concurrent use.
        self._lock = threading.Lock()

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public.curve

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    def sign(self, data: bytes, signature_algorithm: ec.EllipticCurveSignatureAlgorithm) -> bytes:
        if not (
            isinstance(signature_algorithm, ec.ECDSA)
            and isinstance(signature_algorithm.algorithm, hashes.SHA256)
        ):
            raise TokenKeyError("a token key signs ECDSA with SHA-256 only")
        return self.sign_digest(hashlib.sha256(data).digest())

    def sign_digest(self, digest: bytes) -> bytes:
        """ECDSA over a SHA-256 digest already taken; the DER `ECDSA-Sig-Value`."""
        from pkcs11 import Mechanism, PKCS11Error
        from pkcs11.util.ec import encode_ecdsa_signature

        with self._lock:
            try:
                raw = bytes(self._private.sign(digest, mechanism=Mechanism.ECDSA))
            except PKCS11Error as exc:
                raise TokenKeyError(f"the token refused to sign: {exc!r}") from exc
        return bytes(encode_ecdsa_signature(raw))


def _public_key(public: Any) -> ec.EllipticCurvePublicKey:
    from pkcs11.util.ec import encode_ec_public_key

    key = serialization.load_der_public_key(bytes(encode_ec_public_key(public)))
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise TokenKeyError("the token's key is not ECDSA P-256")
    return key


def generate(config: TokenConfig) -> TokenECKey:
    """Make a P-256 key pair in the token; refuses a label already taken."""
    from pkcs11 import Attribute, KeyType, PKCS11Error
    from pkcs11.util.ec import encode_named_curve_parameters

    session = open_session(config, rw=True)
    try:
        if list(session.get_objects({Attribute.LABEL: config.label})):
            raise TokenKeyError(
                f"token {config.token!r} already holds objects labelled {config.label!r}; "
                "refusing to make a second key under that label"
            )
        params = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(_P256)}, local=True
        )
        public, private = params.generate_keypair(
            store=True,
            label=config.label,
            private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
        )
        return TokenECKey(config, session, private, public)
    except PKCS11Error as exc:
        session.close()
        raise TokenKeyError(f"the token could not make a P-256 key: {exc!r}") from exc
    except BaseException:
        session.close()
        raise


#: keys loaded in this process, one session each for its whole life: a report is signed on
#: every issue, and closing a session can log the whole process out of the token (C_Logout)
_loaded: dict[TokenConfig, TokenECKey] = {}
_loading = threading.Lock()


def load(config: TokenConfig) -> TokenECKey:
    with _loading:
        key = _loaded.get(config)
        if key is None:
            key = _loaded[config] = _open(config)
        return key


def _open(config: TokenConfig) -> TokenECKey:
    from pkcs11 import KeyType

    session, private, public = open_key_pair(config, KeyType.EC, "EC")
    return TokenECKey(config, session, private, public)


def ref_path(key_file: Path) -> Path:
    """Where the reference to a token key stands in for `key_file` (tsa.key: tsa.pkcs11.json)."""
    return key_file.with_name(key_file.name.rsplit(".", 1)[0] + REF_SUFFIX)


def ref_json(config: TokenConfig) -> bytes:
    """The reference file's content: which token and label hold the key."""
    return (json.dumps({"format": REF_FORMAT, **config.to_json()}, indent=2) + "\n").encode()


def has_ref(key_file: Path) -> bool:
    return ref_path(key_file).exists()


def load_ref(key_file: Path) -> TokenECKey:
    """The token key that `key_file`'s reference names."""
    path = ref_path(key_file)
    try:
        doc = json.loads(path.read_text())
        if doc.get("format") != REF_FORMAT:
            raise TokenKeyError(f"{path} is not a {REF_FORMAT} key reference")
        config = TokenConfig.from_json(doc)
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        raise TokenKeyError(f"cannot read the key reference {path}: {exc}") from exc
    return load(config)
