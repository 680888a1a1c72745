"""Server-rendered web pages for people: cases, evidence, ledger, metrics, legal hold.

The pages run over the same services as the API (no separate front end). Reads go
through the services with the signed-in principal, so a page never shows what the API
would refuse. Writes are HTML forms (POST, CSRF-checked) that redirect back with a fixed
status message; evidence downloads go straight to the API's streaming endpoint with the
required reason.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.web.action_item_pages import router as _action_item_pages
from app.web.artifact_pages import router as _artifact_pages
from app.web.asset_pages import router as _asset_pages
from app.web.case_forms import router as _case_forms
from app.web.case_pages import router as _case_pages
from app.web.category_pages import router as _category_pages
from app.web.comms_pages import router as _comms_pages
from app.web.hold_pages import router as _hold_pages
from app.web.ledger_pages import router as _ledger_pages
from app.web.legal_pages import router as _legal_pages
from app.web.metrics_pages import router as _metrics_pages
from app.web.playbook_pages import router as _playbook_pages
from app.web.render import WebRoute
from app.web.search_pages import router as _search_pages
from app.web.session_pages import router as _session_pages
from app.web.static_files import router as _static_files
from app.web.timeline_pages import router as _timeline_pages
from app.web.upload_pages import router as _upload_pages

router = APIRouter(route_class=WebRoute, include_in_schema=False)
# first: its /cases/new must match before the case page's /cases/{case_id}
router.include_router(_upload_pages)
router.include_router(_session_pages)
router.include_router(_static_files)
router.include_router(_case_pages)
router.include_router(_timeline_pages)
router.include_router(_case_forms)
router.include_router(_hold_pages)
router.include_router(_artifact_pages)
router.include_router(_ledger_pages)
router.include_router(_metrics_pages)
router.include_router(_legal_pages)
router.include_router(_playbook_pages)
router.include_router(_action_item_pages)
router.include_router(_asset_pages)
router.include_router(_comms_pages)
router.include_router(_search_pages)
router.include_router(_category_pages)


def install_error_pages(app: FastAPI) -> None:
    """Browsers asking for a page that does not exist get an HTML page, not JSON.

    API paths (/v1/...) and non-browser clients keep FastAPI's JSON answer.
    """

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        browser = "text/html" in request.headers.get("accept", "")
        if browser and not request.url.path.startswith("/v1/") and exc.status_code in (404, 405):
            from app.web.render import error_page

            message = (
                f"there is no page at {request.url.path}"
                if exc.status_code == 404
                else "this page does not accept that kind of request"
            )
            return error_page(request, exc.status_code, message)
        return await http_exception_handler(request, exc)

    app.add_exception_handler(StarletteHTTPException, handler)


__all__ = ["install_error_pages", "router"]
