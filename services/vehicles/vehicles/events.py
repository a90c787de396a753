"""Events the vehicles service consumes.

It publishes ``vehicle.created``, ``vehicle.updated`` (PATCH, link and unlink of a
dongle) and ``vehicle.deleted`` from :mod:`vehicles.garage` through the outbox, each
with ``{vehicleId, userId, vin, dongleId}``. An odometer advance from telemetry
publishes nothing (see :mod:`vehicles.odometer` for why).
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.contracts.telematics import BatchIngestedV1
from shared.events import Event
from vehicles.odometer import advance_odometer, odometer_reading


async def on_batch_ingested(session: AsyncSession, event: Event) -> None:
    """``telematics.batch.ingested``: move the vehicle's odometer forward to ``maxOdometer``.

    A batch without an odometer reading (``maxOdometer`` null) or for a vehicle this
    service does not know (deleted meanwhile) changes nothing. Data that breaks the
    contract never gets here: the consumer dead-letters it.
    """
    batch = BatchIngestedV1.of(event)
    reading = odometer_reading(batch.max_odometer)
    if reading is None:
        return
    await advance_odometer(session, batch.vehicle_id, reading)


CONSUMERS = {"vehicles.odometer": {"telematics.batch.ingested": on_batch_ingested}}
