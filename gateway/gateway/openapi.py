"""The merged OpenAPI document served at ``/api/schema/``.

Each service that is up serves its own ``/openapi.json``; the gateway fetches them
concurrently, merges paths, tags and components into one document and caches it for
a few seconds. Component names that two services define differently are prefixed with
the service name (and that service's ``$ref``s rewritten) so nothing is overwritten.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from gateway.upstreams import MissingUpstream, Upstream, fetch_json

log = logging.getLogger("gateway.openapi")

TITLE = "Membership Auto API"
# The bundled Swagger UI (4.15, from the ``swagger-ui-bundle`` package) refuses to render
# documents that declare 3.1; FastAPI's 3.1 output renders fine when declared 3.0.3.
OPENAPI_VERSION = "3.0.3"


def merge_documents(documents: Mapping[str, dict[str, Any]], *, version: str = "1.0.0"
                    ) -> dict[str, Any]:
    """One OpenAPI 3 document from the services' documents (keyed by service name)."""
    merged: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": TITLE, "version": version,
                 "description": "Every route of the platform, reached through the gateway."},
        "paths": {},
        "components": {"securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        "tags": [],
    }
    seen_tags: set[str] = set()
    for service in sorted(documents):
        document = copy.deepcopy(documents[service])
        renames = _conflicting_names(merged["components"], document.get("components", {}),
                                     service)
        if renames:
            document = _rewrite_refs(document, renames)
        for section, items in (document.get("components") or {}).items():
            target = merged["components"].setdefault(section, {})
            for name, item in items.items():
                target[renames.get((section, name), name)] = item
        for path, operations in (document.get("paths") or {}).items():
            if not path.startswith("/api/"):  # a service's own /healthz etc. is not public
                continue
            merged["paths"].setdefault(path, {}).update(operations)
        for tag in document.get("tags") or []:
            if tag.get("name") not in seen_tags:
                seen_tags.add(tag.get("name"))
                merged["tags"].append(tag)
    if not merged["tags"]:
        del merged["tags"]
    return merged


def _conflicting_names(existing: dict[str, Any], incoming: dict[str, Any], service: str
                       ) -> dict[tuple[str, str], str]:
    renames: dict[tuple[str, str], str] = {}
    prefix = service[:1].upper() + service[1:]
    for section, items in incoming.items():
        if section == "securitySchemes":
            continue
        have = existing.get(section, {})
        for name, item in items.items():
            if name in have and have[name] != item:
                renames[(section, name)] = f"{prefix}{name}"
    return renames


def _rewrite_refs(node: Any, renames: dict[tuple[str, str], str]) -> Any:
    refs = {f"#/components/{section}/{name}": f"#/components/{section}/{new}"
            for (section, name), new in renames.items()}
    text = json.dumps(node)
    for old, new in refs.items():
        text = text.replace(json.dumps(old), json.dumps(new))
    return json.loads(text)


class SchemaAggregator:
    """Fetches and merges the services' documents, cached for ``cache_seconds``."""

    def __init__(self, upstreams: Mapping[str, Upstream], *, timeout: float = 3.0,
                 cache_seconds: float = 10.0) -> None:
        self._upstreams = upstreams
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, bytes] | None = None
        self._lock = asyncio.Lock()

    async def document(self) -> bytes:
        cached = self._cached
        if cached is not None and time.monotonic() - cached[0] < self._cache_seconds:
            return cached[1]
        async with self._lock:
            cached = self._cached
            if cached is not None and time.monotonic() - cached[0] < self._cache_seconds:
                return cached[1]
            body = json.dumps(merge_documents(await self._fetch_all())).encode()
            self._cached = (time.monotonic(), body)
            return body

    async def _fetch_all(self) -> dict[str, dict[str, Any]]:
        deployed = {name: upstream for name, upstream in self._upstreams.items()
                    if not isinstance(upstream, MissingUpstream)}

        async def one(name: str, upstream: Upstream) -> tuple[str, dict[str, Any] | None]:
            try:
                document = await fetch_json(upstream, "/openapi.json",
                                            timeout_seconds=self._timeout)
                return name, document
            except Exception as exc:
                log.info("service schema unavailable",
                         extra={"event": "openapi_fetch_failed", "upstream": name,
                                "error": repr(exc)})
                return name, None

        results = await asyncio.gather(*(one(n, u) for n, u in deployed.items()))
        return {name: doc for name, doc in results if isinstance(doc, dict)}
