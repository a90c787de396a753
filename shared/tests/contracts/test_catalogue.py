"""The event catalogue agrees with the service and queue catalogues, and its AsyncAPI
document is well formed."""

from __future__ import annotations

from typing import Any

import pytest

from shared.catalog import SERVICES
from shared.contracts import CONTRACTS, PRODUCERS, ContractViolation
from shared.contracts.asyncapi import document
from shared.contracts.auth import UserRegisteredV1
from shared.events import Event
from shared.events.catalog import QUEUES


def test_every_published_type_has_a_contract_in_its_producers_module() -> None:
    for service in SERVICES:
        module = PRODUCERS.get(service.name)
        modelled = {c.TYPE for c in module.CONTRACTS} if module else set()
        assert modelled == set(service.publishes), service.name


def test_every_contract_is_published_by_exactly_one_service() -> None:
    for contract in CONTRACTS:
        publishers = [s.name for s in SERVICES if contract.TYPE in s.publishes]
        assert len(publishers) == 1, (contract.TYPE, publishers)


def test_every_consumed_type_has_a_contract() -> None:
    consumed = {t for types in QUEUES.values() for t in types}
    assert consumed <= CONTRACTS.types


def test_a_producers_payload_is_the_json_it_always_was() -> None:
    registered = UserRegisteredV1(user_id="u1", email="a@example.com", name="A",
                                  referral_code="CODE0001", referred_by_code=None)
    assert registered.data() == {"userId": "u1", "email": "a@example.com", "name": "A",
                                 "referralCode": "CODE0001", "referredByCode": None}


@pytest.mark.parametrize(("version", "data", "reason"), [
    (2, {}, "unknown major version 2 of user.registered (known: [1])"),
    (1, {"userId": "u1"}, "user.registered v1: email: Field required;"),
])
def test_the_registry_names_what_is_wrong(version: int, data: dict[str, Any],
                                          reason: str) -> None:
    with pytest.raises(ContractViolation) as raised:
        CONTRACTS.parse(Event.new("user.registered", "auth", data, version=version))
    assert str(raised.value).startswith(reason)


def test_the_asyncapi_document_has_the_shape_of_asyncapi_3() -> None:
    doc = document()
    assert doc["asyncapi"] == "3.0.0"
    assert {"title", "version"} <= set(doc["info"])
    published = {t for service in SERVICES for t in service.publishes}
    assert len(doc["channels"]) == len(published)
    assert {c["address"] for c in doc["channels"].values()} == published
    assert set(doc["components"]["messages"]) == {c.__name__ for c in CONTRACTS}
    for operation in doc["operations"].values():
        assert operation["action"] in ("send", "receive")
        assert {"channel", "messages"} <= set(operation)
    sends = {_target(doc, op["channel"])["address"] for op in doc["operations"].values()
             if op["action"] == "send"}
    assert sends == published
    receives = sum(op["action"] == "receive" for op in doc["operations"].values())
    assert receives == sum(len(types) for types in QUEUES.values())
    for ref in _refs(doc):
        _target(doc, {"$ref": ref})  # every reference resolves


def _target(doc: dict[str, Any], ref: dict[str, str]) -> Any:
    node: Any = doc
    for part in ref["$ref"].removeprefix("#/").split("/"):
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []
