"""Assembles a running vault from settings: database, store, keys, TSAs, ledger, sequencer."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from app.artifacts.lookup import SealedAccess, artifact_rows
from app.artifacts.models import Artifact
from app.auth.cache import PrincipalCache
from app.auth.changes import principal_changes
from app.collectors import staging as collection_staging
from app.events.projection import IndexWriter
from app.rowcache import Generation, RowCache
from app.settings import Settings
from custody import migrations
from custody.archive import archived_root
from custody.consistency import REBUILD, VaultInconsistent, check_before_start
from custody.db import is_sqlite, make_engine
from custody.integrity import DatabaseDamaged, RunMarker, database_integrity
from custody.keyring import (
    LOG_KEY,
    TSA_DIR,
    Keyring,
    VaultExists,
    keys_to_publish,
    publish_keys,
)
from custody.ledger import Ledger
from custody.pkcs11_keys import TokenConfig
from custody.pki import PKIError, crl_store_key, current_crl, root_crl
from custody.sequencer import Sequencer
from custody.tiles import CheckpointSlot, FileSlot, MirroredSlot, MutableStore, TilePublisher
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
    run: RunMarker | None = field(default=None, repr=False)
    #: SQLite only: an idle connection held open while the vault runs (see `_keep_wal`)
    wal_keeper: Connection | None = None
    #: bearer tokens' principals (app.auth.cache), forgotten by every principal event
    principals: PrincipalCache = field(default_factory=lambda: PrincipalCache(0.0))
    #: who may touch which artifact, as far as already read (app.artifacts.lookup)
    access: SealedAccess = field(default_factory=SealedAccess)
    #: artifact rows by id, forgotten with the principals on every custody transfer
    artifacts: RowCache[Artifact] = field(default_factory=lambda: artifact_rows(0.0, Generation()))

    def renew_crls(self) -> bytes | None:
        """Re-sign the CRLs that are due and keep them in the store (`locard serve` calls
        this hourly, so each is at most a day old); returns the issuing CA's."""
        archive_root_crl(self.settings, self.store)
        return archive_crl(self.settings, self.store)

    def close(self) -> None:
        self.sequencer.stop()
        self.principals.changes.close()
        if self.wal_keeper is not None:
            self.wal_keeper.close()
        self.engine.dispose()
        if self.run is not None:
            # Last: a marker left behind is what tells the next start this one died.
            self.run.close()


def _keep_wal(engine: Engine) -> Connection | None:
    """Keep SQLite's WAL and its index (-shm) in existence between requests.

    Connections are not pooled, and when the last one closes SQLite checkpoints and
    deletes both files; the next connection must create them again, and on a full disk
    it cannot ("disk I/O error"): even reads would fail. With one connection always open
    the files stay, reads need no new space, and small writes reuse the WAL's pages.
    """
    if not is_sqlite(engine):
        return None
    keeper = engine.connect()
    keeper.exec_driver_sql("SELECT 1").close()
    keeper.rollback()
    return keeper


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
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(settings.data_dir, 0o700)  # whatever the umask or an existing directory had
    make_store(settings)
    engine = make_engine(settings.db_url)
    try:
        migrations.upgrade(engine)
        token = pki_token = None
        if settings.pkcs11_module and settings.pkcs11_log_key:
            token = TokenConfig(
                settings.pkcs11_module, settings.pkcs11_token or "", settings.pkcs11_key_label
            )
        if settings.pkcs11_module and settings.pkcs11_pki:
            pki_token = TokenConfig(
                settings.pkcs11_module, settings.pkcs11_token or "", settings.pkcs11_pki_label
            )
        keyring = Keyring.create(
            settings.keys_dir,
            settings.origin,
            token,
            pki_token,
            public_url=settings.public_base_url,
        )
        _publish_keys(engine, keyring, make_authorities(settings, keyring))
    finally:
        engine.dispose()
    return keyring


def _publish_keys(engine: Engine, keyring: Keyring, authorities: list[TimestampAuthority]) -> None:
    keys = keys_to_publish(
        keyring.original_key, {t.name: list(t.trust_roots()) for t in authorities}
    )
    try:
        publish_keys(engine, keys)
    except IntegrityError:
        # Another process sharing the database published them between our read and our
        # insert; what is still missing (nothing, normally) is inserted now.
        publish_keys(engine, keys)


