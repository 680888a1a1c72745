"""Categories of data an incident affects (personal data, credentials, financial, health,
…): a configurable list, and the case's categories recorded as `case.data_categories`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.auth.models import Principal
from app.cases.service import readable_case, writable_case
from app.errors import BadRequest, Unavailable
from app.events import EventType, record
from app.events.case_events import DataCategories
from app.events.preconditions import CaseFieldsAre
from app.vault import Vault
from custody.ledger import Receipt

SHIPPED = Path(__file__).resolve().parent / "data" / "data_categories.toml"


class CategoriesInvalid(Unavailable):
    """The configured list cannot be read: the vault's configuration is wrong (503)."""


class UnknownCategory(BadRequest):
    """A category that the configured list does not hold."""


class CategoriesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categories: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=50)
    ]


@dataclass(frozen=True)
class Category:
    key: str
    label: str


def configured(path: Path | None) -> list[Category]:
    """The list in file order; keys are lower-case words."""
    source = path or SHIPPED
    try:
        table = tomllib.loads(source.read_text(encoding="utf-8")).get("categories")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CategoriesInvalid(f"{source.name}: {exc}") from exc
    if not isinstance(table, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in table.items()
    ):
        raise CategoriesInvalid(f"{source.name}: [categories] must map keys to labels")
    return [Category(k, v) for k, v in table.items()]


def stored(value: str) -> list[str]:
    """The keys of a case row's `data_categories` column."""
    return [k for k in value.split(",") if k]


def labelled(path: Path | None, keys: list[str]) -> list[Category]:
    """The case's categories with their labels; a key no longer configured keeps its key
    as label (the ledger recorded it; the list changed later)."""
    labels = {c.key: c.label for c in configured(path)}
    return [Category(k, labels.get(k, k)) for k in keys]


def case_categories(vault: Vault, who: Principal, case_id: str) -> list[Category]:
    case = readable_case(vault.engine, case_id, who)
    return labelled(vault.settings.data_categories_file, stored(case.data_categories))


def set_categories(
    vault: Vault, who: Principal, case_id: str, data: CategoriesIn
) -> tuple[list[Category], Receipt | None]:
    """Record the case's categories (the whole set); the same set again records nothing."""
    case = writable_case(vault.engine, case_id, who)
    known = configured(vault.settings.data_categories_file)
    keys = [c.key for c in known]
    unknown = sorted(set(data.categories) - set(keys))
    if unknown:
        raise UnknownCategory(
            f"unknown data categories {', '.join(unknown)}; known: {', '.join(keys)}"
        )
    chosen = [k for k in keys if k in data.categories]  # the list's order, no duplicates
    current = case.data_categories
    receipt = None
    if chosen != stored(current):
        receipt = record(
            vault,
            who,
            EventType.case_data_categories,
            DataCategories(categories=chosen),
            case=case.id,
            # two people editing at once: the second is told the set moved (409)
            preconditions=[CaseFieldsAre(case.id, {"data_categories": current})],
        )
    return case_categories(vault, who, case.id), receipt
