from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from domain.schedule import SendWindow, next_due, plan

UTC = timezone.utc
NY = "America/New_York"
WEEKDAYS = SendWindow()  # Mon-Fri 08:00-18:00


def local(tz: str, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz), fold=fold)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def due(after: datetime, wait: timedelta, tz: str = NY, window: SendWindow | None = WEEKDAYS,
        business_days: bool = False, holidays: frozenset[date] = frozenset()) -> datetime:
    result = next_due(after, wait, tz=tz, window=window, business_days=business_days, holidays=holidays)
    assert result.utcoffset() == timedelta(0) and result.tzinfo == UTC
    return result


def test_zero_wait_inside_window_is_unchanged() -> None:
    after = local("Europe/Berlin", 2026, 6, 2, 10, 15, 7, 123456)  # Tue
    assert due(after, timedelta(0), tz="Europe/Berlin") == after
    # Input offset differs from lead tz: still the same instant.
    assert due(after.astimezone(ZoneInfo("Asia/Tokyo")), timedelta(0), tz="Europe/Berlin") == after


def test_window_end_is_exclusive() -> None:
    assert due(local(NY, 2026, 6, 2, 18, 0), timedelta(0)) == local(NY, 2026, 6, 3, 8, 0)
    assert due(local(NY, 2026, 6, 2, 17, 59), timedelta(0)) == local(NY, 2026, 6, 2, 17, 59)


def test_friday_evening_rolls_to_monday_opening() -> None:
    assert due(local(NY, 2026, 6, 5, 17, 30), timedelta(hours=1)) == local(NY, 2026, 6, 8, 8, 0)


def test_saturday_enrolment_starts_monday() -> None:
    assert due(local(NY, 2026, 6, 6, 11, 0), timedelta(0)) == local(NY, 2026, 6, 8, 8, 0)


def test_before_opening_moves_to_same_day_opening() -> None:
    assert due(local(NY, 2026, 6, 2, 6, 0), timedelta(0)) == local(NY, 2026, 6, 2, 8, 0)
    assert due(local(NY, 2026, 6, 2, 5, 0), timedelta(hours=1)) == local(NY, 2026, 6, 2, 8, 0)


def test_business_days_skip_weekend() -> None:
    thu = local(NY, 2026, 6, 4, 10, 0)
    assert due(thu, timedelta(days=2), business_days=True) == local(NY, 2026, 6, 8, 10, 0)
    # Counting from a weekend: the first business day is Monday.
    assert due(local(NY, 2026, 6, 6, 10, 0), timedelta(days=1), business_days=True) == local(NY, 2026, 6, 8, 10, 0)


def test_calendar_days_land_on_weekend_then_snap() -> None:
    thu = local(NY, 2026, 6, 4, 10, 0)
    assert due(thu, timedelta(days=2), window=None) == local(NY, 2026, 6, 6, 10, 0)  # Saturday
    assert due(thu, timedelta(days=2)) == local(NY, 2026, 6, 8, 8, 0)  # Monday opening


def test_day_wait_keeps_wall_clock_across_spring_forward() -> None:
    sat = local(NY, 2026, 3, 7, 9, 0)  # EST, 14:00Z
    result = due(sat, timedelta(days=1), window=None)
    assert result == utc(2026, 3, 8, 13, 0)  # 09:00 EDT
    assert result.astimezone(ZoneInfo(NY)).utcoffset() == timedelta(hours=-4)
    assert result - sat == timedelta(hours=23)
    # Friday + P3D in the window: Monday 09:00 EDT, 71 h later.
    fri = local(NY, 2026, 3, 6, 9, 0)
    assert due(fri, timedelta(days=3)) == utc(2026, 3, 9, 13, 0)


def test_day_wait_keeps_wall_clock_across_fall_back() -> None:
    sat = local(NY, 2026, 10, 31, 9, 0)  # EDT, 13:00Z
    result = due(sat, timedelta(days=1), window=None)
    assert result == utc(2026, 11, 1, 14, 0)  # 09:00 EST
    assert result.astimezone(ZoneInfo(NY)).utcoffset() == timedelta(hours=-5)
    assert result - sat == timedelta(hours=25)


