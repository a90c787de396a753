"""Static checks of docker-compose.yml and the Dockerfiles it builds.

No Docker engine runs on the development and CI machines, so the container
deployment is checked by reading it. Every check iterates over what the compose
file lists, so the test keeps passing (and keeps checking) as services join.

"Application services" are the services the compose file builds from this
repository (those with ``build``): the gateway and every service in services/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from launcher.budget import DEFAULT_HEADROOM, ConnectionBudget

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
POSTGRES_INIT_DIR = ROOT / "deploy" / "postgres"
INFRASTRUCTURE = ("postgres", "pgbouncer", "rabbitmq", "minio", "redis")
POOLER = "pgbouncer"
POSTGRES_DEFAULTS = {"max_connections": 100, "superuser_reserved_connections": 3}
API_PORT = 8000
GATEWAY = "gateway"

_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")


def _interpolate(value: str) -> str:
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
INFRA_SERVICES = [name for name in INFRASTRUCTURE if name in SERVICES]


def _environment(spec: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, whichever of the two compose syntaxes it uses."""
    env = spec.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {key: _interpolate(value) for key, value in pairs}
    return {key: _interpolate("" if value is None else str(value)) for key, value in env.items()}


def _build(spec: dict[str, Any]) -> tuple[Path, Path]:
    """(context directory, Dockerfile path) of a built service."""
    build = spec["build"]
    if isinstance(build, str):
        build = {"context": build}
    context = (ROOT / _interpolate(build.get("context", "."))).resolve()
    dockerfile = context / _interpolate(build.get("dockerfile", "Dockerfile"))
    return context, dockerfile


