"""Restarting the processes of a local topology that exit, so one crash stays one crash.

``make up`` runs a process per service plus the gateway. When one of them exits (a
crash, an OOM kill, a SIGKILL or SIGTERM from outside), the supervisor starts it again
after a delay that doubles with each exit in a row (0.5 s, 1, 2, 4 … capped), while
every other process keeps serving; meanwhile the gateway answers that service's routes
with ``503`` and ``Retry-After``. A process that ran for ``stable_after`` seconds before
exiting starts again from the first delay: it was healthy, this is a new incident.
After ``give_up_after`` exits in a row that each came within ``stable_after`` of their
start, the process is left down (a service that cannot start would otherwise flap
forever and bury its own error in restarts) and the others keep serving.

Every exit, restart and give-up is logged (``process_exited``, ``process_restarted``,
``process_given_up``, with the ``instance``), one JSON line each under ``make up``.
``stop()`` ends supervision, so stopping the processes afterwards never races a restart.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("launcher.supervisor")


class Supervised(Protocol):
    """What the supervisor needs of a process (``launcher.local.Process`` has it)."""

    name: str

    def start(self) -> None: ...

    def exit_code(self) -> int | None: ...

    @property
    def pid(self) -> int | None: ...


@dataclass(frozen=True)
class RestartPolicy:
    """When to restart an exited process, and when to stop trying."""

    initial_delay: float = 0.5
    max_delay: float = 30.0
    stable_after: float = 10.0
    give_up_after: int = 5

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> RestartPolicy:
        """The policy from ``RESTART_*`` variables (README, "Other ways to run it")."""
        defaults = cls()
        return cls(
            initial_delay=float(environ.get("RESTART_BACKOFF_INITIAL_SECONDS",
                                            defaults.initial_delay)),
            max_delay=float(environ.get("RESTART_BACKOFF_MAX_SECONDS", defaults.max_delay)),
            stable_after=float(environ.get("RESTART_STABLE_AFTER_SECONDS",
                                           defaults.stable_after)),
            give_up_after=int(environ.get("RESTART_GIVE_UP_AFTER", defaults.give_up_after)),
        )

    def delay(self, attempt: int) -> float:
        """Seconds before restart number ``attempt`` (1-based) of an exit streak."""
        return min(self.initial_delay * 2 ** min(attempt - 1, 32), self.max_delay)


@dataclass
class _Watch:
    process: Supervised
    started_at: float
    attempt: int = 0
    fast_exits: int = 0
    restart_at: float | None = None
    given_up: bool = False


class Supervisor:
    """Watches processes that are already started; restarts each one that exits.

    Use as a context manager (or ``start()`` / ``stop()``); it polls from a thread of
    its own, so the caller's thread stays free for signals (``make up``) or a test.
    ``on_restart`` is called after each restart (``make up`` rewrites its pid file).
    """

    def __init__(self, processes: Iterable[Supervised], policy: RestartPolicy | None = None,
                 *, on_restart: Callable[[Supervised], None] | None = None,
                 poll_interval: float = 0.1) -> None:
        now = time.monotonic()
        self.policy = policy or RestartPolicy()
        self._watches = {p.name: _Watch(p, now) for p in processes}
        self._on_restart = on_restart
        self._poll_interval = poll_interval
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._held: set[str] = set()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Supervisor:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End supervision; returns once no restart can happen any more."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def given_up(self) -> set[str]:
        """Names of the processes left down after repeated fast exits."""
        with self._lock:
            return {name for name, watch in self._watches.items() if watch.given_up}

    @contextlib.contextmanager
    def holding(self, name: str) -> Iterator[None]:
        """Within the block, an exit of ``name`` is noted but its restart waits.

        For a look at the platform while a service is down (the gateway's 503), which a
        fast restart would otherwise race.
        """
        with self._lock:
            self._held.add(name)
        try:
            yield
        finally:
            with self._lock:
                self._held.discard(name)

    def _run(self) -> None:
        while not self._stopping.wait(self._poll_interval):
            with self._lock:
                if self._stopping.is_set():
                    return
                now = time.monotonic()
                for watch in self._watches.values():
                    self._check(watch, now)

    def _check(self, watch: _Watch, now: float) -> None:
        if watch.given_up:
            return
        if watch.restart_at is None:
            code = watch.process.exit_code()
            if code is not None:
                self._exited(watch, code, now)
        elif now >= watch.restart_at and watch.process.name not in self._held:
            self._restart(watch, now)

    def _exited(self, watch: _Watch, code: int, now: float) -> None:
        policy = self.policy
        ran = now - watch.started_at
        if ran >= policy.stable_after:
            watch.attempt = watch.fast_exits = 0
        else:
            watch.fast_exits += 1
        name = watch.process.name
        fields: dict[str, Any] = {"instance": name, "exitCode": code,
                                  "ranSeconds": round(ran, 3)}
        if code < 0:
            with contextlib.suppress(ValueError):
                fields["signal"] = signal.Signals(-code).name
        if watch.fast_exits >= policy.give_up_after:
            watch.given_up = True
            log.error(f"{name} exited {watch.fast_exits} times in a row within "
                      f"{policy.stable_after:g}s of starting; left down, the other processes "
                      "keep running", extra={"event": "process_given_up",
                                             "fastExits": watch.fast_exits, **fields})
            return
        watch.attempt += 1
        delay = policy.delay(watch.attempt)
        watch.restart_at = now + delay
        log.warning(f"{name} exited; restarting in {delay:g}s",
                    extra={"event": "process_exited", "attempt": watch.attempt,
                           "nextDelaySeconds": delay, **fields})

    def _restart(self, watch: _Watch, now: float) -> None:
        watch.restart_at = None
        watch.started_at = now
        name = watch.process.name
        try:
            watch.process.start()
        except OSError as exc:  # e.g. out of file descriptors: an exit like any other
            log.error(f"{name} could not be started", exc_info=True,
                      extra={"event": "process_start_failed", "instance": name,
                             "error": str(exc)})
            self._exited(watch, 1, now)
            return
        log.info(f"{name} restarted", extra={"event": "process_restarted", "instance": name,
                                             "pid": watch.process.pid,
                                             "attempt": watch.attempt})
        if self._on_restart is not None:
            self._on_restart(watch.process)
