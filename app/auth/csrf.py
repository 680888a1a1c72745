"""Cross-site request forgery checks for requests authenticated by the session cookie.

The browser attaches the cookie to any request it sends to the vault, so the cookie
alone proves nothing about who wrote the request. SameSite=Strict keeps other *sites*
out, but a page on another port or subdomain of the same site is same-site and gets the
cookie attached. A cookie-authenticated write (any method but GET, HEAD, OPTIONS)
therefore also needs:

- the CSRF token, HMAC-SHA256(session id, "locard-csrf/2"): only the vault's own pages
  can show it, since the session id is in an HttpOnly cookie. Pages' forms carry it in a
  field; API calls in the `X-CSRF-Token` header.
- on the API, an `Origin` header naming the vault itself. Every current browser sends
  Origin with a non-GET request, same-origin ones included, so a missing Origin is not
  a browser page of the vault; Referer is not consulted (referrer policies may strip
  it). Programs use bearer tokens, which a page cannot attach, and are not checked.

The token is derived, not stored: every server process computes the same one.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request

from app.errors import CsrfRefused

CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_LABEL = b"locard-csrf/2"


def csrf_for(session_id: str) -> str:
    return hmac.new(session_id.encode(), _LABEL, hashlib.sha256).hexdigest()


def own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def check_origin(request: Request, *, required: bool) -> None:
    origin = request.headers.get("origin")
    if origin is None:
        if required:
            raise CsrfRefused(
                "a write with the session cookie must come from a page of this vault "
                "(no Origin header); programs send 'Authorization: Bearer <token>'"
            )
        return
    if origin != own_origin(request):
        raise CsrfRefused(
            f"this request was sent from another origin ({origin}); "
            "reload the vault's page and try again"
        )


def check_token(sent: object, session_id: str) -> None:
    if not isinstance(sent, str) or not hmac.compare_digest(sent, csrf_for(session_id)):
        raise CsrfRefused(
            f"the CSRF token (form field {CSRF_FIELD!r} or header {CSRF_HEADER}) is missing "
            "or does not match this session; reload the page"
        )


def check_api_write(request: Request, session_id: str) -> None:
    """A cookie-authenticated API request: header token and own Origin for any write."""
    if request.method in SAFE_METHODS:
        return
    check_origin(request, required=True)
    check_token(request.headers.get(CSRF_HEADER), session_id)
