"""One process of a local topology: spawned, watched, stopped gracefully.

A service process is uvicorn serving the service's app factory. On SIGTERM uvicorn stops
accepting, lets in-flight requests finish for up to ``SHUTDOWN_TIMEOUT_SECONDS`` (the
service setting, passed as ``--timeout-graceful-shutdown``), then runs the app's lifespan
end; ``stop()`` waits that long plus a margin before it SIGKILLs.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

from shared.settings import ServiceSettings

# After its drain a process still runs its lifespan's end (outbox, broker, pools).
STOP_MARGIN_SECONDS = 10.0


@dataclass
class Process:
    """One uvicorn process of the topology."""

    name: str
    port: int
    env: dict[str, str]
    factory: str
    log: IO[bytes] | None = None
    popen: subprocess.Popen[bytes] | None = None
    command: list[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, command: list[str] | None = None) -> None:
        """Spawn the process (returns at once; see ``Topology.wait_ready``).

        By default uvicorn serves ``factory``; ``command`` runs something else, and is
        what a later ``start()`` (a restart) runs again.
        """
        if command is not None:
            self.command = command
        env = {**os.environ, **self.env}
        self.popen = subprocess.Popen(self.command or self._uvicorn(env), env=env,
                                      stdout=self.log, stderr=subprocess.STDOUT if self.log
                                      else None, start_new_session=True)

    def _uvicorn(self, env: Mapping[str, str]) -> list[str]:
        # --no-proxy-headers: uvicorn would otherwise take any local client's X-Forwarded-For
        # as its address (it trusts 127.0.0.1 by default). The gateway decides that itself
        # (FORWARDED_ALLOW_IPS); the services behind it do not use the client's address.
        return [sys.executable, "-m", "uvicorn", self.factory, "--factory", "--host", "127.0.0.1",
                "--port", str(self.port), "--no-access-log", "--log-level", "warning",
                "--loop", "uvloop", "--http", "httptools", "--no-proxy-headers",
                "--timeout-graceful-shutdown", str(math.ceil(shutdown_timeout(env)))]

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def exit_code(self) -> int | None:
        """``None`` while it runs (or was never started), else how it ended."""
        return self.popen.poll() if self.popen is not None else None

    def terminate(self) -> None:
        """SIGTERM: uvicorn stops accepting, drains in-flight requests, runs the lifespan end."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()

    def wait_or_kill(self, deadline: float) -> None:
        """Wait for the exit until ``deadline`` (monotonic), then SIGKILL."""
        if self.popen is None:
            return
        try:
            self.popen.wait(max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited once its drain should be over."""
        self.terminate()
        self.wait_or_kill(time.monotonic() + self.stop_timeout)

    @property
    def stop_timeout(self) -> float:
        return shutdown_timeout({**os.environ, **self.env}) + STOP_MARGIN_SECONDS


def shutdown_timeout(env: Mapping[str, str]) -> float:
    """``SHUTDOWN_TIMEOUT_SECONDS`` (a service setting) as a process will see it."""
    default = ServiceSettings.model_fields["shutdown_timeout_seconds"].default
    return float(env.get("SHUTDOWN_TIMEOUT_SECONDS") or default)
