"""Events of the telematics service.

Consumed (queue ``telematics.vehicles``): ``vehicle.created``, ``vehicle.updated``,
``vehicle.deleted`` with data ``{vehicleId, userId, vin, dongleId}`` feed the ownership
projection (``shared.projections.vehicle_owners``).

Published through the outbox by ``telematics.ingest``, in the batch's transaction:

- ``telematics.batch.ingested`` ``{vehicleId, batchId, samples, maxOdometer,
  endTimestamp}`` for every newly stored batch (never for a re-sent one);
- ``telematics.alert`` ``{vehicleId, userId, dtcs}`` when a batch's ``dtcList`` holds
  codes that were not active on the vehicle before.
"""

from __future__ import annotations

from telematics.models import vehicle_owners

CONSUMERS = {"telematics.vehicles": vehicle_owners.handlers}
