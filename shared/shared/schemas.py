"""The camelCase schema base every request and response model uses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer
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


NULL_MESSAGE = "This field may not be null."
BLANK_MESSAGE = "This field may not be blank."


def not_null(value: Any) -> Any:
    """Raise the contract's message for an explicit ``null``."""
    if value is None:
        raise ValueError(NULL_MESSAGE)
    return value


NotNull = BeforeValidator(not_null)
"""Rejects an explicit ``null`` with the contract's wording (use on required fields)."""


def required_text(max_length: int) -> Callable[[str], str]:
    """An ``AfterValidator`` body: a non-blank string of at most ``max_length``, trimmed."""

    def check(value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError(BLANK_MESSAGE)
        if len(value) > max_length:
            raise ValueError(f"Ensure this field has no more than {max_length} characters.")
        return value

    return check


def optional_text(max_length: int) -> Callable[[str | None], str | None]:
    """An ``AfterValidator`` body: an optional string, trimmed; blank means absent."""
    required = required_text(max_length)

    def check(value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return required(value)

    return check
