"""OpenTelemetry traces: one member's request is one trace, across the gateway, the services
and every event hop.

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set
when an app is built, or a test installs a span processor with :func:`configure`. Off, nothing
is wrapped: no middleware, no handler wrapper, envelopes carry no ``traceparent``, and the
only cost left is a check of one module variable where an event is staged or relayed.

On, the W3C ``traceparent`` travels as follows:

- a server span per HTTP request (:class:`TraceMiddleware`), the child of the request's
  ``traceparent`` header; the gateway replaces that header with its own span's before it
  forwards the request, so the service's span is the gateway's child;
- a call to a peer service carries the current span in its headers (:func:`forward_trace`,
  an httpx hook of ``peer_client``);
- staging an event opens a ``create <type>`` span whose context is stored in the envelope
  (``Event.traceparent``), so it survives the outbox table and the broker; the relay's
  ``send <type>`` and each consumer's ``process <type>`` spans are its children. An
  envelope without one (older producers, tracing off at the time) starts a new trace.

Each service has its own ``TracerProvider`` (resource ``service.name`` = the service's name,
unless ``OTEL_SERVICE_NAME`` says otherwise), all sharing one span processor: the embedded
mode runs every service in one process and still tells them apart.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.observability import OPERATIONAL_PATHS

if TYPE_CHECKING:
    from shared.events.envelope import Event

__all__ = ["TraceMiddleware", "configure", "enabled", "forward_trace", "message_span",
           "new_event_traceparent", "reset", "traced_handler", "tracer"]

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACE_HEADERS = (b"traceparent", b"tracestate")
# Probes and scrapes: a span each every few seconds per pod would bury the requests.
_processor: SpanProcessor | None = None
_providers: dict[str, TracerProvider] = {}


def configure(processor: SpanProcessor | None = None) -> bool:
    """Turn tracing on, once per process; returns whether it is on.

    With ``processor`` (tests: a ``SimpleSpanProcessor`` on an ``InMemorySpanExporter``)
    spans go there; otherwise they go over OTLP/HTTP when the endpoint is set, batched in a
    background thread and flushed at exit. ``OTEL_SDK_DISABLED=true`` keeps it off.
    """
    global _processor
    if processor is not None:
        reset()
        _processor = processor
    elif _processor is None and _endpoint_set():
        # Imported here: a process that does not trace never loads the exporter (protobuf).
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        _processor = BatchSpanProcessor(OTLPSpanExporter())
        atexit.register(_processor.shutdown)
    return _processor is not None


def _endpoint_set() -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def reset() -> None:
    """Turn tracing off and forget the providers (tests); the processor is not shut down."""
    global _processor
    _processor = None
    _providers.clear()


def enabled() -> bool:
    return _processor is not None


def tracer(service: str) -> Tracer | None:
    """The tracer of ``service``, or None when tracing is off."""
    if _processor is None:
        return None
    provider = _providers.get(service)
    if provider is None:
        name = os.environ.get("OTEL_SERVICE_NAME") or service
        provider = TracerProvider(resource=Resource.create({"service.name": name}),
                                  shutdown_on_exit=False)
        provider.add_span_processor(_processor)
        _providers[service] = provider
    return provider.get_tracer("membership-auto")


def starlette_route(scope: Scope) -> str | None:
    """The path template of the FastAPI route that answered (low cardinality)."""
    route = scope.get("route")
    return getattr(route, "path", None)


class TraceMiddleware:
    """A server span per HTTP request, the child of the request's ``traceparent``.

    ``route_of`` names the span ``"<METHOD> <route>"`` once the request was answered.
    Health, readiness and metrics requests (``OPERATIONAL_PATHS``) get no span.
    With ``forward`` the request's trace headers are replaced by this span's before
    ``app`` sees them: the gateway forwards the headers to the service.
    """

    def __init__(self, app: ASGIApp, tracer: Tracer, *,
                 route_of: Callable[[Scope], str | None] = starlette_route,
                 forward: bool = False) -> None:
        self.app = app
        self.tracer = tracer
        self.route_of = route_of
        self.forward = forward

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPERATIONAL_PATHS:
            await self.app(scope, receive, send)
            return
        carrier = {name.decode(): value.decode("latin-1") for name, value in scope["headers"]
                   if name in _TRACE_HEADERS}
        method = scope["method"]
        status = 0

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        # The parent comes from the headers only, never from the current context, so the
        # embedded mode (one process) builds the same tree as separate processes do.
        with self.tracer.start_as_current_span(
                method, context=_PROPAGATOR.extract(carrier), kind=SpanKind.SERVER,
                attributes={"http.request.method": method, "url.path": scope["path"]}) as span:
            if self.forward:
                headers = [h for h in scope["headers"] if h[0] not in _TRACE_HEADERS]
                outgoing: dict[str, str] = {}
                _PROPAGATOR.inject(outgoing)
                headers += [(k.encode(), v.encode()) for k, v in outgoing.items()]
                scope = {**scope, "headers": headers}
            try:
                await self.app(scope, receive, send_with_status)
            finally:
                route = self.route_of(scope)
                if route:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                if status:
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))


async def forward_trace(request: httpx.Request) -> None:
    """httpx request hook: a call to another service continues the current trace."""
    if _processor is not None and "traceparent" not in request.headers:
        _PROPAGATOR.inject(request.headers)


@contextmanager
def message_span(service: str, operation: str, event: Event, *, kind: SpanKind,
                 queue: str | None = None) -> Iterator[None]:
    """A span of one event hop (``send``, ``process``), the child of the envelope's
    ``traceparent``; nothing when tracing is off."""
    found = tracer(service)
    if found is None:
        yield
        return
    parent = _PROPAGATOR.extract({"traceparent": event.traceparent} if event.traceparent
                                 else {})
    attributes = {"messaging.operation.type": operation,
                  "messaging.destination.name": event.type, "messaging.message.id": event.id}
    if queue is not None:
        attributes["messaging.consumer.group.name"] = queue
    with found.start_as_current_span(f"{operation} {event.type}", context=parent, kind=kind,
                                     attributes=attributes):
        yield


def new_event_traceparent(service: str, event_type: str, event_id: str) -> str | None:
    """Open and close the ``create <type>`` span of an event being staged, the child of the
    current span; its ``traceparent``, for the envelope (None when tracing is off)."""
    found = tracer(service)
    if found is None:
        return None
    carrier: dict[str, str] = {}
    with found.start_as_current_span(
            f"create {event_type}", kind=SpanKind.PRODUCER,
            attributes={"messaging.operation.type": "create",
                        "messaging.destination.name": event_type,
                        "messaging.message.id": event_id}):
        _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def traced_handler(service: str, queue: str,
                   handler: Callable[[Event], Awaitable[None]]
                   ) -> Callable[[Event], Awaitable[None]]:
    """``handler`` inside a ``process <type>`` consumer span; ``handler`` itself when off."""
    if _processor is None:
        return handler

    async def traced(event: Event) -> None:
        with message_span(service, "process", event, kind=SpanKind.CONSUMER, queue=queue):
            await handler(event)

    return traced

