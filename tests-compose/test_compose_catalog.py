"""docker-compose.yml against the service catalogue (shared.catalog)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from shared.catalog import NAMES, SERVICES

COMPOSE_FILE = Path(__file__).resolve().parent.parent / "docker-compose.yml"
GATEWAY = "gateway"


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def catalogue_problems(compose: dict[str, Any]) -> list[str]:
    """Where the compose file's services, upstreams and peer URLs are not the catalogue's."""
    services = compose["services"]
    built = {name for name, service in services.items() if "build" in service}
    problems = [f"{name}: not in docker-compose.yml" for name in NAMES if name not in built]
    problems += [f"{name}: built by compose, not in the catalogue" for name in sorted(built)
                 if name not in (*NAMES, GATEWAY)]
    gateway = _environment(services.get(GATEWAY, {}))
    problems += [f"gateway: UPSTREAM_{name.upper()} is not http://{name}:8000" for name in NAMES
                 if gateway.get(f"UPSTREAM_{name.upper()}") != f"http://{name}:8000"]
    for entry in SERVICES:
        if entry.name not in services:
            continue
        env = _environment(services[entry.name])
        urls = {key.removesuffix("_URL").lower() for key in env if key.endswith("_URL")}
        given = urls & set(NAMES)
        if given != set(entry.peers):
            problems.append(f"{entry.name}: peer URLs {sorted(given)}, catalogue peers "
                            f"{sorted(entry.peers)}")
        problems += [f"{entry.name}: {peer.upper()}_URL is not http://{peer}:8000"
                     for peer in entry.peers
                     if env.get(f"{peer.upper()}_URL") != f"http://{peer}:8000"]
    return problems


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE_FILE.read_text()))


def test_compose_runs_every_service_of_the_catalogue_with_its_peers() -> None:
    assert catalogue_problems(_compose()) == []


def test_a_service_missing_from_compose_is_reported() -> None:
    compose = _compose()
    del compose["services"]["files"]
    del compose["services"][GATEWAY]["environment"]["UPSTREAM_FILES"]
    problems = catalogue_problems(compose)
    assert "files: not in docker-compose.yml" in problems
    assert "gateway: UPSTREAM_FILES is not http://files:8000" in problems
