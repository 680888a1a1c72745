"""Pages of a long list (cases, timeline events) and the date-range filter they share.

A 1,000-event timeline in one response is hundreds of kilobytes a phone must lay out;
pages of a fixed size keep every view small. Links keep the other filters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import Query

from app.errors import BadRequest

T = TypeVar("T")

#: the `?page=` of a paginated list, from 1
PageNo = Annotated[int, Query(alias="page", ge=1, le=1_000_000)]
#: rows per page of the shorter lists (action items, the legal register)
ROWS_PER_PAGE = 50


@dataclass(frozen=True)
class Paged(Generic[T]):
    items: Sequence[T]
    number: int
    size: int
    total: int
    #: the filters of the list, repeated on every page link
    params: tuple[tuple[str, str], ...] = ()

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first_shown(self) -> int:
        return 0 if self.total == 0 else (self.number - 1) * self.size + 1

    @property
    def last_shown(self) -> int:
        return min(self.total, self.number * self.size)

    def href(self, number: int) -> str:
        return "?" + urlencode([*self.params, ("page", str(number))])


def paginate(items: Sequence[T], number: int, size: int, params: list[tuple[str, str]]) -> Paged[T]:
    pages = max(1, -(-len(items) // size))
    if number > pages:
        raise BadRequest(f"there are {pages} page(s); page {number} does not exist")
    start = (number - 1) * size
    return Paged(items[start : start + size], number, size, len(items), tuple(params))


@dataclass(frozen=True)
class DateRange:
    """From the first day to the last day, both included, in UTC days."""

    start: date | None = None
    end: date | None = None

    @property
    def since(self) -> datetime | None:
        return datetime.combine(self.start, time(), UTC) if self.start else None

    @property
    def until(self) -> datetime | None:
        return datetime.combine(self.end, time(), UTC) + timedelta(days=1) if self.end else None

    def params(self) -> list[tuple[str, str]]:
        out = []
        if self.start:
            out.append(("from", self.start.isoformat()))
        if self.end:
            out.append(("to", self.end.isoformat()))
        return out

    def holds(self, t: datetime) -> bool:
        since, until = self.since, self.until
        return (since is None or t >= since) and (until is None or t < until)


def date_range(start: str, end: str) -> DateRange:
    """The `from` and `to` fields of a filter form (YYYY-MM-DD, either may be empty)."""

    def day(value: str, name: str) -> date | None:
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise BadRequest(f"{name}: not a date (YYYY-MM-DD)") from exc

    r = DateRange(day(start, "from"), day(end, "to"))
    if r.start and r.end and r.end < r.start:
        raise BadRequest("the range ends before it starts")
    return r
