"""Static checks of docker-compose.yml and the Dockerfile it builds.

No Docker engine runs on the development and CI machines, so the container
deployment is checked by reading it. Every check iterates over what the compose
file lists, so the test keeps passing (and keeps checking) as services join.

"Application services" are the services the compose file builds from this
repository (those with ``build``): the gateway and every service in services/.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from launcher.budget import DEFAULT_HEADROOM, ConnectionBudget

from .compose import (
    API_PORT,
    APP_SERVICES,
    COMPOSE,
    GATEWAY,
    INFRASTRUCTURE,
    POOLER,
    POSTGRES_DEFAULTS,
    POSTGRES_INIT_DIR,
    SERVICES,
    build_of,
    depends_on,
    dockerfile_instructions,
    environment_of,
    interpolate,
    published_ports,
)


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
    for target in depends_on(SERVICES[name]):
        assert target in SERVICES, f"{name} depends on unknown service {target!r}"


def test_only_the_gateway_publishes_the_api_port() -> None:
    publishers = {name for name, spec in SERVICES.items()
                  for host, container in published_ports(spec)
                  if str(API_PORT) in (host, container)}
    assert publishers == {GATEWAY}, f"services publishing port {API_PORT}: {sorted(publishers)}"


@pytest.mark.parametrize("name", sorted(set(SERVICES) - {GATEWAY}))
def test_only_the_gateway_publishes_on_every_interface(name: str) -> None:
    # Admin consoles (RabbitMQ management, MinIO console) may be published, on
    # 127.0.0.1 only; services are reached through the gateway.
    for port in SERVICES[name].get("ports") or []:
        text = port.get("host_ip", "") if isinstance(port, dict) else interpolate(str(port))
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
    context, dockerfile = build_of(SERVICES[name])
    assert context.is_dir(), f"{name}: build context {context} does not exist"
    build = SERVICES[name]["build"]
    assert isinstance(build, dict) and build.get("dockerfile"), (
        f"{name}: `build.dockerfile` must name the Dockerfile")
    assert dockerfile.is_file(), f"{name}: Dockerfile {dockerfile} does not exist"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_has_environment(name: str) -> None:
    assert environment_of(SERVICES[name]), f"{name}: needs an `environment`"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_image_is_healthchecked_exposes_a_port_and_runs_uvicorn(name: str) -> None:
    _, dockerfile = build_of(SERVICES[name])
    if not dockerfile.is_file():
        pytest.fail(f"{name}: Dockerfile {dockerfile} does not exist")
    instructions = dockerfile_instructions(dockerfile)
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
    depends = set(depends_on(SERVICES[name]))
    env = environment_of(SERVICES[name])
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
        url = environment_of(SERVICES[name]).get("DATABASE_URL")
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
        url = environment_of(SERVICES[name]).get("DATABASE_URL")
        if url and url.startswith("postgresql"):
            database = _database_name(url)
            assert database.lower() in created, (
                f"{name}: database {database!r} is not created by {POSTGRES_INIT_DIR}")


def test_gateway_routes_to_every_deployed_service() -> None:
    env = environment_of(SERVICES[GATEWAY])
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
    url = environment_of(SERVICES[GATEWAY]).get("REDIS_URL", "")
    assert url.startswith("redis://"), "gateway: REDIS_URL must point at the redis service"
    assert urlsplit(url).hostname in SERVICES, f"gateway: REDIS_URL host of {url!r} is no service"


def test_gateway_believes_no_client_address_header_by_default() -> None:
    # A client's own X-Forwarded-For must never pick its rate-limit key: the gateway trusts
    # no proxy unless told, and uvicorn must not rewrite the peer before the gateway sees it.
    assert environment_of(SERVICES[GATEWAY]).get("FORWARDED_ALLOW_IPS", "") == ""
    _, dockerfile = build_of(SERVICES[GATEWAY])
    run = " ".join(arguments for keyword, arguments in dockerfile_instructions(dockerfile)
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
    return environment_of(SERVICES[POOLER])


def test_pgbouncer_pools_transactions_in_front_of_postgres() -> None:
    env = _pooler_settings()
    assert env.get("POOL_MODE") == "transaction"
    assert env.get("DB_HOST") == "postgres"
    depends = SERVICES[POOLER].get("depends_on") or {}
    assert isinstance(depends, dict) and (depends.get("postgres") or {}).get(
        "condition") == "service_healthy", "pgbouncer: must wait for postgres to be healthy"


@pytest.mark.parametrize("name", sorted(set(APP_SERVICES) - {GATEWAY}))
def test_app_service_reaches_postgres_through_pgbouncer(name: str) -> None:
    env = environment_of(SERVICES[name])
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
    assert {urlsplit(environment_of(SERVICES[name])["DATABASE_URL"]).username
            for name in set(APP_SERVICES) - {GATEWAY}} == {env["DB_USER"]}
    assert total <= budget.for_pools, (
        f"pgbouncer may open {total} server connections; the budget leaves "
        f"{budget.for_pools} of max_connections {budget.max_connections}")
    assert int(env["DEFAULT_POOL_SIZE"]) <= total


def test_pgbouncer_takes_a_full_pool_from_every_service() -> None:
    env = _pooler_settings()
    pools = {name: int(environment_of(SERVICES[name])["DATABASE_POOL_SIZE"])
             + int(environment_of(SERVICES[name])["DATABASE_MAX_OVERFLOW"])
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
    collector = urlsplit(environment_of(SERVICES[name])["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert (collector.hostname, collector.port) == ("otel-collector", 4318)
    image = SERVICES["otel-collector"]["image"]
    assert image.startswith("otel/opentelemetry-collector:") and not image.endswith(":latest")
