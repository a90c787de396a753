"""The gateway against the service catalogue (shared.catalog): a route and an upstream each."""

from __future__ import annotations

from pydantic_settings import BaseSettings

from gateway.routing import API_PREFIXES, WEBSOCKET_ROUTES, resolve_api
from gateway.settings import GatewaySettings
from shared.catalog import SERVICES, ServiceEntry


def upstream_problems(settings_class: type[BaseSettings],
                      services: tuple[ServiceEntry, ...] = SERVICES) -> list[str]:
    """What the gateway's settings lack or have beyond the catalogue's services."""
    fields = settings_class.model_fields
    problems = [f"no UPSTREAM_{s.name.upper()}" for s in services
                if f"upstream_{s.name}" not in fields]
    problems += [f"UPSTREAM_{s.name.upper()} defaults to {fields[f'upstream_{s.name}'].default}"
                 f", not :{s.port}" for s in services if f"upstream_{s.name}" in fields
                 and fields[f"upstream_{s.name}"].default != f"http://127.0.0.1:{s.port}"]
    known = {f"upstream_{s.name}" for s in services}
    problems += [f"{name.upper()} names no service in the catalogue" for name, field in
                 fields.items() if name.startswith("upstream_") and name not in known
                 and isinstance(field.default, str) and field.default.startswith("http")]
    return problems


def test_every_service_has_an_upstream_setting_with_its_local_port() -> None:
    assert upstream_problems(GatewaySettings) == []


def test_a_service_missing_from_the_gateway_settings_is_reported() -> None:
    class Incomplete(BaseSettings):
        upstream_auth: str = "http://127.0.0.1:8001"
        upstream_billing: str = "http://127.0.0.1:8099"

    problems = upstream_problems(Incomplete)
    assert "no UPSTREAM_VEHICLES" in problems
    assert "UPSTREAM_BILLING names no service in the catalogue" in problems


def test_every_prefix_and_websocket_path_routes_to_its_service() -> None:
    for service in SERVICES:
        for prefix in service.api_prefixes:
            route = resolve_api(f"/api/{prefix}/anything/")
            assert route is not None and route.service == service.name
        for path in service.websocket_paths:
            assert WEBSOCKET_ROUTES[path] == WEBSOCKET_ROUTES[path + "/"] == service.name
    assert set(API_PREFIXES.values()) == {s.name for s in SERVICES if s.api_prefixes}
