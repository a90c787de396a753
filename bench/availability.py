"""Availability: ``GET /api/appointments/availability/`` on the real topology.

Starts auth, vehicles and appointments exactly as ``make up`` does
(``launcher.local.Topology``: a process per service on throwaway PostgreSQL databases and
a throwaway RabbitMQ vhost) behind the gateway; an admin (``ADMIN_EMAIL``) creates a
location with six bays, a member books 40 appointments on one future Monday through the
gateway (spread over the day, so some slots are full and most are not); then wrk
(``--latency``, a separate process) asks for that Monday's availability directly from the
appointments service and through the gateway, at concurrency 1 and 32.

SQL statements per request: ``pg_stat_statements`` needs ``shared_preload_libraries``
(a server restart), so instead the script reads PostgreSQL's own per-table counters for
the appointments database before and after each run. Every statement of the read path
scans exactly one table once (the location by primary key, then the appointments range),
so the growth of ``seq_scan + idx_scan`` summed over ``locations`` and ``appointments``,
divided by the availability requests the service counted itself (its ``/metrics``
``http_requests_total``), is the number of statements per request. Background work (the
outbox relay) touches only ``outbox_events``, which is left out. Budget (ARCHITECTURE.md):
one or two statements per request, and at least 1,000 requests/s through the gateway at
c=32 (the original: 47-54).

Writes ``bench/results/availability.{json,md}``.

    uv run python bench/availability.py [--duration 10]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_bench_lib import WrkResult, as_dicts, log, run_wrk, write_results  # noqa: E402

from launcher.catalog import SERVICES  # noqa: E402
from shared.net import free_port  # noqa: E402
from testsupport import infra  # noqa: E402
from testsupport.topology import throwaway_topology  # noqa: E402

PATH = "/api/appointments/availability/"
ADMIN_EMAIL = "admin@bench.membershipauto.test"
ADMIN_PASSWORD = "bench-admin-password"
NEEDED = ("auth", "vehicles", "appointments")
APPOINTMENTS = 40
CAPACITY = 6
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
ZONE = ZoneInfo("America/New_York")
# A busy backend publishes its table counters at most once a second, an idle one within
# 10 s (PostgreSQL's PGSTAT_IDLE_INTERVAL): wait that long before reading them.
STATS_FLUSH_S = 11.0


def next_monday() -> date:
    day = datetime.now(UTC).date() + timedelta(days=2)
    return day + timedelta(days=-day.weekday() % 7)


def seed(gateway_url: str, day: date) -> tuple[str, str]:
    """A location with ``APPOINTMENTS`` bookings on ``day``: (member token, location id)."""
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        admin = client.post("/api/auth/login/", json={"email": ADMIN_EMAIL,
                                                      "password": ADMIN_PASSWORD})
        admin.raise_for_status()
        location = client.post("/api/appointments/locations/", json={
            "name": "Bench garage", "timezone": ZONE.key, "capacity": CAPACITY,
            "lat": 40.7128, "lng": -74.0060,
        }, headers={"Authorization": f"Bearer {admin.json()['accessToken']}"})
        location.raise_for_status()
        location_id = str(location.json()["id"])
        member = client.post("/api/auth/register/", json={
            "email": f"bench-{uuid.uuid4().hex[:8]}@example.com", "password": "password123"})
        member.raise_for_status()
        token = str(member.json()["accessToken"])
        headers = {"Authorization": f"Bearer {token}"}
        vin = "".join(VIN_CHARS[(uuid.uuid4().int >> k) % len(VIN_CHARS)] for k in range(17))
        vehicle = client.post("/api/vehicles/", headers=headers, json={
            "vin": vin, "make": "Honda", "model": "Civic", "year": 2020})
        vehicle.raise_for_status()
        # 19 one-hour starts fit in 08:00-18:00 local; 40 bookings cycle through them.
        opening = datetime(day.year, day.month, day.day, 8, tzinfo=ZONE)
        for i in range(APPOINTMENTS):
            start = opening + timedelta(minutes=30 * (i % 19))
            client.post("/api/appointments/book/", headers=headers, json={
                "vehicleId": vehicle.json()["id"], "locationId": location_id,
                "startTime": start.isoformat()}).raise_for_status()
        free = client.get(PATH, params={"locationId": location_id, "date": day.isoformat()},
                          headers=headers)
        free.raise_for_status()
        log(f"  {APPOINTMENTS} appointments booked; "
            f"{len(free.json()['availableSlots'])} of 20 slots still free")
    return token, location_id


def _libpq(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(scheme="postgresql"))


def table_scans(database_url: str) -> int:
    """``seq_scan + idx_scan`` of the tables the read path touches, as published now."""
    with psycopg.connect(_libpq(database_url), autocommit=True) as connection:
        row = connection.execute(
            "SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0) "
            "FROM pg_stat_user_tables WHERE relname IN ('locations', 'appointments')"
        ).fetchone()
    return int(row[0]) if row else 0


def availability_requests(service_url: str) -> int:
    """Availability requests the appointments process has answered (its /metrics)."""
    text = httpx.get(f"{service_url}/metrics", timeout=10).text
    pattern = re.compile(r'^http_requests_total\{[^}]*route="/api/appointments/availability/"'
                         r'[^}]*\}\s+([\d.e+]+)$', re.MULTILINE)
    return int(sum(float(value) for value in pattern.findall(text)))


def measured(label: str, url: str, connections: int, duration: int, token: str,
             database_url: str, service_url: str) -> tuple[WrkResult, float]:
    """One wrk run and the SQL statements per request it caused."""
    scans, requests = table_scans(database_url), availability_requests(service_url)
    result = run_wrk(label, url, connections=connections, duration=duration, token=token)
    time.sleep(STATS_FLUSH_S)
    served = availability_requests(service_url) - requests
    per_request = (table_scans(database_url) - scans) / served if served else float("nan")
    log(f"    {served} requests served, {per_request:.3f} SQL statements per request")
    return result, per_request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    admin_url, _ = infra.resolve_postgres_admin_url()
    amqp_url, _ = infra.resolve_amqp_url()
    if admin_url is None or amqp_url is None:
        sys.exit("PostgreSQL and RabbitMQ must be reachable (see README, Tests)")
    day = next_monday()
    results: list[WrkResult] = []
    statements: dict[str, float] = {}
    log("starting auth, vehicles, appointments and the gateway (PostgreSQL, RabbitMQ)")
    with throwaway_topology(
            admin_url, amqp_url, prefix="ma_bench", progress=log, gateway_port=free_port(),
            services=tuple(spec for spec in SERVICES if spec.name in NEEDED),
            ports={name: [free_port()] for name in NEEDED},
            extra_env={"LOG_LEVEL": "WARNING", "ADMIN_EMAIL": ADMIN_EMAIL,
                       "ADMIN_PASSWORD": ADMIN_PASSWORD}) as topology:
        token, location_id = seed(topology.url, day)
        query = f"{PATH}?locationId={location_id}&date={day.isoformat()}"
        service = topology.processes["appointments"][0]
        database_url = service.env["DATABASE_URL"]
        run_wrk("warm-up", topology.url + query, connections=4, duration=2, token=token)
        time.sleep(STATS_FLUSH_S)
        for connections in (1, 32):
            for label, base in (("direct", service.url), ("through gateway", topology.url)):
                result, per_request = measured(label, base + query, connections,
                                               args.duration, token, database_url,
                                               service.url)
                results.append(result)
                statements[f"{label} c={connections}"] = round(per_request, 3)

    by = {(r.label, r.connections): r for r in results}
    through_32 = by[("through gateway", 32)].requests_per_s
    ratio_32 = through_32 / by[("direct", 32)].requests_per_s
    worst_statements = max(statements.values())
    rows = ["| target | c | req/s | p50 ms | p99 ms | non-2xx | SQL statements / request |",
            "|---|---|---|---|---|---|---|"]
    rows += [f"| {r.label} | {r.connections} | {r.requests_per_s:,.0f} | {r.p50_ms:.3f} | "
             f"{r.p99_ms:.3f} | {r.non_2xx} | {statements[f'{r.label} c={r.connections}']} |"
             for r in results]
    table = (f"# Availability: `GET {PATH}` (a location with {APPOINTMENTS} appointments on "
             "the day), real topology\n\n"
             f"`uv run python bench/availability.py --duration {args.duration}` — auth, "
             "vehicles, appointments and the gateway as separate processes (uvicorn, uvloop, "
             "httptools) on PostgreSQL and RabbitMQ, wrk `--latency` on the same 2-core "
             "machine. SQL statements per request = growth of `seq_scan + idx_scan` of "
             "`locations` and `appointments` (pg_stat_user_tables) / availability requests "
             "the service counted (see the script).\n\n" + "\n".join(rows)
             + f"\n\n- through the gateway at c=32: **{through_32:,.0f} req/s**, "
             f"{ratio_32:.2f}x direct (budget >= 1,000 req/s; the original Django backend: "
             f"47-54)\n- SQL statements per request: at most **{worst_statements}** "
             "(budget: 1 or 2; the original ran one per slot)\n")
    print(table)
    write_results("availability", {
        "path": PATH, "duration_s": args.duration, "appointmentsOnDay": APPOINTMENTS,
        "results": as_dicts(results), "sqlStatementsPerRequest": statements,
        "throughGatewayReqPerSAtC32": through_32,
        "throughGatewayToDirectRatioAtC32": round(ratio_32, 3)}, table)


if __name__ == "__main__":
    main()
