"""Events the appointments service publishes."""

from __future__ import annotations

from typing import ClassVar

from shared.contracts.base import EventContract


class LocationContract(EventContract):
    """What every ``location.*`` event carries (not an event type itself)."""

    location_id: str
    lat: float | None
    lng: float | None
    name: str


class LocationCreatedV1(LocationContract):
    """A service location was added (what offers need to place it)."""

    TYPE: ClassVar[str] = "location.created"


class LocationUpdatedV1(LocationContract):
    """A service location's name or coordinates changed."""

    TYPE: ClassVar[str] = "location.updated"


class AppointmentContract(EventContract):
    """What every ``appointment.*`` event carries (not an event type itself)."""

    appointment_id: str
    user_id: str
    vehicle_id: str
    location_id: str
    start_time: str  # ISO 8601 UTC with a trailing Z


class AppointmentBookedV1(AppointmentContract):
    """A user booked a slot for a vehicle at a location."""

    TYPE: ClassVar[str] = "appointment.booked"


class AppointmentCancelledV1(AppointmentContract):
    """A booked appointment was cancelled."""

    TYPE: ClassVar[str] = "appointment.cancelled"


CONTRACTS = (LocationCreatedV1, LocationUpdatedV1, AppointmentBookedV1,
             AppointmentCancelledV1)
