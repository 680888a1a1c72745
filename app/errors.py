"""Domain errors raised by services; the API maps each to one HTTP status with a reason."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        #: more JSON members for the response (a conflict's current state)
        self.extra = extra or {}


class BadRequest(AppError):
    status = 400
    code = "bad_request"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class CsrfRefused(Forbidden):
    """A cookie-authenticated write without the page's CSRF token or from another origin."""

    code = "csrf_refused"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class LengthRequired(AppError):
    status = 411
    code = "length_required"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(AppError):
    status = 415
    code = "unsupported_media_type"


class Unprocessable(AppError):
    status = 422
    code = "unprocessable"


class RangeNotSatisfiable(AppError):
    status = 416
    code = "range_not_satisfiable"


class Unavailable(AppError):
    status = 503
    code = "unavailable"


class EvidenceDamaged(AppError):
    """The stored bytes no longer hash to what the ledger sealed: nothing may proceed on them."""

    status = 500
    code = "evidence_damaged"
