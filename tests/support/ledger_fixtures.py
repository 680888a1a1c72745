"""Ledger fixtures shared by tests/ledger, tests/verify and tests/cli.

A conftest imports them by name (`from tests.support.ledger_fixtures import ...`); pytest
then offers them to that directory. `db_url` comes from tests/conftest.py, so every test
using `ledger` runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from custody import migrations
from custody.db import make_engine
from custody.ledger import Ledger
from custody.signing import NoteSigner
from custody.tsa_builtin import BuiltinTSA
from storage.local import LocalWormStore

ORIGIN = "test.locard.example/ledger"


@pytest.fixture(scope="session")
def builtin_tsa(tmp_path_factory: pytest.TempPathFactory) -> BuiltinTSA:
    return BuiltinTSA.create(tmp_path_factory.mktemp("tsa") / "tsa")


@pytest.fixture(scope="session")
def signer() -> NoteSigner:
    return NoteSigner.generate(ORIGIN)


@pytest.fixture
def ledger(
    db_url: str, tmp_path: Path, signer: NoteSigner, builtin_tsa: BuiltinTSA
) -> Iterator[Ledger]:
    engine = make_engine(db_url)
    migrations.upgrade(engine)
    yield Ledger(engine, ORIGIN, signer, [builtin_tsa], LocalWormStore(tmp_path / "store"))
    engine.dispose()
