"""Refuse what no route of a service can take, before routing or parsing.

Every service answers, in the contract's ``{"error": ...}`` body:

- ``404`` to a path holding a character that is not printable (control characters,
  lone surrogates, invisible format characters): no resource has such a name, and passed
  on it could reach a database that refuses it (NUL in PostgreSQL) or a URL that cannot
  be built (a peer call with the id in it);
- ``400`` to a query string holding control characters, percent-encoded (raw ones never
  get past the HTTP parser);
- ``415`` to a non-empty body that is not ``application/json``: without this check a
  form-encoded or plain-text body would surface as a confusing field-validation error;
- ``400`` to a JSON body that :func:`shared.json_body.problem` refuses (too deep, NUL or a
  lone surrogate in a string, not UTF-8).

A request without a body (every ``GET``) costs a ``str.isprintable()`` of its path and
a look for ``%`` in its query string; a body is read whole here (routes read it whole anyway) and
handed on as one message.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import json_body
from shared.errors import send_error

_BODY_METHODS = {"POST", "PUT", "PATCH"}
# C0, DEL and C1 (U+0080..U+009F, two bytes in UTF-8), percent-encoded.
_ENCODED_CONTROL = re.compile(rb"%(?:[01][0-9a-fA-F]|7[fF]|[cC]2%[89][0-9a-fA-F])")
NOT_FOUND = "Not found"
BAD_QUERY = "Query parameters may not contain control characters."
NOT_JSON = "Unsupported media type: send application/json"


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


class RequestGuardMiddleware:
    """The refusals above, as a pure ASGI middleware (innermost: the refusals still get
    their request id and metrics)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not scope["path"].isprintable():
            await send_error(send, 404, NOT_FOUND)
            return
        query = scope.get("query_string", b"")
        if b"%" in query and _ENCODED_CONTROL.search(query):
            await send_error(send, 400, BAD_QUERY)
            return
        if scope["method"] in _BODY_METHODS:
            headers = dict(scope["headers"])
            if headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers:
                if not _is_json(headers.get(b"content-type", b"").decode("latin-1")):
                    await send_error(send, 415, NOT_JSON)
                    return
                body = await _read_body(receive)
                if body is None:  # the client went away
                    return
                found = json_body.problem(body)
                if found is not None:
                    await send_error(send, 400, found)
                    return
                receive = replay(body, receive)
        await self.app(scope, receive, send)


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` (already read whole) once, then the client's own
    (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
