"""Chat: N WebSocket clients through the gateway on ONE chat process, a sender at R msg/s.

Starts the platform exactly as ``make up`` does (``launcher.local.Topology``: a process
per service, one of them chat, on throwaway PostgreSQL databases and a throwaway
RabbitMQ vhost), registers N members with a thread each and one support advisor, then,
in client processes separate from the platform:

- ``--client-processes`` receivers open one socket per member through the gateway and
  hold them;
- one sender process (a support advisor, ``--sender-sockets`` sockets taking turns)
  sends ``SEND`` frames at ``--rate`` per second in all for ``--duration`` seconds,
  round-robin over the members' threads.

Each body carries the sender's ``CLOCK_MONOTONIC`` stamp (system-wide on Linux, so it
compares across processes); the SEND->MESSAGE latency is taken where the thread's owner
receives the ``MESSAGE``. Also reported: connections held (client side and the chat
process's ``chat_websocket_connections`` gauge), RSS of the chat and gateway processes
before and with the sockets, their open-file limits. Writes
``bench/results/chat.{json,md}``. Budget (ARCHITECTURE.md): 5,000 sockets on one chat
process; SEND->MESSAGE p99 under 20 ms at 200 messages/s (the original: p99 11 ms for
one lone client).

    uv run python bench/chat.py [--clients 5000] [--rate 200] [--duration 30]
                                [--client-processes 2] [--sender-sockets 4] [--deflate]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import statistics
import sys
import time
import uuid
from multiprocessing.synchronize import Event as StopEvent
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_bench_lib import cpu_seconds, log, write_results  # noqa: E402

from launcher.catalog import SERVICES  # noqa: E402
from shared.net import free_port  # noqa: E402
from testsupport import infra  # noqa: E402
from testsupport.topology import throwaway_topology  # noqa: E402

ADMIN_EMAIL = "admin@bench.membershipauto.test"
ADMIN_PASSWORD = "bench-admin-password"
PASSWORD = "password123"
# Seeding thousands of members must not be what the run measures: cheap password
# hashing and no registration rate limit (the chat path does not touch either).
PLATFORM_ENV = {"LOG_LEVEL": "WARNING", "ADMIN_EMAIL": ADMIN_EMAIL,
                "ADMIN_PASSWORD": ADMIN_PASSWORD, "PASSWORD_HASH_TIME_COST": "1",
                "PASSWORD_HASH_MEMORY_KIB": "1024", "RATE_LIMIT_REGISTER_PER_IP": "1000000"}
SEED_CONCURRENCY = 16
CONNECT_CONCURRENCY = 64


def raise_fd_limit(needed: int) -> int:
    """Raise this process's open-file limit to its hard limit (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        sys.exit(f"open-file limit {target} < {needed} needed: raise the hard limit "
                 "(ulimit -Hn) first")
    return target


def proc_status(pid: int, field: str) -> int:
    """A ``kB`` field of ``/proc/<pid>/status`` (VmRSS, VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def open_file_limit(pid: int) -> int:
    """The soft ``Max open files`` of a running process."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise KeyError("Max open files")


def percentiles(values_ms: list[float]) -> dict[str, float]:
    if not values_ms:
        return {}
    ordered = sorted(values_ms)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": round(ordered[-1], 3),
            "mean": round(statistics.fmean(ordered), 3), "count": len(ordered)}


# -- seeding (in the launcher process, before any socket) ---------------------------------