def test_sub_day_wait_is_elapsed_time_across_dst() -> None:
    # 01:00 EST + PT2H = 04:00 EDT (only two real hours pass).
    assert due(local(NY, 2026, 3, 8, 1, 0), timedelta(hours=2), window=None) == local(NY, 2026, 3, 8, 4, 0)


def test_spring_forward_gap_resolves_to_first_valid_instant() -> None:
    # Day wait landing on the non-existent 02:30.
    result = due(local(NY, 2026, 3, 7, 2, 30), timedelta(days=1), window=None)
    assert result == utc(2026, 3, 8, 7, 0)
    assert result.astimezone(ZoneInfo(NY)).time() == time(3, 0)
    # Window opening inside the gap.
    early = SendWindow(days=tuple(range(7)), start=time(2, 30), end=time(18, 0))
    assert due(local(NY, 2026, 3, 8, 1, 0), timedelta(0), window=early) == utc(2026, 3, 8, 7, 0)


def test_fall_back_ambiguous_time_uses_first_occurrence() -> None:
    result = due(local(NY, 2026, 10, 31, 1, 30), timedelta(days=1), window=None)
    assert result == utc(2026, 11, 1, 5, 30)  # 01:30 EDT, not 01:30 EST (06:30Z)


def test_same_instant_differs_by_lead_time_zone() -> None:
    instant = utc(2026, 6, 2, 12, 0)  # Tue: 14:00 Berlin, 21:00 Tokyo
    berlin = due(instant, timedelta(0), tz="Europe/Berlin")
    tokyo = due(instant, timedelta(0), tz="Asia/Tokyo")
    assert berlin == instant
    assert tokyo == local("Asia/Tokyo", 2026, 6, 3, 8, 0) == utc(2026, 6, 2, 23, 0)
    assert due(instant, timedelta(days=1), tz="Europe/Berlin") == utc(2026, 6, 3, 12, 0)
    assert due(instant, timedelta(days=1), tz="Asia/Tokyo") == utc(2026, 6, 3, 23, 0)


def test_holidays_are_skipped() -> None:
    mon = date(2026, 6, 8)
    fri = local(NY, 2026, 6, 5, 17, 30)
    assert due(fri, timedelta(hours=1), holidays=frozenset({mon})) == local(NY, 2026, 6, 9, 8, 0)
    # Business-day counting skips the holiday too.
    fri_morning = local(NY, 2026, 6, 5, 10, 0)
    result = due(fri_morning, timedelta(days=1), business_days=True, holidays=frozenset({mon}))
    assert result == local(NY, 2026, 6, 9, 10, 0)
    # Inside hours but on a holiday: next allowed opening.
    assert due(local(NY, 2026, 6, 8, 10, 0), timedelta(0), holidays=frozenset({mon})) == local(NY, 2026, 6, 9, 8, 0)


def test_no_window_allows_any_time_but_skips_holidays() -> None:
    sat_night = local(NY, 2026, 6, 6, 23, 0)
    assert due(sat_night, timedelta(hours=1), window=None) == local(NY, 2026, 6, 7, 0, 0)
    assert due(sat_night, timedelta(0), window=None) == sat_night
    hols = frozenset({date(2026, 6, 7), date(2026, 6, 8)})
    assert due(sat_night, timedelta(hours=3), window=None, holidays=hols) == local(NY, 2026, 6, 9, 0, 0)


def test_plan_chains_six_steps() -> None:
    waits = [timedelta(0), timedelta(days=2), timedelta(days=3), timedelta(hours=10),
             timedelta(weeks=1), timedelta(days=2)]
    juneteenth = frozenset({date(2026, 6, 19)})
    start = local(NY, 2026, 6, 1, 9, 0)  # Monday
    result = plan(start, waits, tz=NY, window=WEEKDAYS, business_days=True, holidays=juneteenth)
    assert result == [
        local(NY, 2026, 6, 1, 9, 0),   # at once
        local(NY, 2026, 6, 3, 9, 0),   # Wed
        local(NY, 2026, 6, 8, 9, 0),   # Thu, Fri, Mon
        local(NY, 2026, 6, 9, 8, 0),   # 19:00 Mon is after hours -> Tue opening
        local(NY, 2026, 6, 18, 8, 0),  # 7 business days
        local(NY, 2026, 6, 23, 8, 0),  # Fri 19th is a holiday: Mon, Tue
    ]
    assert all(d.tzinfo == UTC for d in result)
    assert plan(start, [], tz=NY, window=WEEKDAYS, business_days=True) == []


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_due(datetime(2026, 6, 2, 9, 0), timedelta(0), tz=NY, window=None, business_days=False)
    with pytest.raises(ValueError, match="timezone-aware"):
        plan(datetime(2026, 6, 2, 9, 0), [timedelta(0)], tz=NY, window=None, business_days=False)
    with pytest.raises(ValueError, match="negative"):
        due(local(NY, 2026, 6, 2, 9, 0), timedelta(hours=-1))
    with pytest.raises(ValueError, match="Mars/Olympus"):
        due(local(NY, 2026, 6, 2, 9, 0), timedelta(0), tz="Mars/Olympus")


