"""JSON logging: one object per line with ``service``, ``event`` and ``requestId``.

The request id lives in a context variable set by :class:`RequestIdMiddleware`,
so every log line written while handling a request carries it without passing
it around.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
# The service handling the current request: in the embedded mode one process (and one
# log handler) serves them all, and each line should still say which one wrote it.
service_var: ContextVar[str] = ContextVar("service", default="")

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; ``extra={...}`` keys are included."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "service": service_var.get() or self.service,
            "logger": record.name,
            "event": getattr(record, "event", None) or record.getMessage(),
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["requestId"] = request_id
        for key, value in vars(record).items():
            if key not in _RESERVED and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO", *, force: bool = False) -> None:
    """Send every log record to stderr as JSON tagged with ``service``.

    App factories call it so a service run alone logs JSON; when logging is
    already set up (the embedded launcher did it for the whole process) it is
    left alone unless ``force`` is given.
    """
    root = logging.getLogger()
    if not force and any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log duplicates what the metrics already count.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every request at INFO: readiness polls and peer calls would drown the rest.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


class RequestIdMiddleware:
    """Reads ``X-Request-ID`` (or makes one), exposes it and the service name to logs,
    and echoes the id back."""

    def __init__(self, app: ASGIApp, service: str = "") -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:128]
                break
        request_id = request_id or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        service_token = service_var.set(self.service) if self.service else None
        header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
            if service_token is not None:
                service_var.reset(service_token)


async def forward_request_id(request: httpx.Request) -> None:
    """httpx request hook: a call to another service carries the current request id."""
    request_id = request_id_var.get()
    # A caller that bypassed the gateway may have sent any bytes; only a printable ASCII
    # id is a valid header value to send on.
    if (request_id and request_id.isascii() and request_id.isprintable()
            and "x-request-id" not in request.headers):
        request.headers["X-Request-ID"] = request_id
