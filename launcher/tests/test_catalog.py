"""The service catalogue (shared.catalog) against the services' own code.

Each check returns what disagrees, so a test can show it fails when the code and the
catalogue drift apart, not only that they agree today.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from dataclasses import replace
from pathlib import Path

from launcher.catalog import SERVICES, load
from shared.catalog import NAMES, ServiceEntry
from shared.contracts import CONTRACTS
from shared.events.catalog import QUEUES

ROOT = Path(__file__).resolve().parents[2]


def code_problems(services: tuple[ServiceEntry, ...] = SERVICES) -> list[str]:
    """Where an entry's factory, settings, peers or consumer queues are not the code's."""
    names = {s.name for s in services}
    problems: list[str] = []
    for position, service in enumerate(services):
        load(service.factory)
        settings = load(service.settings)
        fields = settings.model_fields  # type: ignore[attr-defined]
        if fields["service_name"].default != service.name:
            problems.append(f"{service.name}: its settings say {fields['service_name'].default}")
        urls = {name.removesuffix("_url") for name in fields if name.endswith("_url")}
        if urls & names != set(service.peers):
            problems.append(f"{service.name}: peer URL settings {sorted(urls & names)}, "
                            f"catalogue peers {sorted(service.peers)}")
        earlier = {s.name for s in services[:position]}
        problems += [f"{service.name}: peer {peer} is not listed before it"
                     for peer in service.peers if peer not in earlier]
        events = f"{service.name}.events"  # a service that consumes nothing may have none
        consumers = (getattr(importlib.import_module(events), "CONSUMERS", {})
                     if importlib.util.find_spec(events) else {})
        if set(consumers) != set(service.consumes):
            problems.append(f"{service.name}: consumes {sorted(consumers)}, the catalogue "
                            f"says {sorted(service.consumes)}")
    return problems


def event_problems(services: tuple[ServiceEntry, ...] = SERVICES) -> list[str]:
    """Event types consumed that nobody publishes, and publishers that do not publish."""
    published = [t for s in services for t in s.publishes]
    problems = [f"{t} is published by {published.count(t)} services" for t in set(published)
                if published.count(t) > 1]
    bound = {t for types in QUEUES.values() for t in types}
    problems += [f"{t} is consumed but published by no service" for t in sorted(bound)
                 if t not in published]
    for service in services:
        source = "\n".join(p.read_text() for p in
                           (ROOT / "services" / service.name / service.name).rglob("*.py"))
        # A service stages an event through its contract, so the model's name is in it.
        problems += [f"{service.name} never names {t}" for t in service.publishes
                     if not any(re.search(rf"\b{c.__name__}\b", source)
                                for c in CONTRACTS.by_type().get(t, ()))]
    return problems


def test_every_entry_matches_its_service() -> None:
    assert code_problems() == []


def test_every_event_has_one_publisher_and_every_consumed_one_has_a_publisher() -> None:
    assert event_problems() == []


def test_the_queues_of_the_event_catalogue_all_belong_to_a_service() -> None:
    assert {queue.split(".", 1)[0] for queue in QUEUES} <= set(NAMES)


def test_drift_is_reported() -> None:
    catalogue = {s.name: s for s in SERVICES}
    wrong_peers = replace(catalogue["telematics"], peers=())
    no_files = tuple(s for s in SERVICES if s.name != "files")
    problems = code_problems((*[s for s in SERVICES if s.name != "telematics"], wrong_peers))
    assert "telematics: peer URL settings ['vehicles'], catalogue peers []" in problems
    assert "chat: peer files is not listed before it" in code_problems(no_files)
    silent = replace(catalogue["vehicles"], publishes=("vehicle.created", "vehicle.updated"))
    assert "vehicle.deleted is consumed but published by no service" in event_problems(
        tuple(silent if s.name == "vehicles" else s for s in SERVICES))
