"""Which service answers a path, and which routes need no token.

Paths are routed on their second segment (``/api/<segment>/...``), a dict lookup.
A path without its trailing slash is served as if it had one (no redirect).
"""

from __future__ import annotations

from typing import NamedTuple

# /api/<segment>/ -> service
API_PREFIXES: dict[str, str] = {
    "auth": "auth",
    "memberships": "auth",
    "vehicles": "vehicles",
    "telematics": "telematics",
    "appointments": "appointments",
    "offers": "engagement",
    "referrals": "engagement",
    "chat": "chat",
    "files": "files",
}

WEBSOCKET_ROUTES: dict[str, str] = {"/chat/ws": "chat", "/chat/ws/": "chat"}

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
