"""Slot arithmetic as plain functions: no database, no app. Expected UTC times are
worked out by hand in each test (offsets noted), not computed with zoneinfo."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from appointments.hours import DEFAULT_HOURS, clock_minutes, day_window, window_on
from appointments.slots import (
    fits_opening_hours,
    free_slots,
    has_room,
    local_day,
    on_slot_grid,
    overlap_range,
    overlapping,
    slot_starts,
)

NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
KATHMANDU = ZoneInfo("Asia/Kathmandu")
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def z(text: str) -> datetime:
    """``"2024-01-15T08:00"`` as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def every_half_hour(first: str, last: str) -> list[datetime]:
    start, end = z(first), z(last)
    return [start + timedelta(minutes=30 * i)
            for i in range(int((end - start) / timedelta(minutes=30)) + 1)]


def test_a_normal_day_in_utc_has_twenty_slots_from_opening_to_half_an_hour_before_closing():
    starts = list(slot_starts(date(2024, 1, 15), ZoneInfo("UTC"), (8 * 60, 18 * 60)))
    assert starts == every_half_hour("2024-01-15T08:00", "2024-01-15T17:30")
    assert len(starts) == 20


def test_a_winter_day_in_new_york_is_five_hours_behind_utc():
    # EST = UTC-5: 08:00 local is 13:00Z, the last slot 17:30 local is 22:30Z.
    starts = list(slot_starts(date(2024, 1, 15), NEW_YORK, (8 * 60, 18 * 60)))
    assert starts == every_half_hour("2024-01-15T13:00", "2024-01-15T22:30")


def test_a_closed_day_has_no_slots():
    assert slot_starts(date(2024, 1, 14), NEW_YORK, None) == ()
    assert window_on(DEFAULT_HOURS, date(2024, 1, 14)) is None  # a Sunday


def test_spring_forward_skips_the_local_times_that_do_not_exist():
    # 2024-03-10, New York: 02:00 EST jumps to 03:00 EDT. Open 00:00-06:00 local:
    # 00:00-01:30 EST (UTC-5) = 05:00Z-06:30Z; 02:00 and 02:30 do not exist;
    # 03:00-05:30 EDT (UTC-4) = 07:00Z-09:30Z. Ten slots, contiguous in real time.
    starts = list(slot_starts(date(2024, 3, 10), NEW_YORK, (0, 6 * 60)))
    assert starts == every_half_hour("2024-03-10T05:00", "2024-03-10T09:30")
    assert len(starts) == 10


def test_fall_back_gives_a_slot_for_each_occurrence_of_the_repeated_hour():
    # 2024-11-03, New York: 02:00 EDT falls back to 01:00 EST. Open 00:00-06:00 local,
    # which is seven real hours: 00:00 EDT (UTC-4) = 04:00Z ... 01:30 EDT = 05:30Z,
    # 01:00 EST (UTC-5) = 06:00Z ... 05:30 EST = 10:30Z. Fourteen slots.
    starts = list(slot_starts(date(2024, 11, 3), NEW_YORK, (0, 6 * 60)))
    assert starts == every_half_hour("2024-11-03T04:00", "2024-11-03T10:30")
    assert len(starts) == 14
    assert [s.astimezone(NEW_YORK).strftime("%H:%M") for s in starts[2:6]] == [
        "01:00", "01:30", "01:00", "01:30"]


def test_dst_days_with_daytime_hours_keep_twenty_slots_at_the_new_offset():
    # After the change the day runs on EDT (UTC-4) in March and on EST (UTC-5) in November.
    assert list(slot_starts(date(2024, 3, 10), NEW_YORK, (8 * 60, 18 * 60))) == (
        every_half_hour("2024-03-10T12:00", "2024-03-10T21:30"))
    assert list(slot_starts(date(2024, 11, 3), NEW_YORK, (8 * 60, 18 * 60))) == (
        every_half_hour("2024-11-03T13:00", "2024-11-03T22:30"))


def test_a_far_east_day_starts_on_the_previous_utc_date():
    # Tokyo is UTC+9: 08:00 on the 15th local is 23:00Z on the 14th.
    starts = list(slot_starts(date(2024, 1, 15), TOKYO, (8 * 60, 18 * 60)))
    assert starts == every_half_hour("2024-01-14T23:00", "2024-01-15T08:30")


def test_the_slot_grid_is_local_even_with_a_quarter_hour_offset():
    # Kathmandu is UTC+05:45: local 09:00 and 09:30 are 03:15Z and 03:45Z.
    starts = list(slot_starts(date(2024, 1, 15), KATHMANDU, (9 * 60, 10 * 60)))
    assert starts == [z("2024-01-15T03:15"), z("2024-01-15T03:45")]
    assert on_slot_grid(z("2024-01-15T03:15"), KATHMANDU)
    assert not on_slot_grid(z("2024-01-15T03:00"), KATHMANDU)


