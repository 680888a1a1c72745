"""The log signing key in a PKCS#11 token (an HSM, or SoftHSM2 in the tests).

The private key never leaves the token: it is made there (`CKM_EC_EDWARDS_KEY_PAIR_GEN`,
Ed25519) and signs there (`CKM_EDDSA`); the vault only reads the public key. Which token is
recorded in `keys/vault.json` at `locard init` (module path, token label, key label); the
PIN comes from `LOCARD_PKCS11_PIN` at every start and is never written down. The key's
high-water mark stays in the key directory, as for a file key.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PIN_ENV = "LOCARD_PKCS11_PIN"
#: RFC 8410 id-Ed25519, as CKA_EC_PARAMS names the curve
_ED25519_OID = "1.3.101.112"


class TokenKeyError(Exception):
    """The token, its PIN or the key in it cannot be used."""


@dataclass(frozen=True)
class TokenConfig:
    module: str
    token: str
    label: str = "locard-log"

    def to_json(self) -> dict[str, str]:
        return {"module": self.module, "token": self.token, "label": self.label}

    def labelled(self, role: str) -> TokenConfig:
        """The same token, the key for `role` under this label as a prefix."""
        return TokenConfig(self.module, self.token, f"{self.label}-{role}")

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> TokenConfig:
        return cls(str(doc["module"]), str(doc["token"]), str(doc.get("label", "locard-log")))


class TokenEd25519Key:
    """An Ed25519 private key inside a token: `sign` and `public_key`, like a file key."""

    def __init__(self, config: TokenConfig, session: Any, private: Any, public: Ed25519PublicKey):
        self.config = config
        self._session = session
        self._private = private
        self._public = public
        # One session, one operation at a time: PKCS#11 sessions are not for concurrent use.
        self._lock = threading.Lock()

    def sign(self, data: bytes) -> bytes:
        from pkcs11 import Mechanism, PKCS11Error

        with self._lock:
            try:
                return bytes(self._private.sign(data, mechanism=Mechanism.EDDSA))
            except PKCS11Error as exc:
                raise TokenKeyError(f"the token refused to sign: {exc!r}") from exc

    def public_key(self) -> Ed25519PublicKey:
        return self._public


def _pin() -> str:
    pin = os.environ.get(PIN_ENV)
    if not pin:
        raise TokenKeyError(f"vault keys are in a PKCS#11 token: set {PIN_ENV} to its user PIN")
    return pin


def open_session(config: TokenConfig, *, rw: bool) -> Any:
    """A logged-in session on the configured token (PIN from `LOCARD_PKCS11_PIN`)."""
    import pkcs11
    from pkcs11 import PKCS11Error
    from pkcs11.exceptions import UserAlreadyLoggedIn

    try:
        lib = pkcs11.lib(config.module)
        token = lib.get_token(token_label=config.token)
        pin = _pin()
        try:
            return token.open(user_pin=pin, rw=rw)
        except UserAlreadyLoggedIn:
            # A PKCS#11 login holds for the whole process: another session of ours is in.
            return token.open(rw=rw)
    except (PKCS11Error, RuntimeError, OSError) as exc:
        raise TokenKeyError(
            f"cannot open PKCS#11 token {config.token!r} with {config.module}: {exc!r}"
        ) from exc


def _public_key(public: Any) -> Ed25519PublicKey:
    from asn1crypto.core import OctetString
    from pkcs11 import Attribute

    point = bytes(public[Attribute.EC_POINT])
    # CKA_EC_POINT is a DER OCTET STRING around the 32 key bytes (some tokens omit it).
    raw = point if len(point) == 32 else bytes(OctetString.load(point).native)
    return Ed25519PublicKey.from_public_bytes(raw)


def generate(config: TokenConfig) -> TokenEd25519Key:
    """Make the key pair in the token; refuses if the label is taken (never two log keys)."""
    from pkcs11 import Attribute, KeyType, ObjectClass, PKCS11Error
    from pkcs11.util.ec import encode_named_curve_parameters

    session = open_session(config, rw=True)
    try:
        taken = list(session.get_objects({Attribute.LABEL: config.label}))
        if taken:
            raise TokenKeyError(
                f"token {config.token!r} already holds objects labelled {config.label!r}; "
                "refusing to make a second log key under that label"
            )
        params = session.create_domain_parameters(
            KeyType.EC_EDWARDS,
            {Attribute.EC_PARAMS: encode_named_curve_parameters(_ED25519_OID)},
            local=True,
        )
        public, private = params.generate_keypair(
            store=True,
            label=config.label,
            private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
        )
        assert private.object_class == ObjectClass.PRIVATE_KEY
        return TokenEd25519Key(config, session, private, _public_key(public))
    except PKCS11Error as exc:
        session.close()
        raise TokenKeyError(f"the token could not make an Ed25519 key: {exc!r}") from exc
    except BaseException:
        session.close()
        raise


def open_key_pair(config: TokenConfig, key_type: Any, what: str) -> tuple[Any, Any, Any]:
    """A read-only session and the private and public key labelled `config.label` in it."""
    from pkcs11 import ObjectClass, PKCS11Error

    session = open_session(config, rw=False)
    try:
        private = session.get_key(
            object_class=ObjectClass.PRIVATE_KEY, key_type=key_type, label=config.label
        )
        public = session.get_key(
            object_class=ObjectClass.PUBLIC_KEY, key_type=key_type, label=config.label
        )
        return session, private, public
    except PKCS11Error as exc:
        session.close()
        raise TokenKeyError(
            f"no {what} key pair labelled {config.label!r} in token {config.token!r}: {exc!r}"
        ) from exc


def load(config: TokenConfig) -> TokenEd25519Key:
    from pkcs11 import KeyType

    session, private, public = open_key_pair(config, KeyType.EC_EDWARDS, "Ed25519")
    return TokenEd25519Key(config, session, private, _public_key(public))
