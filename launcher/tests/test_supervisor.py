"""The supervisor on small real child processes: restarts, backoff, give-up, stopping."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from launcher.process import Process
from launcher.supervisor import RestartPolicy, Supervisor
from testsupport.apps import wait_until

EXITS_AT_ONCE = [sys.executable, "-c", "import sys; sys.exit(3)"]
SLEEPS = [sys.executable, "-c", "import time; time.sleep(600)"]
RUNS_HALF_A_SECOND = [sys.executable, "-c", "import time, sys; time.sleep(0.5); sys.exit(4)"]
# Every exit is a fast one and restarts come at once, unless a test says otherwise.
FAST = RestartPolicy(initial_delay=0.01, max_delay=0.04, stable_after=600, give_up_after=5)


class Processes:
    """Child processes started by a test, all stopped after it."""

    def __init__(self) -> None:
        self.started: list[Process] = []

    def start(self, name: str, command: list[str]) -> Process:
        process = Process(name, 0, {}, "")
        process.start(command)
        self.started.append(process)
        return process


@pytest.fixture
def processes() -> Iterator[Processes]:
    children = Processes()
    yield children
    for process in children.started:
        process.stop()


class Log:
    """What the supervisor logged, as the fields of each record."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog

    def all(self) -> list[dict[str, Any]]:
        return [{**vars(r), "message": r.getMessage()} for r in self.caplog.records
                if r.name == "launcher.supervisor"]

    def events(self, kind: str, instance: str) -> list[dict[str, Any]]:
        return [r for r in self.all() if r["event"] == kind and r["instance"] == instance]


@pytest.fixture
def log(caplog: pytest.LogCaptureFixture) -> Log:
    caplog.set_level(logging.INFO, logger="launcher.supervisor")
    return Log(caplog)


def test_delays_double_from_the_first_up_to_the_cap() -> None:
    policy = RestartPolicy(initial_delay=0.5, max_delay=4.0)
    assert [policy.delay(attempt) for attempt in range(1, 7)] == [0.5, 1, 2, 4, 4, 4]


def test_the_policy_comes_from_restart_variables() -> None:
    policy = RestartPolicy.from_environ({
        "RESTART_BACKOFF_INITIAL_SECONDS": "1", "RESTART_BACKOFF_MAX_SECONDS": "8",
        "RESTART_STABLE_AFTER_SECONDS": "30", "RESTART_GIVE_UP_AFTER": "3"})
    assert policy == RestartPolicy(initial_delay=1, max_delay=8, stable_after=30,
                                   give_up_after=3)
    assert RestartPolicy.from_environ({}) == RestartPolicy()


async def test_a_killed_process_is_restarted_and_the_others_keep_running(
        processes: Processes, log: Log) -> None:
    victim = processes.start("victim", SLEEPS)
    sibling = processes.start("sibling", SLEEPS)
    first_pid, sibling_pid = victim.pid, sibling.pid
    restarted: list[str] = []
    with Supervisor([victim, sibling], FAST,
                    on_restart=lambda p: restarted.append(p.name)):
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        await wait_until(lambda: log.events("process_restarted", "victim"), within=30)
    assert victim.pid != first_pid and victim.exit_code() is None
    assert sibling.pid == sibling_pid and sibling.exit_code() is None
    [exited] = log.events("process_exited", "victim")
    assert exited["exitCode"] == -signal.SIGKILL and exited["signal"] == "SIGKILL"
    assert exited["attempt"] == 1 and exited["nextDelaySeconds"] == FAST.initial_delay
    assert restarted == ["victim"]
    assert not log.events("process_exited", "sibling")


async def test_a_process_that_keeps_crashing_backs_off_then_is_given_up(
        processes: Processes, log: Log) -> None:
    crasher = processes.start("crasher", EXITS_AT_ONCE)
    sibling = processes.start("sibling", SLEEPS)
    with Supervisor([crasher, sibling], FAST) as supervisor:
        await wait_until(lambda: supervisor.given_up(), within=30)
        assert supervisor.given_up() == {"crasher"}
    exits = log.events("process_exited", "crasher")
    assert [e["nextDelaySeconds"] for e in exits] == [0.01, 0.02, 0.04, 0.04]
    assert [e["attempt"] for e in exits] == [1, 2, 3, 4]
    assert all(e["exitCode"] == 3 for e in exits)
    assert len(log.events("process_restarted", "crasher")) == 4
    [given_up] = log.events("process_given_up", "crasher")
    assert given_up["fastExits"] == 5 and "left down" in given_up["message"]
    assert crasher.exit_code() == 3
    assert sibling.exit_code() is None


async def test_a_process_that_ran_long_enough_starts_again_from_the_first_delay(
        processes: Processes, log: Log) -> None:
    # It always runs 0.5 s, more than stable_after: each exit is a new incident.
    policy = RestartPolicy(initial_delay=0.01, max_delay=1, stable_after=0.2, give_up_after=2)
    flaky = processes.start("flaky", RUNS_HALF_A_SECOND)
    with Supervisor([flaky], policy) as supervisor:
        await wait_until(lambda: len(log.events("process_restarted", "flaky")) >= 3, within=60)
        assert not supervisor.given_up()
    exits = log.events("process_exited", "flaky")
    assert {(e["attempt"], e["nextDelaySeconds"], e["exitCode"]) for e in exits} == {
        (1, 0.01, 4)}


async def test_a_held_process_stays_down_until_released(processes: Processes, log: Log) -> None:
    victim = processes.start("victim", SLEEPS)
    with Supervisor([victim], FAST, poll_interval=0.01) as supervisor:
        with supervisor.holding("victim"):
            victim.popen.kill()  # type: ignore[union-attr]
            await wait_until(lambda: log.events("process_exited", "victim"), within=30)
            await asyncio.sleep(20 * FAST.initial_delay)  # many polls past the restart delay
            assert victim.exit_code() is not None
            assert not log.events("process_restarted", "victim")
        await wait_until(lambda: log.events("process_restarted", "victim"), within=30)
    assert victim.exit_code() is None


async def test_a_stopped_supervisor_restarts_nothing_even_when_a_restart_was_due(
        processes: Processes, log: Log) -> None:
    victim = processes.start("victim", SLEEPS)
    supervisor = Supervisor([victim], FAST, poll_interval=0.01)
    supervisor.start()
    with supervisor.holding("victim"):  # keeps the restart due, not done, until stop()
        victim.popen.kill()  # type: ignore[union-attr]
        await wait_until(lambda: log.events("process_exited", "victim"), within=30)
        supervisor.stop()
    await asyncio.sleep(20 * FAST.initial_delay)  # many polls past the restart delay
    assert victim.exit_code() == -signal.SIGKILL
    assert not log.events("process_restarted", "victim")


async def test_processes_stopped_after_the_supervisor_stay_stopped(
        processes: Processes, log: Log) -> None:
    victim = processes.start("victim", SLEEPS)
    with Supervisor([victim], FAST, poll_interval=0.01):
        pass
    victim.stop()  # what Topology.stop does once supervision has ended
    await asyncio.sleep(20 * FAST.initial_delay)
    assert victim.exit_code() == -signal.SIGTERM
    assert log.all() == []
