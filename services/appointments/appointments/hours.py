"""Weekly opening hours of a location: their wire shape, defaults and validation.

``hours`` maps each weekday (``mon`` … ``sun``) to ``["HH:MM", "HH:MM"]`` (opening and
closing wall-clock times in the location's own time zone) or ``null`` for closed. A
closing time of ``"24:00"`` means midnight at the end of the day. Internally a day's
hours are a ``(open, close)`` pair of minutes since local midnight.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""In ``date.weekday()`` order."""

DEFAULT_HOURS: dict[str, list[str] | None] = {
    **{day: ["08:00", "18:00"] for day in WEEKDAYS[:5]},
    "sat": ["09:00", "14:00"],
    "sun": None,
}
"""CONTRACT.md: Mon–Fri 08:00–18:00, Sat 09:00–14:00, Sunday closed."""

MINUTES_PER_DAY = 24 * 60
DAY_HOURS_MESSAGE = ('Use ["HH:MM", "HH:MM"] (opening time before closing time, '
                     '24-hour clock) or null for closed.')
_CLOCK = re.compile(r"^(\d\d):(\d\d)$")

Window = tuple[int, int]
"""A day's ``(open, close)`` in minutes since local midnight, open < close."""


def clock_minutes(value: str) -> int:
    """Minutes since midnight of ``"HH:MM"`` (``"24:00"`` is 1440); ``ValueError`` if bad."""
    match = _CLOCK.match(value)
    if match is None:
        raise ValueError(DAY_HOURS_MESSAGE)
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes != 0):
        raise ValueError(DAY_HOURS_MESSAGE)
    return hours * 60 + minutes


def day_window(value: Sequence[str]) -> Window:
    """The ``(open, close)`` minutes of ``["HH:MM", "HH:MM"]``; ``ValueError`` if malformed.

    Only a closing time may be ``"24:00"``; opening must come strictly before closing
    (no overnight hours: an appointment always belongs to one local day).
    """
    if len(value) != 2 or not all(isinstance(part, str) for part in value):
        raise ValueError(DAY_HOURS_MESSAGE)
    opens, closes = clock_minutes(value[0]), clock_minutes(value[1])
    if opens >= closes or opens >= MINUTES_PER_DAY:
        raise ValueError(DAY_HOURS_MESSAGE)
    return opens, closes


def window_on(hours: Mapping[str, Sequence[str] | None], day: date) -> Window | None:
    """The opening window of the stored weekly ``hours`` on ``day``; None when closed."""
    value = hours.get(WEEKDAYS[day.weekday()])
    return None if value is None else day_window(value)


def complete_week(hours: Mapping[str, Sequence[str] | None]) -> dict[str, list[str] | None]:
    """``hours`` with every weekday present: a day left out is closed."""
    return {day: (None if hours.get(day) is None else list(hours[day] or []))
            for day in WEEKDAYS}
