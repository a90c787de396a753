"""Events the vehicles service publishes: every ``vehicle.*`` carries the same data,
what other services need for their ownership projection."""

from __future__ import annotations

from typing import ClassVar

from shared.contracts.base import EventContract


class VehicleContract(EventContract):
    """What every ``vehicle.*`` event carries (not an event type itself)."""

    vehicle_id: str
    user_id: str
    vin: str
    dongle_id: str | None


class VehicleCreatedV1(VehicleContract):
    """A vehicle was added to a user's garage."""

    TYPE: ClassVar[str] = "vehicle.created"


class VehicleUpdatedV1(VehicleContract):
    """A vehicle was edited, or a dongle linked to or unlinked from it."""

    TYPE: ClassVar[str] = "vehicle.updated"


class VehicleDeletedV1(VehicleContract):
    """A vehicle was deleted; its id is never reused."""

    TYPE: ClassVar[str] = "vehicle.deleted"


CONTRACTS = (VehicleCreatedV1, VehicleUpdatedV1, VehicleDeletedV1)
