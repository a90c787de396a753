"""The platform's event contracts: one module per producing service, pure schemas.

``CONTRACTS`` resolves (event type, major version) to the model of its ``data``. A
service imports the models of the events it publishes or consumes from here, read-only;
the producer's module is the one place a payload is defined. ``asyncapi`` renders the
catalogue as an AsyncAPI 3 document and ``snapshot`` guards it (and every service's
OpenAPI) against breaking changes.
"""

from shared.contracts import appointments, auth, chat, engagement, telematics, vehicles
from shared.contracts.base import ContractViolation, EventContract, Registry, routing_key

PRODUCERS = {"auth": auth, "vehicles": vehicles, "telematics": telematics,
             "appointments": appointments, "engagement": engagement, "chat": chat}
"""Service name -> its contracts module (every module lists its models in ``CONTRACTS``)."""

CONTRACTS = Registry(model for module in PRODUCERS.values() for model in module.CONTRACTS)

__all__ = ["CONTRACTS", "PRODUCERS", "ContractViolation", "EventContract", "Registry",
           "routing_key"]
