"""Telemetry ingest through the gateway versus a bare PostgreSQL ``COPY`` of the same rows.

In one run, on the local PostgreSQL and RabbitMQ:

1. **baseline**: a bare ``COPY samples (...) FROM STDIN`` (psycopg 3, one connection, one
   ``COPY`` + commit per batch of 100 rows) into the same ``samples`` table, created by
   the telematics migrations in a throwaway database;
2. **platform**: the auth service, one then two telematics processes (``uvicorn
   telematics.app:create_app --factory`` on one throwaway database, ``AMQP_URL`` on the
   local RabbitMQ) and the gateway (``UPSTREAM_TELEMATICS=url1[,url2]``), all separate
   processes; a user registered through the gateway; the benchmark vehicles made known
   to telematics by publishing ``vehicle.created`` on RabbitMQ (the vehicles service is
   not needed) and waiting until the projection has them;
3. **load**: wrk (a separate process) POSTs ``/api/telematics/{id}/`` batches of 100
   samples through the gateway at concurrency 8 and 32; its Lua script rotates the
   vehicles and gives every request a unique ``startTimestamp`` so nothing is deduplicated;
4. **accounting**: rows counted in the database afterwards. Every 202 wrk saw must be
   stored (stored >= accepted; the difference is only the requests still in flight when
   wrk stopped, at most one per connection), and ``sum(batches.accepted) == count(samples)``.

Writes ``bench/results/ingest.{json,md}``: samples/s stored, p50/p99 latency, the ratio
to the bare ``COPY`` rows/s of the same run (budget: >= 1/3), and the CPU each part spends
per batch (core-ms, from ``/proc``: the gateway, the telematics processes, PostgreSQL; for
the bare ``COPY``, PostgreSQL's), the figures the capacity arithmetic in
``deploy/k8s/README.md`` is built on.

    uv run python bench/ingest.py [--duration 15] [--vehicles 32]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_bench_lib import (  # noqa: E402
    ROOT,
    WRK,
    Process,
    cpu_seconds,
    log,
    postgres_cpu_seconds,
    uvicorn_argv,
    wait_http,
    write_results,
)

from shared.net import free_port  # noqa: E402
from testsupport import infra  # noqa: E402

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
MIGRATIONS = ROOT / "services" / "telematics" / "migrations"
OTHER_SERVICES = ("vehicles", "appointments", "engagement", "chat", "files")
BATCH = 100
T0 = 1_704_067_200_000
COPY_COLUMNS = ("vehicle_id", "t", "batch_id", "seq", "speed", "fuel_rate", "odometer", "rpm",
                "coolant_temp", "extra")

LUA = r"""
-- Rotates vehicles; every request gets a unique startTimestamp (thread id, counter, run).
local vehicles = {%(vehicles)s}
local token = "%(token)s"
local run = %(run)d
local threads = {}
local counter = 0
ok, bad = 0, 0  -- globals: done() reads them with thread:get

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  ok, bad = 0, 0
end

-- The sample fields after "t" are formatted once per thread; only "t" changes per request.
local tails = {}
for i = 0, %(batch)d - 1 do
  local speed = (i * 7) %% 120
  tails[i] = string.format(
    ',"speed":%%d.5,"fuelRate":%%d.25,"odometer":%%d.125,"rpm":%%d,"coolantTemp":90}',
    speed, speed %% 9, 10000 + i, 800 + speed * 30)
end

