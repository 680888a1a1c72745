"""`locard audit` and `locard rebuild`: the vault checked, or recreated, from its archive."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from app.artifacts.models import Artifact
from app.db import session
from app.events import Replayer
from app.events.audit import check_index
from app.settings import Settings
from app.vault import Vault, make_authorities, make_store, open_vault
from custody import migrations
from custody.archive import iter_seals
from custody.audit import ArtifactRecord, Progress, audit_database, audit_vault
from custody.db import make_engine
from custody.integrity import DatabaseDamaged
from custody.keyring import Keyring, keys_to_publish, published_keys
from custody.rebuild import rebuild_ledger
from storage.base import ObjectStore
from verify.events import Event, decode_event
from verify.report import Report


def artifact_records(vault_engine: object) -> list[ArtifactRecord]:
    with session(vault_engine) as s:  # type: ignore[arg-type]
        rows = s.exec(select(Artifact).where(col(Artifact.ingest_index).is_not(None))).all()
        return [ArtifactRecord(a.id, a.case_id, a.object_key, a.sha256, a.size) for a in rows]


def archived_events(store: ObjectStore) -> Iterator[tuple[int, Event]]:
    """Every archived event in ledger order, with its index."""
    for seal in iter_seals(store):
        for offset, data in enumerate(seal.events):
            yield seal.first + offset, decode_event(data)


def check_rows(report: Report, engine: Engine, store: ObjectStore) -> None:
    """The field-exact comparison of the index tables with the archive's projection."""
    report.run("index rows", lambda: check_index(engine, archived_events(store)))


def audit_data_dir(
    settings: Settings, *, content: bool = True, progress: Progress | None = None
) -> Report:
    """`locard audit`: the database's own integrity first, then everything against the archive.

    A damaged or inconsistent database is what the audit is for, so it is opened without
    the start-up refusals, and anything it cannot read is a failed check, not a crash.
    """
    Keyring.load(settings.keys_dir)  # VaultMissing before anything is created
    report = Report(subject="vault audit")
    engine = make_engine(settings.db_url)
    try:
        whole = audit_database(engine, report)
    finally:
        engine.dispose()
    if not whole:
        return report
    try:
        vault = open_vault(settings, start=False, check=False)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        report.fail("database readable", DatabaseDamaged(f"the database cannot be read: {reason}"))
        return report
    try:
        return audit(vault, content=content, progress=progress, report=report)
    finally:
        vault.close()


def audit(
    vault: Vault,
    *,
    content: bool = True,
    progress: Progress | None = None,
    report: Report | None = None,
) -> Report:
    roots = [r for tsa in vault.authorities for r in tsa.trust_roots()]
    report = audit_vault(
        vault.engine,
        vault.store,
        vault.keyring.origin,
        vault.keyring.original_key,
        roots,
        artifact_records(vault.engine),
        content=content,
        progress=progress,
        published=published_keys(vault.engine),
        expected_keys=keys_to_publish(
            vault.keyring.original_key,
            {t.name: list(t.trust_roots()) for t in vault.authorities},
        ),
        report=report,
        log_key_history=vault.keyring.history,
    )
    check_rows(report, vault.engine, vault.store)
    return report


def rebuild(
    settings: Settings, progress: Callable[[int], None] | None = None
) -> tuple[int, Report]:
    """Replay the archive into an empty database, then audit the result."""
    keyring = Keyring.load(settings.keys_dir)
    engine = make_engine(settings.db_url)
    try:
        migrations.upgrade(engine)
        store = make_store(settings)
        projector = Replayer(engine)
        events = rebuild_ledger(engine, store, projector, progress)
        roots = [r for tsa in make_authorities(settings, keyring) for r in tsa.trust_roots()]
        report = audit_vault(
            engine,
            store,
            keyring.origin,
            keyring.original_key,
            roots,
            artifact_records(engine),
            log_key_history=keyring.history,
        )
        check_rows(report, engine, store)
        return events, report
    finally:
        engine.dispose()
