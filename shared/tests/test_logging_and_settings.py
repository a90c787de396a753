"""JSON log lines, request ids, settings defaults and database URLs."""

import json
import logging

import httpx
from fastapi import FastAPI

from shared.db import async_url, sync_url
from shared.logging import JsonFormatter, RequestIdMiddleware, request_id_var
from shared.settings import ServiceSettings


def test_a_log_line_is_one_json_object_with_service_event_and_request_id():
    token = request_id_var.set("req-42")
    try:
        record = logging.makeLogRecord({"msg": "thing happened", "levelname": "INFO",
                                        "event": "thing_happened", "userId": "u1"})
        line = json.loads(JsonFormatter("auth").format(record))
    finally:
        request_id_var.reset(token)
    assert line["service"] == "auth" and line["event"] == "thing_happened"
    assert line["requestId"] == "req-42" and line["userId"] == "u1"


async def test_request_id_is_echoed_or_generated():
    app = FastAPI()

    @app.get("/")
    async def index() -> dict[str, str]:
        return {"seen": request_id_var.get()}

    transport = httpx.ASGITransport(app=RequestIdMiddleware(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        echoed = await client.get("/", headers={"X-Request-ID": "abc"})
        generated = await client.get("/")
    assert echoed.headers["x-request-id"] == "abc" and echoed.json() == {"seen": "abc"}
    assert generated.headers["x-request-id"] == generated.json()["seen"] != ""


async def test_lines_written_while_serving_a_request_name_that_service():
    app = FastAPI()
    formatter = JsonFormatter("platform")

    @app.get("/")
    async def index() -> dict[str, str]:
        record = logging.makeLogRecord({"msg": "inside", "levelname": "INFO"})
        return {"service": json.loads(formatter.format(record))["service"]}

    transport = httpx.ASGITransport(app=RequestIdMiddleware(app, service="vehicles"))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/")).json() == {"service": "vehicles"}
    outside = logging.makeLogRecord({"msg": "outside", "levelname": "INFO"})
    assert json.loads(formatter.format(outside))["service"] == "platform"


def test_default_settings_give_the_embedded_mode(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("AMQP_URL", raising=False)
    settings = ServiceSettings(service_name="vehicles")
    assert settings.amqp_url == "memory://"
    assert settings.effective_database_url == "sqlite+aiosqlite:///data/vehicles.db"


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@db/vehicles")
    monkeypatch.setenv("AMQP_URL", "amqp://guest:guest@mq/")
    settings = ServiceSettings(service_name="vehicles")
    assert settings.effective_database_url == "postgresql://postgres@db/vehicles"
    assert settings.amqp_url == "amqp://guest:guest@mq/"


def test_database_urls_pick_psycopg_3_and_aiosqlite():
    assert async_url("postgresql://u@h/d").drivername == "postgresql+psycopg"
    assert async_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert sync_url("sqlite+aiosqlite:///x.db").drivername == "sqlite"
    assert sync_url("postgresql+psycopg://u@h/d").drivername == "postgresql+psycopg"
