"""Events of the appointments service.

Consumed (queue ``appointments.vehicles``): ``vehicle.created``, ``vehicle.updated``,
``vehicle.deleted`` with data ``{vehicleId, userId, vin, dongleId}`` feed the ownership
projection (``shared.vehicle_ownership``): a booking names the caller's own vehicle.

Published through the outbox, in the transaction of the change:

- ``location.created`` / ``location.updated`` ``{locationId, lat, lng, name}``
  (``appointments.locations``);
- ``appointment.booked`` / ``appointment.cancelled`` ``{appointmentId, userId, vehicleId,
  locationId, startTime}`` (``appointments.booking``).
"""

from __future__ import annotations

from typing import Any

from appointments.models import Appointment, Location, vehicle_owners
from shared.schemas import iso_z

CONSUMERS = {"appointments.vehicles": vehicle_owners.handlers}


def location_event(location: Location) -> dict[str, Any]:
    """The data of ``location.*``: what offers need to place a location."""
    return {"locationId": location.id, "lat": location.lat, "lng": location.lng,
            "name": location.name}


def appointment_event(appointment: Appointment) -> dict[str, Any]:
    """The data of ``appointment.*``."""
    return {"appointmentId": appointment.id, "userId": appointment.user_id,
            "vehicleId": appointment.vehicle_id, "locationId": appointment.location_id,
            "startTime": iso_z(appointment.start_time)}
