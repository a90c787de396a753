"""Topic-exchange routing-key matching with RabbitMQ's semantics."""

from __future__ import annotations

from functools import lru_cache


def topic_matches(pattern: str, routing_key: str) -> bool:
    """Whether binding ``pattern`` routes ``routing_key``.

    Words are separated by dots; ``*`` matches exactly one word and ``#`` zero or more,
    so ``vehicle.*`` matches ``vehicle.created`` but not ``vehicle`` or ``vehicle.a.b``,
    and ``telematics.#`` matches ``telematics`` and ``telematics.batch.ingested``.
    """
    return _match(tuple(pattern.split(".")), tuple(routing_key.split(".")))


@lru_cache(maxsize=4096)
def _match(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    # Cached because the same few bindings are checked against the same few event types
    # on every publish.
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        # "#" swallows zero words, or one word and stays in place to swallow more.
        return _match(rest, words) or (bool(words) and _match(pattern, words[1:]))
    if not words:
        return False
    if head == "*" or head == words[0]:
        return _match(rest, words[1:])
    return False
