"""Telematics service settings (environment variables, embedded-mode defaults)."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class TelematicsSettings(ServiceSettings):
    """Everything the telematics service reads from its environment."""

    service_name: str = "telematics"
    vehicles_url: str = Field(
        default="http://127.0.0.1:8002",
        description="The vehicles service, asked once when a vehicle is not in the projection")
    vehicles_timeout_seconds: float = Field(
        default=2.0, description="Timeout of that ownership fallback call")
    max_body_bytes_telemetry: int = Field(
        default=8 * 1024 * 1024, description="Largest accepted upload body (413 above)")
    max_samples_per_batch: int = 10_000
    samples_page_default: int = 1000
    samples_page_max: int = 5000
