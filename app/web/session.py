"""Browser sessions and CSRF protection for the server-rendered pages.

Session: the `locard_session` cookie carries the principal's API token itself. The API
already authenticates that cookie exactly like a bearer token (`app.deps`), and the
server keeps only the token's SHA-256, so there is no second credential store to
protect or expire. The cookie is HttpOnly (page scripts cannot read it), SameSite=Strict
(no other site can make the browser send it) and Secure whenever the page is served over
HTTPS; it lasts a working day. Signing out forgets it in this browser; revoking the
token itself is an admin action, since the same token works for the API.

CSRF: every form carries HMAC-SHA256(token, "locard-csrf/1"). It is bound to the
session, needs no server state (several API processes agree on it), and cannot be
computed without the token. Forms are also refused when the browser says they came
from another origin. SameSite=Strict alone would stop cross-site posts in current
browsers; the token keeps the pages safe where that is not honoured.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from fastapi import Request, Response

from app.deps import SESSION_COOKIE
from app.errors import Forbidden

SESSION_SECONDS = 8 * 3600
CSRF_FIELD = "csrf"
_CSRF_LABEL = b"locard-csrf/1"


def set_session(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
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
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return ""
    return hmac.new(token.encode(), _CSRF_LABEL, hashlib.sha256).hexdigest()


def same_origin(request: Request) -> None:
    """Browsers send Origin on every POST; one naming another site is a forged form."""
    origin = request.headers.get("origin")
    if origin is None:
        return  # not a browser form (or a very old browser): the CSRF token still applies
    expected = f"{request.url.scheme}://{request.url.netloc}"
    if origin != expected:
        raise Forbidden("this form was sent from another site; reload the page and try again")


def check_form(request: Request, form: Mapping[str, object]) -> None:
    same_origin(request)
    if _bearer(request):
        return  # not a browser session: nothing a forged page could ride on
    sent = form.get(CSRF_FIELD)
    expected = csrf_token(request)
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise Forbidden("the form has expired or did not come from this vault; reload the page")


def safe_next(target: str | None, default: str = "/cases") -> str:
    """Only local paths: an open redirect after sign-in would hand a phishing page the user."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
