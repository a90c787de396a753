"""What every event contract is, and the registry that resolves one from an envelope.

A contract is the ``data`` of one event type at one major version: a Pydantic model whose
camelCase JSON is exactly what its producer publishes. Producers build payloads only from
these models (``Outbox.add``) and consumers parse them with the same models
(``IdempotentConsumer``), so a renamed field fails a build, not a consumer in production.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, Protocol, Self

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel


def routing_key(event_type: str, version: int) -> str:
    """Where an event of ``event_type`` at major ``version`` travels: the type itself for
    version 1, ``<type>.v<version>`` past it. While a producer publishes two majors for a
    transition, a consumer bound to one never receives the other's copy (on the topic
    exchange ``user.registered`` does not match ``user.registered.v2``)."""
    return event_type if version == 1 else f"{event_type}.v{version}"


class ContractViolation(ValueError):
    """An event no contract accepts: an unknown type or major version, or data that does
    not validate. Retrying cannot fix it, so the consumer dead-letters it at once."""


class _Envelope(Protocol):
    """The part of ``shared.events.Event`` a contract reads (contracts import no bus code)."""

    @property
    def type(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def payload(self) -> Any: ...


class EventContract(BaseModel):
    """The data of event ``TYPE`` at major version ``VERSION``.

    Unknown fields are ignored when parsing (a producer may add optional fields without
    breaking anyone); every field a producer sends today is required, nullable where it
    may be null, so its absence is a violation rather than a silent default.
    """

    # Strict: ``true`` is not the number 1 nor ``"5"`` the number 5 to a consumer.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True,
                              strict=True)

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    @classmethod
    def routing_key(cls) -> str:
        return routing_key(cls.TYPE, cls.VERSION)

    def data(self) -> dict[str, Any]:
        """The JSON ``data`` of the envelope (camelCase keys)."""
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def of(cls, event: _Envelope) -> Self:
        """The typed data of ``event``: the one its consumer already parsed, or parsed now."""
        if isinstance(event.payload, cls):
            return event.payload
        try:
            return cls.model_validate(event.data)
        except ValidationError as exc:
            raise ContractViolation(f"{event.type} v{event.version}: {_brief(exc)}") from exc


class Registry:
    """(event type, major version) -> contract."""

    def __init__(self, contracts: Iterable[type[EventContract]]) -> None:
        self._contracts: dict[tuple[str, int], type[EventContract]] = {}
        for contract in contracts:
            key = (contract.TYPE, contract.VERSION)
            if key in self._contracts:
                raise ValueError(f"two contracts for {key[0]} v{key[1]}")
            self._contracts[key] = contract

    def __iter__(self) -> Iterator[type[EventContract]]:
        return iter(sorted(self._contracts.values(), key=lambda c: (c.TYPE, c.VERSION)))

    @property
    def types(self) -> frozenset[str]:
        """Every event type with at least one contract."""
        return frozenset(type_ for type_, _ in self._contracts)

    @property
    def routing_keys(self) -> frozenset[str]:
        """The routing key of every contract: what a consumer may bind and handle."""
        return frozenset(contract.routing_key() for contract in self._contracts.values())

    def type_of(self, key: str) -> str:
        """The event type that routing ``key`` carries (``KeyError`` if no contract has it)."""
        for contract in self._contracts.values():
            if contract.routing_key() == key:
                return contract.TYPE
        raise KeyError(key)

    def resolve(self, type: str, version: int) -> type[EventContract]:
        """The contract of ``type`` v``version``; ``ContractViolation`` when there is none."""
        contract = self._contracts.get((type, version))
        if contract is None:
            known = sorted(v for t, v in self._contracts if t == type)
            raise ContractViolation(
                f"unknown major version {version} of {type} (known: {known})" if known
                else f"unknown event type {type}")
        return contract

    def parse(self, event: _Envelope) -> EventContract:
        """The data of ``event`` parsed by its contract; ``ContractViolation`` if it fails."""
        return self.resolve(event.type, event.version).of(event)

    def by_type(self) -> Mapping[str, list[type[EventContract]]]:
        """Event type -> its contracts, oldest version first."""
        grouped: dict[str, list[type[EventContract]]] = {}
        for contract in self:
            grouped.setdefault(contract.TYPE, []).append(contract)
        return grouped


def _brief(exc: ValidationError) -> str:
    """``field: message`` for each error, on one line (the DLQ shows it)."""
    return "; ".join(f"{'.'.join(str(p) for p in error['loc']) or '(data)'}: {error['msg']}"
                     for error in exc.errors())
