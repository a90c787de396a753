"""The camelCase schema base every request and response model uses, and the field rules
every service shares: required/optional text, ids, and timestamps a store can hold."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainSerializer
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


NOT_AN_ID = "Enter a valid id: it may not contain control or other non-printable characters."


def printable_id(value: str) -> str:
    """An ``AfterValidator`` body for an id in a body: no character that is not printable.

    No id has one; refused here, such a value cannot reach a database (PostgreSQL refuses
    NUL) or a peer's URL. The request guard already answers ``404`` to such a path, and
    ``400`` to a NUL or a lone surrogate anywhere in a JSON body.
    """
    if not value.isprintable():
        raise ValueError(NOT_AN_ID)
    return value


PrintableId = AfterValidator(printable_id)
"""Refuses an id with a control (or other non-printable) character (after any trimming)."""


# A day inside Python's years 1..9999 at each end, so that turning an accepted value into
# any time zone, or adding a day to it, cannot overflow (an OverflowError is a 500).
EARLIEST_DATE = date(1, 1, 2)
LATEST_DATE = date(9999, 12, 30)
EARLIEST = datetime.combine(EARLIEST_DATE, datetime.min.time(), UTC)
LATEST = datetime.combine(LATEST_DATE, datetime.max.time(), UTC)
OUT_OF_RANGE = (f"Enter a date between {EARLIEST_DATE.isoformat()} and "
                f"{LATEST_DATE.isoformat()} (UTC).")


def utc_in_range(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive means UTC); ``ValueError`` with
    :data:`OUT_OF_RANGE` outside ``EARLIEST``..``LATEST``."""
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise ValueError(OUT_OF_RANGE) from None
    if not EARLIEST <= value <= LATEST:
        raise ValueError(OUT_OF_RANGE)
    return value


def date_in_range(value: date) -> date:
    """``value`` unchanged; ``ValueError`` with :data:`OUT_OF_RANGE` outside
    ``EARLIEST_DATE``..``LATEST_DATE``."""
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(OUT_OF_RANGE)
    return value
