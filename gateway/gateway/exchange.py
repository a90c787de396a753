"""Per-request state shared by the gateway's layers, and its own plain responses (errors:
``shared.errors.send_error``)."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import Send


class Exchange:
    """What the layers of one request need to know about each other.

    ``status`` is 0 until the response head was sent. ``refusal`` is the gateway's own
    answer once it stopped the request body (over the limit: 413, too slow: 408); from then
    on ``discard`` makes the gateway's ``send`` drop whatever the service still sends.
    """

    __slots__ = ("request_id", "request_id_bytes", "service", "status", "started_at",
                 "refusal", "discard")

    def __init__(self, request_id: str, started_at: float) -> None:
        self.request_id = request_id
        self.request_id_bytes = request_id.encode("latin-1")
        self.service = "gateway"
        self.status = 0
        self.started_at = started_at
        self.refusal: tuple[int, str] | None = None
        self.discard = False

    def refuse(self, status: int, message: str) -> None:
        self.refusal = (status, message)
        self.discard = True


async def send_bytes(send: Send, status: int, body: bytes, content_type: bytes,
                     headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()), *headers],
    })
    await send({"type": "http.response.body", "body": body})