def test_slots_start_on_the_grid_after_an_off_grid_opening_time():
    starts = list(slot_starts(date(2024, 1, 15), ZoneInfo("UTC"), (8 * 60 + 15, 10 * 60)))
    assert starts == [z("2024-01-15T08:30"), z("2024-01-15T09:00"), z("2024-01-15T09:30")]


def test_closing_at_midnight_offers_the_last_half_hour_of_the_day():
    starts = list(slot_starts(date(2024, 1, 15), ZoneInfo("UTC"), day_window(["23:00", "24:00"])))
    assert starts == [z("2024-01-15T23:00"), z("2024-01-15T23:30")]


def test_past_slots_are_not_offered():
    starts = every_half_hour("2024-01-15T08:00", "2024-01-15T11:30")
    now = z("2024-01-15T10:00")  # a slot starting exactly now is gone too
    assert free_slots(starts, 1, [], now) == every_half_hour("2024-01-15T10:30",
                                                             "2024-01-15T11:30")


def test_an_appointment_blocks_the_two_slots_it_overlaps_until_capacity_is_reached():
    starts = every_half_hour("2024-01-15T08:00", "2024-01-15T11:30")
    booked = [z("2024-01-15T09:00"), z("2024-01-15T09:00"), z("2024-01-15T10:00")]
    free = free_slots(starts, 2, booked, LONG_AGO)
    # 09:00 and 09:30 hold both 09:00 appointments; 10:00 and 10:30 hold only one.
    assert free == [z("2024-01-15T08:00"), z("2024-01-15T08:30"), z("2024-01-15T10:00"),
                    z("2024-01-15T10:30"), z("2024-01-15T11:00"), z("2024-01-15T11:30")]
    assert free_slots(starts, 1, booked, LONG_AGO) == [
        z("2024-01-15T08:00"), z("2024-01-15T08:30"), z("2024-01-15T11:00"),
        z("2024-01-15T11:30")]


def test_overlap_counts_an_appointment_in_the_slot_it_starts_in_and_the_next_only():
    booked = [z("2024-01-15T09:00")]
    assert [overlapping(booked, s) for s in every_half_hour(
        "2024-01-15T08:30", "2024-01-15T10:00")] == [0, 1, 1, 0]
    assert overlap_range(z("2024-01-15T09:00"), z("2024-01-15T09:30")) == (
        z("2024-01-15T08:00"), z("2024-01-15T10:00"))


def test_a_booking_needs_a_free_bay_in_both_of_its_half_hours():
    booked = [z("2024-01-15T09:00"), z("2024-01-15T10:00")]
    assert has_room(z("2024-01-15T09:30"), 2, booked)
    assert not has_room(z("2024-01-15T09:30"), 1, booked)
    assert has_room(z("2024-01-15T11:00"), 1, booked)


def test_the_whole_hour_must_fit_inside_opening_hours():
    starts = list(slot_starts(date(2024, 1, 15), ZoneInfo("UTC"), (8 * 60, 18 * 60)))
    assert fits_opening_hours(z("2024-01-15T17:00"), starts)
    assert not fits_opening_hours(z("2024-01-15T17:30"), starts)
    assert not fits_opening_hours(z("2024-01-15T07:30"), starts)


def test_an_hour_across_a_dst_change_fits_when_both_half_hours_are_open():
    # Spring forward: 01:30 EST (06:30Z) is followed by 03:00 EDT (07:00Z).
    spring = slot_starts(date(2024, 3, 10), NEW_YORK, (0, 6 * 60))
    assert fits_opening_hours(z("2024-03-10T06:30"), spring)
    # Fall back: 01:30 EDT (05:30Z) is followed by the second 01:00, EST (06:00Z).
    autumn = slot_starts(date(2024, 11, 3), NEW_YORK, (0, 6 * 60))
    assert fits_opening_hours(z("2024-11-03T05:30"), autumn)


def test_the_local_day_of_an_instant_depends_on_the_zone():
    assert local_day(z("2024-01-14T23:00"), TOKYO) == date(2024, 1, 15)
    assert local_day(z("2024-01-15T03:00"), NEW_YORK) == date(2024, 1, 14)


@pytest.mark.parametrize("value", [["8:00", "18:00"], ["08:00"], ["18:00", "08:00"],
                                   ["08:00", "08:00"], ["24:00", "24:00"], ["08:60", "09:00"],
                                   ["25:00", "26:00"], ["08:00", "24:30"], [8, 18]])
def test_malformed_day_hours_are_rejected(value):
    with pytest.raises(ValueError):
        day_window(value)


def test_clock_times_are_minutes_since_midnight():
    assert (clock_minutes("00:00"), clock_minutes("08:30"), clock_minutes("24:00")) == (
        0, 510, 1440)
