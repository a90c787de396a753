"""Vehicles service settings (environment variables, embedded-mode defaults)."""

from __future__ import annotations

from shared.settings import ServiceSettings


class VehiclesSettings(ServiceSettings):
    """Everything the vehicles service reads from its environment.

    It needs nothing beyond the common settings (database, broker, JWKS URL, logging).
    """

    service_name: str = "vehicles"
