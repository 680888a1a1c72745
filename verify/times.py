"""An event's two times against each other and against the token that dates its checkpoint.

`at` is when the vault sealed the event: the RFC 3161 token on the checkpoint that covers it
proves the event existed at the token's genTime, so `at` may not be later than genTime plus
the accuracy the token states (1 s when it states none; the built-in TSA and OpenSSL's
truncate genTime to the second). `occurred_at`, which newer event bodies carry, is when the
actor says the fact happened: it may not be later than `at`. Pure functions, no I/O.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import datetime, timedelta

from verify.errors import EventAfterTimestamp, OccurredAtError
from verify.events import Event
from verify.timestamp import TimestampInfo

#: The allowance for a token that states no accuracy: genTime is commonly whole seconds.
DEFAULT_ACCURACY = timedelta(seconds=1)
OCCURRED_AT = "occurred_at"


def latest_sealing_time(info: TimestampInfo) -> datetime:
    """The latest `at` that the token still proves: genTime plus its accuracy."""
    return info.gen_time + (info.accuracy if info.accuracy is not None else DEFAULT_ACCURACY)


def tightest_bound(infos: Iterable[TimestampInfo]) -> TimestampInfo | None:
    """Of several verified tokens (several TSAs, or checkpoints), the one bounding `at` most."""
    return min(infos, key=latest_sealing_time, default=None)


def _span(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 120:
        return f"{seconds:.6f} s".replace(".000000 s", " s")
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    out = f"{days} days {hours} h {rest // 60} min" if days else f"{hours} h {rest // 60} min"
    return out


def occurred_at(event: Event) -> datetime | None:
    """The body's `occurred_at`, parsed; None for bodies without one (event bodies v1) or
    with a null one (the actor told no time).

    Raises OccurredAtError when it is not an ISO 8601 time with a zone or is later than `at`.
    """
    value = event.body.get(OCCURRED_AT)
    if value is None:
        return None  # not told: the fact's time is the sealed time
    if not isinstance(value, str) or len(value) > 64:
        raise OccurredAtError("its body's occurred_at is not an ISO 8601 time string")
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise OccurredAtError(f"its body's occurred_at {value!r} is not ISO 8601") from exc
    if when.tzinfo is None or when.utcoffset() is None:
        raise OccurredAtError(f"its body's occurred_at {value!r} has no time zone")
    if when > event.at:
        raise OccurredAtError(
            f"it says the fact occurred at {value}, {_span(when - event.at)} after the vault "
            f"sealed it ({event.at.isoformat()}): nothing can happen after it was recorded"
        )
    return when


def check_event_time(event: Event, bound: TimestampInfo | None) -> str:
    """Check `occurred_at` <= `at` <= the token's genTime (+ accuracy); return a summary.

    `bound` is the verified token bounding the event (see `tightest_bound`), None when no
    token is verified yet: the time is then unconfirmed, which the summary says.
    Raises EventAfterTimestamp or OccurredAtError.
    """
    occurred = occurred_at(event)
    said = f"; occurred {occurred.isoformat()}" if occurred is not None else ""
    if bound is None:
        return f"sealed {event.at.isoformat()}{said}; UNCONFIRMED: no token yet"
    latest = latest_sealing_time(bound)
    if event.at > latest:
        allowance = "its accuracy" if bound.accuracy is not None else "1 s"
        raise EventAfterTimestamp(
            f"it says it was sealed at {event.at.isoformat()}, {_span(event.at - bound.gen_time)} "
            f"after the genTime {bound.gen_time.isoformat()} of the token on its checkpoint "
            f"(allowing {allowance}): the event cannot postdate the proof that it existed"
        )
    return f"sealed {event.at.isoformat()} ≤ token {bound.gen_time.isoformat()}{said}"


class CheckpointBounds:
    """The tightest verified token over every checkpoint covering a leaf.

    A checkpoint of size n covers leaves 0..n-1, and each of its tokens proves they existed
    at its genTime; so leaf i is bounded by the earliest such time over checkpoints > i.
    """

    def __init__(self, tokens: dict[int, TimestampInfo | None]) -> None:
        self._sizes = sorted(tokens)
        # suffix[k]: the tightest token over checkpoints self._sizes[k:]
        self._suffix: list[TimestampInfo | None] = [None] * len(self._sizes)
        best: TimestampInfo | None = None
        for k in range(len(self._sizes) - 1, -1, -1):
            best = tightest_bound(t for t in (best, tokens[self._sizes[k]]) if t is not None)
            self._suffix[k] = best

    def for_leaf(self, index: int) -> TimestampInfo | None:
        k = bisect.bisect_right(self._sizes, index)
        return self._suffix[k] if k < len(self._suffix) else None
