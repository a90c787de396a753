"""Load sequence: ordinary loads one after another, PostgreSQL connections counted throughout.

Starts the platform as ``make up`` does (``launcher.local.Topology``: a process per
service, each pooling its share of the connection budget, on throwaway PostgreSQL
databases and a throwaway RabbitMQ vhost), seeds it through the gateway, then runs wrk
through the gateway, ``--duration`` seconds each, in this order:

1. telemetry ingest (batches of 100 samples, 32 vehicles) at c=8, then at c=32;
2. ``GET /api/vehicles/`` (a member with five vehicles) at c=32;
3. ``GET /api/appointments/availability/`` (40 appointments on the day) at c=32;
4. ``POST /api/auth/login/`` at c=8, eight members in turn (the gateway limits failed
   logins only);
5. ``GET /api/auth/me/`` at c=32.

Meanwhile a sampler reads ``pg_stat_activity`` every 0.2 s: the client backends connected
to the topology's databases, and all client backends on the server (other work on the
machine included). Reported per phase: requests/s, p50/p99, non-2xx answers (the
budget: none) and socket errors, and the peak connections; at the end the topology's
peak against its budget, the pool checkout timeouts each service counted
(``/metrics``), and whether an administrator's ``psql`` still connects right after.

Writes ``bench/results/<--name>.{json,md}``. Before the connection budget (each process
pooling 20 + 20) this sequence ended with 503s on ``/me`` and PostgreSQL refusing
``psql`` ("too many clients already"); ``load_sequence_before.json`` is that run.

    uv run python bench/load_sequence.py [--duration 15] [--name load_sequence]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from availability import ADMIN_EMAIL, ADMIN_PASSWORD, next_monday  # noqa: E402
from availability import PATH as AVAILABILITY_PATH  # noqa: E402
from availability import seed as seed_availability  # noqa: E402
from gateway_bench_lib import log, run_wrk, write_results  # noqa: E402
from ingest import register, run_wrk_ingest, wait_projection  # noqa: E402
from read_paths import PATH as VEHICLES_PATH  # noqa: E402
from read_paths import VIN_CHARS, seed_member  # noqa: E402

from launcher.catalog import SERVICES  # noqa: E402
from launcher.local import Topology  # noqa: E402
from shared.net import free_port  # noqa: E402
from testsupport import infra  # noqa: E402
from testsupport.topology import throwaway_topology  # noqa: E402

VEHICLES = 32
LOGIN_MEMBERS = 8
PASSWORD = "password123"
SAMPLE_EVERY_S = 0.2
PSQL_EVERY_SAMPLES = 25  # an administrator's psql every 5 s

LOGIN_LUA = """
local emails = {%(emails)s}
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"email":"%%s","password":"%(password)s"}',
                             emails[counter %% #emails + 1])
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""


@dataclass
class Phase:
    label: str
    connections: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: str
    peak_topology_connections: int = 0
    peak_server_connections: int = 0
    admin_psql_tried: int = 0
    admin_psql_refused: int = 0


@dataclass
class ConnectionSampler:
    """Counts client backends in a thread of its own, on one connection held throughout."""

    admin_url: str
    databases: list[str]
    phase: str = "start-up"
    peaks: dict[str, tuple[int, int]] = field(default_factory=dict)
    psql_refused: dict[str, list[int]] = field(default_factory=dict)  # phase -> [tried, refused]
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        connection = psycopg.connect(libpq(self.admin_url), autocommit=True)
        self._thread = threading.Thread(target=self._run, args=(connection,), daemon=True)
        self._thread.start()

    def _run(self, connection: psycopg.Connection[Any]) -> None:
        with connection:
            while not self._stop.is_set():
                row = connection.execute(
                    "SELECT count(*) FILTER (WHERE datname = ANY(%s)), count(*) "
                    "FROM pg_stat_activity WHERE backend_type = 'client backend'",
                    (self.databases,)).fetchone()
                assert row is not None
                ours, everyone = int(row[0]), int(row[1])
                peak = self.peaks.get(self.phase, (0, 0))
                self.peaks[self.phase] = (max(peak[0], ours), max(peak[1], everyone))
                if self.samples % PSQL_EVERY_SAMPLES == 0:
                    tried = self.psql_refused.setdefault(self.phase, [0, 0])
                    tried[0] += 1
                    tried[1] += admin_psql(self.admin_url, quiet=True)["returncode"] != 0
                self.samples += 1
                time.sleep(SAMPLE_EVERY_S)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def topology_databases(topology: Topology) -> list[str]:
    return sorted({urlsplit(process.env["DATABASE_URL"]).path.lstrip("/")
                   for group in topology.processes.values() for process in group})


def new_vin() -> str:
    raw = uuid.uuid4().int
    return "".join(VIN_CHARS[(raw >> (5 * i)) % len(VIN_CHARS)] for i in range(17))


def seed_ingest(gateway_url: str, telematics_db: str) -> tuple[str, list[str]]:
    """A member with ``VEHICLES`` vehicles that telematics knows of: (token, vehicle ids)."""
    token, _ = register(gateway_url)
    with httpx.Client(base_url=gateway_url, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as client:
        vehicles = [str(client.post(VEHICLES_PATH, json={
            "vin": new_vin(), "make": "Honda", "model": "Civic", "year": 2020,
        }).raise_for_status().json()["id"]) for _ in range(VEHICLES)]
    wait_projection(telematics_db, vehicles)
    return token, vehicles


def seed_logins(gateway_url: str) -> list[str]:
    emails = [f"bench-login-{uuid.uuid4().hex[:8]}@example.com" for _ in range(LOGIN_MEMBERS)]
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        for email in emails:
            client.post("/api/auth/register/", json={
                "email": email, "password": PASSWORD}).raise_for_status()
    return emails


def pool_metrics(topology: Topology) -> dict[str, dict[str, float]]:
    """Per service process: its pool limit and checkout timeouts (absent before the budget)."""
    found: dict[str, dict[str, float]] = {}
    for group in topology.processes.values():
        for process in group:
            text = httpx.get(f"{process.url}/metrics", timeout=10).text
            values = {name: float(value) for name, value in re.findall(
                r'^(db_pool_connections_limit|db_pool_checkout_timeouts_total)\{[^}]*\} (\S+)$',
                text, re.MULTILINE)}
            if values:
                found[process.name] = values
    return found


def admin_psql(admin_url: str, *, quiet: bool = False) -> dict[str, Any]:
    """What an administrator's ``psql -h 127.0.0.1 -U postgres`` gets right now (on the
    server of ``admin_url``)."""
    server = urlsplit(admin_url)
    done = subprocess.run(["psql", "-h", server.hostname or "127.0.0.1", "-p",
                           str(server.port or 5432), "-U", "postgres", "-Atc", "select 1"],
                          capture_output=True, text=True, timeout=30)
    outcome = {"returncode": done.returncode, "stdout": done.stdout.strip(),
               "stderr": done.stderr.strip()}
    if not quiet:
        log(f"  administrator's psql: {outcome}")
    return outcome


def run_sequence(topology: Topology, sampler: ConnectionSampler,
                 duration: int) -> list[Phase]:
    gateway = topology.url
    telematics_db = topology.processes["telematics"][0].env["DATABASE_URL"]
    log("seeding through the gateway")
    ingest_token, vehicles = seed_ingest(gateway, telematics_db)
    reader_token = seed_member(gateway)
    day = next_monday()
    booker_token, location_id = seed_availability(gateway, day)
    emails = seed_logins(gateway)
    phases: list[Phase] = []

    def phase(label: str, connections: int) -> None:
        sampler.phase = f"{label} c={connections}"
        log(f"phase: {sampler.phase}")

    for run, connections in enumerate((8, 32), start=1):
        phase("ingest", connections)
        result = run_wrk_ingest("ingest", gateway + "/", processes=1, connections=connections,
                                duration=duration, token=ingest_token, vehicles=vehicles,
                                run=run, database_url=telematics_db)
        phases.append(Phase("ingest", connections, result.requests_per_s, result.p50_ms,
                            result.p99_ms, result.rejected, ""))
    reads = [("vehicles", VEHICLES_PATH, reader_token, 32, ""),
             ("availability", f"{AVAILABILITY_PATH}?locationId={location_id}"
                              f"&date={day.isoformat()}", booker_token, 32, ""),
             ("login", "/api/auth/login/", None, 8, LOGIN_LUA % {
                 "emails": ", ".join(f'"{e}"' for e in emails), "password": PASSWORD}),
             ("me", "/api/auth/me/", reader_token, 32, "")]
    for label, path, token, connections, lua in reads:
        phase(label, connections)
        wrk = run_wrk(label, gateway + path, connections=connections, duration=duration,
                      token=token, lua=lua, timeout="10s")
        phases.append(Phase(label, connections, wrk.requests_per_s, wrk.p50_ms, wrk.p99_ms,
                            wrk.non_2xx, wrk.errors))
    for item in phases:
        key = f"{item.label} c={item.connections}"
        item.peak_topology_connections, item.peak_server_connections = sampler.peaks.get(
            key, (0, 0))
        item.admin_psql_tried, item.admin_psql_refused = sampler.psql_refused.get(key, (0, 0))
    return phases


def report(args: argparse.Namespace, topology_budget: Any, phases: list[Phase],
           sampler: ConnectionSampler, metrics: dict[str, dict[str, float]],
           psql: dict[str, Any]) -> None:
    peaks = sampler.peaks
    peak_ours = max(p[0] for p in peaks.values())
    peak_all = max(p[1] for p in peaks.values())
    tried = sum(t for t, _ in sampler.psql_refused.values())
    refused = sum(r for _, r in sampler.psql_refused.values())
    budget = (f"{topology_budget.processes} processes x {topology_budget.per_process} = "
              f"{topology_budget.processes * topology_budget.per_process} of max_connections "
              f"{topology_budget.max_connections} ({topology_budget.reserved} reserved, "
              f"{topology_budget.headroom} headroom)") if topology_budget else (
              "none (each process pooled up to 20 + 20)")
    timeouts = sum(v.get("db_pool_checkout_timeouts_total", 0) for v in metrics.values())
    rows = ["| phase | c | req/s | p50 ms | p99 ms | non-2xx | socket errors | "
            "peak connections (topology / server) | admin psql refused |",
            "|---|---|---|---|---|---|---|---|---|"]
    rows += [f"| {p.label} | {p.connections} | {p.requests_per_s:,.0f} | {p.p50_ms:.1f} | "
             f"{p.p99_ms:.1f} | {p.non_2xx} | {p.socket_errors or '-'} | "
             f"{p.peak_topology_connections} / {p.peak_server_connections} | "
             f"{p.admin_psql_refused} of {p.admin_psql_tried} |" for p in phases]
    command = f"uv run python bench/load_sequence.py --duration {args.duration}"
    table = (
        "# Load sequence through the gateway, PostgreSQL connections counted\n\n"
        f"`{command}` — the real topology (a process per service, uvicorn, PostgreSQL, "
        "RabbitMQ), wrk through the gateway, one phase after another; `pg_stat_activity` "
        f"sampled every {SAMPLE_EVERY_S} s ({sampler.samples} samples): client backends "
        "on the "
        "topology's databases / on the whole server (other work on the machine "
        "included).\n\n"
        + (f"{args.note}\n\n" if args.note else "")
        + f"Connection budget: {budget}.\n\n" + "\n".join(rows)
        + f"\n\n- non-2xx over all phases: **{sum(p.non_2xx for p in phases)}**\n"
        f"- peak connections of the topology: **{peak_ours}** (server-wide: {peak_all})\n"
        f"- pool checkout timeouts counted by the services: "
        f"{int(timeouts) if metrics else 'not measured (no pool metrics)'}\n"
        f"- administrator's `psql -h 127.0.0.1 -U postgres -c 'select 1'` every "
        f"{SAMPLE_EVERY_S * PSQL_EVERY_SAMPLES:g} s from seeding to the end: **{refused} of "
        f"{tried} refused**\n"
        f"- administrator's `psql -h 127.0.0.1 -U postgres -c 'select 1'` right after: "
        + ("connected" if psql["returncode"] == 0 else f"**refused**: {psql['stderr']}")
        + "\n")
    print(table)
    write_results(args.name, {
        "command": command, "durationS": args.duration, "note": args.note,
        "budget": asdict(topology_budget) | {"perProcess": topology_budget.per_process}
        if topology_budget else None,
        "phases": [asdict(p) for p in phases],
        "peakTopologyConnections": peak_ours, "peakServerConnections": peak_all,
        "peaksByPhase": peaks, "poolMetrics": metrics, "adminPsql": psql,
        "adminPsqlTriedRefusedByPhase": sampler.psql_refused,
        "nonTwoXx": sum(p.non_2xx for p in phases)}, table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=15, help="seconds per phase")
    parser.add_argument("--name", default="load_sequence", help="results file name")
    parser.add_argument("--note", default="", help="a line saying what was measured where")
    args = parser.parse_args()
    admin_url, _ = infra.resolve_postgres_admin_url()
    amqp_url, _ = infra.resolve_amqp_url()
    if admin_url is None or amqp_url is None:
        sys.exit("PostgreSQL and RabbitMQ must be reachable (see README, Tests)")
    log("starting the platform (a process per service, PostgreSQL, RabbitMQ)")
    with throwaway_topology(
            admin_url, amqp_url, prefix="ma_bench", progress=log, gateway_port=free_port(),
            ports={spec.name: [free_port()] for spec in SERVICES},
            extra_env={"LOG_LEVEL": "WARNING", "ADMIN_EMAIL": ADMIN_EMAIL,
                       "ADMIN_PASSWORD": ADMIN_PASSWORD}) as topology:
        sampler = ConnectionSampler(admin_url, topology_databases(topology))
        sampler.start()
        try:
            phases = run_sequence(topology, sampler, args.duration)
            sampler.phase = "after"
            psql = admin_psql(admin_url)
            metrics = pool_metrics(topology)
        finally:
            sampler.stop()
        topology_budget = getattr(topology, "budget", None)
    report(args, topology_budget, phases, sampler, metrics, psql)


if __name__ == "__main__":
    main()
