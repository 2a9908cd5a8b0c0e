"""Holiday calendars: validation, resolution to concrete dates, and their use by the simulation."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from domain import holidays as calendars
from domain.cadences import Cadence, validate_cadence
from domain.simulation import simulate
from persistence.cadences import snapshot
from persistence.models import CadenceVersion

NY = "America/New_York"


def definition(**extra) -> dict:
    steps = [{"id": f"s{i}", "channel": "email" if i % 2 else "call", "wait": "PT0S" if i == 1 else "P1D",
              "subject": "Hi", "body": "Hello", "instructions": "Call"} for i in range(1, 7)]
    return {"name": "holiday-test", "steps": steps, **extra}


def fields(data: dict) -> list[str]:
    return [p.field for p in validate_cadence(data)]


# ---- validation ---------------------------------------------------------------------------

def test_a_cadence_without_holidays_is_unchanged() -> None:
    data = definition()
    assert fields(data) == []
    out = Cadence.from_dict(data).to_dict()
    assert "holidays" not in out and "holiday_dates" not in out  # stored definitions stay equal


def test_valid_calendars() -> None:
    for calendar in ({"country": "US"}, {"country": "US", "subdivision": "CA"}, {"dates": ["2026-12-24"]},
                     {"country": "DE", "subdivision": "BY", "dates": ["2026-12-24", "2026-12-31"]}, {}):
        assert fields(definition(holidays=calendar)) == [], calendar


def test_every_calendar_problem_is_listed_with_its_field() -> None:
    data = definition(holidays={"country": "XX", "dates": ["2026-12-24", "2026-13-01", "24/12/2026", 5],
                                "extra": True})
    assert fields(data) == ["holidays.extra", "holidays.country", "holidays.dates[1]", "holidays.dates[2]",
                            "holidays.dates[3]"]
    problems = {p.field: p.message for p in validate_cadence(data)}
    assert "'XX'" in problems["holidays.country"]


@pytest.mark.parametrize("calendar, field", [
    ({"country": "US", "subdivision": "ZZ"}, "holidays.subdivision"),
    ({"subdivision": "CA"}, "holidays.subdivision"),  # a subdivision needs its country
    ({"country": 1}, "holidays.country"),
    ({"dates": "2026-12-24"}, "holidays.dates"),
    ("US", "holidays"),
])
def test_bad_calendars(calendar, field) -> None:
    assert fields(definition(holidays=calendar)) == [field]


def test_yaml_dates_are_stored_as_iso_strings() -> None:
    # YAML reads an unquoted 2026-12-24 as a date; the stored definition must stay JSON.
    cadence = Cadence.from_dict(definition(holidays={"dates": [date(2026, 12, 31), "2026-12-24"]}))
    assert fields(definition(holidays={"dates": [date(2026, 12, 31)]})) == []
    assert cadence.to_dict()["holidays"] == {"dates": ["2026-12-24", "2026-12-31"]}
    assert Cadence.from_dict(cadence.to_dict()).to_dict() == cadence.to_dict()


# ---- resolution ---------------------------------------------------------------------------

def test_resolve_country_subdivision_and_custom_dates() -> None:
    us = calendars.resolve({"country": "US"}, [2026])
    assert {date(2026, 11, 26), date(2026, 12, 25), date(2026, 7, 3)} <= us  # 07-03: July 4 observed
    assert date(2026, 3, 31) not in us
    assert date(2026, 3, 31) in calendars.resolve({"country": "US", "subdivision": "CA"}, [2026])  # Cesar Chavez
    custom = calendars.resolve({"country": "US", "dates": ["2026-12-24", "2031-01-02"]}, [2026])
    assert {date(2026, 12, 24), date(2031, 1, 2)} <= custom  # custom dates count whatever the years
    assert not any(d.year == 2027 for d in us)
    assert calendars.resolve(None, [2026]) == frozenset() == calendars.resolve({}, [2026])


def test_enrolment_resolves_this_year_and_the_next_two() -> None:
    at = datetime(2026, 11, 23, 22, 0, tzinfo=timezone.utc)
    assert list(calendars.years_from(at)) == [2026, 2027, 2028]
    cadence = Cadence.from_dict(definition(holidays={"country": "US", "dates": ["2026-12-24"]}))
    assert cadence.holiday_dates == []  # a definition carries no dates: only a snapshot does
    pinned = cadence.with_holidays(at)
    assert pinned.holiday_dates == sorted(pinned.holiday_dates)
    days = pinned.holiday_set()
    assert {date(2026, 12, 24), date(2026, 11, 26), date(2028, 12, 25)} <= days
    assert not any(d.year == 2029 for d in days)
    assert cadence.holiday_dates == [] and pinned.steps == cadence.steps  # the original is untouched


def test_the_snapshot_given_to_a_workflow_carries_the_dates() -> None:
    row = CadenceVersion(name="holiday-test", version=1,
                         definition=Cadence.from_dict(definition(holidays={"country": "US"})).to_dict())
    pinned = snapshot(row, datetime(2026, 11, 23, tzinfo=timezone.utc))
    assert pinned.holidays == {"country": "US"} and "2026-11-26" in pinned.holiday_dates
    plain = snapshot(CadenceVersion(name="plain", version=1, definition=Cadence.from_dict(definition()).to_dict()))
    assert plain.holiday_dates == []


# ---- simulation ---------------------------------------------------------------------------

def test_simulation_skips_a_national_and_a_custom_holiday() -> None:
    # Mon 2026-11-23 10:00 New York; daily business-day steps would hit 11-24 (custom, with 11-25)
    # and Thanksgiving 11-26. With the calendar they go to Fri 11-27, then Mon 11-30, ...
    start = datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc)
    plain = Cadence.from_dict(definition())
    with_days = Cadence.from_dict(definition(holidays={"country": "US", "dates": ["2026-11-24", "2026-11-25"]}))
    local = lambda rows: [due.astimezone(ZoneInfo(NY)).date() for *_, due in rows]  # noqa: E731
    assert local(simulate(plain, start, NY))[:4] == [date(2026, 11, d) for d in (23, 24, 25, 26)]
    got = local(simulate(with_days, start, NY))
    assert got == [date(2026, 11, 23), date(2026, 11, 27), date(2026, 11, 30), date(2026, 12, 1),
                   date(2026, 12, 2), date(2026, 12, 3)]
    # A snapshot already pinned (as a workflow gets it) simulates the same.
    assert simulate(with_days.with_holidays(start), start, NY) == simulate(with_days, start, NY)


def test_simulation_with_window_none_moves_a_holiday_touch_to_the_next_day() -> None:
    start = datetime(2026, 12, 24, 12, 0, tzinfo=timezone.utc)
    cadence = Cadence.from_dict(definition(send_window=None, business_days=False, holidays={"country": "US"}))
    rows = simulate(cadence, start, "UTC")
    assert rows[1][3] == datetime(2026, 12, 26, 0, 0, tzinfo=timezone.utc)  # not on Christmas
    assert rows[2][3] - rows[1][3] == timedelta(days=1)
