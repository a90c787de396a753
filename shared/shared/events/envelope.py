"""The event envelope every message on the bus carries (CONTRACT.md, "Events")."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from shared.contracts.base import routing_key


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """One integration event.

    Serialised as ``{"id", "type", "version", "occurredAt", "producer", "data",
    "correlationId", "causationId"}``; the routing key on the bus is ``type``.
    ``correlationId`` is the request id of the gateway request that started the story
    (kept by every event that follows from it) and ``causationId`` the id of the event
    whose handler staged this one; both are null when there is none.
    ``traceparent`` (W3C trace context, only when tracing is on: ``shared.tracing``) is the
    span that staged the event, which the spans of its delivery continue; it is left out of
    the JSON when there is none, and an envelope without it is as valid as before.

    ``version`` is the major version of ``data``'s contract (``shared.contracts``); an
    envelope without it is version 1. ``payload`` is ``data`` parsed by that contract, set
    by the consumer that validated it (never serialised): handlers read it through the
    contract, ``UserRegisteredV1.of(event)``.

    Frozen, because the same instance may be handed to several in-process handlers and
    none of them should see another's edits.
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    type: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=_utc_now, alias="occurredAt")
    producer: str
    data: dict[str, Any] = Field(default_factory=dict)
    correlation_id: str | None = Field(default=None, alias="correlationId")
    causation_id: str | None = Field(default=None, alias="causationId")
    traceparent: str | None = Field(default=None, exclude_if=lambda value: value is None)
    payload: Any = Field(default=None, exclude=True)

    @classmethod
    def new(cls, type: str, producer: str, data: dict[str, Any], *, version: int = 1,
            correlation_id: str | None = None, causation_id: str | None = None,
            traceparent: str | None = None) -> Event:
        """Create an event with a fresh uuid and the current UTC time."""
        return cls(type=type, producer=producer, data=data, version=version,
                   correlationId=correlation_id, causationId=causation_id,
                   traceparent=traceparent)

    @property
    def routing_key(self) -> str:
        """Where it travels: its type, with ``.v<N>`` past major version 1."""
        return routing_key(self.type, self.version)

    def with_payload(self, payload: Any) -> Event:
        """This event with its parsed ``data`` attached (what a consumer hands its handler)."""
        return self.model_copy(update={"payload": payload})

    @field_validator("occurred_at")
    @classmethod
    def _as_utc(cls, value: datetime) -> datetime:
        # A naive timestamp from a producer is taken as UTC rather than local time, so two
        # machines in different zones agree on the order of events.
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @field_serializer("occurred_at")
    def _iso_z(self, value: datetime) -> str:
        return value.isoformat(timespec="microseconds").replace("+00:00", "Z")

    def to_json(self) -> bytes:
        """Encode the envelope as UTF-8 JSON with the contract's camelCase keys."""
        return self.model_dump_json(by_alias=True).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Event:
        """Decode an envelope; raises ``pydantic.ValidationError`` when it is malformed."""
        return cls.model_validate_json(raw)
