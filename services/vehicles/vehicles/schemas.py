"""Request and response bodies of the vehicles service (camelCase on the wire).

Every rule of CONTRACT.md's vehicles section lives here; a ``ValueError`` raised by
a validator becomes the message in the 400 field map (``{"vin": ["..."]}``).
Numbers are strict: ``"2020"`` or ``true`` for ``year`` is a 400, not a coercion.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator

from shared.schemas import (
    CamelModel,
    NotNull,
    PrintableId,
    UtcDateTime,
    not_null,
    optional_text,
    required_text,
)
from vehicles.models import Vehicle

VIN_LENGTH = 17
VIN_ALPHABET = frozenset("ABCDEFGHJKLMNPRSTUVWXYZ0123456789")  # no I, O, Q
OLDEST_MODEL_YEAR = 1900
FUEL_TYPES = ("gasoline", "diesel", "electric", "hybrid", "plugin_hybrid", "other")
CONNECTION_TYPES = ("BLE", "WIFI", "CLOUD")
MAKE_MODEL_MAX_LENGTH = 100
LICENSE_PLATE_MAX_LENGTH = 20
DONGLE_ID_MAX_LENGTH = 100



def newest_model_year(now: datetime | None = None) -> int:
    """The latest accepted ``year``: next calendar year + 1 (CONTRACT.md), in UTC."""
    return (now or datetime.now(UTC)).year + 2


def normalise_vin(value: str) -> str:
    """``value`` upper-cased, if it is a well-formed VIN; ``ValueError`` otherwise."""
    vin = value.strip().upper()
    if len(vin) != VIN_LENGTH:
        raise ValueError(f"Ensure this field has exactly {VIN_LENGTH} characters.")
    if not set(vin) <= VIN_ALPHABET:
        raise ValueError("A VIN contains only letters and digits, and never I, O or Q.")
    return vin


def _valid_year(value: int) -> int:
    newest = newest_model_year()
    if not OLDEST_MODEL_YEAR <= value <= newest:
        raise ValueError(f"Ensure this value is between {OLDEST_MODEL_YEAR} and {newest}.")
    return value


def _non_negative(value: float) -> float:
    if value < 0:
        raise ValueError("Ensure this value is greater than or equal to 0.")
    return value


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in choices:
            raise ValueError(f'"{value}" is not a valid choice: use one of {", ".join(choices)}.')
        return value

    return check


def _optional_choice(choices: tuple[str, ...]) -> Callable[[str | None], str | None]:
    required = _choice(choices)

    def check(value: str | None) -> str | None:
        return None if value is None else required(value)

    return check








Vin = Annotated[str, NotNull, AfterValidator(normalise_vin)]
Name = Annotated[str, NotNull, AfterValidator(required_text(MAKE_MODEL_MAX_LENGTH))]
OptionalName = Annotated[str | None, AfterValidator(optional_text(MAKE_MODEL_MAX_LENGTH))]
LicensePlate = Annotated[str | None, AfterValidator(optional_text(LICENSE_PLATE_MAX_LENGTH))]
Year = Annotated[int, NotNull, Field(strict=True), AfterValidator(_valid_year)]
Odometer = Annotated[float, NotNull, Field(strict=True, allow_inf_nan=False),
                     AfterValidator(_non_negative)]
FuelType = Annotated[str | None, AfterValidator(_optional_choice(FUEL_TYPES))]
DongleId = Annotated[str, NotNull, AfterValidator(required_text(DONGLE_ID_MAX_LENGTH)),
                     PrintableId]
ConnectionType = Annotated[str, NotNull, AfterValidator(_choice(CONNECTION_TYPES))]


class VehicleIn(CamelModel):
    """``POST /api/vehicles/``: ``vin``, ``make``, ``model``, ``year`` required."""

    vin: Vin
    make: Name
    model: Name
    year: Year
    trim: OptionalName = None
    license_plate: LicensePlate = None
    odometer: Odometer = 0.0
    fuel_type: FuelType = None


class VehiclePatch(CamelModel):
    """``PATCH /api/vehicles/{id}/``: only the fields sent change, validated as on create.

    ``trim``, ``licensePlate`` and ``fuelType`` may be set to ``null``; the other fields
    may not. The odometer may be corrected to any value >= 0 (only telemetry is bound
    to never lower it).
    """

    vin: Vin | None = None
    make: Name | None = None
    model: Name | None = None
    year: Year | None = None
    trim: OptionalName = None
    license_plate: LicensePlate = None
    odometer: Odometer | None = None
    fuel_type: FuelType = None

    @field_validator("vin", "make", "model", "year", "odometer", mode="before")
    @classmethod
    def _required_fields_not_null(cls, value: Any) -> Any:
        return not_null(value)

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, by attribute name."""
        return self.model_dump(exclude_unset=True, by_alias=False)


class DongleLinkIn(CamelModel):
    """``POST /api/vehicles/{id}/link-dongle/``."""

    dongle_id: DongleId
    connection_type: ConnectionType


class VehicleOut(CamelModel):
    """The contract's ``vehicle``; ``user`` is the owner's id."""

    id: str
    user: str
    vin: str
    make: str
    model: str
    trim: str | None
    year: int
    license_plate: str | None
    odometer: float
    dongle_id: str | None
    dongle_connection_type: str | None
    fuel_type: str | None
    created_at: UtcDateTime

    @classmethod
    def of(cls, vehicle: Vehicle) -> VehicleOut:
        """The response body for ``vehicle``."""
        return cls(id=vehicle.id, user=vehicle.user_id, vin=vehicle.vin, make=vehicle.make,
                   model=vehicle.model, trim=vehicle.trim, year=vehicle.year,
                   license_plate=vehicle.license_plate, odometer=vehicle.odometer,
                   dongle_id=vehicle.dongle_id,
                   dongle_connection_type=vehicle.dongle_connection_type,
                   fuel_type=vehicle.fuel_type, created_at=vehicle.created_at)
