"""Trip detection and drive totals from samples in time order (plain code, no I/O).

Rules (CONTRACT.md, the seed's OBD notes):

- a trip **starts** at the first sample with ``speed > 2`` km/h (2.0 itself does not);
- it **ends** once speed has been ``0`` for 120 s: ``endedAt`` is the first sample of
  that zero run (the moment the vehicle stopped). A shorter stop (traffic light) or a
  crawl between 0 and 2 km/h stays inside the trip;
- a silence of more than 120 s between two samples (ignition off, phone out of range)
  also ends a trip, at the last sample before the silence: no data is not driving;
- a trip still under way at the end of the data ends at the latest sample (or where the
  vehicle stopped, if it is standing still now);
- samples without a ``speed`` change nothing in the state machine.

Quantities integrate each sample's value over the time until the next sample (a left
Riemann sum), skipping intervals longer than :data:`MAX_GAP_MS`:

- ``distance`` (km) = sum of ``speed`` (km/h) x interval (h);
- ``fuelUsed`` (L) = sum of ``fuelRate`` (L/h) x interval (h);
- a trip's ``avgSpeed`` = its distance / its duration (stops inside it included);
  ``maxSpeed`` = the highest speed sampled in it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

TRIP_START_SPEED_KMH = 2.0
"""A trip starts when speed is strictly above this."""
TRIP_END_STOP_MS = 120_000
"""A trip ends after speed has been 0 for this long."""
MAX_GAP_MS = 120_000
"""Intervals between samples longer than this are a silence: not integrated, end a trip."""
MS_PER_HOUR = 3_600_000.0


@dataclass(frozen=True, slots=True)
class Reading:
    """What trip detection needs from a sample."""

    t: int
    speed: float | None = None
    fuel_rate: float | None = None
    odometer: float | None = None


@dataclass(frozen=True, slots=True)
class Trip:
    started_at: int  # epoch ms
    ended_at: int  # epoch ms
    distance: float  # km
    avg_speed: float  # km/h
    max_speed: float  # km/h
    fuel_used: float  # L


@dataclass(slots=True)
class _OpenTrip:
    started_at: int
    distance: float = 0.0
    fuel: float = 0.0
    max_speed: float = 0.0
    last_t: int = 0
    # While the vehicle stands still the trip may be over: what accrues meanwhile is kept
    # aside and only added to the trip if it moves again within TRIP_END_STOP_MS.
    stop_started_at: int | None = None
    pending_fuel: float = 0.0
    pending_distance: float = 0.0

    def close(self, ended_at: int) -> Trip:
        hours = (ended_at - self.started_at) / MS_PER_HOUR
        return Trip(started_at=self.started_at, ended_at=ended_at, distance=self.distance,
                    avg_speed=self.distance / hours if hours > 0 else 0.0,
                    max_speed=self.max_speed, fuel_used=self.fuel)


@dataclass(slots=True)
class DriveAnalyzer:
    """Feed readings in ``t`` order with :meth:`feed`; read trips and totals after
    :meth:`finish`. Memory stays constant whatever the number of samples, so a
    caller can stream a vehicle's whole history through it."""

    trips: list[Trip] = field(default_factory=list)
    sample_count: int = 0
    last_t: int | None = None
    distance: float = 0.0  # km, speed integrated over all samples
    moving_ms: int = 0  # time integrated with speed > 0
    fuel_used: float = 0.0  # L
    min_odometer: float | None = None
    max_odometer: float | None = None
    _prev: Reading | None = None
    _trip: _OpenTrip | None = None

    def feed(self, reading: Reading) -> None:
        """Account the interval since the previous reading, then this reading's state."""
        self.sample_count += 1
        self._track_odometer(reading.odometer)
        prev = self._prev
        self._prev = reading
        self.last_t = reading.t
        if prev is not None:
            gap = reading.t - prev.t
            if gap > MAX_GAP_MS:
                self._end_trip_at_silence()
            elif gap > 0:
                self._integrate(prev, gap)
        self._step(reading)

    def finish(self) -> DriveAnalyzer:
        """Close a trip still under way (at the latest data) and return self."""
        trip = self._trip
        if trip is not None:
            end = trip.stop_started_at if trip.stop_started_at is not None else trip.last_t
            self.trips.append(trip.close(end))
            self._trip = None
        return self

    @property
    def odometer_span(self) -> float | None:
        """max - min odometer, when at least two readings span some distance."""
        if self.min_odometer is None or self.max_odometer is None:
            return None
        span = self.max_odometer - self.min_odometer
        return span if span > 0 else None

    @property
    def avg_moving_speed(self) -> float:
        """Time-weighted mean speed over the time spent moving (km/h)."""
        return self.distance / (self.moving_ms / MS_PER_HOUR) if self.moving_ms else 0.0

    def _track_odometer(self, odometer: float | None) -> None:
        if odometer is None:
            return
        if self.min_odometer is None or odometer < self.min_odometer:
            self.min_odometer = odometer
        if self.max_odometer is None or odometer > self.max_odometer:
            self.max_odometer = odometer

    def _integrate(self, prev: Reading, gap_ms: int) -> None:
        hours = gap_ms / MS_PER_HOUR
        distance = (prev.speed or 0.0) * hours if prev.speed and prev.speed > 0 else 0.0
        fuel = prev.fuel_rate * hours if prev.fuel_rate and prev.fuel_rate > 0 else 0.0
        self.distance += distance
        self.fuel_used += fuel
        if distance:
            self.moving_ms += gap_ms
        trip = self._trip
        if trip is None:
            return
        if trip.stop_started_at is None:
            trip.distance += distance
            trip.fuel += fuel
        else:
            trip.pending_distance += distance
            trip.pending_fuel += fuel

    def _end_trip_at_silence(self) -> None:
        trip = self._trip
        if trip is not None:
            end = trip.stop_started_at if trip.stop_started_at is not None else trip.last_t
            self.trips.append(trip.close(end))
            self._trip = None

    def _step(self, reading: Reading) -> None:
        speed = reading.speed
        trip = self._trip
        if trip is None:
            if speed is not None and speed > TRIP_START_SPEED_KMH:
                self._trip = _OpenTrip(started_at=reading.t, max_speed=speed,
                                       last_t=reading.t)
            return
        trip.last_t = reading.t
        if speed is None:
            return
        if speed == 0:
            if trip.stop_started_at is None:
                trip.stop_started_at = reading.t
            elif reading.t - trip.stop_started_at >= TRIP_END_STOP_MS:
                self.trips.append(trip.close(trip.stop_started_at))
                self._trip = None
            return
        if trip.stop_started_at is not None:  # moving again: the stop was part of the trip
            trip.distance += trip.pending_distance
            trip.fuel += trip.pending_fuel
            trip.pending_distance = trip.pending_fuel = 0.0
            trip.stop_started_at = None
        if speed > trip.max_speed:
            trip.max_speed = speed


def detect_trips(readings: Iterable[Reading]) -> list[Trip]:
    """The trips in ``readings`` (which must be in ``t`` order)."""
    analyzer = DriveAnalyzer()
    for reading in readings:
        analyzer.feed(reading)
    return analyzer.finish().trips
