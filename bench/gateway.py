"""Gateway overhead on the real auth service: ``GET /api/auth/me/`` direct vs through it.

Starts the auth service (``uvicorn auth.app:create_app --factory``, on a throwaway
PostgreSQL database as in the real topology, or SQLite with ``--sqlite``) and the gateway
(``uvicorn gateway.app:create_app --factory``) as separate processes, both on uvloop +
httptools, registers a user through the gateway, then runs wrk (``--latency``) against
the service directly and through the gateway at concurrency 1 and 32 in one run.
Writes ``bench/results/gateway.{json,md}``: req/s, p50, p99, the added p50 at c=1 and
the gateway/direct throughput ratio at c=32 (budget: < 1 ms, >= 0.5).

    uv run python bench/gateway.py [--duration 10] [--sqlite] [--standin]

``--standin`` measures against the tiny FastAPI stand-in (``bench/gateway_standin.py``)
instead of auth (for when the auth service cannot start).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_bench_lib import (  # noqa: E402
    Process,
    as_dicts,
    log,
    make_keys,
    run_wrk,
    uvicorn_argv,
    wait_http,
    write_results,
)

from shared.net import free_port  # noqa: E402
from testsupport import infra  # noqa: E402

PATH = "/api/auth/me/"
OTHER_SERVICES = ("vehicles", "telematics", "appointments", "engagement", "chat", "files")


def register(gateway_url: str) -> str:
    body = json.dumps({"name": "Bench User", "email": f"bench-{uuid.uuid4().hex[:8]}@example.com",
                       "password": "correct-horse-battery"}).encode()
    request = urllib.request.Request(gateway_url + "/api/auth/register/", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())["accessToken"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--standin", action="store_true")
    parser.add_argument("--sqlite", action="store_true",
                        help="auth on SQLite (the embedded mode's database) instead of PostgreSQL")
    args = parser.parse_args()

    service_port, gateway_port = free_port(), free_port()
    service_url = f"http://127.0.0.1:{service_port}"
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    data_dir = tempfile.mkdtemp(prefix="bench-gateway-")
    bench_dir = str(Path(__file__).resolve().parent)
    token = None
    admin_url = database_url = None
    if args.standin:
        _, jwks, token = make_keys()
        service = Process("standin", uvicorn_argv("gateway_standin:app", service_port),
                          {"BENCH_JWKS": json.dumps(jwks), "PYTHONPATH": bench_dir})
        subject = "stand-in FastAPI app (bench/gateway_standin.py)"
    else:
        env = {"DATA_DIR": data_dir, "JWKS_URL": service_url + "/api/auth/jwks/",
               "LOG_LEVEL": "WARNING"}
        if args.sqlite:
            subject = "auth service (uvicorn auth.app:create_app --factory, SQLite)"
        else:
            admin_url, _ = infra.resolve_postgres_admin_url()
            if admin_url is None:
                sys.exit("PostgreSQL is not reachable (set TEST_DATABASE_URL or use --sqlite)")
            database_url = infra.create_throwaway_database(admin_url, prefix="ma_bench")
            env["DATABASE_URL"] = database_url
            subject = "auth service (uvicorn auth.app:create_app --factory, PostgreSQL)"
        service = Process("auth", uvicorn_argv("auth.app:create_app", service_port, factory=True),
                          env)
    gateway_env = {f"UPSTREAM_{s.upper()}": "" for s in OTHER_SERVICES}
    gateway_env.update(UPSTREAM_AUTH=service_url, LOG_LEVEL="WARNING")
    gateway = None
    results = []
    try:
        log(f"starting {subject} on {service_url}")
        wait_http(service_url + "/healthz", process=service)
        log(f"starting gateway on {gateway_url}")
        gateway = Process("gateway", uvicorn_argv("gateway.app:create_app", gateway_port,
                                                  factory=True), gateway_env)
        wait_http(gateway_url + "/healthz", process=gateway)
        if token is None:
            log("registering a user through the gateway")
            token = register(gateway_url)
        log("warming up")
        run_wrk("warm-up direct", service_url + PATH, connections=4, duration=2, token=token)
        run_wrk("warm-up gateway", gateway_url + PATH, connections=4, duration=2, token=token)
        for connections in (1, 32):
            results.append(run_wrk("direct", service_url + PATH, connections=connections,
                                   duration=args.duration, token=token))
            results.append(run_wrk("through gateway", gateway_url + PATH,
                                   connections=connections, duration=args.duration,
                                   token=token))
    finally:
        if gateway is not None:
            gateway.stop()
        service.stop()
        if database_url and admin_url:
            infra.drop_database(admin_url, database_url)

    by = {(r.label, r.connections): r for r in results}
    added_p50 = by[("through gateway", 1)].p50_ms - by[("direct", 1)].p50_ms
    ratio = by[("through gateway", 32)].requests_per_s / by[("direct", 32)].requests_per_s
    rows = ["| target | c | req/s | p50 ms | p99 ms | non-2xx |", "|---|---|---|---|---|---|"]
    rows += [f"| {r.label} | {r.connections} | {r.requests_per_s:,.0f} | {r.p50_ms:.3f} | "
             f"{r.p99_ms:.3f} | {r.non_2xx} |" for r in results]
    table = (f"# Gateway overhead: `GET {PATH}` on the {subject}\n\n"
             f"`uv run python bench/gateway.py --duration {args.duration}"
             f"{' --sqlite' if args.sqlite else ''}{' --standin' if args.standin else ''}`"
             " — separate processes, uvicorn + uvloop + "
             "httptools, wrk `--latency` on the same 2-core machine.\n\n" + "\n".join(rows)
             + f"\n\n- added median latency at c=1: **{added_p50:+.3f} ms** (budget < 1 ms)\n"
             f"- throughput through the gateway / direct at c=32: **{ratio:.2f}** "
             "(budget >= 0.5)\n")
    print(table)
    write_results("gateway", {"subject": subject, "path": PATH, "duration_s": args.duration,
                              "results": as_dicts(results), "addedP50MsAtC1": added_p50,
                              "throughputRatioAtC32": ratio}, table)


if __name__ == "__main__":
    main()
