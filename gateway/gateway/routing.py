"""Which service answers a path, and which routes need no token.

Paths are routed on their second segment (``/api/<segment>/...``), a dict lookup.
A path without its trailing slash is served as if it had one (no redirect).
"""

from __future__ import annotations

from typing import NamedTuple

from shared.catalog import SERVICES

# /api/<segment>/ -> service
API_PREFIXES: dict[str, str] = {
    prefix: service.name for service in SERVICES for prefix in service.api_prefixes}

# With and without the trailing slash, as for API paths.
WEBSOCKET_ROUTES: dict[str, str] = {
    variant: service.name for service in SERVICES for path in service.websocket_paths
    for variant in (path, path + "/")}

# (method, path with trailing slash) that pass without a token.
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset({
    ("POST", "/api/auth/register/"),
    ("POST", "/api/auth/login/"),
    ("POST", "/api/auth/refresh/"),
    ("GET", "/api/auth/jwks/"),
    ("HEAD", "/api/auth/jwks/"),
    ("GET", "/api/memberships/plans/"),
    ("HEAD", "/api/memberships/plans/"),
})

LOGIN_PATH = "/api/auth/login/"
REGISTER_PATH = "/api/auth/register/"
TELEMETRY_PREFIX = "/api/telematics/"


class Route(NamedTuple):
    service: str
    path: str  # as forwarded: always ends with "/"
    appended_slash: bool


def resolve_api(path: str) -> Route | None:
    """The service and forwarded path for an ``/api/...`` path, or ``None``."""
    appended = not path.endswith("/")
    if appended:
        path += "/"
    # "/api/<segment>/..." -> segment sits between the 2nd and 3rd slash.
    end = path.find("/", 5)
    if end < 0 or not path.startswith("/api/"):
        return None
    service = API_PREFIXES.get(path[5:end])
    if service is None:
        return None
    return Route(service, path, appended)


def is_public(method: str, path: str) -> bool:
    return (method, path) in PUBLIC_ROUTES
