"""Traces (``shared.tracing``): an HTTP hop, a peer call and an event hop, with the spans kept
in memory (the ``spans`` fixture), and what is left of it all when tracing is off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from shared import tracing
from shared.contracts.auth import UserRegisteredV1
from shared.events import (
    Event,
    IdempotentConsumer,
    MemoryBus,
    Outbox,
    OutboxRelay,
    define_event_tables,
    get_hub,
    reset_hub,
)
from shared.service import peer_client
from shared.tracing import TraceMiddleware

tables = define_event_tables(MetaData())
REGISTERED = UserRegisteredV1(user_id="u", email="u@example.com", name="",
                              referral_code="CODE0001", referred_by_code=None)
TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
CALLER_SPAN_ID = 0xB7AD6B7169203331
TRACEPARENT = f"00-{TRACE_ID:032x}-{CALLER_SPAN_ID:016x}-01"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    reset_hub()
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'service.db'}")
    async with engine.begin() as connection:
        await connection.run_sync(tables.outbox.metadata.create_all)
    yield engine
    await engine.dispose()
    reset_hub()


def ids_of(span: ReadableSpan) -> tuple[str, str]:
    """The trace and span ids a ``traceparent`` naming ``span`` carries."""
    assert span.context is not None
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"


def ids_in(traceparent: bytes | str | None) -> tuple[str, str]:
    assert traceparent is not None
    text = traceparent.decode() if isinstance(traceparent, bytes) else traceparent
    _, trace_id, span_id, _ = text.split("-")
    return trace_id, span_id


class Recorder:
    """An ASGI app that keeps the headers of each request and answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.headers: list[dict[bytes, bytes]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.headers.append(dict(scope["headers"]))
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


async def call(app: Any, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://test") as client:
        return await client.get(path, headers=headers)


async def test_a_server_span_continues_the_callers_trace_and_forwards_its_own(
        spans: InMemorySpanExporter) -> None:
    upstream = Recorder()
    tracer = tracing.tracer("gateway")
    assert tracer is not None
    app = TraceMiddleware(upstream, tracer, route_of=lambda scope: "/api/auth/*", forward=True)

    await call(app, "/api/auth/me/", {"traceparent": TRACEPARENT})

    (span,) = spans.get_finished_spans()
    assert (span.name, span.kind) == ("GET /api/auth/*", SpanKind.SERVER)
    assert span.context is not None and span.parent is not None
    assert (span.context.trace_id, span.parent.span_id) == (TRACE_ID, CALLER_SPAN_ID)
    assert span.attributes is not None and span.attributes["http.response.status_code"] == 200
    assert span.resource.attributes["service.name"] == "gateway"
    # The service behind sees the gateway's span as its parent, not the client's.
    assert ids_in(upstream.headers[0][b"traceparent"]) == ids_of(span)


async def test_a_request_without_a_trace_starts_one_and_a_5xx_marks_its_span_failed(
        spans: InMemorySpanExporter) -> None:
    tracer = tracing.tracer("auth")
    assert tracer is not None

    await call(TraceMiddleware(Recorder(status=503), tracer), "/api/auth/login/")

    (span,) = spans.get_finished_spans()
    assert span.parent is None
    assert span.status.status_code == StatusCode.ERROR


async def test_probes_and_scrapes_get_no_span(spans: InMemorySpanExporter) -> None:
    tracer = tracing.tracer("auth")
    assert tracer is not None
    app = TraceMiddleware(Recorder(), tracer)

    for path in ("/healthz", "/readyz", "/metrics"):
        await call(app, path)

    assert spans.get_finished_spans() == ()


async def test_a_peer_call_carries_the_current_span(spans: InMemorySpanExporter) -> None:
    peer = Recorder()
    tracer = tracing.tracer("telematics")
    assert tracer is not None

    async with peer_client("http://vehicles", timeout=5,
                           transport=httpx.ASGITransport(app=peer)) as client:
        with tracer.start_as_current_span("handler"):
            await client.get("/api/vehicles/1/")

    (span,) = spans.get_finished_spans()
    assert ids_in(peer.headers[0][b"traceparent"]) == ids_of(span)


async def test_an_event_hop_continues_the_trace_of_the_request_that_staged_it(
        spans: InMemorySpanExporter, engine: AsyncEngine) -> None:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    bus = MemoryBus()
    handled: list[Event] = []

    async def on_registered(session: Any, event: Event) -> None:
        handled.append(event)

    await IdempotentConsumer(sessions, tables, bus, "engagement.users",
                             {"user.registered": on_registered}, service="engagement").start()
    tracer = tracing.tracer("auth")
    assert tracer is not None
    with tracer.start_as_current_span("POST /api/auth/register/") as request:
        async with sessions() as session:
            event = await Outbox(tables, "auth").add(session, REGISTERED)
            await session.commit()
    await OutboxRelay(engine, tables, bus).publish_pending()
    await get_hub().wait_idle()
    await bus.close()

    found = {span.name: span for span in spans.get_finished_spans()}
    create, send = found["create user.registered"], found["send user.registered"]
    process = found["process user.registered"]
    assert {s.context.trace_id for s in (create, send, process) if s.context} == {
        request.get_span_context().trace_id}
    assert create.parent is not None and send.parent is not None and process.parent is not None
    assert create.parent.span_id == request.get_span_context().span_id
    assert send.parent.span_id == process.parent.span_id == create.context.span_id  # type: ignore[union-attr]
    assert (create.kind, send.kind, process.kind) == (
        SpanKind.PRODUCER, SpanKind.CLIENT, SpanKind.CONSUMER)
    assert process.resource.attributes["service.name"] == "engagement"
    assert process.attributes is not None
    assert process.attributes["messaging.consumer.group.name"] == "engagement.users"
    assert ids_in(event.traceparent) == ids_of(create)
    assert [h.id for h in handled] == [event.id]


async def test_an_envelope_from_before_traces_is_consumed_in_a_trace_of_its_own(
        spans: InMemorySpanExporter, engine: AsyncEngine) -> None:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    bus = MemoryBus()
    handled: list[Event] = []

    async def on_registered(session: Any, event: Event) -> None:
        handled.append(event)

    await IdempotentConsumer(sessions, tables, bus, "engagement.users",
                             {"user.registered": on_registered}, service="engagement").start()
    old = Event.from_json('{"id": "e1", "type": "user.registered", "version": 1, '
                          '"occurredAt": "2026-01-01T00:00:00Z", "producer": "auth", '
                          '"data": {"userId": "u", "email": "u@example.com", "name": "", '
                          '"referralCode": "CODE0001", "referredByCode": null}}')

    await bus.publish(old)
    await get_hub().wait_idle()
    await bus.close()

    assert [h.id for h in handled] == [old.id]
    (process,) = spans.get_finished_spans()
    assert (process.name, process.parent) == ("process user.registered", None)


async def test_with_tracing_off_nothing_is_traced_or_wrapped(
        engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def handler(event: Event) -> None:
        return None

    assert tracing.configure() is False
    assert tracing.tracer("auth") is None
    assert tracing.traced_handler("auth", "q", handler) is handler
    async with sessions() as session:
        event = await Outbox(tables, "auth").add(session, REGISTERED)
    assert event.traceparent is None
    assert "traceparent" not in event.to_json().decode()


def test_the_otlp_endpoint_turns_tracing_on_unless_the_sdk_is_disabled(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing.configure() is False
    monkeypatch.delenv("OTEL_SDK_DISABLED")
    try:
        assert tracing.configure() is True
        tracer = tracing.tracer("auth")
        assert tracer is not None
    finally:
        tracing.reset()