def archive_crl(settings: Settings, store: ObjectStore) -> bytes | None:
    """The issuing CA's current CRL (re-signed once a day old), also kept in the write-once
    store; None for a single-tier PKI. A store that refuses it is logged, not fatal: the CRL
    is re-signed and archived again at the next renewal."""
    try:
        der = current_crl(settings.keys_dir / TSA_DIR)
    except PKIError as exc:
        log.warning("no CRL: %s", exc)
        return None
    _archive(store, der)
    return der


def archive_root_crl(settings: Settings, store: ObjectStore) -> bytes | None:
    """The root's CRL (see `custody.pki.root_crl`), also kept in the write-once store."""
    try:
        der = root_crl(settings.keys_dir / TSA_DIR)
    except PKIError as exc:
        log.warning("no root CRL: %s", exc)
        return None
    _archive(store, der)
    return der


def _archive(store: ObjectStore, der: bytes | None) -> None:
    if der is None:
        return
    try:
        store.put_bytes(crl_store_key(der), der)
    except StorageError as exc:
        log.warning("could not archive the CRL: %s", exc)


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


def _check_after_crash(engine: Engine, run: RunMarker) -> None:
    """After an unclean shutdown, the full integrity check before anything is read."""
    log.warning("the vault was not closed cleanly last time: checking the database")
    try:
        detail = database_integrity(engine)
    except DatabaseDamaged as exc:
        raise VaultInconsistent(
            f"{exc.message}. Move the damaged database aside and run {REBUILD}"
        ) from exc
    log.info("database integrity after an unclean shutdown: %s", detail)
    run.cleared()


def open_vault(settings: Settings, *, start: bool = True, check: bool = True) -> Vault:
    """Open the vault; VaultInconsistent when its database must not extend the ledger.

    `check=False` skips the refusals, for `locard audit`, which names the problems instead.
    """
    keyring = Keyring.load(settings.keys_dir)
    with contextlib.suppress(OSError):
        # A data directory from an earlier release may be world-readable: the database,
        # the local store and the keys all live below it.
        os.chmod(settings.data_dir, 0o700)
    engine = make_engine(settings.db_url)
    run = RunMarker.open(settings.data_dir)
    try:
        if check and run.unclean:
            _check_after_crash(engine, run)
        return _open(settings, keyring, engine, run, start=start, check=check)
    except BaseException:
        run.close()
        engine.dispose()
        raise


def _open(
    settings: Settings,
    keyring: Keyring,
    engine: Engine,
    run: RunMarker,
    *,
    start: bool,
    check: bool,
) -> Vault:
    migrations.upgrade(engine)
    store = make_store(settings)
    if keyring.signer.mark is not None:
        # The signer also refuses a size the write-once archive holds with another root.
        mark = keyring.signer.mark.watching(partial(archived_root, store))
        keyring = replace(keyring, signer=keyring.signer.with_mark(mark))
    if check:
        check_before_start(engine, store, keyring.signer, keyring.origin)
    _sweep_staging(store, settings.staging_cleanup_after_s)
    if removed := collection_staging.sweep(settings.data_dir, settings.staging_cleanup_after_s):
        log.info("removed %d stale collector container(s) from the upload spool", removed)
    archive_root_crl(settings, store)
    archive_crl(settings, store)
    authorities = make_authorities(settings, keyring)
    _publish_keys(engine, keyring, authorities)
    slot: CheckpointSlot = FileSlot(settings.tlog_checkpoint_file)
    if isinstance(store, MutableStore):  # S3: the checkpoint also beside the tiles
        slot = MirroredSlot(FileSlot(settings.tlog_checkpoint_file), store)
    tiles = TilePublisher(engine, store, slot, interval_s=settings.tlog_interval_ms / 1000)
    generation = Generation()
    generation.changes = principal_changes(engine, generation.invalidate)
    principals = PrincipalCache(settings.principal_cache_s, generation)
    artifacts = artifact_rows(settings.principal_cache_s, generation)
    ledger = Ledger(
        engine,
        keyring.origin,
        keyring.signer,
        authorities,
        store,
        state=IndexWriter(on_cached_rows=generation.changed),
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
    keeper = _keep_wal(engine)
    if start:
        sequencer.start()
        principals.changes.start()
    return Vault(
        settings,
        engine,
        keyring,
        store,
        authorities,
        ledger,
        sequencer,
        slot,
        run,
        keeper,
        principals,
        artifacts=artifacts,
    )