def _published_ports(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(host port, container port) for every port a service publishes on the host."""
    published: list[tuple[str, str]] = []
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            published.append((_interpolate(str(port.get("published", ""))),
                              _interpolate(str(port["target"]))))
            continue
        text = _interpolate(str(port)).split("/", 1)[0]
        parts = text.rsplit(":", 2)
        container = parts[-1]
        host = parts[-2] if len(parts) >= 2 else ""  # "8000" alone: a random host port
        published.append((host, container))
    return published


def _depends_on(spec: dict[str, Any]) -> list[str]:
    depends = spec.get("depends_on") or []
    return list(depends) if isinstance(depends, dict | list) else [depends]


def _dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
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


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/").split("?", 1)[0]


def _databases_created_by_init_scripts() -> set[str]:
    created: set[str] = set()
    pattern = re.compile(r"\bCREATE\s+DATABASE\s+\"?([A-Za-z0-9_]+)\"?", re.IGNORECASE)
    for script in POSTGRES_INIT_DIR.glob("*"):
        if script.suffix in {".sql", ".sh"}:
            created.update(match.lower() for match in pattern.findall(script.read_text()))
    return created


# --- the file as a whole -------------------------------------------------------------------------


def test_compose_file_uses_the_compose_spec() -> None:
    assert "version" not in COMPOSE, "the compose spec has no top-level `version:` key"
    assert SERVICES, "no services"
    assert GATEWAY in SERVICES
    for infra in INFRASTRUCTURE:
        assert infra in SERVICES, f"missing infrastructure service {infra!r}"


def test_every_named_volume_is_declared() -> None:
    declared = set(COMPOSE.get("volumes") or {})
    for name, spec in SERVICES.items():
        for volume in spec.get("volumes") or []:
            source = volume.get("source", "") if isinstance(volume, dict) else volume.split(":")[0]
            if source and not source.startswith((".", "/", "~")):
                assert source in declared, f"{name}: volume {source!r} is not declared"


# --- every service -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_has_image_or_build(name: str) -> None:
    spec = SERVICES[name]
    assert "image" in spec or "build" in spec, f"{name}: needs `image` or `build`"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_no_container_name_so_services_can_scale(name: str) -> None:
    assert "container_name" not in SERVICES[name], (
        f"{name}: `container_name` prevents `docker compose up --scale`")


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_depends_on_targets_exist(name: str) -> None:
    for target in _depends_on(SERVICES[name]):
        assert target in SERVICES, f"{name} depends on unknown service {target!r}"


def test_only_the_gateway_publishes_the_api_port() -> None:
    publishers = {name for name, spec in SERVICES.items()
                  for host, container in _published_ports(spec)
                  if str(API_PORT) in (host, container)}
    assert publishers == {GATEWAY}, f"services publishing port {API_PORT}: {sorted(publishers)}"


@pytest.mark.parametrize("name", sorted(set(SERVICES) - {GATEWAY}))
def test_only_the_gateway_publishes_on_every_interface(name: str) -> None:
    # Admin consoles (RabbitMQ management, MinIO console) may be published, on
    # 127.0.0.1 only; services are reached through the gateway.
    for port in SERVICES[name].get("ports") or []:
        text = port.get("host_ip", "") if isinstance(port, dict) else _interpolate(str(port))
        assert str(text).startswith("127.0.0.1"), (
            f"{name}: publishes {port!r} on every interface; only the gateway may")


# --- infrastructure ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", INFRASTRUCTURE)
def test_infrastructure_has_a_healthcheck(name: str) -> None:
    healthcheck = SERVICES[name].get("healthcheck") or {}
    assert healthcheck.get("test") and not healthcheck.get("disable"), (
        f"{name}: needs a healthcheck (others wait for it to be healthy)")


def test_postgres_runs_the_init_scripts() -> None:
    volumes = [v if isinstance(v, str) else f"{v['source']}:{v['target']}"
               for v in SERVICES["postgres"].get("volumes") or []]
    assert any(v.split(":")[0].rstrip("/") == "./deploy/postgres"
               and v.split(":")[1].rstrip("/") == "/docker-entrypoint-initdb.d"
               for v in volumes), "deploy/postgres must be mounted at /docker-entrypoint-initdb.d"


# --- application services ------------------------------------------------------------------------


def test_there_are_application_services() -> None:
    assert GATEWAY in APP_SERVICES
    assert len(APP_SERVICES) >= 2, "the gateway and at least one service"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_build_context_and_dockerfile_exist(name: str) -> None:
    context, dockerfile = _build(SERVICES[name])
    assert context.is_dir(), f"{name}: build context {context} does not exist"
    build = SERVICES[name]["build"]
    assert isinstance(build, dict) and build.get("dockerfile"), (
        f"{name}: `build.dockerfile` must name the service's Dockerfile")
    assert dockerfile.is_file(), f"{name}: Dockerfile {dockerfile} does not exist"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_has_environment(name: str) -> None:
    assert _environment(SERVICES[name]), f"{name}: needs an `environment`"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_image_is_healthchecked_exposes_a_port_and_runs_uvicorn(name: str) -> None:
    _, dockerfile = _build(SERVICES[name])
    if not dockerfile.is_file():
        pytest.fail(f"{name}: Dockerfile {dockerfile} does not exist")
    instructions = _dockerfile_instructions(dockerfile)
    keywords = {keyword for keyword, _ in instructions}
    compose_healthcheck = SERVICES[name].get("healthcheck") or {}
    assert "HEALTHCHECK" in keywords or compose_healthcheck.get("test"), (
        f"{name}: needs a HEALTHCHECK in its Dockerfile or a healthcheck in the compose file")
    assert not compose_healthcheck.get("disable"), f"{name}: healthcheck disabled"
    assert "EXPOSE" in keywords, f"{name}: the Dockerfile must EXPOSE its port"
    run = " ".join(arguments for keyword, arguments in instructions
                   if keyword in {"CMD", "ENTRYPOINT"})
    command = SERVICES[name].get("command")
    if command is not None:  # the compose file overrides the image's CMD
        run = " ".join(command) if isinstance(command, list) else str(command)
    assert "uvicorn" in run and "--factory" in run, (
        f"{name}: must run uvicorn with --factory (got {run!r})")
    graceful = re.search(r'--timeout-graceful-shutdown"?,?\s*"?(\d+)', run)
    assert graceful, f"{name}: uvicorn needs --timeout-graceful-shutdown (SIGTERM drains)"
    # Requests drain for that long, event handlers as long again, then the outbox flush.
    assert _seconds(SERVICES[name].get("stop_grace_period", "10s")) > 2 * int(
        graceful.group(1)), f"{name}: stop_grace_period must outlast the drain"


def _seconds(duration: str) -> float:
    """A compose duration (``50s``, ``1m30s``) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)",
                                                          duration))


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_waits_for_what_it_uses(name: str) -> None:
    depends = set(_depends_on(SERVICES[name]))
    env = _environment(SERVICES[name])
    if env.get("DATABASE_URL", "").startswith("postgresql"):
        host = urlsplit(env["DATABASE_URL"]).hostname
        assert host in depends, f"{name}: uses PostgreSQL through {host}, must depend on it"
    if env.get("AMQP_URL", "").startswith("amqp"):
        assert "rabbitmq" in depends, f"{name}: uses RabbitMQ, must depend on rabbitmq"
    if env.get("REDIS_URL", "").startswith("redis"):
        host = urlsplit(env["REDIS_URL"]).hostname
        assert host in depends, f"{name}: uses Redis through {host}, must depend on it"
    spec_depends = SERVICES[name].get("depends_on") or {}
    if isinstance(spec_depends, dict):
        for target, options in spec_depends.items():
            if target in INFRASTRUCTURE:
                assert (options or {}).get("condition") == "service_healthy", (
                    f"{name}: should wait for {target} to be healthy")


