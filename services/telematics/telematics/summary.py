"""A vehicle's summary and trips, computed from its samples.

Both stream the vehicle's samples once, in time order, through
:class:`telematics.trips.DriveAnalyzer` (one query per request). Computing at read time
rather than incrementally at ingest keeps the ingest path free of per-vehicle hot rows
(concurrent batches of one vehicle never contend), gives the right answer when batches
arrive out of order or from several processes at once, and lets the trip rules change
without a data migration. The cost is linear in the vehicle's history per read; an
incremental materialisation can come later if reads of very long histories need it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from telematics.ingest import active_dtcs
from telematics.queries import stream_readings
from telematics.trips import DriveAnalyzer, Trip


def ms_to_datetime(ms: int) -> datetime:
    """Epoch milliseconds as an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


async def analyze(session: AsyncSession, vehicle_id: str) -> DriveAnalyzer:
    """Stream the vehicle's samples through trip detection and the drive totals."""
    analyzer = DriveAnalyzer()
    async for reading in stream_readings(session, vehicle_id):
        analyzer.feed(reading)
    return analyzer.finish()


def trip_body(trip: Trip) -> dict[str, Any]:
    return {"startedAt": ms_to_datetime(trip.started_at), "endedAt": ms_to_datetime(trip.ended_at),
            "distance": round(trip.distance, 3), "avgSpeed": round(trip.avg_speed, 3),
            "maxSpeed": round(trip.max_speed, 3), "fuelUsed": round(trip.fuel_used, 3)}


async def vehicle_trips(session: AsyncSession, vehicle_id: str) -> list[dict[str, Any]]:
    """The vehicle's trips, oldest first (see :mod:`telematics.trips` for the rules)."""
    return [trip_body(trip) for trip in (await analyze(session, vehicle_id)).trips]


async def vehicle_summary(session: AsyncSession, vehicle_id: str) -> dict[str, Any]:
    """``{vehicleId, lastSeenAt, odometer, sampleCount, distance, avgSpeed, fuelUsed,
    activeDtcs, trips}``; a vehicle without samples gets zeros and nulls.

    - ``lastSeenAt``: the latest sample's ``t``; ``odometer``: the highest odometer
      sampled (an odometer never goes backwards), null when none was;
    - ``distance`` (km): the odometer span (max - min) when the samples carry at least
      two different odometer values, else speed integrated over time (sum of
      ``speed x interval`` until the next sample, intervals over 120 s skipped);
    - ``avgSpeed`` (km/h): the time-weighted mean speed while moving
      (speed-integrated distance / time with speed > 0);
    - ``fuelUsed`` (L): ``fuelRate`` (L/h) integrated over time the same way;
    - ``trips``: how many trips :mod:`telematics.trips` finds.
    """
    drive = await analyze(session, vehicle_id)
    span = drive.odometer_span
    return {
        "vehicleId": vehicle_id,
        "lastSeenAt": ms_to_datetime(drive.last_t) if drive.last_t is not None else None,
        "odometer": drive.max_odometer,
        "sampleCount": drive.sample_count,
        "distance": round(span if span is not None else drive.distance, 3),
        "avgSpeed": round(drive.avg_moving_speed, 3),
        "fuelUsed": round(drive.fuel_used, 3),
        "activeDtcs": await active_dtcs(session, vehicle_id),
        "trips": len(drive.trips),
    }
