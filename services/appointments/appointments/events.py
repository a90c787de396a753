"""Events of the appointments service.

Consumed (queue ``appointments.vehicles``): ``vehicle.created``, ``vehicle.updated``,
``vehicle.deleted`` with data ``{vehicleId, userId, vin, dongleId}`` feed the ownership
projection (``shared.projections.vehicle_owners``): a booking names the caller's own vehicle.

Published through the outbox, in the transaction of the change (contracts in
``shared.contracts.appointments``):

- ``location.created`` / ``location.updated`` ``{locationId, lat, lng, name}``
  (``appointments.locations``);
- ``appointment.booked`` / ``appointment.cancelled`` ``{appointmentId, userId, vehicleId,
  locationId, startTime}`` (``appointments.booking``).
"""

from __future__ import annotations

from appointments.models import Appointment, Location, vehicle_owners
from shared.contracts.appointments import AppointmentContract, LocationContract
from shared.schemas import iso_z

CONSUMERS = {"appointments.vehicles": vehicle_owners.handlers}


def location_event(contract: type[LocationContract], location: Location) -> LocationContract:
    """``location.*`` (``contract``) of ``location``: what offers need to place it."""
    return contract(location_id=location.id, lat=location.lat, lng=location.lng,
                    name=location.name)


def appointment_event(contract: type[AppointmentContract],
                      appointment: Appointment) -> AppointmentContract:
    """``appointment.*`` (``contract``) of ``appointment``."""
    return contract(appointment_id=appointment.id, user_id=appointment.user_id,
                    vehicle_id=appointment.vehicle_id, location_id=appointment.location_id,
                    start_time=iso_z(appointment.start_time))
