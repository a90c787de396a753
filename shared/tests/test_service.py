"""The app factory's guarantees that need no running service."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from shared.events import define_event_tables
from shared.logging import request_id_var
from shared.service import create_service_app, peer_client
from shared.settings import ServiceSettings


def test_a_consumer_queue_outside_the_catalogue_refuses_to_start() -> None:
    from sqlalchemy import MetaData

    async def handle(session: object, event: object) -> None:
        return None

    with pytest.raises(ValueError, match="not in the event catalogue"):
        create_service_app(settings=ServiceSettings(), title="t",
                           event_tables=define_event_tables(MetaData()),
                           migrations=Path("unused"), routers=[],
                           consumers={"vehicles.new-queue": {"user.registered": handle}})


async def test_a_call_to_another_service_carries_the_request_id() -> None:
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("x-request-id"))
        return httpx.Response(200)

    client = peer_client("http://vehicles", timeout=1, transport=httpx.MockTransport(answer))
    token = request_id_var.set("req-1")
    try:
        await client.get("/api/vehicles/v1/")
    finally:
        request_id_var.reset(token)
    await client.get("/api/vehicles/v1/")  # outside a request: nothing to pass on
    token = request_id_var.set("bad\x01id")
    try:
        await client.get("/api/vehicles/v1/")  # not a valid header value: not passed on
    finally:
        request_id_var.reset(token)
    await client.aclose()

    assert seen == ["req-1", None, None]
