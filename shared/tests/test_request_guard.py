"""The request guard every service has: what no route can take is a 4xx JSON answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Body, FastAPI, Request

from shared import json_body
from shared.errors import install_error_handlers
from shared.request_guard import BAD_QUERY, RequestGuardMiddleware


def make_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestGuardMiddleware)

    @app.get("/things/{thing_id}/")
    async def get_thing(thing_id: str, q: str = "") -> dict[str, str]:
        return {"id": thing_id, "q": q}

    @app.post("/things/")
    async def echo(payload: Annotated[Any, Body()] = None) -> Any:
        return payload

    @app.post("/raw/")
    async def raw(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    return app


async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path, **kwargs)


def post_json(path: str, body: bytes) -> Any:
    return call("POST", path, content=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("thing_id", ["%00", "%01%60%C2%A89%E1%A4%A6", "a%0Ab", "%7F",
                                      "%C2%85", "%E2%80%8B"])
async def test_a_path_with_a_character_that_is_not_printable_is_404(thing_id: str) -> None:
    response = await call("GET", f"/things/{thing_id}/")
    assert (response.status_code, response.json()) == (404, {"error": "Not found"})


@pytest.mark.parametrize("thing_id", ["7b7a1f0e-9b0c-4c1e-8f5e-0d7c2a1b3c4d", "REF-AB12CD",
                                      "%FF%FE", "caf%C3%A9", "a%20b", "%F0%9F%98%80"])
async def test_other_paths_reach_the_route(thing_id: str) -> None:
    response = await call("GET", f"/things/{thing_id}/")
    assert response.status_code == 200


@pytest.mark.parametrize("query", ["q=%00", "q=a%1fb", "q=%7f", "q=%c2%80", "x=1&q=%0A"])
async def test_a_query_with_control_characters_is_400(query: str) -> None:
    response = await call("GET", f"/things/1/?{query}")
    assert (response.status_code, response.json()) == (400, {"error": BAD_QUERY})


async def test_an_ordinary_query_reaches_the_route() -> None:
    response = await call("GET", "/things/1/?q=50%25+off%21%20%C3%A9")
    assert response.json() == {"id": "1", "q": "50% off! é"}


@pytest.mark.parametrize(("body", "message"), [
    (b"[" * 5000 + b"]" * 5000, json_body.TOO_DEEP),
    (b"[" * 65 + b"]" * 65, json_body.TOO_DEEP),
    (b'{"name": "a\\u0000"}', json_body.UNSTORABLE),
    (b'{"vehicleId": "\\udfff"}', json_body.UNSTORABLE),
    (b'{"name": "\xed\xb0\x80"}', json_body.NOT_UTF8),
    (b"{nope", json_body.MALFORMED),
])
async def test_a_body_no_route_can_take_is_400_json(body: bytes, message: str) -> None:
    for path in ("/things/", "/raw/"):
        response = await post_json(path, body)
        if path == "/raw/" and message == json_body.MALFORMED:
            assert response.status_code == 200  # a route reading raw bytes decides itself
            continue
        assert (response.status_code, response.json()) == (400, {"error": message}), path


async def test_a_body_64_levels_deep_reaches_the_route() -> None:
    body = b"[" * 64 + b"]" * 64
    response = await post_json("/things/", body)
    assert (response.status_code, response.content) == (200, body)


async def test_a_body_in_many_chunks_reaches_the_route_whole() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        yield b"x" * 100_000
        yield b'"}'

    response = await call("POST", "/raw/", content=chunks(),
                          headers={"Content-Type": "application/json"})
    assert response.json() == {"size": 100_012}


async def test_a_body_that_is_not_json_is_still_415() -> None:
    response = await call("POST", "/things/", content=b"[1]", headers={
        "Content-Type": "text/plain"})
    assert response.status_code == 415 and set(response.json()) == {"error"}
