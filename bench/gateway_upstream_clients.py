"""Which HTTP client should the gateway use for the upstream hop? Measured, not guessed.

Starts a tiny stand-in service (FastAPI, uvicorn + uvloop + httptools) and, one at a
time, a minimal forwarding ASGI app built on each candidate client, served the same
way, then drives each with wrk (separate process, ``--latency``) at concurrency 1
and 32 against ``GET /api/auth/me/``. Also measures the full gateway
(``gateway.app:create_app``: token check, CORS, request id, metrics) on the chosen
client. Writes ``bench/results/gateway_upstream_clients.{json,md}``.

    uv run python bench/gateway_upstream_clients.py [--duration 8]

Candidates: httpx.AsyncClient (pool limits raised), aiohttp.ClientSession with a
keep-alive TCPConnector, and the gateway's own keep-alive HTTP/1.1 client
(``gateway.http1`` on asyncio protocols + httptools).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

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

PATH = "/api/auth/me/"
_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
        "content-length"}


# -- the forwarders (run inside the proxy process) --------------------------------------

def httpx_forwarder(upstream: str) -> Any:
    import httpx

    client: httpx.AsyncClient | None = None

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal client
        if scope["type"] != "http":
            return
        if client is None:
            client = httpx.AsyncClient(base_url=upstream, timeout=30, limits=httpx.Limits(
                max_connections=200, max_keepalive_connections=200))
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
        response = await client.request(scope["method"], scope["path"], headers=headers,
                                        content=body)
        out = response.content
        await send({"type": "http.response.start", "status": response.status_code,
                    "headers": [(k, v) for k, v in response.headers.raw
                                if k.decode().lower() not in _HOP]
                    + [(b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})

    return app


def aiohttp_forwarder(upstream: str) -> Any:
    import aiohttp

    session: aiohttp.ClientSession | None = None

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal session
        if scope["type"] != "http":
            return
        if session is None:
            session = aiohttp.ClientSession(
                base_url=upstream, auto_decompress=False,
                connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=60))
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"] if k != b"host"]
        async with session.request(scope["method"], scope["path"], headers=headers,
                                   data=body or None) as response:
            out = await response.read()
            raw = response.raw_headers
            status = response.status
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k, v) for k, v in raw if k.decode().lower() not in _HOP]
                    + [(b"content-length", str(len(out)).encode())]})
        await send({"type": "http.response.body", "body": out})

    return app


def http1_forwarder(upstream: str) -> Any:
    from gateway.http_upstream import HttpUpstream

    target = HttpUpstream("auth", [upstream])

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await target.handle_http(scope, receive, send)

    return app


FORWARDERS = {"httpx": httpx_forwarder, "aiohttp": aiohttp_forwarder, "http1": http1_forwarder}


def forwarder_app() -> Any:
    """uvicorn factory: the forwarder named by BENCH_CLIENT to BENCH_UPSTREAM."""
    return FORWARDERS[os.environ["BENCH_CLIENT"]](os.environ["BENCH_UPSTREAM"])


# -- the driver ---------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=8)
    args = parser.parse_args()

    _, jwks, token = make_keys()
    service_port = free_port()
    bench_dir = str(Path(__file__).resolve().parent)
    env = {"BENCH_JWKS": json.dumps(jwks), "PYTHONPATH": bench_dir}
    service = Process("standin", uvicorn_argv("gateway_standin:app", service_port), env)
    results = []
    try:
        upstream = f"http://127.0.0.1:{service_port}"
        wait_http(upstream + "/healthz", process=service)
        log(f"stand-in service on {upstream}")
        for connections in (1, 32):
            results.append(run_wrk("direct", upstream + PATH, connections=connections,
                                   duration=args.duration, token=token))
        candidates: list[tuple[str, list[str], dict[str, str]]] = [
            (name, uvicorn_argv("gateway_upstream_clients:forwarder_app", 0, factory=True),
             {"BENCH_CLIENT": name, "BENCH_UPSTREAM": upstream}) for name in FORWARDERS]
        candidates.append(("gateway (full, http1)",
                           uvicorn_argv("gateway.app:create_app", 0, factory=True),
                           {f"UPSTREAM_{s.upper()}": "" for s in (
                               "vehicles", "telematics", "appointments", "engagement", "chat",
                               "files")} | {"UPSTREAM_AUTH": upstream}))
        for label, argv, extra_env in candidates:
            port = free_port()
            argv[argv.index("--port") + 1] = str(port)
            proxy = Process(f"proxy-{label.split()[0]}", argv, {**env, **extra_env})
            try:
                url = f"http://127.0.0.1:{port}"
                wait_http(url + ("/healthz" if label.startswith("gateway") else PATH),
                          process=proxy)
                log(f"{label} on {url}")
                run_wrk(label, url + PATH, connections=4, duration=2, token=token)  # warm-up
                for connections in (1, 32):
                    results.append(run_wrk(label, url + PATH, connections=connections,
                                           duration=args.duration, token=token))
            finally:
                proxy.stop()
    finally:
        service.stop()

    direct = {r.connections: r for r in results if r.label == "direct"}
    rows = ["| upstream hop | c | req/s | p50 ms | p99 ms | added p50 ms (c=1) | "
            "throughput vs direct (c=32) |", "|---|---|---|---|---|---|---|"]
    summary = []
    for r in results:
        added = r.p50_ms - direct[1].p50_ms if r.connections == 1 else None
        ratio = r.requests_per_s / direct[32].requests_per_s if r.connections == 32 else None
        rows.append(f"| {r.label} | {r.connections} | {r.requests_per_s:,.0f} | {r.p50_ms:.3f} "
                    f"| {r.p99_ms:.3f} | {'' if added is None else f'{added:+.3f}'} | "
                    f"{'' if ratio is None else f'{ratio:.2f}'} |")
        summary.append({"label": r.label, "connections": r.connections,
                        "addedP50Ms": added, "throughputRatio": ratio})
    table = ("# Gateway upstream client comparison\n\n"
             f"`uv run python bench/gateway_upstream_clients.py --duration {args.duration}` — "
             "stand-in FastAPI service, every server uvicorn + uvloop + httptools (1 process), "
             "wrk on the same 2-core machine, `GET /api/auth/me/` with a bearer token.\n\n"
             + "\n".join(rows) + "\n")
    print(table)
    write_results("gateway_upstream_clients",
                  {"path": PATH, "duration_s": args.duration, "results": as_dicts(results),
                   "summary": summary}, table)


if __name__ == "__main__":
    main()
