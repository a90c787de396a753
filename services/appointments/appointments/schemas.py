"""Request and response bodies of the appointments service (camelCase on the wire).

Every field rule of CONTRACT.md's appointments section lives here; a ``ValueError``
raised by a validator becomes the message in the 400 field map (``{"timezone": [...]}``,
``{"hours.mon": [...]}``). Numbers are strict: ``"3"`` or ``true`` for ``capacity`` is a
400, not a coercion.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, field_validator

from appointments.hours import complete_week, day_window
from appointments.models import Appointment, Location
from shared.schemas import (
    NULL_MESSAGE,
    CamelModel,
    NotNull,
    PrintableId,
    UtcDateTime,
    not_null,
    optional_text,
    required_text,
    utc_in_range,
)

NAME_MAX_LENGTH = 200
ADDRESS_MAX_LENGTH = 500
PHONE_MAX_LENGTH = 50
ID_MAX_LENGTH = 64
SERVICE_MAX_LENGTH = 100
MAX_SERVICES = 20
MAX_CAPACITY = 10_000



@cache
def known_timezones() -> frozenset[str]:
    """The IANA zone names of the time-zone database (read once: it lists files)."""
    return frozenset(available_timezones())


def _timezone(value: str) -> str:
    # Only names from the database: ZoneInfo() alone would also open paths like "../x".
    if value not in known_timezones():
        raise ValueError(f'"{value}" is not a known IANA time zone (e.g. "America/New_York").')
    return value


def _day_hours(value: list[str] | None) -> list[str] | None:
    if value is not None:
        day_window(value)
    return value








def _timestamp_string(value: Any) -> Any:
    # A number would be read as epoch seconds; the contract's timestamps are ISO strings.
    if value is None:
        raise ValueError(NULL_MESSAGE)
    if not isinstance(value, str):
        raise ValueError("Use an ISO-8601 timestamp such as 2024-01-15T10:00:00Z.")
    return value


Name = Annotated[str, NotNull, AfterValidator(required_text(NAME_MAX_LENGTH))]
Address = Annotated[str | None, AfterValidator(optional_text(ADDRESS_MAX_LENGTH))]
Phone = Annotated[str | None, AfterValidator(optional_text(PHONE_MAX_LENGTH))]
Latitude = Annotated[float, Field(strict=True, ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(strict=True, ge=-180, le=180, allow_inf_nan=False)]
TimeZone = Annotated[str, NotNull, AfterValidator(_timezone)]
Capacity = Annotated[int, NotNull, Field(strict=True, ge=1, le=MAX_CAPACITY)]
DayHours = Annotated[list[str] | None, AfterValidator(_day_hours)]
Id = Annotated[str, NotNull, AfterValidator(required_text(ID_MAX_LENGTH)), PrintableId]
ServiceName = Annotated[str, AfterValidator(required_text(SERVICE_MAX_LENGTH))]
StartTime = Annotated[datetime, BeforeValidator(_timestamp_string), AfterValidator(utc_in_range)]


class WeeklyHoursIn(CamelModel):
    """``{"mon": ["08:00", "18:00"], ..., "sun": null}``; a day left out is closed."""

    model_config = ConfigDict(extra="forbid")

    mon: DayHours = None
    tue: DayHours = None
    wed: DayHours = None
    thu: DayHours = None
    fri: DayHours = None
    sat: DayHours = None
    sun: DayHours = None

    def week(self) -> dict[str, list[str] | None]:
        """Every weekday with its hours (null when closed), as stored."""
        return complete_week(self.model_dump())


class LocationIn(CamelModel):
    """``POST /api/appointments/locations/``: only ``name`` is required (coordinates come
    together or not at all: checked by ``appointments.locations``)."""

    name: Name
    address: Address = None
    lat: Latitude | None = None
    lng: Longitude | None = None
    phone: Phone = None
    timezone: TimeZone = "UTC"
    hours: Annotated[WeeklyHoursIn | None, NotNull] = None
    capacity: Capacity = 1

    def fields(self) -> dict[str, Any]:
        """The attributes sent (and defaulted here); ``hours`` only when sent."""
        values = self.model_dump(by_alias=False, exclude={"hours"})
        if self.hours is not None:
            values["hours"] = self.hours.week()
        return values


class LocationPatch(CamelModel):
    """``PATCH /api/appointments/locations/{id}/``: only the fields sent change.

    ``address``, ``phone`` and the coordinates (together) may be set to ``null``; ``hours``
    replaces the whole week.
    """

    name: Name | None = None
    address: Address = None
    lat: Latitude | None = None
    lng: Longitude | None = None
    phone: Phone = None
    timezone: TimeZone | None = None
    hours: WeeklyHoursIn | None = None
    capacity: Capacity | None = None

    @field_validator("name", "timezone", "hours", "capacity", mode="before")
    @classmethod
    def _required_fields_not_null(cls, value: Any) -> Any:
        return not_null(value)

    def changes(self) -> dict[str, Any]:
        """The attributes the client sent, by attribute name."""
        values = self.model_dump(exclude_unset=True, by_alias=False, exclude={"hours"})
        if self.hours is not None:
            values["hours"] = self.hours.week()
        return values


class LocationOut(CamelModel):
    """The contract's ``location``."""

    id: str
    name: str
    address: str | None
    lat: float | None
    lng: float | None
    phone: str | None
    timezone: str
    hours: dict[str, list[str] | None]
    capacity: int
    created_at: UtcDateTime

    @classmethod
    def of(cls, location: Location) -> LocationOut:
        """The response body for ``location``."""
        return cls(id=location.id, name=location.name, address=location.address,
                   lat=location.lat, lng=location.lng, phone=location.phone,
                   timezone=location.timezone, hours=complete_week(location.hours),
                   capacity=location.capacity, created_at=location.created_at)


class BookingIn(CamelModel):
    """``POST /api/appointments/book/``."""

    vehicle_id: Id
    location_id: Id
    start_time: StartTime
    services: Annotated[list[ServiceName] | None, Field(max_length=MAX_SERVICES)] = None


class AppointmentOut(CamelModel):
    """The contract's ``appointment``: ``user``, ``vehicle`` and ``location`` are ids."""

    id: str
    user: str
    vehicle: str
    location: str
    start_time: UtcDateTime
    end_time: UtcDateTime
    services: list[str]
    status: str
    created_at: UtcDateTime

    @classmethod
    def of(cls, appointment: Appointment) -> AppointmentOut:
        """The response body for ``appointment``."""
        return cls(id=appointment.id, user=appointment.user_id,
                   vehicle=appointment.vehicle_id, location=appointment.location_id,
                   start_time=appointment.start_time, end_time=appointment.end_time,
                   services=list(appointment.services), status=appointment.status,
                   created_at=appointment.created_at)


class SlotOut(CamelModel):
    start: UtcDateTime
    end: UtcDateTime


class AvailabilityOut(CamelModel):
    """``{"availableSlots": [{start, end}]}``, 30-minute slots in time order."""

    available_slots: list[SlotOut]
