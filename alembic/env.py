"""Alembic environment: one schema for SQLite and PostgreSQL, driven by custody.migrations."""

from __future__ import annotations

from sqlmodel import SQLModel

import app.db_metadata  # noqa: F401  (registers every table on SQLModel.metadata)
from alembic import context
from custody.db import make_engine

config = context.config
connection = config.attributes.get("connection")


def _run(conn: object) -> None:
    context.configure(
        connection=conn,  # type: ignore[arg-type]
        target_metadata=SQLModel.metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
