"""Read path: ``GET /api/vehicles/`` on the real topology, direct and through the gateway.

Starts the platform exactly as ``make up`` does (``launcher.local.Topology``: a process
per service on throwaway PostgreSQL databases and a throwaway RabbitMQ vhost), registers
a member with five vehicles through the gateway, then runs wrk (``--latency``) against
the vehicles service directly and through the gateway at concurrency 1 and 32.
Writes ``bench/results/read_paths.{json,md}``. Budget (ARCHITECTURE.md): at least
1,000 requests/s through the gateway at concurrency 32 (the original: 94-235).

    uv run python bench/read_paths.py [--duration 10]
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_bench_lib import as_dicts, log, run_wrk, write_results  # noqa: E402

from shared.net import free_port  # noqa: E402
from testsupport import infra  # noqa: E402
from testsupport.topology import throwaway_topology  # noqa: E402

PATH = "/api/vehicles/"
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"


def seed_member(gateway_url: str) -> str:
    """Register a member with five vehicles; returns the access token."""
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        response = client.post("/api/auth/register/", json={
            "email": f"bench-{uuid.uuid4().hex[:8]}@example.com", "password": "password123"})
        response.raise_for_status()
        token = str(response.json()["accessToken"])
        for i in range(5):
            vin = "".join(VIN_CHARS[(uuid.uuid4().int >> k) % len(VIN_CHARS)]
                          for k in range(17))
            client.post(PATH, headers={"Authorization": f"Bearer {token}"}, json={
                "vin": vin, "make": "Honda", "model": f"Civic {i}", "year": 2020,
            }).raise_for_status()
    return token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    admin_url, _ = infra.resolve_postgres_admin_url()
    amqp_url, _ = infra.resolve_amqp_url()
    if admin_url is None or amqp_url is None:
        sys.exit("PostgreSQL and RabbitMQ must be reachable (see README, Tests)")
    results = []
    log("starting the platform (a process per service, PostgreSQL, RabbitMQ)")
    with throwaway_topology(admin_url, amqp_url, prefix="ma_bench", progress=log,
                            gateway_port=free_port(), extra_env={"LOG_LEVEL": "WARNING"},
                            ports={"auth": [free_port()], "vehicles": [free_port()],
                                   "telematics": [free_port()]}) as topology:
        token = seed_member(topology.url)
        direct = topology.processes["vehicles"][0].url
        run_wrk("warm-up", topology.url + PATH, connections=4, duration=2, token=token)
        for connections in (1, 32):
            results.append(run_wrk("direct", direct + PATH, connections=connections,
                                   duration=args.duration, token=token))
            results.append(run_wrk("through gateway", topology.url + PATH,
                                   connections=connections, duration=args.duration,
                                   token=token))

    by = {(r.label, r.connections): r for r in results}
    through_32 = by[("through gateway", 32)].requests_per_s
    rows = ["| target | c | req/s | p50 ms | p99 ms | non-2xx |", "|---|---|---|---|---|---|"]
    rows += [f"| {r.label} | {r.connections} | {r.requests_per_s:,.0f} | {r.p50_ms:.3f} | "
             f"{r.p99_ms:.3f} | {r.non_2xx} |" for r in results]
    table = (f"# Read path: `GET {PATH}` (a member with five vehicles), real topology\n\n"
             f"`uv run python bench/read_paths.py --duration {args.duration}` — a process "
             "per service (uvicorn, uvloop, httptools) on PostgreSQL and RabbitMQ, wrk "
             "`--latency` on the same 2-core machine.\n\n" + "\n".join(rows)
             + f"\n\n- through the gateway at c=32: **{through_32:,.0f} req/s** "
             "(budget >= 1,000; the original Django backend: 94-235)\n")
    print(table)
    write_results("read_paths", {"path": PATH, "duration_s": args.duration,
                                 "results": as_dicts(results),
                                 "throughGatewayReqPerSAtC32": through_32}, table)


if __name__ == "__main__":
    main()
