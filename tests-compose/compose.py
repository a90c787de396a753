"""docker-compose.yml as the static tests read it, and the one Dockerfile it builds.

No Docker engine runs on the development and CI machines, so the container deployment is
checked by reading it. "Application services" are the services the compose file builds
from this repository (those with ``build``): the gateway and every service in services/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DEV_ENV = ROOT / "deploy" / "compose" / "dev.env"
K8S_DIR = ROOT / "deploy" / "k8s"
POSTGRES_INIT_DIR = ROOT / "deploy" / "postgres"
INFRASTRUCTURE = ("postgres", "pgbouncer", "rabbitmq", "minio", "redis")
POOLER = "pgbouncer"
POSTGRES_DEFAULTS = {"max_connections": 100, "superuser_reserved_connections": 3}
API_PORT = 8000
GATEWAY = "gateway"

_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")


def interpolate(value: str) -> str:
    """``value`` as compose would see it with none of the variables set (defaults applied)."""

    def default(match: re.Match[str]) -> str:
        operator, word = match.group(2), match.group(3)
        return word if operator in (":-", "-") else ""

    return _INTERPOLATION.sub(default, value).replace("$$", "$")


def _load_compose() -> dict[str, Any]:
    with COMPOSE_FILE.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    assert isinstance(data, dict), "docker-compose.yml must be a mapping"
    return data


COMPOSE = _load_compose()
SERVICES: dict[str, dict[str, Any]] = COMPOSE.get("services") or {}
APP_SERVICES = sorted(name for name, spec in SERVICES.items() if "build" in spec)


def environment_of(spec: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, whichever of the two compose syntaxes it uses."""
    env = spec.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {key: interpolate(value) for key, value in pairs}
    return {key: interpolate("" if value is None else str(value)) for key, value in env.items()}


def build_of(spec: dict[str, Any]) -> tuple[Path, Path]:
    """(context directory, Dockerfile path) of a built service."""
    build = spec["build"]
    if isinstance(build, str):
        build = {"context": build}
    context = (ROOT / interpolate(build.get("context", "."))).resolve()
    dockerfile = context / interpolate(build.get("dockerfile", "Dockerfile"))
    return context, dockerfile


def published_ports(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(host port, container port) for every port a service publishes on the host."""
    published: list[tuple[str, str]] = []
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            published.append((interpolate(str(port.get("published", ""))),
                              interpolate(str(port["target"]))))
            continue
        text = interpolate(str(port)).split("/", 1)[0]
        parts = text.rsplit(":", 2)
        container = parts[-1]
        host = parts[-2] if len(parts) >= 2 else ""  # "8000" alone: a random host port
        published.append((host, container))
    return published


def depends_on(spec: dict[str, Any]) -> list[str]:
    depends = spec.get("depends_on") or []
    return list(depends) if isinstance(depends, dict | list) else [depends]


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, arguments = current.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        current = ""
    if current:
        keyword, _, arguments = current.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def image_reference(image: str) -> tuple[str, str]:
    """(repository, tag) of an image reference; the tag is empty when there is none."""
    reference = image.partition("@")[0]
    path, _, last = reference.rpartition("/")
    name, _, tag = last.partition(":")
    return (f"{path}/{name}" if path else name), tag

