"""Playbooks per incident scenario, read from TOML files an organisation edits.

One file per scenario (`<scenario>.toml`): its title, a version the organisation bumps
when it edits the file, and ordered steps, some of them pre-authorised containment
actions. The shipped files (app/playbooks/data) are used unless LOCARD_PLAYBOOKS_DIR
names another directory. Classifying a case copies the playbook into the ledger event
(with the file's SHA-256), so a later edit never changes what a case was given.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.text import MultiLine, SingleLine

SHIPPED = Path(__file__).resolve().parent / "data"
_NAME = r"^[a-z0-9][a-z0-9-]{0,63}$"
_FILE = re.compile(r"^([a-z0-9][a-z0-9-]{0,63})\.toml$")


class PlaybookFileInvalid(ValueError):
    """A playbook file that cannot be read or does not describe a playbook."""


class Phase(StrEnum):
    triage = "triage"
    containment = "containment"
    eradication = "eradication"
    recovery = "recovery"
    communication = "communication"


class ContainmentAction(StrEnum):
    """The pre-authorised containment actions a step may name (Locard records them; the
    responder, or an automation system, carries them out)."""

    isolate_host = "isolate_host"
    revoke_credentials = "revoke_credentials"
    block_ioc = "block_ioc"
    isolate_container = "isolate_container"
    disable_account = "disable_account"
    emergency_change = "emergency_change"


#: how pages name the actions (the event bodies keep the enum values)
ACTION_LABELS: dict[str, str] = {
    ContainmentAction.isolate_host: "isolate host",
    ContainmentAction.revoke_credentials: "revoke credentials and tokens",
    ContainmentAction.block_ioc: "block IPs and domains",
    ContainmentAction.isolate_container: "isolate container or pod (keep it for evidence)",
    ContainmentAction.disable_account: "disable account or API key",
    ContainmentAction.emergency_change: "emergency change",
}


class StepDef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=_NAME)]
    title: Annotated[SingleLine, Field(min_length=1, max_length=300)]
    phase: Phase
    #: a pre-authorised containment action: responders need no further approval
    action: ContainmentAction | None = None
    guidance: Annotated[MultiLine, Field(max_length=4000)] = ""


class Playbook(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: Annotated[str, Field(pattern=_NAME)]
    title: Annotated[SingleLine, Field(min_length=1, max_length=200)]
    version: Annotated[int, Field(ge=1)]
    description: Annotated[MultiLine, Field(max_length=4000)] = ""
    steps: Annotated[list[StepDef], Field(min_length=1, max_length=100)]
    #: SHA-256 of the file as read (set by the loader, not written in the file)
    sha256: str = ""

    @model_validator(mode="after")
    def _unique_steps(self) -> Playbook:
        ids = [s.id for s in self.steps]
        if len(set(ids)) != len(ids):
            raise ValueError("step ids must be unique within a playbook")
        return self

    def step(self, step_id: str) -> StepDef | None:
        return next((s for s in self.steps if s.id == step_id), None)


def load_file(path: Path) -> Playbook:
    m = _FILE.match(path.name)
    if m is None:
        raise PlaybookFileInvalid(f"{path.name}: playbook files are named <scenario>.toml")
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
        book = Playbook.model_validate({**data, "sha256": hashlib.sha256(raw).hexdigest()})
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise PlaybookFileInvalid(f"{path.name}: {exc}") from exc
    if book.scenario != m.group(1):
        raise PlaybookFileInvalid(f"{path.name}: declares scenario {book.scenario!r}")
    return book


def load_dir(directory: Path | None) -> dict[str, Playbook]:
    """Every playbook of the directory by scenario; one bad file refuses them all, so a
    typo is found at start-up rather than when a case is being classified."""
    root = directory or SHIPPED
    if not root.is_dir():
        raise PlaybookFileInvalid(f"{root} is not a directory of playbooks")
    books = {b.scenario: b for b in (load_file(p) for p in sorted(root.glob("*.toml")))}
    if not books:
        raise PlaybookFileInvalid(f"{root} holds no <scenario>.toml playbook")
    return books
