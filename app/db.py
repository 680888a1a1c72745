"""ORM sessions for the service. Objects stay usable after commit: services return them."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session


def session(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)
