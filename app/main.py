"""The FastAPI application: thin routers over plain services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from app.actions.views import router as actions_router
from app.artifacts.views import router as artifacts_router
from app.assets.views import router as assets_router
from app.bundles.views import router as bundles_router
from app.cases.category_views import router as categories_router
from app.cases.views import router as cases_router
from app.collectors.views import router as collections_router
from app.comms.views import router as comms_router
from app.disk import space
from app.disk.errors import InsufficientStorage, disk_failure
from app.disk.guard import ReadOnlyGuard
from app.edge.routes import GuardedRoute
from app.errors import AppError
from app.incidents.views import router as incidents_router
from app.ledger.views import router as ledger_router
from app.openapi_auth import declare_bearer
from app.playbooks.views import router as playbooks_router
from app.principals.views import router as principals_router
from app.reports.views import router as reports_router
from app.search.views import router as search_router
from app.settings import Settings
from app.tlog.views import router as tlog_router
from app.uploads.views import router as uploads_router
from app.vault import Vault, open_vault
from app.verification.views import router as verification_router
from app.web import install_error_pages
from app.web import router as web_router
from storage import errors as storage_errors

API_VERSION = "v1"
#: how often the server looks for CRLs due for re-signing (each is re-signed once a day old)
CRL_CHECK_INTERVAL_S = 3600.0
#: the renewal job's first pass after the server starts
RENEW_FIRST_AFTER_S = 3600.0

log = logging.getLogger(__name__)


async def _renew_crls(vault: Vault) -> None:
    """Keep the CA's week-long CRLs fresh while the server runs, so that a report signed at
    any time embeds a CRL at most a day old."""
    while True:
        await asyncio.sleep(CRL_CHECK_INTERVAL_S)
        try:
            await anyio.to_thread.run_sync(vault.renew_crls)
        except Exception:  # a missed renewal is retried within the hour; the server lives on
            log.exception("renewing the CRLs failed")


async def _renew_evidence(vault: Vault) -> None:
    """Re-timestamp checkpoint tokens and reports that are due (`locard renew`) every
    `renew_interval_s`, the first pass within the hour: a server restarted more often than
    the interval still renews, and a start is not slowed by it."""
    from app.events import submit
    from app.renewal.service import renew

    def _pass() -> None:
        run = renew(vault, lambda d: submit(vault, d).event.index)
        for failure in run.failures:
            log.warning("renewal: %s not renewed", failure)
        for warning in run.warnings:
            log.warning("renewal: %s", warning)

    await asyncio.sleep(min(vault.settings.renew_interval_s, RENEW_FIRST_AFTER_S))
    while True:
        try:
            await anyio.to_thread.run_sync(_pass)
        except Exception:  # retried at the next interval; the server lives on
            log.exception("renewing evidence failed")
        await asyncio.sleep(vault.settings.renew_interval_s)


def create_app(settings: Settings | None = None, *, vault: Vault | None = None) -> FastAPI:
    settings = settings or (vault.settings if vault else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sealing waits park a worker thread each; the default pool of 40 would cap
        # concurrent writers well below what the sequencer can batch.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        own = vault is None
        app.state.vault = vault or open_vault(settings)
        jobs = [
            asyncio.create_task(_renew_crls(app.state.vault)),
            asyncio.create_task(_renew_evidence(app.state.vault)),
        ]
        try:
            yield
        finally:
            for job in jobs:
                job.cancel()
            for job in jobs:
                with contextlib.suppress(asyncio.CancelledError):
                    await job
            if own:
                app.state.vault.close()

    app = FastAPI(
        title="Locard",
        version="0.1.0",
        summary="Forensic evidence vault with an offline-verifiable custody ledger",
        lifespan=lifespan,
        telemetry=None
        if settings.opentelemetry
        else {"tracing": False, "metrics": False, "logs": False},
    )

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        headers = dict(exc.headers)
        if exc.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse(
            {"error": exc.code, "detail": exc.message, **exc.extra},
            status_code=exc.status,
            headers=headers,
        )

    @app.exception_handler(storage_errors.StorageError)
    async def _storage_error(_: Request, exc: storage_errors.StorageError) -> JSONResponse:
        status, code = _STORAGE_STATUS.get(type(exc), (503, "storage_error"))
        return JSONResponse({"error": code, "detail": str(exc)}, status_code=status)

    @app.exception_handler(OperationalError)
    @app.exception_handler(OSError)
    async def _disk_error(_: Request, exc: Exception) -> JSONResponse:
        reason = disk_failure(exc)
        if reason is None:
            raise exc  # not the disk: an internal error, as before
        full = InsufficientStorage(reason)
        return JSONResponse({"error": full.code, "detail": reason}, status_code=full.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"error": "invalid_request", "detail": _jsonable(exc.errors())}, status_code=422
        )

    @app.get("/healthz", tags=["meta"])
    def healthz(request: Request) -> dict[str, str]:
        """`ok`, or `degraded` with the reason (still 200: reads are served)."""
        return space.health(request.app.state.vault.settings)

    for router in (
        cases_router,
        artifacts_router,
        collections_router,
        bundles_router,
        actions_router,
        ledger_router,
        principals_router,
        incidents_router,
        playbooks_router,
        assets_router,
        comms_router,
        search_router,
        categories_router,
        web_router,
        uploads_router,
        reports_router,
        verification_router,
        tlog_router,
    ):
        # every route authenticates before, and caps, the body it reads (app.edge)
        assert issubclass(router.route_class, GuardedRoute), router.prefix
        app.include_router(router)
    install_error_pages(app)
    declare_bearer(app)
    app.add_middleware(ReadOnlyGuard)
    return app


_STORAGE_STATUS: dict[type[Exception], tuple[int, str]] = {
    storage_errors.DigestMismatch: (422, "digest_mismatch"),
    storage_errors.SizeLimitExceeded: (413, "payload_too_large"),
    storage_errors.InvalidArgument: (400, "bad_request"),
    storage_errors.InvalidKey: (400, "bad_request"),
    storage_errors.StorageFull: (507, "insufficient_storage"),
    storage_errors.StorageUnavailable: (503, "storage_unavailable"),
    storage_errors.RetentionViolation: (409, "retention_violation"),
    # The database names an object the store cannot produce, or bytes that do not match:
    # a server-side integrity failure, never the client's fault.
    storage_errors.ObjectNotFound: (503, "evidence_missing"),
    storage_errors.IntegrityError: (503, "integrity_failure"),
    storage_errors.StorageMisconfigured: (503, "storage_misconfigured"),
}


def _jsonable(errors: object) -> object:
    """Validation errors may carry raw input bytes or exceptions; keep them printable."""
    if isinstance(errors, (list, tuple)):
        return [_jsonable(e) for e in errors]
    if isinstance(errors, dict):
        return {k: _jsonable(v) for k, v in errors.items() if k != "ctx" or isinstance(v, dict)}
    if isinstance(errors, str):
        # Echoed input may hold lone surrogates ("\ud800" in JSON), which UTF-8 cannot encode.
        return errors.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(errors, float) and not math.isfinite(errors):
        # JSON has no inf/nan (`1e999` parses to inf): echoing it would fail the response.
        return str(errors)
    if isinstance(errors, (str, int, float, bool)) or errors is None:
        return errors
    return str(errors)
