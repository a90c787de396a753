"""The platform's services: the one list that everything else is built from or checked against.

- the gateway routes ``/api/<prefix>/`` and the WebSocket paths from it
  (``gateway.routing``), and has an ``UPSTREAM_<NAME>`` setting per entry
  (``gateway/tests/test_catalog.py`` checks);
- both launchers start every entry (``launcher.catalog``);
- ``docker-compose.yml`` (``tests-compose/test_compose_catalog.py``) and the Kubernetes
  base (``deploy/tests/test_k8s_catalog.py``) must have each entry, with its peers' URLs,
  and NetworkPolicies that let it reach exactly those peers.

Adding a service is one entry here plus its folder (``docs/adding-a-service.md``); the tests
above then say what else is missing. Only data lives here: it is imported by the gateway
and every service, none of which may import another's code.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.events.catalog import QUEUES

GATEWAY_PORT = 8000


@dataclass(frozen=True)
class ServiceEntry:
    """A deployable service of the platform."""

    name: str
    port: int  # where `make up` serves it; in a container every service listens on 8000
    api_prefixes: tuple[str, ...]  # /api/<prefix>/... is this service's
    publishes: tuple[str, ...]  # event types it stages in its outbox or broadcasts
    peers: tuple[str, ...] = ()  # services it calls over HTTP (<PEER>_URL), besides auth's JWKS
    websocket_paths: tuple[str, ...] = ()

    @property
    def factory(self) -> str:
        """``module:function`` of its ASGI app factory, as uvicorn's ``--factory`` takes it."""
        return f"{self.name}.app:create_app"

    @property
    def settings(self) -> str:
        """``module:Class`` of its settings."""
        return f"{self.name}.settings:{self.name.capitalize()}Settings"

    @property
    def consumes(self) -> dict[str, tuple[str, ...]]:
        """Its queues in the event catalogue (named ``<service>.<purpose>``), with their types."""
        return {queue: types for queue, types in QUEUES.items()
                if queue.split(".", 1)[0] == self.name}


SERVICES: tuple[ServiceEntry, ...] = (
    ServiceEntry("auth", 8001, ("auth", "memberships"),
                 publishes=("user.registered", "membership.activated", "membership.cancelled")),
    ServiceEntry("vehicles", 8002, ("vehicles",),
                 publishes=("vehicle.created", "vehicle.updated", "vehicle.deleted")),
    ServiceEntry("telematics", 8003, ("telematics",),
                 publishes=("telematics.batch.ingested", "telematics.alert"),
                 peers=("vehicles",)),
    ServiceEntry("appointments", 8004, ("appointments",),
                 publishes=("appointment.booked", "appointment.cancelled", "location.created",
                            "location.updated"),
                 peers=("vehicles",)),
    ServiceEntry("engagement", 8005, ("offers", "referrals"),
                 publishes=("referral.credited",), peers=("auth", "vehicles")),
    ServiceEntry("files", 8007, ("files",), publishes=()),
    ServiceEntry("chat", 8006, ("chat",), publishes=("chat.message.created", "chat.typing"),
                 peers=("files",), websocket_paths=("/chat/ws",)),
)
"""In an order where a service's peers come before it: the embedded launcher builds them so."""

NAMES: tuple[str, ...] = tuple(service.name for service in SERVICES)


def entry(name: str) -> ServiceEntry:
    """The entry of service ``name`` (``KeyError`` if there is none)."""
    for service in SERVICES:
        if service.name == name:
            return service
    raise KeyError(name)
