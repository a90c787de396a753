"""The heap-freezing policy, with the collector's calls recorded instead of made."""

import gc

import pytest

from chat import heap
from chat.heap import HeapFreezer


class Counts:
    def __init__(self):
        self.open = 0
        self.opened_total = 0
        self.closed_total = 0

    def __len__(self):
        return self.open

    def connect(self, n):
        self.open += n
        self.opened_total += n

    def disconnect(self, n):
        self.open -= n
        self.closed_total += n


@pytest.fixture
def calls(monkeypatch):
    made = []
    monkeypatch.setattr(gc, "freeze", lambda: made.append("freeze"))
    monkeypatch.setattr(gc, "unfreeze", lambda: made.append("unfreeze"))
    full = {"collections": 0}
    monkeypatch.setattr(heap, "full_collections", lambda: full["collections"])
    return made, full


def test_freezes_only_with_enough_sockets_and_new_ones_since_last_time(calls):
    made, _ = calls
    counts = Counts()
    freezer = HeapFreezer(counts, interval=1, min_sockets=100)
    counts.connect(99)
    freezer.tick()
    assert made == []
    counts.connect(1)
    freezer.tick()
    freezer.tick()  # nothing new: nothing to do
    assert made == ["freeze"]
    counts.connect(10)
    freezer.tick()
    assert made == ["freeze", "freeze"]


def test_unfreezes_after_churn_and_waits_for_a_full_collection(calls):
    made, full = calls
    counts = Counts()
    freezer = HeapFreezer(counts, interval=1, min_sockets=100)
    counts.connect(1000)
    freezer.tick()
    counts.disconnect(500)
    counts.connect(500)
    freezer.tick()  # 500 closed, 1,000 open: keep the heap frozen
    assert made == ["freeze", "freeze"]
    counts.disconnect(600)
    counts.connect(600)
    freezer.tick()  # 1,100 closed since freezing > 1,000 open
    assert made == ["freeze", "freeze", "unfreeze"]
    counts.connect(10)
    freezer.tick()  # their garbage is not collected yet: stay unfrozen
    assert made[-1] == "unfreeze"
    full["collections"] += 1
    freezer.tick()
    assert made[-1] == "freeze"

