"""What makes a JSON body unacceptable whatever the route, found without parsing it.

CONTRACT.md ("Errors") refuses with 400, before any schema is looked at:

- nesting deeper than :data:`MAX_DEPTH` arrays/objects: Python's ``json`` recurses once
  per level and raises ``RecursionError`` (a 500) near a thousand;
- a NUL character or an unpaired UTF-16 surrogate in a string (``\\u0000``, ``\\ud800``):
  PostgreSQL refuses NUL in text, and no UTF-8 store can hold a lone surrogate;
- bytes that are not UTF-8 (RFC 8259 8.1), encoded surrogates included, and the
  ``NaN``/``Infinity`` that are not JSON: ``json.loads`` lets both through, and a
  non-finite number stored is a 500 when it is read back (no JSON can carry it).

:func:`problem` finds them with C-speed passes over the raw bytes (``count``, ``in``,
``replace``, ``translate``), so that the one real parse stays the route's: on a
100-sample telemetry batch it costs about a fifth of ``json.loads``, on a small body
about a microsecond (three scans: fewer brackets than the limit, no backslash, ASCII).
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64
"""Deepest nesting of arrays/objects a body may have (the top level counts as 1)."""

MALFORMED = "Malformed JSON body."
TOO_DEEP = f"JSON body nested deeper than {MAX_DEPTH} levels."
NOT_UTF8 = "JSON body must be encoded as UTF-8."
UNSTORABLE = "JSON strings may not contain NUL characters or unpaired surrogates."

_NOT_UTF8_STARTS = (b"\x00", b"\xfe", b"\xff")  # UTF-16/32: a zero byte or a BOM first
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_ONE_BRACKET_KIND = bytes.maketrans(b"{}", b"[]")  # only the depth matters here
_TOO_MANY_OPENERS = b"[" * (MAX_DEPTH + 1)
_STRING = re.compile(rb'"[^"]*"')
_NOT_JSON_NUMBER = re.compile(rb"NaN|Infinity")  # searched outside strings
# NUL or a surrogate as a \u escape; searched once escaped backslashes are neutralised, so
# that every backslash left starts an escape.
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


class InvalidJson(ValueError):
    """A body to refuse with 400; the message is for the client."""


def problem(body: bytes) -> str | None:
    """Why ``body`` must be refused with 400 whatever the route, or None.

    Other malformed JSON passes: the parser refuses it (:data:`MALFORMED`).
    """
    if not body:
        return None
    if body[:1] in _NOT_UTF8_STARTS or body[1:2] == b"\x00":  # json.detect_encoding's test
        return NOT_UTF8
    if not body.isascii():
        try:
            body.decode("utf-8")  # strict, unlike json.loads: encoded surrogates fail too
        except UnicodeDecodeError:
            return NOT_UTF8
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH:
        depth_problem = _depth_problem(body)
        if depth_problem is not None:
            return depth_problem
    if b"\\" in body and _has_unstorable_escape(body):
        return UNSTORABLE
    if (b"NaN" in body or b"Infinity" in body) and _NOT_JSON_NUMBER.search(
            _STRING.sub(b"", _without_escaped_quotes(body))):
        return MALFORMED
    return None


def loads(raw: bytes | str) -> Any:
    """Parse JSON that no request guard has checked (the gateway's login body, a socket
    frame); :class:`InvalidJson` when it has a :func:`problem` or is not JSON."""
    body = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    found = problem(body)
    if found is not None:
        raise InvalidJson(found)
    try:
        return json.loads(body)
    except ValueError as exc:  # JSONDecodeError
        raise InvalidJson(MALFORMED) from exc


def _neutralise_escaped_backslashes(body: bytes) -> bytes:
    # Left to right, as a JSON string is read: of a run of backslashes each pair becomes
    # two inert bytes (offsets and adjacency stay as they were), and an odd one out is
    # left in front of the character it escapes.
    return body.replace(b"\\\\", b"__")


def _without_escaped_quotes(body: bytes) -> bytes:
    """``body`` in which every ``"`` left starts or ends a string."""
    if b"\\" not in body:
        return body
    return _neutralise_escaped_backslashes(body).replace(b'\\"', b"")


def _depth_problem(body: bytes) -> str | None:
    """Deeper than :data:`MAX_DEPTH`, or brackets that cannot balance (malformed, but
    refused here: the parser would recurse into them before it found out)."""
    structure = _without_escaped_quotes(body).translate(None, _NOT_STRUCTURE)
    # Only quotes and brackets are left, and a string is a quoted run of brackets, most
    # often an empty one. Removing "" either drops an empty string or joins two adjacent
    # ones: both leave the brackets outside strings as they were, and cost no regex.
    structure = structure.replace(b'""', b"")
    if b'"' in structure:
        structure = _STRING.sub(b"", structure)
    brackets = structure.translate(_ONE_BRACKET_KIND)
    # Each pass removes the innermost (empty) pairs: one level of nesting. A run of more
    # openers than the limit ends it at once, whatever follows (the parser would recurse
    # that deep before it looked further), so a long narrow body costs one pass, not 64.
    for _ in range(MAX_DEPTH):
        if _TOO_MANY_OPENERS in brackets:
            return TOO_DEEP
        reduced = brackets.replace(b"[]", b"")
        if not reduced:
            return None
        if len(reduced) == len(brackets):  # closers before openers: they never balance
            return MALFORMED
        brackets = reduced
    return TOO_DEEP if brackets.count(b"[") == brackets.count(b"]") else MALFORMED


def _has_unstorable_escape(body: bytes) -> bool:
    expect_low_at = -1  # where the low half of a surrogate pair must start
    for match in _SUSPECT_ESCAPE.finditer(_neutralise_escaped_backslashes(body)):
        unit = int(match[0][2:], 16)
        if unit == 0:
            return True
        if unit >= 0xDC00:  # a low half: only right after a high half
            if match.start() != expect_low_at:
                return True
            expect_low_at = -1
        else:  # a high half: the previous one must not be waiting for its low half
            if expect_low_at != -1:
                return True
            expect_low_at = match.end()
    return expect_low_at != -1