function request()
  counter = counter + 1
  local vehicle = vehicles[(counter + id) %% #vehicles + 1]
  -- Apart by run, thread and request, and within the years a timestamp may hold (to 9999).
  local start = %(t0)d + run * 1000000000000 + id * 10000000000 + counter * 100000
  local parts = {}
  for i = 0, %(batch)d - 1 do
    parts[i + 1] = '{"t":' .. string.format("%%d", start + i * 1000) .. tails[i]
  end
  local body = string.format(
    '{"vehicleId":"%%s","startTimestamp":%%d,"endTimestamp":%%d,"samples":[%%s]}',
    vehicle, start, start + (%(batch)d - 1) * 1000, table.concat(parts, ","))
  return wrk.format("POST", "/api/telematics/" .. vehicle .. "/", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status == 202 then ok = ok + 1 else bad = bad + 1 end
end

function done(summary, latency, requests)
  local o, b = 0, 0
  for _, thread in ipairs(threads) do
    o = o + thread:get("ok")
    b = b + thread:get("bad")
  end
  io.write(string.format("BENCH accepted=%%d rejected=%%d\n", o, b))
end
"""


@dataclass
class IngestRun:
    label: str
    processes: int
    connections: int
    duration_s: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    accepted_batches: int
    rejected: int
    accepted_samples: int
    stored_samples: int
    in_flight_at_stop: int
    samples_per_s_stored: float
    gateway_core_ms_per_batch: float
    telematics_core_ms_per_batch: float
    postgres_core_ms_per_batch: float
    connection_ms_per_batch: float
    ratio_to_copy: float = 0.0


@dataclass
class CopyRun:
    rows_per_s: float
    postgres_core_ms_per_batch: float


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def count_rows(database_url: str) -> tuple[int, int, int]:
    """(samples rows, batches, sum of batches.accepted)."""
    import psycopg

    with psycopg.connect(libpq(database_url)) as connection:
        samples = connection.execute("SELECT count(*) FROM samples").fetchone()[0]  # type: ignore[index]
        batches, accepted = connection.execute(
            "SELECT count(*), coalesce(sum(accepted), 0) FROM telemetry_batches").fetchone()  # type: ignore[misc]
    return int(samples), int(batches), int(accepted)


def connection_busy_ms(database_url: str) -> float:
    """Milliseconds the database's sessions have spent in a statement or inside a transaction
    (PostgreSQL 14+ ``pg_stat_database``): what a transaction-pooling PgBouncer must hold a
    server connection for."""
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(libpq(database_url)) as connection:
        row = connection.execute(
            "SELECT coalesce(active_time, 0) + coalesce(idle_in_transaction_time, 0) "
            "FROM pg_stat_database WHERE datname = %s", (name,)).fetchone()
    return float(row[0]) if row else 0.0


def _copy_one_batch(connection: Any, vehicles: list[str], counter: int) -> None:
    vehicle = vehicles[counter % len(vehicles)]
    batch_id = str(uuid.uuid4())
    start = T0 + counter * 100_000
    with connection.cursor() as cursor, cursor.copy(
            f"COPY samples ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
        for i in range(BATCH):
            speed = (i * 7 + counter) % 120
            copy.write_row((vehicle, start + i * 1000, batch_id, i, speed + 0.5,
                            speed % 9 + 0.25, 10000 + counter + 0.125,
                            800 + speed * 30, 90, None))
    connection.commit()


def bare_copy(database_url: str, vehicles: list[str], seconds: float) -> CopyRun:
    """Rows/s of one connection doing ``COPY`` + commit per batch of 100 rows, and
    PostgreSQL's CPU per batch.

    A short warm-up (caches, plans) runs first and is not counted.
    """
    import psycopg

    batches = itertools.count(1)
    with psycopg.connect(libpq(database_url)) as connection:
        def copy_for(duration: float) -> tuple[int, float]:
            rows, started = 0, time.perf_counter()
            while time.perf_counter() - started < duration:
                _copy_one_batch(connection, vehicles, next(batches))
                rows += BATCH
            return rows, time.perf_counter() - started

        copy_for(min(1.0, seconds / 4))
        cpu_before = postgres_cpu_seconds()
        rows, elapsed = copy_for(seconds)
        cpu = postgres_cpu_seconds() - cpu_before
    return CopyRun(rows / elapsed, 1000 * cpu / (rows / BATCH))


def prepare_copy_database(admin_url: str) -> str:
    from shared.migrations import upgrade_to_head

    url = infra.create_throwaway_database(admin_url, prefix="ma_bench_copy")
    upgrade_to_head(MIGRATIONS, url)
    return url


async def seed_vehicles(amqp_url: str, vehicles: list[str], user_id: str) -> None:
    """Publish ``vehicle.created`` for each benchmark vehicle on RabbitMQ."""
    from shared.events import Event, create_bus

    bus = create_bus(amqp_url)
    await bus.start()
    try:
        for vehicle in vehicles:
            await bus.publish(Event.new("vehicle.created", "vehicles", {
                "vehicleId": vehicle, "userId": user_id, "vin": "1HGCM82633A004352",
                "dongleId": None}))
    finally:
        await bus.close()


def wait_projection(database_url: str, vehicles: list[str], timeout: float = 60.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(libpq(database_url), autocommit=True) as connection:
        while time.monotonic() < deadline:
            known = connection.execute("SELECT count(*) FROM vehicle_owners WHERE vehicle_id = "
                                       "ANY(%s)", (vehicles,)).fetchone()[0]  # type: ignore[index]
            if known == len(vehicles):
                return
            time.sleep(0.2)
    raise RuntimeError("the ownership projection did not receive the vehicle.created events")


def register(gateway_url: str) -> tuple[str, str]:
    body = json.dumps({"name": "Bench User", "email": f"bench-{uuid.uuid4().hex[:8]}@example.com",
                       "password": "correct-horse-battery"}).encode()
    request = urllib.request.Request(gateway_url + "/api/auth/register/", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        payload = json.loads(response.read())
    return payload["accessToken"], payload["user"]["id"]


def run_wrk_ingest(label: str, url: str, *, processes: int, connections: int, duration: int,
                   token: str, vehicles: list[str], run: int, database_url: str,
                   pids: dict[str, list[int]]) -> IngestRun:
    script = Path(tempfile.gettempdir()) / f"bench-ingest-{run}.lua"
    script.write_text(LUA % {"vehicles": ", ".join(f'"{v}"' for v in vehicles), "token": token,
                             "run": run, "t0": T0, "batch": BATCH})
    before, _, _ = count_rows(database_url)
    busy_before = connection_busy_ms(database_url)
    cpu_before = _cpu(pids)
    argv = [WRK, "-t", "2", "-c", str(connections), "-d", f"{duration}s", "--latency",
            "--timeout", "10s", "-s", str(script), url]
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    time.sleep(1.0)  # let requests that were in flight when wrk stopped finish
    cpu = {part: seconds - cpu_before[part] for part, seconds in _cpu(pids).items()}
    time.sleep(1.0)  # sessions report their times to the statistics about once a second
    busy = connection_busy_ms(database_url) - busy_before
    after, _, _ = count_rows(database_url)
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", output, re.MULTILINE))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    counts = re.search(r"BENCH accepted=(\d+) rejected=(\d+)", output)
    if counts is None:
        raise RuntimeError(f"wrk output without the script's counts:\n{output}")
    accepted, rejected = int(counts.group(1)), int(counts.group(2))
    stored = after - before
    result = IngestRun(
        label=label, processes=processes, connections=connections, duration_s=duration,
        requests_per_s=rps, p50_ms=_ms(percentiles["50"]), p99_ms=_ms(percentiles["99"]),
        accepted_batches=accepted, rejected=rejected, accepted_samples=accepted * BATCH,
        stored_samples=stored, in_flight_at_stop=(stored - accepted * BATCH) // BATCH,
        samples_per_s_stored=stored / duration,
        connection_ms_per_batch=busy / max(stored / BATCH, 1),
        **{f"{part}_core_ms_per_batch": 1000 * seconds / max(stored / BATCH, 1)
           for part, seconds in cpu.items()})
    log(f"  {label:<24} c={connections:<3} {rps:>7.0f} batches/s  "
        f"{result.samples_per_s_stored:>9,.0f} samples/s stored  p50 {result.p50_ms:.1f} ms  "
        f"p99 {result.p99_ms:.1f} ms  accepted {result.accepted_samples:,}  "
        f"stored {stored:,}  rejected {rejected}  core-ms/batch: gateway "
        f"{result.gateway_core_ms_per_batch:.2f}, telematics "
        f"{result.telematics_core_ms_per_batch:.2f}, PostgreSQL "
        f"{result.postgres_core_ms_per_batch:.2f}; connection held "
        f"{result.connection_ms_per_batch:.2f} ms/batch")
    if stored < accepted * BATCH or stored - accepted * BATCH > connections * BATCH:
        raise RuntimeError(f"accepted {accepted * BATCH} samples but stored {stored}")
    return result


def _cpu(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds so far of each part: the processes in ``pids``, and PostgreSQL."""
    return {**{part: sum(cpu_seconds(pid) for pid in group) for part, group in pids.items()},
            "postgres": postgres_cpu_seconds()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--vehicles", type=int, default=32)
    parser.add_argument("--copy-seconds", type=float, default=10.0)
    args = parser.parse_args()

    admin_url, _ = infra.resolve_postgres_admin_url()
    if admin_url is None:
        sys.exit("PostgreSQL is not reachable (set TEST_DATABASE_URL)")
    if not infra.port_answers(AMQP_URL):
        sys.exit("RabbitMQ is not reachable on 127.0.0.1:5672")
    # A vhost of its own: the run's events (a few hundred thousand) never reach the
    # queues of another platform on this broker, and deleting it drops them all.
    amqp_url, drop_vhost = infra.create_throwaway_vhost(AMQP_URL, prefix="ma_bench")
    vehicles = [str(uuid.uuid4()) for _ in range(args.vehicles)]
    databases: list[str] = []
    processes: list[Process] = []
    results: list[IngestRun] = []
    copy_runs: list[CopyRun] = []
    try:
        copy_url = prepare_copy_database(admin_url)
        databases.append(copy_url)
        log(f"baseline: bare COPY, batches of {BATCH}, {args.copy_seconds:.0f} s")
        copy_runs.append(bare_copy(copy_url, vehicles, args.copy_seconds))
        log(f"  bare COPY: {copy_runs[-1].rows_per_s:,.0f} rows/s, PostgreSQL "
            f"{copy_runs[-1].postgres_core_ms_per_batch:.2f} core-ms/batch")

        auth_db = infra.create_throwaway_database(admin_url, prefix="ma_bench_auth")
        telematics_db = infra.create_throwaway_database(admin_url, prefix="ma_bench_tm")
        databases += [auth_db, telematics_db]
        data_dir = tempfile.mkdtemp(prefix="bench-ingest-")
        auth_port, gateway_port = free_port(), free_port()
        auth_url = f"http://127.0.0.1:{auth_port}"
        log(f"starting auth on {auth_url}")
        auth = Process("auth", uvicorn_argv("auth.app:create_app", auth_port, factory=True), {
            "DATA_DIR": data_dir, "DATABASE_URL": auth_db, "AMQP_URL": amqp_url,
            "LOG_LEVEL": "WARNING"})
        processes.append(auth)
        wait_http(auth_url + "/healthz", process=auth)

        telematics_urls: list[str] = []
        telematics_pids: list[int] = []

        def start_telematics() -> None:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            log(f"starting telematics #{len(telematics_urls) + 1} on {url}")
            process = Process(f"telematics{len(telematics_urls) + 1}", uvicorn_argv(
                "telematics.app:create_app", port, factory=True), {
                "DATA_DIR": data_dir, "DATABASE_URL": telematics_db, "AMQP_URL": amqp_url,
                "JWKS_URL": auth_url + "/api/auth/jwks/", "LOG_LEVEL": "WARNING",
                "VEHICLES_URL": "http://127.0.0.1:9"})
            processes.append(process)
            wait_http(url + "/healthz", process=process)
            telematics_urls.append(url)
            telematics_pids.append(process.proc.pid)

        def start_gateway() -> Process:
            env = {f"UPSTREAM_{s.upper()}": "" for s in OTHER_SERVICES}
            env.update(UPSTREAM_AUTH=auth_url, UPSTREAM_TELEMATICS=",".join(telematics_urls),
                       LOG_LEVEL="WARNING")
            log(f"starting gateway on :{gateway_port} -> telematics {','.join(telematics_urls)}")
            gateway = Process("gateway", uvicorn_argv("gateway.app:create_app", gateway_port,
                                                      factory=True), env)
            processes.append(gateway)  # stopped in `finally` too, if the run fails
            wait_http(f"http://127.0.0.1:{gateway_port}/healthz", process=gateway)
            return gateway

        start_telematics()
        gateway = start_gateway()
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        token, user_id = register(gateway_url)
        log(f"registered user {user_id}; publishing vehicle.created for {len(vehicles)} "
            "vehicles on RabbitMQ")
        time.sleep(1.0)  # the consumer declares its queue once connected to the broker
        asyncio.run(seed_vehicles(amqp_url, vehicles, user_id))
        wait_projection(telematics_db, vehicles)
        log("projection has every vehicle; warming up")
        run = 0
        url = gateway_url + "/"
        def pids() -> dict[str, list[int]]:
            return {"gateway": [gateway.proc.pid], "telematics": telematics_pids}

        run_wrk_ingest("warm-up", url, processes=1, connections=4, duration=3, token=token,
                       vehicles=vehicles, run=run, database_url=telematics_db, pids=pids())
        for process_count in (1, 2):
            if process_count == 2:
                start_telematics()
                gateway.stop()
                gateway = start_gateway()
            for connections in (8, 32):
                run += 1
                results.append(run_wrk_ingest(
                    f"{process_count} telematics process{'es' if process_count > 1 else ''}",
                    url, processes=process_count, connections=connections,
                    duration=args.duration, token=token, vehicles=vehicles, run=run,
                    database_url=telematics_db, pids=pids()))
        gateway.stop()
        samples, batches, accepted_sum = count_rows(telematics_db)
        log(f"database: {samples:,} samples, {batches:,} batches, sum(accepted) "
            f"{accepted_sum:,}")
        if samples != accepted_sum:
            raise RuntimeError("sum(batches.accepted) != count(samples)")
        log(f"baseline again: bare COPY, {args.copy_seconds:.0f} s")
        copy_runs.append(bare_copy(copy_url, vehicles, args.copy_seconds))
        log(f"  bare COPY: {copy_runs[-1].rows_per_s:,.0f} rows/s, PostgreSQL "
            f"{copy_runs[-1].postgres_core_ms_per_batch:.2f} core-ms/batch")
    finally:
        for process in reversed(processes):
            process.stop()
        for url in databases:
            infra.drop_database(admin_url, url)
        drop_vhost()

    copy_rates = [run.rows_per_s for run in copy_runs]
    copy_rate = sum(copy_rates) / len(copy_rates)
    copy_pg_ms = sum(run.postgres_core_ms_per_batch for run in copy_runs) / len(copy_runs)
    for result in results:
        result.ratio_to_copy = result.samples_per_s_stored / copy_rate
    best = max(results, key=lambda r: r.samples_per_s_stored)
    rows = ["| telematics processes | c | batches/s | samples/s stored | p50 ms | p99 ms | "
            "accepted samples | stored samples | ratio to bare COPY | core-ms per batch: "
            "gateway / telematics / PostgreSQL | connection ms per batch |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    rows += [f"| {r.processes} | {r.connections} | {r.requests_per_s:,.0f} | "
             f"{r.samples_per_s_stored:,.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | "
             f"{r.accepted_samples:,} | {r.stored_samples:,} | {r.ratio_to_copy:.2f} | "
             f"{r.gateway_core_ms_per_batch:.2f} / {r.telematics_core_ms_per_batch:.2f} / "
             f"{r.postgres_core_ms_per_batch:.2f} | {r.connection_ms_per_batch:.2f} |"
             for r in results]
    command = (f"uv run python bench/ingest.py --duration {args.duration} "
               f"--vehicles {args.vehicles} --copy-seconds {args.copy_seconds:g}")
    table = (
        "# Telemetry ingest through the gateway vs a bare PostgreSQL COPY\n\n"
        f"`{command}` — auth, telematics (1 then 2 processes, one PostgreSQL database), "
        "gateway: separate uvicorn processes (uvloop, httptools); RabbitMQ for events; wrk "
        f"(2 threads, `--latency`) POSTing batches of {BATCH} samples through the gateway; "
        "everything on the same 2-core machine.\n\n"
        f"Bare `COPY` of the same rows into the same `samples` table (one connection, one "
        f"COPY + commit per {BATCH} rows): "
        + " and ".join(f"{rate:,.0f}" for rate in copy_rates)
        + f" rows/s (before and after the load runs; mean **{copy_rate:,.0f}**); PostgreSQL "
        f"spends **{copy_pg_ms:.2f} core-ms** per {BATCH}-row COPY + commit.\n\n"
        + "\n".join(rows)
        + f"\n\n- best: **{best.samples_per_s_stored:,.0f} samples/s** stored "
        f"({best.processes} process(es), c={best.connections}) = "
        f"**{best.ratio_to_copy:.2f}x** the bare COPY (budget >= 0.33)\n"
        "- accepted = samples in 202 answers wrk received; stored = rows counted in the "
        "database after the run. Stored exceeds accepted only by batches still in flight "
        "when wrk stopped (at most one per connection); every run also checks "
        "`sum(telemetry_batches.accepted) == count(samples)`.\n"
        "- core-ms per batch: CPU time (user + system, `/proc`) the gateway process, the "
        "telematics processes and every PostgreSQL process spent during the run, divided by "
        "the batches stored.\n"
        "- connection ms per batch: time the telematics database's sessions spent in a "
        "statement or a transaction (`pg_stat_database.active_time + "
        "idle_in_transaction_time`) per batch: how long a transaction-pooling PgBouncer "
        "lends a server connection to one batch.\n")
    print(table)
    write_results("ingest", {
        "command": command, "batchSize": BATCH, "vehicles": args.vehicles,
        "bareCopyRowsPerS": copy_rates, "bareCopyMeanRowsPerS": copy_rate,
        "bareCopyPostgresCoreMsPerBatch": copy_pg_ms,
        "results": [asdict(r) for r in results],
        "best": {"samplesPerS": best.samples_per_s_stored, "ratioToCopy": best.ratio_to_copy},
    }, table)


if __name__ == "__main__":
    main()
