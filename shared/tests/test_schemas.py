"""The shared field rules: ids a store can hold, timestamps every time zone can hold."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Annotated

import pytest
from pydantic import ValidationError

from shared.schemas import (
    EARLIEST,
    LATEST,
    NOT_AN_ID,
    OUT_OF_RANGE,
    CamelModel,
    PrintableId,
    date_in_range,
    utc_in_range,
)


class Booking(CamelModel):
    vehicle_id: Annotated[str, PrintableId]


@pytest.mark.parametrize("value", ["a\x01b", "\x00", "tab\there", "\x7f", "\x85",
                                   "zero\u200bwidth", "\ud800"])
def test_an_id_with_a_character_that_is_not_printable_is_refused(value: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Booking.model_validate({"vehicleId": value})
    assert NOT_AN_ID in str(raised.value)


@pytest.mark.parametrize("value", ["7b7a1f0e-9b0c-4c1e-8f5e-0d7c2a1b3c4d", "REF-ABC123",
                                   "with space", "é😀"])
def test_printable_ids_pass(value: str) -> None:
    assert Booking.model_validate({"vehicleId": value}).vehicle_id == value


@pytest.mark.parametrize(("value", "expected"), [
    ("2030-01-01T10:00:00Z", datetime(2030, 1, 1, 10, tzinfo=UTC)),
    ("2030-01-01T10:00:00", datetime(2030, 1, 1, 10, tzinfo=UTC)),
    ("2030-01-01T10:00:00+05:30", datetime(2030, 1, 1, 4, 30, tzinfo=UTC)),
    ("0234-01-01T10:00:00Z", datetime(234, 1, 1, 10, tzinfo=UTC)),
    ("0001-01-02T00:00:00Z", datetime(1, 1, 2, tzinfo=UTC)),
    ("9999-12-30T23:59:59.999999Z", datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)),
])
def test_timestamps_in_range_are_aware_utc(value: str, expected: datetime) -> None:
    result = utc_in_range(datetime.fromisoformat(value))
    assert result == expected and result.tzinfo is UTC


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "0001-01-01T23:59:59Z",
                                   "9999-12-31T00:00:00Z", "9999-12-31T23:59:59-23:59",
                                   "0001-01-02T00:00:00+00:01"])
def test_timestamps_a_time_zone_could_push_out_of_range_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match=re.escape(OUT_OF_RANGE)):
        utc_in_range(datetime.fromisoformat(value))


def test_the_edges_survive_any_time_zone_and_a_day_either_way() -> None:
    """Why the range stops a day inside Python's: domain code may do either."""
    widest = timedelta(hours=23, minutes=59)
    for edge in (EARLIEST, LATEST):
        accepted = utc_in_range(edge)
        for offset in (-widest, widest):
            accepted.astimezone(timezone(offset))
        accepted - timedelta(days=1)
        accepted + timedelta(days=1)


def test_dates_in_range() -> None:
    assert date_in_range(date(2030, 1, 6)) == date(2030, 1, 6)
    for day in (date(1, 1, 1), date(9999, 12, 31)):
        with pytest.raises(ValueError, match=re.escape(OUT_OF_RANGE)):
            date_in_range(day)
