"""The contract's error bodies, produced in one place.

Every non-validation error is ``{"error": "<message>"}``; request validation
errors are ``400`` with a map of field -> list of messages. Domain code raises
:class:`ApiError` subclasses; :func:`install_error_handlers` turns them (and
FastAPI's own validation errors, which must never surface as 422) into bodies.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Send

from shared import json_body

log = logging.getLogger("shared.errors")

REQUIRED_MESSAGE = "This field is required."


class ApiError(Exception):
    """An error with an HTTP status and a human-readable message."""

    status_code = 400

    def __init__(self, message: str, *, status_code: int | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.headers = dict(headers or {})


class BadRequest(ApiError):
    status_code = 400


class Unauthorized(ApiError):
    status_code = 401


class Forbidden(ApiError):
    status_code = 403


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


class ServiceUnavailable(ApiError):
    """Another component this request needs (a peer service, the database) is down."""

    status_code = 503


class FieldErrors(ApiError):
    """A validation failure: ``400`` with ``{"field": ["message", ...]}``."""

    status_code = 400

    def __init__(self, fields: Mapping[str, Sequence[str] | str]) -> None:
        self.fields = {
            name: [msgs] if isinstance(msgs, str) else list(msgs) for name, msgs in fields.items()
        }
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in self.fields.items()))


def error_body(message: str) -> bytes:
    """The encoded ``{"error": message}`` body, for pure ASGI code (the gateway)."""
    return json.dumps({"error": message}).encode()


async def send_error(send: Send, status: int, message: str,
                     headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    """Answer a raw ASGI request with the contract's ``{"error": message}`` body (for the
    layers that run before any route: the gateway, the request guard)."""
    body = error_body(message)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        *headers]})
    await send({"type": "http.response.body", "body": body})


def error_response(status_code: int, message: str,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    """A ``JSONResponse`` carrying the contract's error body."""
    return JSONResponse({"error": message}, status_code=status_code, headers=dict(headers or {}))


def _to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _field_path(loc: Sequence[Any]) -> str:
    # The first element says where the value came from (body/query/path/header);
    # clients only care about the field itself.
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in {"body", "query", "path", "header",
                                                            "cookie"} else [str(p) for p in loc]
    return ".".join(_to_camel(p) for p in parts) or "nonFieldErrors"


def _message(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return REQUIRED_MESSAGE
    ctx = error.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    message = str(error.get("msg", "Invalid value."))
    return message.removeprefix("Value error, ")


def validation_fields(errors: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Turn Pydantic/FastAPI error dicts into the contract's field map."""
    fields: dict[str, list[str]] = {}
    for error in errors:
        loc = error.get("loc", ())
        if loc in (("body",), ()) and error.get("type") == "missing":
            fields.setdefault("nonFieldErrors", []).append("A JSON body is required.")
            continue
        fields.setdefault(_field_path(loc), []).append(_message(error))
    return fields


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    if isinstance(exc, FieldErrors):
        return JSONResponse(exc.fields, status_code=400, headers=exc.headers)
    return error_response(exc.status_code, exc.message, exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        # No field is at fault: the body is not JSON at all.
        return error_response(400, json_body.MALFORMED)
    return JSONResponse(validation_fields(errors), status_code=400)


_HTTP_MESSAGES = {404: "Not found", 405: "Method not allowed"}


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    message = _HTTP_MESSAGES.get(exc.status_code) if detail in (None, "Not Found",
                                                                "Method Not Allowed") else detail
    return error_response(exc.status_code, message or "Request failed", exc.headers)


DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, sqlalchemy.exc.TimeoutError)
"""What a lost or refused connection (restart, failover, too many clients) or a pool with
no free connection in time raises: an outage or an overload, not a bug."""

DATABASE_RETRY_AFTER_SECONDS = 1
"""``Retry-After`` on a database 503: a pool is free again within milliseconds once the
burst passes, and a restarted database accepts connections within seconds."""


def database_unavailable() -> ServiceUnavailable:
    """The 503 for a database that cannot serve this request now."""
    return ServiceUnavailable("Service unavailable: database",
                              headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable", exc_info=exc,
                extra={"event": "database_unavailable", "path": request.url.path,
                       "error": type(exc).__name__})
    return await _api_error(request, database_unavailable())


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", extra={"event": "unhandled_error", "path": request.url.path})
    return error_response(500, "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that give every error the contract's JSON body."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for error in DATABASE_UNAVAILABLE:
        app.add_exception_handler(error, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected_error)
