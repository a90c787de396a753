"""Local processes mode (``make up`` / ``make down``), also the e2e tests' topology.

Every service runs as its own uvicorn process on the local PostgreSQL (one
database per service, created if missing) and RabbitMQ; the gateway listens
on :8000 in front of them. ``Topology`` is the reusable part: the e2e tests
start the very same processes on free ports and throwaway databases. ``make up``
supervises them (``launcher.supervisor``): a process that exits is restarted and the
others keep serving.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from launcher.budget import DEFAULT_HEADROOM, ConnectionBudget, budget_of_server
from launcher.catalog import GATEWAY_FACTORY, GATEWAY_PORT, SERVICES, ServiceEntry
from launcher.process import STOP_MARGIN_SECONDS, Process, shutdown_timeout
from launcher.supervisor import RestartPolicy, Supervisor
from shared.catalog import NAMES, entry
from shared.logging import configure_logging

RUN_DIR = Path(".run")
PID_FILE = RUN_DIR / "local.json"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"
DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672/"


@dataclass
class Topology:
    """The whole platform as separate processes: services first, then the gateway."""

    database_url: Callable[[str], str]
    amqp_url: str = DEFAULT_AMQP
    gateway_port: int = GATEWAY_PORT
    ports: Mapping[str, list[int]] = field(default_factory=dict)
    extra_env: Mapping[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    services: tuple[ServiceEntry, ...] = SERVICES
    processes: dict[str, list[Process]] = field(default_factory=dict)
    gateway: Process | None = None
    # Every service process pools its share of PostgreSQL's connections (launcher.budget):
    # given, or worked out at start from the server's limits and this headroom.
    budget: ConnectionBudget | None = None
    connection_headroom: int = field(default_factory=lambda: int(
        os.environ.get("DATABASE_CONNECTION_HEADROOM", DEFAULT_HEADROOM)))

    def _log(self, name: str) -> IO[bytes] | None:
        if self.log_dir is None:
            return None
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - closed by the OS

    def _port(self, spec: ServiceEntry) -> int:
        return self.ports.get(spec.name, [spec.port])[0]

    def _service_env(self, spec: ServiceEntry) -> dict[str, str]:
        # <PEER>_URL for the peers the catalogue gives it (e.g. telematics' VEHICLES_URL);
        # JWKS_URL points at auth.
        peers = {f"{peer.upper()}_URL": f"http://127.0.0.1:{self._port(entry(peer))}"
                 for peer in spec.peers}
        assert self.budget is not None, "start() works out the budget first"
        return {**self.budget.env(), **self.extra_env, **peers,
                "DATABASE_URL": self.database_url(spec.name),
                "AMQP_URL": self.amqp_url,
                "JWKS_URL": f"http://127.0.0.1:{self._port(entry('auth'))}/api/auth/jwks/"}

    def start(self, progress: Callable[[str], None] = print, timeout: float = 90.0) -> None:
        """Start every service, wait until each is ready, then the gateway."""
        if self.budget is None:
            processes = sum(len(self.ports.get(spec.name, [spec.port])) for spec in self.services)
            self.budget = budget_of_server(self.database_url(self.services[0].name),
                                           processes=processes,
                                           headroom=self.connection_headroom)
        progress(f"  {self.budget.describe()}")
        for spec in self.services:
            ports = list(self.ports.get(spec.name, [spec.port]))
            self.processes[spec.name] = [
                Process(f"{spec.name}-{i + 1}", port, self._service_env(spec), spec.factory,
                        self._log(f"{spec.name}-{i + 1}")) for i, port in enumerate(ports)]
            for process in self.processes[spec.name]:
                process.start()
        for processes in self.processes.values():
            for process in processes:
                self.wait_ready(process, progress, timeout)
        upstreams = {f"UPSTREAM_{name.upper()}": ",".join(p.url for p in processes)
                     for name, processes in self.processes.items()}
        missing = {f"UPSTREAM_{name.upper()}": "" for name in NAMES
                   if name not in self.processes}
        self.gateway = Process("gateway", self.gateway_port,
                               {**self.extra_env, **missing, **upstreams}, GATEWAY_FACTORY,
                               self._log("gateway"))
        self.gateway.start()
        self.wait_ready(self.gateway, progress, timeout)

    @staticmethod
    def wait_ready(process: Process, progress: Callable[[str], None],
                   timeout: float = 90.0) -> None:
        """Poll ``/readyz`` until it answers 200; fail if the process dies."""
        deadline = time.monotonic() + timeout
        progress(f"  waiting for {process.name} on {process.url} ...")
        while time.monotonic() < deadline:
            if process.popen is not None and process.popen.poll() is not None:
                raise RuntimeError(f"{process.name} exited with {process.popen.returncode}")
            try:
                if httpx.get(f"{process.url}/readyz", timeout=1.0).status_code == 200:
                    progress(f"  {process.name} ready")
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{process.name} not ready after {timeout}s")

    def all_processes(self) -> list[Process]:
        """Every process, gateway last."""
        processes = [p for group in self.processes.values() for p in group]
        return processes + ([self.gateway] if self.gateway else [])

    def stop(self) -> None:
        """Stop the gateway first (no new requests), then every service at once."""
        if self.gateway is not None:
            self.gateway.stop()
        services = [p for group in self.processes.values() for p in group]
        for process in services:
            process.terminate()
        deadline = time.monotonic() + max((p.stop_timeout for p in services), default=0.0)
        for process in services:
            process.wait_or_kill(deadline)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"


def _database_urls(base: str) -> Callable[[str], str]:
    return lambda service: f"{base.rstrip('/')}/ma_{service}"


def up() -> None:
    """Start the topology in the foreground, supervised; Ctrl-C (or ``make down``) stops it."""
    base = os.environ.get("POSTGRES_URL", DEFAULT_POSTGRES)
    topology = Topology(_database_urls(base), amqp_url=os.environ.get("AMQP_URL", DEFAULT_AMQP),
                        gateway_port=int(os.environ.get("PORT", GATEWAY_PORT)))
    print(f"Starting Membership Auto as local processes (PostgreSQL {base}, "
          f"RabbitMQ {topology.amqp_url})", flush=True)
    configure_logging("launcher")  # the supervisor's restarts, as JSON lines on stderr

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        topology.start(progress=lambda line: print(line, flush=True))
        _write_pid_file(topology)
        with Supervisor(topology.all_processes(), RestartPolicy.from_environ(os.environ),
                        on_restart=lambda _: _write_pid_file(topology)):
            print(f"Membership Auto is listening on {topology.url} "
                  f"(docs {topology.url}/api/docs/); a process that exits is restarted; "
                  "Ctrl-C or `make down` stops it", flush=True)
            try:
                while True:
                    signal.pause()
            finally:  # leaving the block ends supervision before anything is stopped
                print("stopping ...", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second `make down` waits its turn
        topology.stop()
        PID_FILE.unlink(missing_ok=True)
        print("stopped", flush=True)


def _write_pid_file(topology: Topology) -> None:
    """The launcher's pid for ``down``; the processes' in case the launcher is gone."""
    RUN_DIR.mkdir(exist_ok=True)
    state = {"launcher": os.getpid(),
             "processes": [p.pid for p in topology.all_processes() if p.pid is not None]}
    temporary = PID_FILE.with_suffix(".tmp")
    temporary.write_text(json.dumps(state))
    temporary.replace(PID_FILE)


def down() -> None:
    """Stop a topology started by ``up`` in another terminal.

    Signals the launcher, which ends supervision and then stops its processes; only when
    the launcher is gone are the processes it last recorded signalled directly.
    """
    if not PID_FILE.exists():
        print("nothing to stop (no .run/local.json)")
        return
    state = json.loads(PID_FILE.read_text())
    try:
        os.kill(state["launcher"], signal.SIGTERM)
    except ProcessLookupError:
        for pid in state["processes"]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        PID_FILE.unlink(missing_ok=True)
        print("stopped (the launcher was gone; its processes were sent SIGTERM)")
        return
    print("stopping ...", flush=True)
    deadline = time.monotonic() + shutdown_timeout(os.environ) + 2 * STOP_MARGIN_SECONDS
    while _alive(state["launcher"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    print("stopped" if not _alive(state["launcher"]) else
          f"the launcher (pid {state['launcher']}) is still stopping")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["up", "down"])
    {"up": up, "down": down}[parser.parse_args().command]()


if __name__ == "__main__":
    main()
