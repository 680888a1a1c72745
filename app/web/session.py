"""Browser sessions and CSRF protection for the server-rendered pages.

Session: signing in takes the API token once; the `locard_session` cookie then carries
a random session id, never the token (app.auth.web_sessions keeps only its hash, in the
database every server process shares). The cookie is HttpOnly (page scripts cannot read
it), SameSite=Strict (no other site can make the browser send it) and Secure whenever
the page is served over HTTPS; it lasts a working day. Signing out deletes the session
on the server, so a copied cookie stops working too.

CSRF: every form carries the session's CSRF token (app.auth.csrf), and forms are refused
when the browser says they came from another origin. SameSite=Strict does not stop a
page on another port or subdomain of the same site, which is why the token is needed.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request, Response

from app.auth.csrf import CSRF_FIELD, check_origin, check_token, csrf_for
from app.auth.web_sessions import SESSION_SECONDS
from app.deps import SESSION_COOKIE
from app.errors import Forbidden


def set_session(request: Request, response: Response, session_id: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _bearer(request: Request) -> bool:
    return bool(request.headers.get("authorization"))


def csrf_token(request: Request) -> str:
    """The token forms must echo; empty when the request is not cookie-authenticated."""
    session_id = request.cookies.get(SESSION_COOKIE)
    return csrf_for(session_id) if session_id else ""


def same_origin(request: Request) -> None:
    """Browsers send Origin on every POST; one naming another origin is a forged form."""
    check_origin(request, required=False)  # no Origin: not a browser; the token still applies


def check_form(request: Request, form: Mapping[str, object]) -> None:
    same_origin(request)
    if _bearer(request):
        return  # not a browser session: nothing a forged page could ride on
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise Forbidden("the form has expired or did not come from this vault; reload the page")
    check_token(form.get(CSRF_FIELD), session_id)


def safe_next(target: str | None, default: str = "/cases") -> str:
    """Only local paths: an open redirect after sign-in would hand a phishing page the user."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
