"""Communication templates: executive, regulator, customer and internal updates.

Plain-text Jinja files an organisation edits (`<kind>.txt`; LOCARD_COMMS_DIR replaces the
shipped ones). They render in a sandbox: a template sees only the case facts it is given
and cannot reach Python objects, so an edited file cannot read the vault.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from app.errors import Unavailable

SHIPPED = Path(__file__).resolve().parent / "data"


class Kind(StrEnum):
    executive = "executive"
    regulator = "regulator"
    customer = "customer"
    internal = "internal"


class TemplateInvalid(Unavailable):
    """A template file missing, unreadable, or that does not render with the case facts:
    the vault's configuration is wrong, not the request (503 naming the file)."""


@dataclass(frozen=True)
class Rendered:
    kind: str
    text: str
    #: SHA-256 of the template file as read, so an issued text names its template
    template_sha256: str


_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def render(directory: Path | None, kind: Kind, facts: dict[str, Any]) -> Rendered:
    path = (directory or SHIPPED) / f"{kind.value}.txt"
    try:
        raw = path.read_bytes()
        text = _ENV.from_string(raw.decode("utf-8")).render(**facts)
    except (OSError, UnicodeDecodeError, TemplateError) as exc:
        raise TemplateInvalid(f"{path.name}: {exc}") from exc
    return Rendered(kind.value, text, hashlib.sha256(raw).hexdigest())
