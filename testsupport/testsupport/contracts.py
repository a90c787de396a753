"""Consumer-driven contract checks: a consumer lists the payloads it relies on, as its
producers send them, and what its handlers read from each; these hold the list to the
producers' models (``shared.contracts``), so a producer change that breaks a consumer fails
in the consumer's own tests."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from shared.contracts import CONTRACTS
from shared.events import Event
from shared.events.catalog import QUEUES

# (event type, producer, payload as sent, what the handler reads: attribute -> value)
Relied = tuple[str, str, dict[str, Any], dict[str, Any]]


def broken_expectations(relied_on: list[Relied]) -> list[str]:
    """Each payload the producer's model refuses, or reads differently from the consumer."""
    problems = []
    for type_, producer, data, reads in relied_on:
        try:
            parsed = CONTRACTS.parse(Event.new(type_, producer, data))
        except (ValidationError, LookupError, ValueError) as exc:
            problems.append(f"{type_}: {data} refused: {exc}")
            continue
        got = {field: getattr(parsed, field, "<missing>") for field in reads}
        if got != reads:
            problems.append(f"{type_}: reads {got}, the consumer relies on {reads}")
    return problems


def uncovered(service: str, relied_on: list[Relied]) -> set[str]:
    """The event types ``service`` consumes (its queues in the event catalogue) that the list
    has no payload for, and the types it lists without consuming them."""
    consumed = {t for queue, types in QUEUES.items() if queue.split(".", 1)[0] == service
                for t in types}
    return consumed ^ {relied[0] for relied in relied_on}
