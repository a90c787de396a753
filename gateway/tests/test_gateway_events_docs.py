"""The platform's AsyncAPI document and its page, served by the gateway itself."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.tests.conftest import JWKS, no_upstreams
from shared.catalog import SERVICES
from shared.tokens import static_jwks_source


def _check(document: httpx.Response, page: httpx.Response) -> None:
    assert document.status_code == 200
    assert document.headers["content-type"].startswith("application/json")
    doc = document.json()
    assert doc["asyncapi"] == "3.0.0"
    published = {t for service in SERVICES for t in service.publishes}
    assert {channel["address"] for channel in doc["channels"].values()} == published
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/api/events/asyncapi.json" in page.text
    assert "<code>user.registered</code>" in page.text and "referredByCode" in page.text
    assert "https://" not in page.text and "<script" not in page.text


async def test_the_gateway_serves_the_asyncapi_document_and_its_page(
        gateway_client: Any) -> None:
    async with gateway_client() as client:
        document = await client.get("/api/events/asyncapi.json")
        page = await client.get("/api/events/")
        bare = await client.get("/api/events")
        missing = await client.get("/api/events/nothing")
        posted = await client.post("/api/events/asyncapi.json")
    _check(document, page)
    assert bare.status_code == 200 and bare.content == page.content
    assert missing.status_code == 404
    assert posted.status_code == 405


@pytest.mark.timeout(60)
async def test_the_asyncapi_document_over_tcp(serve: Any) -> None:
    gateway = await serve(create_app(no_upstreams(), jwks_source=static_jwks_source(JWKS)))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as client:
        _check(await client.get("/api/events/asyncapi.json"), await client.get("/api/events/"))
