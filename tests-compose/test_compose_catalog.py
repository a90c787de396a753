"""docker-compose.yml against the service catalogue (shared.catalog)."""

from __future__ import annotations

import copy
from typing import Any

from shared.catalog import NAMES, SERVICES

from .compose import COMPOSE, GATEWAY, environment_of


def catalogue_problems(compose: dict[str, Any]) -> list[str]:
    """Where the compose file's services, upstreams and peer URLs are not the catalogue's."""
    services = compose["services"]
    built = {name for name, service in services.items() if "build" in service}
    problems = [f"{name}: not in docker-compose.yml" for name in NAMES if name not in built]
    problems += [f"{name}: built by compose, not in the catalogue" for name in sorted(built)
                 if name not in (*NAMES, GATEWAY)]
    gateway = environment_of(services.get(GATEWAY, {}))
    problems += [f"gateway: UPSTREAM_{name.upper()} is not http://{name}:8000" for name in NAMES
                 if gateway.get(f"UPSTREAM_{name.upper()}") != f"http://{name}:8000"]
    for entry in SERVICES:
        if entry.name not in services:
            continue
        env = environment_of(services[entry.name])
        urls = {key.removesuffix("_URL").lower() for key in env if key.endswith("_URL")}
        given = urls & set(NAMES)
        if given != set(entry.peers):
            problems.append(f"{entry.name}: peer URLs {sorted(given)}, catalogue peers "
                            f"{sorted(entry.peers)}")
        problems += [f"{entry.name}: {peer.upper()}_URL is not http://{peer}:8000"
                     for peer in entry.peers
                     if env.get(f"{peer.upper()}_URL") != f"http://{peer}:8000"]
    return problems


def test_compose_runs_every_service_of_the_catalogue_with_its_peers() -> None:
    assert catalogue_problems(COMPOSE) == []


def test_a_service_missing_from_compose_is_reported() -> None:
    compose = copy.deepcopy(COMPOSE)
    del compose["services"]["files"]
    del compose["services"][GATEWAY]["environment"]["UPSTREAM_FILES"]
    problems = catalogue_problems(compose)
    assert "files: not in docker-compose.yml" in problems
    assert "gateway: UPSTREAM_FILES is not http://files:8000" in problems
