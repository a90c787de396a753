"""Which services exist, how to build each, and where each listens in local mode.

Adding a service to the platform means adding one line here (and its package
to ``launcher/pyproject.toml``); both run modes read this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSpec:
    """A deployable service: its name, its app factory and its local port."""

    name: str
    factory: str  # "module:function", as uvicorn's --factory takes it
    settings: str  # "module:Class" of its settings
    port: int


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("auth", "auth.app:create_app", "auth.settings:AuthSettings", 8001),
    ServiceSpec("vehicles", "vehicles.app:create_app", "vehicles.settings:VehiclesSettings", 8002),
    ServiceSpec("telematics", "telematics.app:create_app",
                "telematics.settings:TelematicsSettings", 8003),
    ServiceSpec("appointments", "appointments.app:create_app",
                "appointments.settings:AppointmentsSettings", 8004),
    ServiceSpec("engagement", "engagement.app:create_app",
                "engagement.settings:EngagementSettings", 8005),
    ServiceSpec("files", "files.app:create_app", "files.settings:FilesSettings", 8007),
    ServiceSpec("chat", "chat.app:create_app", "chat.settings:ChatSettings", 8006),
)

GATEWAY_FACTORY = "gateway.app:create_app"
GATEWAY_PORT = 8000


def load(path: str) -> object:
    """Import ``module:attribute``."""
    import importlib

    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)
