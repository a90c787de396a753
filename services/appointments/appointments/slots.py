"""Slot arithmetic: pure functions, no database, every instant an aware UTC datetime.

A location's day is cut into 30-minute slots on the local wall-clock grid (:00 and :30)
inside its opening hours. Wall-clock times are built for the local date and turned into
UTC with zoneinfo, one by one, so a day with a daylight-saving change gets its slots at
the right UTC instants:

- spring forward (e.g. 02:00 → 03:00 in America/New_York): a wall-clock time that does
  not exist that day (02:00, 02:30) has no slot — nothing is skipped in real time, the
  slot before the gap simply ends at 03:00 local;
- fall back (02:00 → 01:00): a wall-clock time that happens twice (01:00, 01:30) gets a
  slot for each occurrence, because the location really is open through both real hours
  (its staff work by the wall clock); the two are distinct UTC instants and a client
  tells them apart by their ``Z`` timestamps.

An appointment lasts 60 minutes (two consecutive slots) and blocks every slot it
overlaps; a slot is available while fewer than ``capacity`` appointments overlap it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from appointments.hours import Window

SLOT_MINUTES = 30
SLOT = timedelta(minutes=SLOT_MINUTES)
APPOINTMENT = timedelta(minutes=60)


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive values, as SQLite returns them, are UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@lru_cache(maxsize=4096)
def slot_starts(day: date, zone: ZoneInfo, window: Window | None) -> tuple[datetime, ...]:
    """UTC starts of the slots of local date ``day`` inside ``window``, in time order.

    A slot's start is a grid time at or after opening; the slot ends (30 wall-clock
    minutes later) no later than closing. See the module docstring for DST days.
    Cached: the same few location-days are asked for over and over, and the answer
    depends on nothing else (a zone's rules do not change while the process runs).
    """
    if window is None:
        return ()
    opens, closes = window
    first = -(-opens // SLOT_MINUTES) * SLOT_MINUTES  # the first grid time >= opening
    midnight = datetime.combine(day, time())
    starts: set[datetime] = set()
    for minute in range(first, closes - SLOT_MINUTES + 1, SLOT_MINUTES):
        wall = midnight + timedelta(minutes=minute)
        for fold in (0, 1):  # the two readings of a repeated wall time (equal otherwise)
            instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
            # A wall time in a spring-forward gap does not survive the round trip.
            if instant.astimezone(zone).replace(tzinfo=None) == wall:
                starts.add(instant)
    return tuple(sorted(starts))


def on_slot_grid(start: datetime, zone: ZoneInfo) -> bool:
    """Whether ``start`` is a :00 or :30 wall-clock time, to the second, at ``zone``."""
    local = start.astimezone(zone)
    return local.minute % SLOT_MINUTES == 0 and local.second == 0 and local.microsecond == 0


def local_day(start: datetime, zone: ZoneInfo) -> date:
    """The local date of the instant ``start`` at ``zone``."""
    return start.astimezone(zone).date()


def overlapping(booked: Sequence[datetime], slot_start: datetime) -> int:
    """How many appointments (sorted UTC starts) overlap the slot beginning at ``slot_start``.

    ``[a, a + 60 min)`` overlaps ``[s, s + 30 min)`` exactly when ``s - 60 min < a < s + 30 min``.
    """
    return (bisect_left(booked, slot_start + SLOT)
            - bisect_right(booked, slot_start - APPOINTMENT))


def free_slots(starts: Sequence[datetime], capacity: int, booked: Iterable[datetime],
               now: datetime) -> list[datetime]:
    """The slot starts still offered: in the future, and overlapped by fewer than
    ``capacity`` of the ``booked`` (non-cancelled) appointment starts."""
    ordered = sorted(booked)
    return [start for start in starts
            if start > now and overlapping(ordered, start) < capacity]


def overlap_range(first: datetime, last: datetime) -> tuple[datetime, datetime]:
    """Exclusive bounds of the appointment starts that can overlap any of the slots whose
    starts run from ``first`` to ``last``."""
    return first - APPOINTMENT, last + SLOT


def fits_opening_hours(start: datetime, day_starts: Sequence[datetime]) -> bool:
    """Whether a 60-minute appointment at ``start`` covers two slots of the day, i.e. the
    whole hour is inside opening hours."""
    available = set(day_starts)
    return start in available and start + SLOT in available


def has_room(start: datetime, capacity: int, booked: Iterable[datetime]) -> bool:
    """Whether both slots of a 60-minute appointment at ``start`` have a free bay."""
    ordered = sorted(booked)
    return all(overlapping(ordered, slot) < capacity for slot in (start, start + SLOT))
