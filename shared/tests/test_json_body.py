"""The byte scans of ``shared.json_body`` agree with what ``json.loads`` makes of a body."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from shared.json_body import (
    MALFORMED,
    MAX_DEPTH,
    NOT_UTF8,
    TOO_DEEP,
    UNSTORABLE,
    InvalidJson,
    loads,
    problem,
)


def nested(levels: int, inner: bytes = b"1") -> bytes:
    return b"[" * levels + inner + b"]" * levels


@pytest.mark.parametrize(("body", "expected"), [
    (b"", None),
    (b'{"vin": "1HGCM82633A004352", "year": 2020}', None),
    (nested(MAX_DEPTH), None),
    (nested(MAX_DEPTH + 1), TOO_DEEP),
    (nested(5000), TOO_DEEP),
    (b"[" * 1_000_000, TOO_DEEP),
    (b"[" + b"[1]," * 40 + b"[" * 30, MALFORMED),  # never closed
    (b"]" * 70 + b"[" * 70, TOO_DEEP),
    (b"[" * 30 + b"]" * 31 + b"[" * 35, MALFORMED),
    (b'{"a":' * (MAX_DEPTH - 1) + b"{}" + b"}" * (MAX_DEPTH - 1), None),
    (b'{"a":' * MAX_DEPTH + b"{}" + b"}" * MAX_DEPTH, TOO_DEEP),
    # Brackets inside strings, escaped quotes and backslashes do not count.
    (b'["' + b"[" * 100 + b'"]', None),
    (b'["\\"' + b"[" * 100 + b'"]', None),
    (b'["\\\\"' + b"," + nested(MAX_DEPTH) + b"]", TOO_DEEP),
    (b'["\\\\\\"[[[", "' + b"{" * 100 + b'"]', None),
    (b'"\\u0000"', UNSTORABLE),
    (b'"\\\\u0000"', None),  # a backslash, then the text u0000
    (b'"\\\\\\u0000"', UNSTORABLE),
    (b'"\\ud800"', UNSTORABLE),
    (b'"\\udc00\\ud800"', UNSTORABLE),
    (b'"\\ud800\\\\\\udc00"', UNSTORABLE),  # a backslash between the halves: both alone
    (b'"\\ud83d\\ude00 \\uD83D\\uDE00"', None),
    (b'"\\ud83d\\ude00\\ud83d"', UNSTORABLE),
    ('"café ☕ 😀"'.encode(), None),
    ("\ufeff[1]".encode(), None),
    (b'{"speed": NaN}', MALFORMED),  # json.loads takes these; no JSON can carry them back
    (b"[1, -Infinity]", MALFORMED),
    (b'["NaN", "Infinity", "\\"NaN"]', None),
    (b'"\xed\xa0\x80"', NOT_UTF8),  # a surrogate encoded as UTF-8: json.loads takes it
    (b'"\xff"', NOT_UTF8),
    ("[1]".encode("utf-16"), NOT_UTF8),
    ("[1]".encode("utf-16-le"), NOT_UTF8),
    ("[1]".encode("utf-32"), NOT_UTF8),
])
def test_problem(body: bytes, expected: str | None) -> None:
    assert problem(body) == expected


def test_loads_refuses_what_problem_finds_and_what_is_not_json() -> None:
    assert loads(b'{"a": [1]}') == {"a": [1]}
    assert loads('{"a": "é"}') == {"a": "é"}
    for raw, message in ((nested(5000), TOO_DEEP), (b"{nope", MALFORMED),
                         ('"\\ud800"', UNSTORABLE), ("", MALFORMED)):
        with pytest.raises(InvalidJson, match=message):
            loads(raw)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


def _storable(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    if isinstance(value, list):
        return all(map(_storable, value))
    if isinstance(value, dict):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    return True


_PIECES = ["a", "[", "]", "{", "}", "\\", '"', "\\u0000", "\\ud800", "\\udc00",
           "\\ud83d\\ude00", "\\\\", "\\n", "é", ","]


def _random_document(rng: random.Random, depth: int) -> str:
    roll = rng.random()
    if depth > MAX_DEPTH + 4 or roll < 0.3:
        text = "".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 4)))
        return rng.choice(['"s"', "1", "null", f'"{text}"', '"\\\\ud800"'])
    width = rng.randint(0, 3) if depth < 4 else rng.randint(0, 1)  # deep, not huge
    children = [_random_document(rng, depth + 1) for _ in range(width)]
    if roll < 0.65:
        return "[" + ",".join(children) + "]"
    return "{" + ",".join(f'"k{i}":{child}' for i, child in enumerate(children)) + "}"


def test_agrees_with_json_loads_on_random_documents() -> None:
    """Whatever json.loads accepts, the scan says too deep or unstorable exactly when the
    parsed value is; whatever would make json.loads recurse too far, the scan refuses."""
    rng = random.Random(10)
    for index in range(5000):
        document = _random_document(rng, 1)
        if index % 2:  # around the limit, where it matters
            padding = rng.randint(MAX_DEPTH - 6, MAX_DEPTH + 2)
            document = "[" * padding + document + "]" * rng.randint(padding - 1, padding + 1)
        body = document.encode("utf-8", "surrogatepass")
        found = problem(body)
        try:
            value = json.loads(body)
        except RecursionError:
            assert found is not None, document
            continue
        except ValueError:
            continue  # malformed: refused by the scan or by the parser, 400 either way
        if _depth(value) > MAX_DEPTH:
            assert found == TOO_DEEP, document
        elif not _storable(value):
            assert found == UNSTORABLE, document
        else:
            assert found is None, document
