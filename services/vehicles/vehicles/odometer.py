"""The odometer as telemetry moves it: forward only, applied once.

Telematics reports the highest odometer reading of each stored batch
(``telematics.batch.ingested``). The update is monotonic in SQL
(``... WHERE odometer < :reading``), so a redelivered, late or out-of-order batch can
never move the odometer back, whatever the consumer's own deduplication does.

An advance does **not** publish ``vehicle.updated``. Consumers of ``vehicle.*``
(telematics, appointments) keep only ownership (``vehicleId, userId, vin, dongleId``),
which an odometer reading never changes; publishing would add one event per uploaded
batch for nothing, and telematics would receive an echo of its own data.
"""

from __future__ import annotations

import math

from sqlmodel import col, update
from sqlmodel.ext.asyncio.session import AsyncSession

from vehicles.models import Vehicle


def odometer_reading(value: object) -> float | None:
    """``value`` as a usable odometer reading, or None (null, not a number, negative)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    reading = float(value)
    if not math.isfinite(reading) or reading < 0:
        return None
    return reading


async def advance_odometer(session: AsyncSession, vehicle_id: str, reading: float) -> bool:
    """Raise the vehicle's odometer to ``reading`` if that is higher; never lowers it.

    Returns whether it moved. An unknown (or deleted) vehicle matches no row: nothing
    happens. Runs in the caller's transaction; the caller commits.
    """
    statement = (update(Vehicle)
                 .where(col(Vehicle.id) == vehicle_id, col(Vehicle.odometer) < reading)
                 .values(odometer=reading))
    result = await session.exec(statement)
    return bool(result.rowcount)
