"""Templates, formatting filters, and HTML error pages for the web routes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from app.auth.models import Principal, Role
from app.deps import FORM_CSRF, SESSION_COOKIE
from app.edge.routes import GuardedRoute
from app.errors import AppError, Unauthorized
from app.incidents.metrics import human_duration
from app.web.session import clear_session, csrf_token
from storage.errors import StorageError

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def _as_time(value: datetime | str | None) -> datetime | None:
    """Times from rows are datetimes; times quoted from event bodies are ISO strings."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def as_utc(value: datetime) -> datetime:
    """Rows read back from SQLite are naive; they were written in UTC."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def fmt_time(value: datetime | str | None) -> str:
    t = _as_time(value)
    if t is None:
        return str(value) if value else "—"
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(value: datetime | str | None) -> str:
    t = _as_time(value)
    return t.isoformat() if t else ""


def fmt_size(n: int | None) -> str:
    if n is None:
        return "—"
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{n:,} bytes" if unit == "bytes" else f"{size:.1f} {unit} ({n:,} bytes)"
        size /= 1024
    return f"{n} bytes"  # pragma: no cover


def fmt_seconds(value: float | None) -> str:
    return human_duration(None if value is None else timedelta(seconds=value))


def fmt_hours(d: timedelta | None) -> str:
    """A span in hours, as notification windows are counted in law ("72 hours", "31 h 20 min")."""
    if d is None:
        return "—"
    total = int(abs(d.total_seconds())) // 60
    sign = "-" if d.total_seconds() < 0 else ""
    hours, minutes = divmod(total, 60)
    if minutes == 0:
        return f"{sign}{hours} hours" if hours != 1 else f"{sign}1 hour"
    return f"{sign}{hours} h {minutes:02d} min" if hours else f"{sign}{minutes} min"


def span_of(d: timedelta | None, in_hours: bool) -> str:
    return fmt_hours(d) if in_hours else human_duration(d)


#: a deadline met after its target is a breach: it must not read like "due" or "met"
STATE_LABELS = {
    "met": "met",
    "breached": "BREACHED",
    "pending": "due",
    "overdue": "OVERDUE",
    "not_required": "not required",
}

templates.env.filters["time"] = fmt_time
templates.env.filters["iso"] = iso
templates.env.filters["size"] = fmt_size
templates.env.filters["duration"] = human_duration
templates.env.filters["seconds"] = fmt_seconds
templates.env.filters["hours"] = fmt_hours
templates.env.filters["span_of"] = span_of
templates.env.filters["state_label"] = lambda s: STATE_LABELS.get(s, s)
templates.env.globals["quote"] = lambda s: quote(str(s), safe="")


def nav_for(who: Principal | None) -> list[tuple[str, str]]:
    if who is None:
        return []
    items = [("/cases", "Cases"), ("/action-items", "My action items"), ("/metrics", "Metrics")]
    items.append(("/search", "Search"))
    if who.role in (Role.auditor, Role.legal, Role.admin):
        items.append(("/ledger", "Ledger"))
    if who.role in (Role.legal, Role.admin):
        items.append(("/legal", "Legal & privacy"))
    return items


def page(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    who: Principal | None = None,
) -> HTMLResponse:
    who = who or getattr(request.state, "principal", None)
    ctx: dict[str, Any] = {
        "who": who,
        "nav": nav_for(who),
        "csrf": csrf_token(request),
        "path": request.url.path,
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    # Pages show evidence metadata: never keep them in shared caches or the back-forward
    # cache after sign-out, and never let another site frame them (clickjacking a hold).
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    response.headers["Referrer-Policy"] = "same-origin"
    return response


ERROR_TITLES = {
    400: "The request could not be used",
    401: "Sign-in required",
    403: "Not allowed for your role",
    404: "Not found",
    409: "Already done",
    413: "Too large",
    422: "Some fields need correcting",
    503: "Temporarily unavailable",
}


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    title = ERROR_TITLES.get(status, "Something went wrong")
    return page(
        request,
        "error.html",
        {"status": status, "title": title, "message": message},
        status_code=status,
    )


def _validation_message(errors: Any) -> str:
    parts = []
    for e in errors if isinstance(errors, list) else []:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{loc}: {e.get('msg')}" if loc else str(e.get("msg")))
    return "; ".join(parts) or "invalid input"


class WebRoute(GuardedRoute):
    """Errors in page routes become HTML pages (and a sign-in redirect), not JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            request.scope[FORM_CSRF] = True  # each page view checks its form's token
            try:
                return await original(request)
            except Unauthorized:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                response: Response = RedirectResponse(
                    f"/signin?next={quote(target, safe='')}", status_code=303
                )
                if request.cookies.get(SESSION_COOKIE):
                    clear_session(request, response)  # a revoked or stale token
                return response
            except AppError as exc:
                return error_page(request, exc.status, exc.message)
            except (RequestValidationError, ValidationError) as exc:
                return error_page(request, 422, _validation_message(exc.errors()))
            except StorageError as exc:
                log.warning("storage error on %s: %s", request.url.path, exc)
                return error_page(request, 503, f"the evidence store is unavailable: {exc}")

        return handler
