"""Appointments service settings (environment variables, embedded-mode defaults)."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings


class AppointmentsSettings(ServiceSettings):
    """Everything the appointments service reads from its environment."""

    service_name: str = "appointments"
    vehicles_url: str = Field(
        default="http://127.0.0.1:8002",
        description="The vehicles service, asked once when a vehicle is not in the projection")
    peer_timeout_seconds: float = Field(
        default=2.0, description="Timeout of that ownership fallback call")
