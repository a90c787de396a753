"""The platform's durable consumer queues and the event types bound to each.

Every service declares all of them when it connects to the broker, not only its own:
RabbitMQ drops a message that matches no queue, so an event published before its
consumer was ever deployed (a fresh broker, a consumer service rolled out after its
producer) would be confirmed and lost. Declared up front, it waits in the consumer's
queue instead.

This is the one list: a service whose consumers (``events.py`` ``CONSUMERS``) name a
queue or an event type that is not here refuses to start (``check_consumers``), so the
list cannot drift from what the services subscribe. Adding a consumer means adding its
queue here, in the same change. Only data lives here: queue names and routing keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

VEHICLE_EVENTS = ("vehicle.created", "vehicle.deleted", "vehicle.updated")

QUEUES: Mapping[str, tuple[str, ...]] = {
    "auth.referral-credited": ("referral.credited",),
    "vehicles.odometer": ("telematics.batch.ingested",),
    "telematics.vehicles": VEHICLE_EVENTS,
    "appointments.vehicles": VEHICLE_EVENTS,
    "engagement.users": ("user.registered",),
    "engagement.memberships": ("membership.activated", "membership.cancelled"),
    "engagement.locations": ("location.created", "location.updated"),
    "engagement.vehicles": VEHICLE_EVENTS,
}
"""queue -> the event types (routing keys) bound to it."""


def check_consumers(consumers: Mapping[str, Iterable[str]],
                    catalog: Mapping[str, tuple[str, ...]] = QUEUES) -> None:
    """Raise ``ValueError`` unless each queue in ``consumers`` (queue -> handled event
    types) is in ``catalog`` with exactly those event types."""
    for queue, types in consumers.items():
        if queue not in catalog:
            raise ValueError(f"consumer queue {queue!r} is not in the event catalogue "
                             "(shared/shared/events/catalog.py)")
        if sorted(types) != sorted(catalog[queue]):
            raise ValueError(f"consumer queue {queue!r} handles {sorted(types)}, the event "
                             f"catalogue binds {sorted(catalog[queue])}")
