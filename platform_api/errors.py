"""Platform errors and the one handler that renders every error as ``{error, message, detail}``.

Platform errors subclass the core's ``MitsumoriError`` so a single handler serves both: the core's
typed errors (``UnknownMaterial`` -> 422, ``PartTooLarge`` -> 413, ...) and ours below.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from quote.errors import MitsumoriError
from quote.isolation import PoolClosed

log = logging.getLogger("mitsumori.api")


class Unauthorized(MitsumoriError):
    """No API key, an unknown one, or a revoked one."""

    code = "unauthorized"
    http_status = 401


class Forbidden(MitsumoriError):
    """The key's role or scope may not do this."""

    code = "forbidden"
    http_status = 403


class NotFound(MitsumoriError):
    """No such row, or it belongs to someone else (its existence is not revealed)."""

    code = "not_found"
    http_status = 404


class Conflict(MitsumoriError):
    code = "conflict"
    http_status = 409


class PayloadTooLarge(MitsumoriError):
    code = "payload_too_large"
    http_status = 413


class RateLimited(MitsumoriError):
    """Too many requests for this key; ``detail.retry_after_seconds`` says when to retry."""

    code = "rate_limited"
    http_status = 429


class InvalidRequest(MitsumoriError):
    """A request the schema accepts but whose values do not make sense together."""

    code = "invalid_request"
    http_status = 422


class ServiceUnavailable(MitsumoriError):
    code = "unavailable"
    http_status = 503


class RankerUnavailable(ServiceUnavailable):
    """No usable supplier ranker file: it is built by ``make``, never trained in a request."""

    code = "ranker_unavailable"


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}


def _jsonable_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic error list without the raw input (it may hold file bytes or a key)."""
    out = []
    for e in errors:
        item = {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
        out.append(item)
    return out


def error_response(status: int, code: str, message: str, detail: Any = None) -> JSONResponse:
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 429 and isinstance(detail, dict) and "retry_after_seconds" in detail:
        headers["Retry-After"] = str(max(1, int(round(detail["retry_after_seconds"]))))
    return JSONResponse(
        status_code=status,
        content={"error": code, "message": message, "detail": detail if detail is not None else {}},
        headers=headers,
    )


async def _mitsumori_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MitsumoriError)
    return error_response(exc.http_status, exc.code, exc.message, exc.detail)


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _jsonable_errors(exc.errors())
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    message = f"{where}: {first['msg']}" if where else str(first["msg"])
    return error_response(422, "invalid_request", message, {"errors": errors})


async def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, message, {})


async def _data_error_handler(request: Request, exc: Exception) -> JSONResponse:
    # The database refused a value the schema let through: NUL characters in text (PostgreSQL)
    # or a number out of a column's range. Bad input, so 422, not a 500.
    log.info("database refused a value on %s %s: %s", request.method, request.url.path, type(exc))
    return error_response(
        422,
        "invalid_request",
        "a value in the request cannot be stored (text with NUL characters, or a number out "
        "of range)",
        {},
    )


async def _stopping_handler(request: Request, exc: Exception) -> JSONResponse:
    # The server is shutting down and closed the analysis workers (PoolClosed) under this request.
    return error_response(
        503, "unavailable", "the server is restarting; send the request again in a moment", {}
    )


async def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    # A bug, not bad input: log the type and where (no request body, no headers), answer 500.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "Internal error; it has been logged.", {})


def install_error_handlers(app: FastAPI) -> None:
    """Register the single rendering of every error family on ``app``."""
    app.add_exception_handler(MitsumoriError, _mitsumori_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(DataError, _data_error_handler)
    app.add_exception_handler(PoolClosed, _stopping_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
