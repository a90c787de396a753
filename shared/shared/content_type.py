"""Refuse request bodies that are not JSON with ``415``, before any parsing.

Every endpoint of the platform takes JSON; without this check a form-encoded
or plain-text body would surface as a confusing field-validation error.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.errors import error_body

_BODY_METHODS = {"POST", "PUT", "PATCH"}


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


class JsonBodyMiddleware:
    """Answers ``415 {"error": ...}`` to a non-empty body that is not ``application/json``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _BODY_METHODS:
            headers = dict(scope["headers"])
            has_body = headers.get(b"content-length", b"0") != b"0" or (
                b"transfer-encoding" in headers)
            if has_body and not _is_json(headers.get(b"content-type", b"").decode("latin-1")):
                body = error_body("Unsupported media type: send application/json")
                await send({"type": "http.response.start", "status": 415, "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
