"""Assembles a running vault from settings: database, store, keys, TSAs, ledger, sequencer."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from app.events.projection import IndexWriter
from app.settings import Settings
from custody import migrations
from custody.db import make_engine
from custody.keyring import (
    LOG_KEY,
    TSA_DIR,
    Keyring,
    VaultExists,
    keys_to_publish,
    publish_keys,
)
from custody.ledger import Ledger
from custody.sequencer import Sequencer
from custody.tiles import CheckpointSlot, FileSlot, TilePublisher
from custody.timestamps import HttpTSA, TimestampAuthority
from custody.witnesses import WitnessClient, WitnessCollector
from storage.base import ObjectStore
from storage.errors import StorageError
from storage.local import LocalWormStore
from verify.cosignature import CosignatureVerifier
from verify.timestamp import load_pem_or_der_certs

log = logging.getLogger(__name__)


@dataclass
class Vault:
    settings: Settings
    engine: Engine
    keyring: Keyring
    store: ObjectStore
    authorities: list[TimestampAuthority]
    ledger: Ledger
    sequencer: Sequencer
    tlog_slot: CheckpointSlot

    def close(self) -> None:
        self.sequencer.stop()
        self.engine.dispose()


def make_store(settings: Settings) -> ObjectStore:
    if settings.store == "s3":
        from storage.s3 import S3WormStore, make_s3_client

        client = make_s3_client(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key,
            settings.s3_region,
        )
        s3 = S3WormStore(client, settings.s3_bucket, default_retention_days=settings.retention_days)
        s3.ensure_bucket()
        return s3
    return LocalWormStore(settings.store_dir)


def make_authorities(settings: Settings, keyring: Keyring) -> list[TimestampAuthority]:
    tsas: list[TimestampAuthority] = []
    if settings.builtin_tsa:
        tsas.append(keyring.tsa)
    for ext in settings.external_tsas:
        roots = load_pem_or_der_certs(Path(ext.ca_file).read_bytes())
        tsas.append(HttpTSA(ext.name, ext.url, roots, timeout=ext.timeout))
    return tsas


def make_witnesses(
    settings: Settings, engine: Engine, store: ObjectStore
) -> WitnessCollector | None:
    if not settings.witnesses:
        return None
    clients = [
        WitnessClient(w.url, CosignatureVerifier.from_vkey(w.vkey), timeout=w.timeout)
        for w in settings.witnesses
    ]
    return WitnessCollector(engine, clients, store)


def init_vault(settings: Settings) -> Keyring:
    """Create store, database schema and keys. Refuses to overwrite existing keys.

    The keys come last: the store and the database may be unreachable (S3 or PostgreSQL
    down), and a failed init must leave nothing that makes the next attempt refuse. The
    public keys are published here, before any server starts: servers starting together
    would otherwise race to publish them.
    """
    if any((settings.keys_dir / name).exists() for name in (LOG_KEY, TSA_DIR)):
        raise VaultExists(f"keys already exist in {settings.keys_dir}; refusing to overwrite them")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    make_store(settings)
    engine = make_engine(settings.db_url)
    try:
        migrations.upgrade(engine)
        keyring = Keyring.create(settings.keys_dir, settings.origin)
        _publish_keys(engine, keyring, make_authorities(settings, keyring))
    finally:
        engine.dispose()
    return keyring


def _publish_keys(engine: Engine, keyring: Keyring, authorities: list[TimestampAuthority]) -> None:
    keys = keys_to_publish(keyring.signer, {t.name: list(t.trust_roots()) for t in authorities})
    try:
        publish_keys(engine, keys)
    except IntegrityError:
        # Another process sharing the database published them between our read and our
        # insert; what is still missing (nothing, normally) is inserted now.
        publish_keys(engine, keys)


def _sweep_staging(store: ObjectStore, older_than_s: float) -> None:
    """Remove what uploads cut short by a crash left in staging (never visible as objects)."""
    try:
        removed = store.cleanup_staging(older_than_s=older_than_s)
    except StorageError as exc:
        # Leftovers are invisible and swept next time; refusing to start would be worse.
        log.warning("could not clean upload staging: %s", exc)
        return
    if removed:
        log.info("removed %d stale upload(s) from staging", removed)


def open_vault(settings: Settings, *, start: bool = True) -> Vault:
    keyring = Keyring.load(settings.keys_dir)
    engine = make_engine(settings.db_url)
    migrations.upgrade(engine)
    store = make_store(settings)
    _sweep_staging(store, settings.staging_cleanup_after_s)
    authorities = make_authorities(settings, keyring)
    _publish_keys(engine, keyring, authorities)
    slot = FileSlot(settings.tlog_checkpoint_file)
    tiles = TilePublisher(engine, store, slot)
    ledger = Ledger(
        engine,
        keyring.origin,
        keyring.signer,
        authorities,
        store,
        state=IndexWriter(),
        tiles=tiles,
        witnesses=make_witnesses(settings, engine, store),
    )
    # A crash between a seal's database commit and its archive write is repaired here,
    # before anything new is sealed.
    ledger.catch_up_archive()
    # Tokens a crash left owed are asked for now, not at the sequencer's first idle
    # retry: until they arrive the checkpoint (and so the audit) lacks its timestamp.
    ledger.retry_pending_timestamps()
    tiles.catch_up(force=True)
    sequencer = Sequencer(
        ledger,
        interval=settings.seal_interval_ms / 1000,
        max_batch=settings.seal_max_events,
    )
    if start:
        sequencer.start()
    return Vault(settings, engine, keyring, store, authorities, ledger, sequencer, slot)
