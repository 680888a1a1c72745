"""What every page form handler shares: reading fields, form times, redirecting back."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from app.errors import BadRequest


def back(url: str, done: str, anchor: str = "") -> RedirectResponse:
    """303 to the page with a fixed message code (never text from the request)."""
    sep = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{sep}done={done}{'#' + anchor if anchor else ''}", 303)


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def form_zone(form: FormData) -> ZoneInfo:
    """The viewer's zone, which the page script sends with every form that has a time
    (`tz`, an IANA name); without the script the labels say UTC, and UTC it is."""
    name = field(form, "tz")
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadRequest(f"tz: unknown time zone {name[:64]!r}") from exc


def form_time(form: FormData, name: str) -> datetime | None:
    """`datetime-local` inputs carry no zone: the time is in the form's `tz`, stored as UTC."""
    raw = field(form, name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise BadRequest(f"{name}: not a date and time") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=form_zone(form))
    return value.astimezone(UTC)
