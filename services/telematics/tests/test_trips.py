"""Trip detection rules, as plain functions (no app, no database)."""

from telematics.trips import DriveAnalyzer, Reading, detect_trips

S = 1000  # one second in ms


def drive(*speeds: float, step: int = S, start: int = 0, **fields: float) -> list[Reading]:
    return [Reading(start + i * step, speed, **fields) for i, speed in enumerate(speeds)]


def test_speed_of_exactly_2_kmh_does_not_start_a_trip():
    assert detect_trips(drive(0, 2, 2, 2, 0)) == []


def test_speed_just_above_2_kmh_starts_a_trip():
    trips = detect_trips(drive(0, 2.01, 0))
    assert len(trips) == 1 and trips[0].started_at == 1 * S


def test_a_stop_of_exactly_120_s_ends_the_trip_where_the_vehicle_stopped():
    readings = drive(50, 50, 0, step=10 * S) + [Reading(20 * S + 120 * S, 0)]
    [trip] = detect_trips(readings)
    assert (trip.started_at, trip.ended_at) == (0, 20 * S)


def test_a_stop_shorter_than_120_s_stays_inside_the_trip():
    readings = (drive(50, 0, step=10 * S) + [Reading(10 * S + 119 * S, 0)]
                + drive(40, 0, start=130 * S, step=10 * S) + [Reading(140 * S + 120 * S, 0)])
    [trip] = detect_trips(readings)
    assert (trip.started_at, trip.ended_at) == (0, 140 * S)


def test_two_stops_of_120_s_make_two_trips():
    first = drive(30, 30, 0, 0, step=60 * S)  # stops at 120 s, still at 180 s: 60 s only
    readings = first + [Reading(240 * S, 0)] + drive(30, 0, 0, 0, start=300 * S, step=60 * S)
    trips = detect_trips(readings)
    assert [(t.started_at, t.ended_at) for t in trips] == [(0, 120 * S), (300 * S, 360 * S)]


def test_crawling_below_2_kmh_keeps_a_trip_going_but_does_not_start_one():
    readings = drive(10, 1, 1, 1, 0, step=60 * S)
    [trip] = detect_trips(readings)
    assert trip.ended_at == 240 * S  # the last sample: still under way, now standing
    assert detect_trips(drive(1, 1, 1, 0, 0, 0, step=60 * S)) == []


def test_distance_fuel_and_speeds_of_a_trip():
    # 36 km/h for 100 s = 1 km; 3.6 L/h for 100 s = 0.1 L; then 120 s standing still.
    readings = [Reading(i * S, 36.0, 3.6) for i in range(101)]
    readings[50] = Reading(50 * S, 72.0, 3.6)  # one faster second
    readings += [Reading(100 * S + i * 10 * S, 0.0, 1.0) for i in range(1, 14)]
    [trip] = detect_trips(readings)
    assert trip.started_at == 0 and trip.ended_at == 110 * S
    assert round(trip.distance, 4) == round(1.0 + 0.01 + 0.1, 4)  # +1 s at 72, +10 s at 36
    assert trip.max_speed == 72.0
    assert round(trip.fuel_used, 4) == round(110 * 3.6 / 3600, 4)  # idling after stop excluded
    assert round(trip.avg_speed, 3) == round(trip.distance / (110 / 3600), 3)


def test_a_silence_longer_than_120_s_ends_the_trip_at_the_last_sample():
    readings = drive(50, 50, step=10 * S) + drive(50, 0, start=10 * S + 121 * S, step=10 * S)
    trips = detect_trips(readings)
    assert [(t.started_at, t.ended_at) for t in trips] == [(0, 10 * S), (131 * S, 141 * S)]
    assert round(trips[0].distance, 4) == round(50 * 10 / 3600, 4)  # the silence is not driven


def test_samples_without_speed_change_nothing():
    readings = [Reading(0, 30), Reading(S, None), Reading(2 * S, 0), Reading(122 * S, None),
                Reading(123 * S, 0)]
    [trip] = detect_trips(readings)
    assert trip.ended_at == 2 * S


def test_totals_over_a_drive():
    analyzer = DriveAnalyzer()
    for reading in [Reading(0, 60.0, 6.0, 1000.0), Reading(60 * S, 60.0, 6.0, 1001.0),
                    Reading(120 * S, 0.0, 0.0, 1002.0)]:
        analyzer.feed(reading)
    analyzer.finish()
    assert analyzer.sample_count == 3 and analyzer.last_t == 120 * S
    assert round(analyzer.distance, 6) == 2.0 and analyzer.odometer_span == 2.0
    assert round(analyzer.fuel_used, 6) == 0.2 and round(analyzer.avg_moving_speed, 6) == 60.0
    assert len(analyzer.trips) == 1


def test_no_readings_no_trips():
    assert detect_trips([]) == []