def test_each_service_has_its_own_database() -> None:
    owners: dict[str, str] = {}
    for name in APP_SERVICES:
        url = _environment(SERVICES[name]).get("DATABASE_URL")
        if not url:
            continue
        host = urlsplit(url).hostname
        assert host in SERVICES, f"{name}: DATABASE_URL host {host!r} is not a compose service"
        database = _database_name(url)
        assert database == name, f"{name}: DATABASE_URL names database {database!r}, not {name!r}"
        assert database not in owners, f"{name} and {owners[database]} share database {database!r}"
        owners[database] = name
    for name in set(APP_SERVICES) - {GATEWAY}:
        assert name in owners, f"{name}: needs a DATABASE_URL (else it writes SQLite in the image)"


def test_init_script_creates_every_referenced_database() -> None:
    created = _databases_created_by_init_scripts()
    for name in APP_SERVICES:
        url = _environment(SERVICES[name]).get("DATABASE_URL")
        if url and url.startswith("postgresql"):
            database = _database_name(url)
            assert database.lower() in created, (
                f"{name}: database {database!r} is not created by {POSTGRES_INIT_DIR}")


def test_gateway_routes_to_every_deployed_service() -> None:
    env = _environment(SERVICES[GATEWAY])
    for name in set(APP_SERVICES) - {GATEWAY}:
        key = f"UPSTREAM_{name.upper()}"
        assert env.get(key), f"gateway: {key} must point at the {name} service"
    for key, value in env.items():
        if key.startswith("UPSTREAM_") and value:
            for url in value.split(","):
                host = urlsplit(url.strip()).hostname
                assert host in SERVICES, f"gateway: {key} points at {host!r}, not a service"


def test_gateway_keeps_its_limits_in_redis() -> None:
    # Replicas (--scale gateway=N) must share the login limits, or N allow N times the limit.
    url = _environment(SERVICES[GATEWAY]).get("REDIS_URL", "")
    assert url.startswith("redis://"), "gateway: REDIS_URL must point at the redis service"
    assert urlsplit(url).hostname in SERVICES, f"gateway: REDIS_URL host of {url!r} is no service"


def test_gateway_believes_no_client_address_header_by_default() -> None:
    # A client's own X-Forwarded-For must never pick its rate-limit key: the gateway trusts
    # no proxy unless told, and uvicorn must not rewrite the peer before the gateway sees it.
    assert _environment(SERVICES[GATEWAY]).get("FORWARDED_ALLOW_IPS", "") == ""
    _, dockerfile = _build(SERVICES[GATEWAY])
    run = " ".join(arguments for keyword, arguments in _dockerfile_instructions(dockerfile)
                   if keyword in {"CMD", "ENTRYPOINT"})
    assert "--no-proxy-headers" in run, "gateway: uvicorn must run with --no-proxy-headers"


