"""Request and response bodies of the telematics service (camelCase on the wire).

The upload body is validated by :mod:`telematics.batches` with a plain loop (10,000
samples through Pydantic cost several times more); :class:`BatchIn` documents it in
the OpenAPI schema.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from shared.schemas import CamelModel, UtcDateTime


class SampleIn(CamelModel):
    """One OBD-II reading; unknown keys are kept and returned by ``/samples/``."""

    model_config = ConfigDict(extra="allow")

    t: int = Field(description="epoch milliseconds")
    speed: float | None = Field(default=None, description="km/h")
    fuel_rate: float | None = Field(default=None, description="L/h")
    odometer: float | None = Field(default=None, description="km")
    rpm: float | None = None
    coolant_temp: float | None = Field(default=None, description="degrees C")


class BatchIn(CamelModel):
    vehicle_id: str
    start_timestamp: int = Field(description="epoch milliseconds")
    end_timestamp: int = Field(description="epoch milliseconds")
    samples: list[SampleIn] = Field(max_length=10_000)
    dtc_list: list[str] | None = None


class BatchAccepted(CamelModel):
    message: str = "Telemetry batch accepted"
    batch_id: str
    accepted: int


class SamplesPage(CamelModel):
    samples: list[dict[str, Any]]
    next: str | None


class TripOut(CamelModel):
    started_at: UtcDateTime
    ended_at: UtcDateTime
    distance: float
    avg_speed: float
    max_speed: float
    fuel_used: float


class SummaryOut(CamelModel):
    vehicle_id: str
    last_seen_at: UtcDateTime | None
    odometer: float | None
    sample_count: int
    distance: float
    avg_speed: float
    fuel_used: float
    active_dtcs: list[str]
    trips: int
