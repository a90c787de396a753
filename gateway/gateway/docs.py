"""Swagger UI at ``/api/docs/``, with its assets served by the gateway (works offline),
and the platform's events: the AsyncAPI document at ``/api/events/asyncapi.json`` and a
page of it at ``/api/events/``, both generated from ``shared.contracts``."""

from __future__ import annotations

import functools
import json
import mimetypes
from pathlib import Path

from swagger_ui_bundle import swagger_ui_path

from shared.contracts import asyncapi

DOCS_PREFIX = "/api/docs/"
SCHEMA_URL = "/api/schema/"
EVENTS_PREFIX = "/api/events"
ASYNCAPI_URL = "/api/events/asyncapi.json"

_ASSET_DIR = Path(swagger_ui_path)
_ASSETS = frozenset({
    "swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
    "favicon-32x32.png", "favicon-16x16.png", "index.css", "oauth2-redirect.html",
})

PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Membership Auto API</title>
  <link rel="stylesheet" href="{DOCS_PREFIX}swagger-ui.css">
  <link rel="icon" type="image/png" href="{DOCS_PREFIX}favicon-32x32.png" sizes="32x32">
  <style>body {{ margin: 0; }}</style>
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{DOCS_PREFIX}swagger-ui-bundle.js"></script>
  <script src="{DOCS_PREFIX}swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: "{SCHEMA_URL}",
      dom_id: "#swagger-ui",
      deepLinking: true,
      persistAuthorization: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      plugins: [SwaggerUIBundle.plugins.DownloadUrl],
      layout: "StandaloneLayout",
      validatorUrl: null
    }});
  </script>
</body>
</html>
""".encode()

_cache: dict[str, tuple[bytes, str]] = {}


def asset(name: str) -> tuple[bytes, str] | None:
    """``(content, content type)`` of a Swagger UI asset, or ``None`` if there is none."""
    if name not in _ASSETS:
        return None
    cached = _cache.get(name)
    if cached is None:
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if content_type.startswith(("text/", "application/javascript")):
            content_type += "; charset=utf-8"
        cached = _cache[name] = ((_ASSET_DIR / name).read_bytes(), content_type)
    return cached


@functools.cache
def events_document() -> bytes:
    """The AsyncAPI document (built once: the catalogue is code, fixed for the process)."""
    return json.dumps(asyncapi.document(), indent=1).encode()


@functools.cache
def events_page() -> bytes:
    """The readable page of the AsyncAPI document."""
    return asyncapi.page(json.loads(events_document()), json_url=ASYNCAPI_URL)
