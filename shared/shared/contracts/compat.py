"""What counts as a breaking change between two versions of a contract.

A consumer of an event or a client of a route breaks when something it relied on goes
away or changes under it: a removed (or renamed) field, a field whose type changed, a
field that becomes required, a removed route, method or status. Adding an optional field,
a route or a status breaks nobody. Each function returns the breaking changes it found,
as readable lines; an empty list means the change is additive.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def kind(spec: Mapping[str, Any]) -> str:
    """A JSON Schema's type, normalised so equal types compare equal (``$ref`` by name)."""
    if "$ref" in spec:
        return str(spec["$ref"]).rsplit("/", 1)[-1]
    for combinator in ("anyOf", "oneOf"):
        if combinator in spec:
            return " | ".join(sorted({kind(option) for option in spec[combinator]}))
    if "const" in spec:
        return f"const {spec['const']!r}"
    types = spec.get("type")
    if isinstance(types, list):
        return " | ".join(sorted(kind({**spec, "type": t}) for t in types))
    if types == "array":
        return f"array of {kind(spec.get('items', {}))}"
    if "enum" in spec:
        return f"enum {sorted(map(str, spec['enum']))}"
    return str(types or "any")


def schema_breaks(old: Mapping[str, Any], new: Mapping[str, Any], where: str) -> list[str]:
    """Breaking changes from object schema ``old`` to ``new`` (named ``where``)."""
    breaks = []
    old_fields, new_fields = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
    for field, spec in old_fields.items():
        if field not in new_fields:
            breaks.append(f"{where}: field {field!r} removed or renamed")
        elif kind(spec) != kind(new_fields[field]):
            breaks.append(f"{where}: field {field!r} changed type "
                          f"{kind(spec)} -> {kind(new_fields[field])}")
    for field in sorted(new_required - old_required):
        breaks.append(f"{where}: field {field!r} is newly required")
    return breaks


def event_breaks(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Breaking changes between two event snapshots (``"<type> v<n>"`` -> JSON Schema).

    A version that disappears breaks its consumers; a new version breaks nobody.
    """
    breaks = []
    for message, schema in sorted(old.items()):
        if message not in new:
            breaks.append(f"event {message}: removed")
        else:
            breaks += schema_breaks(schema, new[message], f"event {message}")
    return breaks


def openapi_breaks(service: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Breaking changes between two OpenAPI documents of ``service``."""
    breaks = []
    old_paths, new_paths = old.get("paths", {}), new.get("paths", {})
    for path, operations in sorted(old_paths.items()):
        for method in _METHODS:
            if method not in operations:
                continue
            route = f"{service} {method.upper()} {path}"
            operation = new_paths.get(path, {}).get(method)
            if operation is None:
                breaks.append(f"{route}: route removed")
                continue
            for status in sorted(operations[method].get("responses", {})):
                if status not in operation.get("responses", {}):
                    breaks.append(f"{route}: status {status} removed")
            known = {(p.get("name"), p.get("in"))
                     for p in operations[method].get("parameters", ())}
            for parameter in operation.get("parameters", ()):
                if parameter.get("required") and (
                        parameter.get("name"), parameter.get("in")) not in known:
                    breaks.append(f"{route}: parameter {parameter.get('name')!r} "
                                  "is newly required")
    old_schemas = old.get("components", {}).get("schemas", {})
    new_schemas = new.get("components", {}).get("schemas", {})
    for name, schema in sorted(old_schemas.items()):
        if name in new_schemas:
            breaks += schema_breaks(schema, new_schemas[name], f"{service} schema {name}")
    return breaks