# --- the connection budget: PgBouncer between the services and PostgreSQL -----------------------


def _postgres_settings() -> dict[str, int]:
    """PostgreSQL's connection limits as the compose file starts it (``-c name=value``)."""
    command = SERVICES["postgres"].get("command") or []
    words = command.split() if isinstance(command, str) else [str(w) for w in command]
    settings = dict(POSTGRES_DEFAULTS)
    for flag, value in zip(words, words[1:], strict=False):
        name, _, number = value.partition("=")
        if flag == "-c" and name in settings:
            settings[name] = int(number)
    return settings


def _pooler_settings() -> dict[str, str]:
    return _environment(SERVICES[POOLER])


def test_pgbouncer_pools_transactions_in_front_of_postgres() -> None:
    env = _pooler_settings()
    assert env.get("POOL_MODE") == "transaction"
    assert env.get("DB_HOST") == "postgres"
    depends = SERVICES[POOLER].get("depends_on") or {}
    assert isinstance(depends, dict) and (depends.get("postgres") or {}).get(
        "condition") == "service_healthy", "pgbouncer: must wait for postgres to be healthy"


@pytest.mark.parametrize("name", sorted(set(APP_SERVICES) - {GATEWAY}))
def test_app_service_reaches_postgres_through_pgbouncer(name: str) -> None:
    env = _environment(SERVICES[name])
    assert urlsplit(env.get("DATABASE_URL", "")).hostname == POOLER, (
        f"{name}: DATABASE_URL must point at {POOLER}, so that replicas cost PostgreSQL nothing")
    assert env.get("DATABASE_TRANSACTION_POOLING") == "true", (
        f"{name}: through a transaction pooler, DATABASE_TRANSACTION_POOLING must be true")


def test_pgbouncer_server_connections_fit_postgres_with_headroom() -> None:
    postgres = _postgres_settings()
    budget = ConnectionBudget(max_connections=postgres["max_connections"],
                              reserved=postgres["superuser_reserved_connections"],
                              headroom=DEFAULT_HEADROOM, processes=1)
    env = _pooler_settings()
    total = int(env["MAX_USER_CONNECTIONS"])  # every service logs in as the one user
    assert {urlsplit(_environment(SERVICES[name])["DATABASE_URL"]).username
            for name in set(APP_SERVICES) - {GATEWAY}} == {env["DB_USER"]}
    assert total <= budget.for_pools, (
        f"pgbouncer may open {total} server connections; the budget leaves "
        f"{budget.for_pools} of max_connections {budget.max_connections}")
    assert int(env["DEFAULT_POOL_SIZE"]) <= total


def test_pgbouncer_takes_a_full_pool_from_every_service() -> None:
    env = _pooler_settings()
    pools = {name: int(_environment(SERVICES[name])["DATABASE_POOL_SIZE"])
             + int(_environment(SERVICES[name])["DATABASE_MAX_OVERFLOW"])
             for name in set(APP_SERVICES) - {GATEWAY}}
    assert sum(pools.values()) <= int(env["MAX_CLIENT_CONN"])
    for name, pool in pools.items():
        # More than a database's server pool would only wait inside PgBouncer, where the
        # service's own bounded wait (DATABASE_POOL_TIMEOUT) does not see it.
        assert pool <= int(env["DEFAULT_POOL_SIZE"]), (
            f"{name}: a pool of {pool} behind {env['DEFAULT_POOL_SIZE']} server connections")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_sends_its_spans_to_the_collector(name: str) -> None:
    # By default; OTEL_EXPORTER_OTLP_ENDPOINT="" on the host turns tracing off (`-`, not `:-`).
    assert "${OTEL_EXPORTER_OTLP_ENDPOINT-" in str(SERVICES[name]["environment"])
    collector = urlsplit(_environment(SERVICES[name])["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert (collector.hostname, collector.port) == ("otel-collector", 4318)
    image = SERVICES["otel-collector"]["image"]
    assert image.startswith("otel/opentelemetry-collector:") and not image.endswith(":latest")
