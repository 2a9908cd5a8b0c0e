"""Mailbox caps and the ramp, as pure rules."""
from __future__ import annotations

from datetime import date, datetime, timezone

from domain.capacity import Caps, forecast, next_slot

NOON = datetime(2026, 11, 24, 12, 30, tzinfo=timezone.utc)


def test_a_send_fits_under_both_caps():
    assert next_slot(NOON, Caps(daily=100, hourly=20), 99, 19) is None
    assert next_slot(NOON, Caps(), 10_000, 10_000) is None  # no caps: no limit


def test_a_full_day_waits_for_the_next_utc_day():
    slot = next_slot(NOON, Caps(daily=100), 100, 0)
    assert slot.at == datetime(2026, 11, 25, tzinfo=timezone.utc) and slot.reason == "daily cap of 100 reached"


def test_a_full_hour_waits_for_the_next_hour():
    slot = next_slot(NOON, Caps(daily=100, hourly=10), 50, 10)
    assert slot.at == datetime(2026, 11, 24, 13, tzinfo=timezone.utc) and "hourly cap of 10" in slot.reason


def test_the_ramp_holds_a_new_mailbox_below_its_cap_week_by_week():
    caps = Caps(daily=200, ramp=(20, 50, 500), started=date(2026, 11, 2))
    assert [caps.daily_on(date(2026, 11, d)) for d in (2, 8, 9, 16, 23)] == [20, 20, 50, 200, 200]
    assert caps.daily_on(date(2026, 11, 1)) == 200  # before the ramp began: the steady cap
    assert next_slot(datetime(2026, 11, 3, 9, tzinfo=timezone.utc), caps, 20, 0).reason == "daily cap of 20 reached"


def test_the_forecast_carries_what_does_not_fit_to_the_next_days():
    days = forecast(Caps(daily=100), date(2026, 11, 24), 4, {date(2026, 11, 24): 250, date(2026, 11, 26): 30}, 0)
    assert [(d["sent_or_sendable"], d["deferred_to_later"]) for d in days] == [(100, 150), (100, 50), (80, 0), (0, 0)]
