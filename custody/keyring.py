"""The vault's key directory: Ed25519 checkpoint key and the built-in TSA, created once.

The checkpoint key's high-water mark (`custody.watermark`) lives beside it, so that
whoever moves the key moves what it has signed with it. (A key kept in a PKCS#11
token would keep its mark beside the token's configuration instead.)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import load_der_x509_certificate
from sqlalchemy import Engine, insert, select

from custody import pkcs11_ec, pkcs11_keys, pki
from custody.models import VaultKey
from custody.pkcs11_keys import TokenConfig
from custody.rotation import finish_switch, read_history
from custody.signing import NoteSigner
from custody.tsa_builtin import BuiltinTSA
from custody.watermark import HighWaterMark, Mark
from verify.keyhistory import Handover
from verify.note import NoteVerifier

LOG_KEY = "log-ed25519.pem"
LOG_MARK = "log-ed25519.mark"
TSA_DIR = "tsa"
VAULT_FILE = "vault.json"
#: stands in for the report signer's key when it lives in a PKCS#11 token (`custody.pkcs11_ec`)
REPORT_SIGNER_REF = "report-signer" + pkcs11_ec.REF_SUFFIX
REPORT_SIGNER_LABEL = "report-signer"


class VaultExists(Exception):
    """`init` found existing keys and refused to overwrite them."""


class VaultMissing(Exception):
    """No initialised vault at the data directory."""


@dataclass(frozen=True)
class Keyring:
    origin: str
    signer: NoteSigner
    tsa: BuiltinTSA
    #: the log key's hand-overs (`custody.rotation`), oldest first; empty until a rotation
    history: tuple[Handover, ...] = ()

    @property
    def original_key(self) -> str:
        """The first log key: what auditors pinned at the start, and what `/v1/keys` names."""
        return self.history[0].old_key if self.history else self.signer.vkey()

    @classmethod
    def create(
        cls,
        keys_dir: Path,
        origin: str,
        token: TokenConfig | None = None,
        pki_token: TokenConfig | None = None,
        *,
        public_url: str | None = None,
    ) -> Keyring:
        """New keys; the log key in `token` (PKCS#11) when given, else in a file.

        With `pki_token` (its label a prefix), the issuing CA's, the TSA's and the report
        signer's keys are made in that token too; the offline root stays a file either way.
        The CA certificates name CRLs under `public_url`, where the vault serves them.
        """
        existing = (LOG_KEY, TSA_DIR, VAULT_FILE, REPORT_SIGNER_REF)
        if any((keys_dir / name).exists() for name in existing):
            raise VaultExists(f"keys already exist in {keys_dir}; refusing to overwrite them")
        keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(keys_dir, 0o700)
        mark = HighWaterMark(keys_dir / LOG_MARK)
        if token is not None:
            signer = NoteSigner(origin, pkcs11_keys.generate(token), mark)
        else:
            signer = NoteSigner.generate(origin).with_mark(mark)
            signer.save(keys_dir / LOG_KEY)
        # The empty tree: a new key has signed nothing, and a missing mark later on means
        # a key moved without it (or made before marks), which the start-up check repairs.
        mark.advance(Mark(0, hashlib.sha256(b"").digest()))
        tsa = BuiltinTSA.create(keys_dir / TSA_DIR, token=pki_token, public_url=public_url)
        doc: dict[str, object] = {"origin": origin}
        if token is not None:
            doc["pkcs11"] = token.to_json()
        if pki_token is not None:
            # The report signer's certificate is issued at its first report; its key now, so
            # that processes starting together never race to make it in the token.
            signer_key = pkcs11_ec.generate(pki_token.labelled(REPORT_SIGNER_LABEL))
            pki.write_new(
                keys_dir / REPORT_SIGNER_REF, pkcs11_ec.ref_json(signer_key.config), 0o600
            )
            doc["pkcs11_pki"] = pki_token.to_json()
        (keys_dir / VAULT_FILE).write_text(json.dumps(doc, indent=2) + "\n")
        return cls(origin, signer, tsa)

    @classmethod
    def load(cls, keys_dir: Path) -> Keyring:
        if not (keys_dir / VAULT_FILE).exists():
            raise VaultMissing(f"no vault keys in {keys_dir}: run `locard init` first")
        doc = json.loads((keys_dir / VAULT_FILE).read_text())
        origin = doc["origin"]
        for directory in (keys_dir, keys_dir / TSA_DIR):
            with contextlib.suppress(OSError):
                os.chmod(directory, 0o700)  # tightens a key directory of an earlier release
        history = read_history(keys_dir)
        finish_switch(keys_dir, history)  # a rotation cut short after its hand-over was sealed
        mark = HighWaterMark(keys_dir / LOG_MARK)
        if "pkcs11" in doc:
            token = pkcs11_keys.TokenConfig.from_json(doc["pkcs11"])
            signer = NoteSigner(origin, pkcs11_keys.load(token), mark)
        else:
            signer = NoteSigner.load(keys_dir / LOG_KEY, origin, mark)
        predecessors = tuple(NoteVerifier.from_vkey(h.old_key) for h in history)
        signer = signer.with_predecessors(predecessors)
        return cls(origin, signer, BuiltinTSA.load(keys_dir / TSA_DIR), history)


def publish_keys(engine: Engine, keys: dict[str, str]) -> None:
    """Record the public keys to publish, once. An existing different value is left alone
    on purpose: the audit reports it rather than the vault silently repairing it."""
    table = VaultKey.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        have = set(conn.execute(select(table.c.name)).scalars())
        fresh = [{"name": k, "value": v} for k, v in keys.items() if k not in have]
        if fresh:
            conn.execute(insert(table), fresh)


def published_keys(engine: Engine) -> dict[str, str]:
    table = VaultKey.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return {n: v for n, v in conn.execute(select(table.c.name, table.c.value))}


def keys_to_publish(log_key: str, tsa_roots: dict[str, list[bytes]]) -> dict[str, str]:
    """`log_key` is the vault's original log key: after a rotation auditors keep pinning it
    and follow the published hand-overs (`Keyring.history`)."""
    out = {"log": log_key}
    for name, roots in tsa_roots.items():
        out[f"tsa:{name}"] = "".join(
            load_der_x509_certificate(r).public_bytes(Encoding.PEM).decode() for r in roots
        )
    return out
