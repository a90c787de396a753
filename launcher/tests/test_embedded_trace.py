"""One member's request is one trace: the embedded platform (gateway and every service in this
process, the in-process bus), its spans kept in memory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from launcher.embedded import build_platform
from shared.events import reset_hub
from testsupport.apps import wait_until


@asynccontextmanager
async def running(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Run the platform's ASGI lifespan (migrations, relays, consumers) around a client that
    calls it in process, as uvicorn would."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    lifespan = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}},
                                       inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    assert started["type"] == "lifespan.startup.complete", started
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://platform") as client:
            yield client
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await lifespan


def service_of(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"])


@pytest.fixture
def fast_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSWORD_HASH_TIME_COST", "1")
    monkeypatch.setenv("PASSWORD_HASH_MEMORY_KIB", "1024")
    monkeypatch.setenv("OUTBOX_POLL_INTERVAL", "0.2")


async def test_a_registration_with_a_referral_code_is_one_trace_to_engagements_consumer(
        spans: InMemorySpanExporter, fast_auth: None, tmp_path: Path) -> None:
    reset_hub()
    async with running(build_platform(tmp_path)) as client:
        referrer = await client.post("/api/auth/register/", json={
            "email": "referrer@example.com", "password": "password123", "name": "Referrer"})
        assert referrer.status_code == 201, referrer.text
        code = referrer.json()["user"]["referralCode"]
        await wait_until(lambda: any(s.name == "process user.registered"
                                     for s in spans.get_finished_spans()))
        spans.clear()

        newcomer = await client.post("/api/auth/register/", json={
            "email": "newcomer@example.com", "password": "password123", "name": "Newcomer",
            "referralCode": code})
        assert newcomer.status_code == 201, newcomer.text
        await wait_until(lambda: any(s.name == "process user.registered"
                                     for s in spans.get_finished_spans()))
        # That consumer did record the referral: the referrer sees the newcomer.
        mine = await client.get("/api/referrals/me/", headers={
            "Authorization": f"Bearer {referrer.json()['accessToken']}"})
        assert [r["referredUser"] for r in mine.json()["referrals"]] == [
            newcomer.json()["user"]["id"]]

    (gateway,) = [s for s in spans.get_finished_spans() if service_of(s) == "gateway"
                  and s.attributes and s.attributes["url.path"] == "/api/auth/register/"]
    assert gateway.context is not None and gateway.parent is None
    trace = [s for s in spans.get_finished_spans()
             if s.context is not None and s.context.trace_id == gateway.context.trace_id]
    print("register -> referral trace:",
          *(f"{service_of(s)}: {s.name}" for s in sorted(trace, key=lambda s: s.start_time or 0)),
          sep="\n  ")
    named = {(service_of(s), s.name): s for s in trace}
    assert set(named) >= {
        ("gateway", "POST /api/auth/*"),
        ("auth", "POST /api/auth/register/"),
        ("auth", "create user.registered"),
        ("auth", "send user.registered"),
        ("engagement", "process user.registered"),
    }
    parent_of = {key: s.parent.span_id if s.parent else None for key, s in named.items()}
    span_id = {key: s.context.span_id if s.context else None for key, s in named.items()}
    assert parent_of[("auth", "POST /api/auth/register/")] == span_id[("gateway",
                                                                      "POST /api/auth/*")]
    assert parent_of[("auth", "create user.registered")] == span_id[
        ("auth", "POST /api/auth/register/")]
    assert parent_of[("engagement", "process user.registered")] == span_id[
        ("auth", "create user.registered")]
