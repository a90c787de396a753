"""The camelCase schema base every request and response model uses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer
from pydantic.alias_generators import to_camel


def iso_z(value: datetime) -> str:
    """Render a timestamp as ISO-8601 UTC ending in ``Z`` (naive values are UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


UtcDateTime = Annotated[datetime, PlainSerializer(iso_z, return_type=str)]
"""A datetime that serialises as ``2024-01-01T00:00:00Z``."""


class CamelModel(BaseModel):
    """Accepts and emits camelCase field names; also accepts snake_case on input."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True,
                              from_attributes=True, serialize_by_alias=True)