async def seed(gateway_url: str, members: int) -> tuple[list[str], list[str], str]:
    """Register ``members`` members with a thread each and one support advisor.

    Returns the members' tokens, their thread ids (same order) and the advisor's token.
    """
    async with httpx.AsyncClient(base_url=gateway_url, timeout=60) as client:
        gate = asyncio.Semaphore(SEED_CONCURRENCY)

        async def register() -> dict[str, Any]:
            async with gate:
                response = await client.post("/api/auth/register/", json={
                    "email": f"bench-{uuid.uuid4().hex}@example.com", "password": PASSWORD})
                response.raise_for_status()
                body: dict[str, Any] = response.json()
                thread = await client.post(
                    "/api/chat/threads/", json={"subject": "bench"},
                    headers={"Authorization": f"Bearer {body['accessToken']}"})
                thread.raise_for_status()
                body["threadId"] = thread.json()["id"]
                return body

        advisor = await register()
        admin = (await client.post("/api/auth/login/", json={
            "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).json()["accessToken"]
        (await client.post(f"/api/auth/users/{advisor['user']['id']}/role/",
                           json={"role": "support"},
                           headers={"Authorization": f"Bearer {admin}"})).raise_for_status()
        support = (await client.post("/api/auth/login/", json={
            "email": advisor["user"]["email"], "password": PASSWORD})).json()["accessToken"]
        bodies: list[dict[str, Any]] = []
        for start in range(0, members, 500):
            bodies += await asyncio.gather(*(register() for _ in
                                             range(min(500, members - start))))
            log(f"  {len(bodies)}/{members} members registered")
    return [b["accessToken"] for b in bodies], [b["threadId"] for b in bodies], str(support)


# -- client processes ----------------------------------------------------------------------

async def _connect(ws_url: str, token: str, deflate: bool) -> Any:
    from websockets.asyncio.client import connect

    for attempt in range(5):
        try:
            return await connect(f"{ws_url}?token={token}", open_timeout=30, ping_interval=None,
                                 compression="deflate" if deflate else None,
                                 max_queue=None)
        except Exception:  # refused, reset or timed out under load: try again
            if attempt == 4:
                raise
            await asyncio.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


async def _hold(ws_url: str, tokens: list[str], deflate: bool, ready: Any,
                stop: StopEvent) -> dict[str, Any]:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    latencies_ms: list[float] = []
    failures = 0

    async def open_one(token: str) -> Any:
        nonlocal failures
        async with gate:
            try:
                return await _connect(ws_url, token, deflate)
            except Exception:
                failures += 1
                return None

    sockets = [s for s in await asyncio.gather(*(open_one(t) for t in tokens)) if s]
    ready.put(len(sockets))

    async def read(socket: Any) -> None:
        async for raw in socket:
            now = time.monotonic_ns()
            frame = json.loads(raw)
            if frame.get("type") == "MESSAGE":
                latencies_ms.append((now - int(frame["body"])) / 1e6)

    readers = [asyncio.create_task(read(s)) for s in sockets]
    await asyncio.to_thread(stop.wait)
    still_open = sum(1 for s in sockets if s.state.name == "OPEN")
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    return {"connected": len(sockets), "failed": failures, "openAtEnd": still_open,
            "latenciesMs": latencies_ms}


def receiver_process(ws_url: str, tokens: list[str], deflate: bool, ready: Any, results: Any,
                     stop: StopEvent) -> None:
    """Hold one socket per token, record the MESSAGE latencies, report at ``stop``."""
    raise_fd_limit(len(tokens) + 100)
    import uvloop

    results.put(uvloop.run(_hold(ws_url, tokens, deflate, ready, stop)))


async def _send(ws_url: str, token: str, threads: list[str], rate: float, duration: float,
                sockets: int) -> dict[str, Any]:
    connections = [await _connect(ws_url, token, deflate=False) for _ in range(sockets)]
    sent_at: dict[int, int] = {}
    ack_ms: list[float] = []
    staff_ms: list[float] = []
    errors: list[str] = []  # ERROR frames: the frame limit, or a SEND that failed
    total = int(rate * duration)
    done = asyncio.Event()

    async def read(socket: Any) -> None:
        async for raw in socket:
            now = time.monotonic_ns()
            frame = json.loads(raw)
            if frame["type"] == "ACK":
                ack_ms.append((now - sent_at[frame["clientId"]]) / 1e6)
            elif frame["type"] == "MESSAGE":
                staff_ms.append((now - int(frame["body"])) / 1e6)
            elif frame["type"] == "ERROR":
                errors.append(frame["error"])
            if len(ack_ms) == total and len(staff_ms) == total * sockets:
                done.set()

    readers = [asyncio.create_task(read(s)) for s in connections]
    loop = asyncio.get_running_loop()
    started = loop.time()
    for i in range(total):
        delay = started + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        stamp = time.monotonic_ns()
        sent_at[i] = stamp
        await connections[i % sockets].send(json.dumps({
            "type": "SEND", "threadId": threads[i % len(threads)], "body": str(stamp),
            "clientId": i}))
    sending_s = loop.time() - started
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(10):
            await done.wait()
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await asyncio.gather(*(s.close() for s in connections), return_exceptions=True)
    return {"sent": total, "acked": len(ack_ms), "errors": len(errors),
            "errorMessages": sorted(set(errors)), "sendingSeconds": round(sending_s, 3),
            "achievedRate": round(total / sending_s, 1), "ackMs": ack_ms, "staffMs": staff_ms}


def sender_process(ws_url: str, token: str, threads: list[str], rate: float, duration: float,
                   sockets: int, results: Any) -> None:
    """The advisor's sockets: ``rate`` SEND frames a second in all, for ``duration`` s,
    taking turns (a socket's frames are handled one after another, as a client expects)."""
    import uvloop

    results.put(uvloop.run(_send(ws_url, token, threads, rate, duration, sockets)))


# -- the run -------------------------------------------------------------------------------

def chat_gauge(chat_url: str) -> int:
    """The chat process's own count of open sockets (its /metrics)."""
    for line in httpx.get(f"{chat_url}/metrics", timeout=10).text.splitlines():
        if line.startswith("chat_websocket_connections "):
            return int(float(line.split()[1]))
    return -1


def run(args: argparse.Namespace) -> dict[str, Any]:
    admin_url, _ = infra.resolve_postgres_admin_url()
    amqp_url, _ = infra.resolve_amqp_url()
    if admin_url is None or amqp_url is None:
        sys.exit("PostgreSQL and RabbitMQ must be reachable (see README, Tests)")
    # The gateway holds two descriptors per client socket, chat one.
    fd_limit = raise_fd_limit(2 * args.clients + 1000)
    log(f"open-file limit {fd_limit} (inherited by the platform's processes)")
    log("starting the platform (a process per service, one chat process, PostgreSQL, RabbitMQ)")
    with throwaway_topology(admin_url, amqp_url, prefix="ma_bench", progress=log,
                            gateway_port=free_port(), extra_env=PLATFORM_ENV,
                            ports={spec.name: [free_port()] for spec in SERVICES}) as topology:
        chat = topology.processes["chat"][0]
        assert len(topology.processes["chat"]) == 1 and chat.popen and topology.gateway
        assert topology.gateway.popen is not None
        pids = {"chat": chat.popen.pid, "gateway": topology.gateway.popen.pid}
        log(f"seeding {args.clients} members with a thread each")
        tokens, threads, support = asyncio.run(seed(topology.url, args.clients))
        rss: dict[str, dict[str, float]] = {name: {"idleMiB": proc_status(pid, "VmRSS") / 1024}
                                            for name, pid in pids.items()}

        ctx = multiprocessing.get_context("spawn")
        ready, results, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
        ws_url = topology.url.replace("http", "ws", 1) + "/chat/ws"
        shares = [tokens[i::args.client_processes] for i in range(args.client_processes)]
        receivers = [ctx.Process(target=receiver_process,
                                 args=(ws_url, share, args.deflate, ready, results, stop))
                     for share in shares]
        log(f"opening {args.clients} sockets from {args.client_processes} client processes")
        opened_at = time.monotonic()
        for process in receivers:
            process.start()
        connected = sum(ready.get(timeout=600) for _ in receivers)
        connect_s = time.monotonic() - opened_at
        time.sleep(2)  # let the last handshakes settle before measuring
        gauge = chat_gauge(chat.url)
        for name, pid in pids.items():
            rss[name]["connectedMiB"] = proc_status(pid, "VmRSS") / 1024
        log(f"{connected} sockets open in {connect_s:.1f}s; chat gauge {gauge}; RSS "
            + ", ".join(f"{n} {v['connectedMiB']:.0f} MiB" for n, v in rss.items()))

        log(f"sending {args.rate:g} messages/s for {args.duration:g}s")
        sender = ctx.Process(target=sender_process, args=(
            ws_url, support, threads, args.rate, args.duration, args.sender_sockets, results))
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        load_before = os.getloadavg()[0]
        sender.start()
        sent = results.get(timeout=args.duration + 120)
        cpu = {name: round(100 * (cpu_seconds(pid) - cpu_before[name]) / sent["sendingSeconds"],
                           1) for name, pid in pids.items()}
        load = (round(load_before, 2), round(os.getloadavg()[0], 2))
        time.sleep(2)  # frames still in flight
        for name, pid in pids.items():
            rss[name]["afterRunMiB"] = proc_status(pid, "VmRSS") / 1024
            rss[name]["peakMiB"] = proc_status(pid, "VmHWM") / 1024
        gauge_after = chat_gauge(chat.url)
        stop.set()
        held = [results.get(timeout=120) for _ in receivers]
        for process in [*receivers, sender]:
            process.join(30)
        limits = {name: open_file_limit(pid) for name, pid in pids.items()}

    latencies = [v for h in held for v in h["latenciesMs"]]
    per_connection = {name: round((v["connectedMiB"] - v["idleMiB"]) * 1024 / max(connected, 1),
                                  1) for name, v in rss.items()}
    return {
        "clients": args.clients, "clientProcesses": args.client_processes,
        "deflate": args.deflate, "rate": args.rate, "durationS": args.duration,
        "connected": connected, "failedToConnect": sum(h["failed"] for h in held),
        "openAtEnd": sum(h["openAtEnd"] for h in held), "connectSeconds": round(connect_s, 1),
        "chatGauge": {"connected": gauge, "afterRun": gauge_after},
        "sent": sent["sent"], "acked": sent["acked"], "errors": sent["errors"],
        "errorMessages": sent["errorMessages"], "achievedRate": sent["achievedRate"],
        "receivedByOwners": len(latencies),
        "sendToMessageMs": percentiles(latencies),
        "senderSockets": args.sender_sockets,
        "sendToStaffMs": percentiles(sent["staffMs"]), "sendToAckMs": percentiles(sent["ackMs"]),
        "rssMiB": {n: {k: round(v, 1) for k, v in d.items()} for n, d in rss.items()},
        "rssPerConnectionKiB": per_connection, "openFileLimit": limits,
        "cpuPercentWhileSending": cpu, "loadAverage1m": {"before": load[0], "after": load[1]},
    }


def table(result: dict[str, Any], command: str) -> str:
    latency, staff, ack = (result["sendToMessageMs"], result["sendToStaffMs"],
                           result["sendToAckMs"])
    rss = result["rssMiB"]
    rows = [
        "| measure | value |", "|---|---|",
        f"| sockets held (client side, at the end) | {result['openAtEnd']:,} of "
        f"{result['clients']:,} |",
        f"| sockets on the chat process (its gauge) | {result['chatGauge']['connected']:,} "
        f"(after the run: {result['chatGauge']['afterRun']:,}) |",
        f"| time to open them | {result['connectSeconds']} s |",
        f"| messages sent / acked / received by owners | {result['sent']:,} / "
        f"{result['acked']:,} / {result['receivedByOwners']:,} |",
        f"| ERROR frames to the sender (frame limit: 500 a second per socket) | "
        f"{result['errors']:,}"
        + (f" ({'; '.join(result['errorMessages'])})" if result["errorMessages"] else "")
        + " |",
        f"| send rate achieved | {result['achievedRate']} msg/s |",
        f"| SEND -> MESSAGE at the owner, p50 / p90 / p99 / max | {latency.get('p50')} / "
        f"{latency.get('p90')} / {latency.get('p99')} / {latency.get('max')} ms |",
        f"| SEND -> MESSAGE at the advisor's {result['senderSockets']} sockets, p50 / p99 | "
        f"{staff.get('p50')} / {staff.get('p99')} ms |",
        f"| SEND -> ACK, p50 / p99 | {ack.get('p50')} / {ack.get('p99')} ms |",
    ]
    cpu, load = result["cpuPercentWhileSending"], result["loadAverage1m"]
    rows.append(f"| CPU while sending: chat / gateway (of one core) | {cpu['chat']} % / "
                f"{cpu['gateway']} % |")
    rows.append(f"| machine load average (1 min), before / after sending | {load['before']} / "
                f"{load['after']} (2 cores) |")
    for name in ("chat", "gateway"):
        r = rss[name]
        rows.append(f"| RSS {name}: idle / with the sockets / after the run (peak) | "
                    f"{r['idleMiB']} / {r['connectedMiB']} / {r['afterRunMiB']} "
                    f"({r['peakMiB']}) MiB, {result['rssPerConnectionKiB'][name]} KiB per "
                    f"socket, open-file limit {result['openFileLimit'][name]:,} |")
    return (f"# Chat: {result['clients']:,} sockets through the gateway on one chat process\n\n"
            f"`{command}` — real topology (a process per service, uvicorn + uvloop, "
            "PostgreSQL, RabbitMQ), the clients in "
            f"{result['clientProcesses']} receiver processes and one sender process "
            f"(a support advisor sending from {result['senderSockets']} sockets in turn), "
            "all on the same 2-core machine; permessage-deflate "
            f"{'on' if result['deflate'] else 'off'} between clients and gateway.\n\n"
            + "\n".join(rows)
            + f"\n\n- SEND->MESSAGE p99 **{latency.get('p99')} ms** at "
            f"{result['rate']:g} messages/s with {result['openAtEnd']:,} sockets open "
            "(budget: p99 < 20 ms at 200 messages/s with 5,000 sockets; the original: "
            "p99 11 ms for one lone client)\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=200.0, help="messages per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of sending")
    parser.add_argument("--client-processes", type=int, default=2,
                        help="processes holding the members' sockets")
    parser.add_argument("--sender-sockets", type=int, default=4,
                        help="the advisor's sockets the messages are sent from, in turn")
    parser.add_argument("--deflate", action="store_true",
                        help="negotiate permessage-deflate with the gateway, as browsers do")
    args = parser.parse_args()
    command = "uv run python bench/chat.py " + " ".join(sys.argv[1:])
    result = run(args)
    text = table(result, command.strip())
    print(text)
    write_results("chat", result, text)


if __name__ == "__main__":
    main()
