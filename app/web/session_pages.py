"""Signing in with an API token and out again, and the front door to the case list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.auth.service import authenticate
from app.auth.web_sessions import end_session, open_session
from app.deps import SESSION_COOKIE, VaultDep
from app.errors import Unauthorized
from app.web.flash import flash
from app.web.forms import field
from app.web.render import WebRoute, page
from app.web.session import check_form, clear_session, safe_next, same_origin, set_session

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/cases", status_code=303)


@router.get("/signin", response_class=HTMLResponse)
def signin_page(
    request: Request,
    next: Annotated[str | None, Query(max_length=2000)] = None,
    done: str | None = None,
) -> HTMLResponse:
    return page(request, "signin.html", {"next": safe_next(next), "flash": flash(done)})


@router.post("/signin")
async def signin(request: Request, vault: VaultDep) -> Response:
    form = await request.form()
    # No session yet, so no CSRF token: a forged sign-in form is stopped by the origin check.
    same_origin(request)
    token = field(form, "token")
    target = safe_next(field(form, "next"))
    if not token:
        return page(
            request,
            "signin.html",
            {"next": target, "error": "Enter your API token."},
            status_code=400,
        )
    try:
        who = await run_in_threadpool(authenticate, vault.engine, token)
    except Unauthorized:
        return page(
            request,
            "signin.html",
            {"next": target, "error": "That token was not accepted."},
            status_code=401,
        )
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        await run_in_threadpool(end_session, vault.engine, previous)
    # A fresh id on every sign-in: a session id planted before it is never promoted.
    session_id = await run_in_threadpool(open_session, vault.engine, who)
    response = RedirectResponse(target, status_code=303)
    set_session(request, response, session_id)
    request.state.principal = who
    return response


@router.post("/signout")
async def signout(request: Request, vault: VaultDep) -> Response:
    form = await request.form()
    check_form(request, form)
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        await run_in_threadpool(end_session, vault.engine, session_id)
    response = RedirectResponse("/signin?done=signed_out", status_code=303)
    clear_session(request, response)
    return response