def test_search_is_bounded() -> None:
    start = date(2026, 6, 1)
    every_day = frozenset(start + timedelta(days=n) for n in range(500))
    with pytest.raises(ValueError, match="400 days"):
        due(local(NY, 2026, 6, 1, 9, 0), timedelta(0), holidays=every_day)
    with pytest.raises(ValueError, match="400 days"):
        due(local(NY, 2026, 6, 1, 9, 0), timedelta(days=1), business_days=True, window=None, holidays=every_day)


def test_window_contains() -> None:
    w = SendWindow()
    assert w.contains(datetime(2026, 6, 2, 8, 0))
    assert not w.contains(datetime(2026, 6, 2, 7, 59))
    assert not w.contains(datetime(2026, 6, 2, 18, 0))
    assert not w.contains(datetime(2026, 6, 6, 10, 0))  # Saturday


def test_window_dict_round_trip() -> None:
    data = {"days": ["mon", "wed", "sat"], "start": "09:30", "end": "17:00"}
    w = SendWindow.from_dict(data)
    assert w == SendWindow(days=(0, 2, 5), start=time(9, 30), end=time(17, 0))
    assert w.to_dict() == data
    assert SendWindow.from_dict(SendWindow().to_dict()) == SendWindow()
    assert SendWindow.from_dict({}) == SendWindow()
    assert SendWindow.from_dict(None) is None
    assert SendWindow.from_dict({"days": ["FRI", "mon"]}).days == (0, 4)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"days": ["mon", "funday"]}, "days"),
        ({"days": "mon"}, "days"),
        ({"days": []}, "days"),
        ({"start": "8am"}, "start"),
        ({"end": 18}, "end"),
        ({"start": "18:00", "end": "08:00"}, "start"),
        ({"timezone": "UTC"}, "timezone"),
    ],
)
def test_window_from_dict_rejects_bad_input(data: dict, key: str) -> None:
    with pytest.raises(ValueError, match=key):
        SendWindow.from_dict(data)


def test_window_construction_validates() -> None:
    with pytest.raises(ValueError, match="empty"):
        SendWindow(days=())
    with pytest.raises(ValueError, match="days"):
        SendWindow(days=(7,))
    with pytest.raises(ValueError):
        SendWindow(start=time(9, 0), end=time(9, 0))


def test_a_callback_is_due_at_the_start_of_the_next_business_day_however_late_the_call():
    from domain.schedule import next_business_day_start

    window = SendWindow.from_dict({"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00"})
    ny = ZoneInfo("America/New_York")
    for local in (datetime(2026, 11, 23, 10, 0), datetime(2026, 11, 23, 18, 1), datetime(2026, 11, 23, 23, 59)):
        due = next_business_day_start(local.replace(tzinfo=ny), tz="America/New_York", window=window)
        assert due.astimezone(ny) == datetime(2026, 11, 24, 8, 0, tzinfo=ny)
    friday_night = datetime(2026, 11, 27, 21, 0, tzinfo=ny)
    assert next_business_day_start(friday_night, tz="America/New_York", window=window).astimezone(ny) == \
        datetime(2026, 11, 30, 8, 0, tzinfo=ny)
    holiday = frozenset({datetime(2026, 11, 24).date()})
    assert next_business_day_start(datetime(2026, 11, 23, 12, tzinfo=ny), tz="America/New_York", window=window,
                                   holidays=holiday).astimezone(ny).date() == datetime(2026, 11, 25).date()
