"""Events the telematics service publishes."""

from __future__ import annotations

from typing import ClassVar

from shared.contracts.base import EventContract


class BatchIngestedV1(EventContract):
    """A new batch of samples was stored (never sent again for a re-sent batch).

    ``maxOdometer`` is the highest reading in the batch as sent (an integer stays one),
    null when no sample had one; ``endTimestamp`` is epoch milliseconds.
    """

    TYPE: ClassVar[str] = "telematics.batch.ingested"
    vehicle_id: str
    batch_id: str
    samples: int
    max_odometer: int | float | None
    end_timestamp: int


class AlertV1(EventContract):
    """A batch reported trouble codes that were not active on the vehicle before."""

    TYPE: ClassVar[str] = "telematics.alert"
    vehicle_id: str
    user_id: str
    dtcs: list[str]


CONTRACTS = (BatchIngestedV1, AlertV1)
