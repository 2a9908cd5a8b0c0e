"""Holiday calendars in the lead workflow, on Temporal's time-skipping server.

The test server's clock starts at the real current time, so holidays are chosen relative to it:
the next national holiday after the start and custom dates after that.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from domain import holidays as calendars
from domain import schedule
from domain.simulation import simulate
from tests.support.harness import eventually, make_cadence, running_worker

TZ = "America/New_York"
ZONE = ZoneInfo(TZ)


def aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)  # SQLite hands back naive UTC


def local_day(at: datetime) -> date:
    return aware(at).astimezone(ZONE).date()


def first_after(day: date, excluded: frozenset[date]) -> date:
    day += timedelta(days=1)
    while day in excluded:
        day += timedelta(days=1)
    return day


def email(step_id: str, wait: str) -> dict:
    return {"id": step_id, "channel": "email", "wait": wait, "subject": "Hi", "body": "Hello"}


async def test_no_touch_on_a_national_or_a_custom_holiday(time_env, sqlite_db):
    start = await time_env.get_current_time()
    national = calendars.resolve({"country": "US"}, calendars.years_from(start))
    due = lambda at, days: schedule.next_due(at, timedelta(days=days), tz=TZ, window=None,  # noqa: E731
                                             business_days=False, holidays=national)
    # Step 2 waits exactly until the next national holiday, step 3 until a custom one: without
    # the calendar each would land on its holiday.
    first = due(start, 0)
    holiday = min(d for d in national if d > local_day(first))
    wait_national = (holiday - local_day(first)).days
    second = due(first, wait_national)
    custom = [first_after(local_day(second), national)]
    custom.append(custom[0] + timedelta(days=1))  # two in a row: the touch skips both
    wait_custom = (custom[0] - local_day(second)).days
    calendar = {"country": "US", "dates": [d.isoformat() for d in custom]}
    steps = [email("s1", "PT0S"), email("s2", f"P{wait_national}D"), email("s3", f"P{wait_custom}D"),
             email("s4", "P1D"), email("s5", "P1D"), email("s6", "P1D")]
    cadence = make_cadence(steps=steps, holidays=calendar, on_complete="none")
    snapshot = cadence.with_holidays(start)  # what POST /leads gives the workflow

    # The same cadence without the calendar would touch on both days.
    naive = [local_day(at) for *_, at in simulate(make_cadence(steps=steps), start, TZ)]
    assert holiday in naive and custom[0] in naive

    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(snapshot, timezone=TZ)
        final = await handle.result()
        assert final.status == "completed"
        assert {holiday, *custom} <= final.cadence.holiday_set()  # decided from the snapshot's dates
        touches = await eventually(lambda: len(h.touches(handle)) == 6 and h.touches(handle))
    days = {t.step_id: local_day(t.at) for t in touches}
    assert all(t.status == "outboxed" for t in touches)
    assert not {holiday, *custom} & set(days.values()), days
    assert days["s2"] == first_after(holiday, snapshot.holiday_set())
    assert days["s3"] == first_after(custom[1], snapshot.holiday_set())
    # The simulation gives the workflow's times (both resolve the calendar the same way).
    simulated = {sid: at for _, sid, _, at in simulate(cadence, start, TZ)}
    for t in touches:
        assert abs(aware(t.due_at) - simulated[t.step_id]) < timedelta(seconds=5), t.step_id


async def test_task_due_dates_and_callbacks_skip_holidays(time_env, sqlite_db):
    start = await time_env.get_current_time()
    # Business days in the default Mon-Fri 08:00-18:00 window; the next two days are custom holidays.
    d0 = start.astimezone(ZONE).date()
    custom = [d0 + timedelta(days=1), d0 + timedelta(days=2)]
    steps = [email("s1", "PT0S"), {"id": "call", "channel": "call", "wait": "P1D", "instructions": "Call",
                                   "expires": "PT1H"}] + [email(f"s{i}", "P1D") for i in range(3, 7)]
    cadence = make_cadence(steps=steps, holidays={"country": "US", "dates": [d.isoformat() for d in custom]},
                           send_window={"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00",
                                        "end": "18:00"}, business_days=True, on_complete="none")
    snapshot = cadence.with_holidays(start)
    holidays = snapshot.holiday_set()

    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(snapshot, timezone=TZ)
        await h.signal(handle, "missed_call")  # called back by the next business day: not a holiday
        await handle.result()
        tasks = await eventually(lambda: len(h.tasks(handle)) == 2 and h.tasks(handle))
        touches = h.touches(handle)
    callback = next(t for t in tasks if t.kind == "callback")
    expected = schedule.next_business_day_start(start, tz=TZ, window=snapshot.window(), holidays=holidays)
    assert abs(aware(callback.due_at) - expected) < timedelta(minutes=1)
    assert local_day(callback.due_at) > custom[1]
    for at in [t.due_at for t in tasks] + [t.at for t in touches]:
        local = aware(at).astimezone(ZONE)
        assert local.date() not in holidays and local.weekday() < 5, local
    assert len(touches) == 6
