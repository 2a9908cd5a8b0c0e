"""The lead workflow on Temporal's time-skipping server, with real activities and SQLite."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from temporalio.client import WorkflowExecutionStatus

from domain import schedule
from domain.durations import parse_duration
from persistence.cadences import snapshot_from_file
from tests.support.harness import DAY, eventually, running_worker, make_cadence

pytestmark = pytest.mark.asyncio


async def emails_sent(h, handle, n):
    return await eventually(lambda: len([t for t in h.touches(handle) if t.status == "outboxed"]) >= n)


async def test_positive_reply_at_step_3_qualifies_and_stops_touches(time_env, sqlite_db):
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence())
        await time_env.sleep(2 * DAY + timedelta(hours=1))
        await emails_sent(h, handle, 3)
        await h.signal(handle, "reply", intent="positive", channel="email", text="Yes, let's talk Tuesday")
        final = await handle.result()
        assert (final.stage, final.stage_reason, final.level, final.status) == \
            ("qualified", "positive_reply", "sql", "completed")
        await time_env.sleep(10 * DAY)
        assert [t.step for t in h.touches(handle)] == [1, 2, 3]
        lead = h.lead(handle)
        assert (lead.stage, lead.stage_reason, lead.level, lead.status) == \
            ("qualified", "positive_reply", "sql", "completed")
        assert lead.next_touch is None
        hand_off = [t for t in h.tasks(handle) if t.kind == "hand_off"]
        assert len(hand_off) == 1 and hand_off[0].status == "open"


async def test_negative_reply_means_not_interested(time_env, sqlite_db):
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence())
        await emails_sent(h, handle, 1)
        await h.signal(handle, "reply", intent="negative", text="Please stop")
        final = await handle.result()
        assert (final.stage, final.stage_reason) == ("not_interested", "negative_reply")
        assert len(h.touches(handle)) == 1


async def test_unsubscribe_suppresses_every_later_email(time_env, sqlite_db):
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence(), email="Gone@Example.com")
        await emails_sent(h, handle, 1)
        await h.signal(handle, "reply", intent="unsubscribe")
        final = await handle.result()
        assert (final.stage, final.stage_reason) == ("not_interested", "unsubscribed")
        await time_env.sleep(10 * DAY)
        assert len(h.outbox(handle)) == 1
        # The suppression outlives the lead: a new cadence for the address sends nothing.
        second = await h.start(make_cadence(), email="gone@example.com ".strip().upper().lower())
        await time_env.sleep(2 * DAY)
        statuses = await eventually(lambda: [t.status for t in h.touches(second)] or None)
        assert statuses[0] == "suppressed"
        emails = [t.status for t in h.touches(second) if t.channel == "email"]
        assert set(emails) <= {"suppressed", "skipped"} and len(emails) == 5
        assert h.outbox(second) == []


async def test_out_of_office_pauses_until_the_return_date(time_env, sqlite_db):
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence())
        await emails_sent(h, handle, 1)
        start = h.touches(handle)[0].at
        back = (start + timedelta(days=10)).date()
        await h.signal(handle, "reply", intent="out_of_office", return_date=back.isoformat())
        await time_env.sleep(5 * DAY)
        state = await h.state(handle)
        assert state.status == "paused" and state.stage == "new", state
        assert len(h.touches(handle)) == 1
        await time_env.sleep(6 * DAY)
        await emails_sent(h, handle, 2)
        second = h.touches(handle)[1]
        assert second.at >= datetime.combine(back, datetime.min.time(), tzinfo=timezone.utc)


async def test_pause_and_resume(time_env, sqlite_db):
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence())
        await emails_sent(h, handle, 1)
        await h.signal(handle, "pause")
        await time_env.sleep(7 * DAY)
        assert len(h.touches(handle)) == 1
        assert (await h.state(handle)).status == "paused"
        assert h.lead(handle).status == "paused"
        await h.signal(handle, "resume")
        await emails_sent(h, handle, 2)
        assert (await h.state(handle)).status == "active"


async def test_stop_ends_the_cadence(time_env, sqlite_db):
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence())
        await emails_sent(h, handle, 1)
        await h.signal(handle, "stop")
        final = await handle.result()
        assert final.status == "stopped" and final.stage == "new"


async def test_same_event_twice_has_effect_once(time_env, sqlite_db):
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence())
        await emails_sent(h, handle, 1)
        for _ in range(3):
            await h.signal(handle, "reply", event_id="evt-1", intent="neutral", text="Tell me more")
        state = await eventually(lambda: h.lead(handle).stage == "in_process" and h.lead(handle), timeout=30)
        assert state.stage_reason == "neutral_reply"
        await time_env.sleep(DAY)
        assert [e.event_id for e in h.events(handle)] == ["evt-1"]
        assert len([t for t in h.tasks(handle) if t.kind == "follow_up"]) == 1
        # In conversation: automated touches wait for the rep.
        assert len(h.touches(handle)) == 1


async def test_neutral_reply_then_silence_goes_quiet_to_nurture(time_env, sqlite_db):
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence(), quiet_days=30)
        await emails_sent(h, handle, 1)
        await h.signal(handle, "reply", intent="neutral")
        await time_env.sleep(31 * DAY)
        state = await eventually(lambda: h.lead(handle).stage == "nurture" and h.lead(handle))
        assert state.stage_reason == "went_quiet"


async def test_task_step_that_expires_is_missed_and_the_cadence_goes_on(time_env, sqlite_db):
    steps = [
        {"id": "e1", "channel": "email", "wait": "PT0S", "subject": "Hi", "body": "Hello"},
        {"id": "c1", "channel": "call", "wait": "PT5M", "instructions": "Call {{ first_name }}", "expires": "PT2H"},
    ] + [{"id": f"e{i}", "channel": "email", "wait": "P1D", "subject": "Hi", "body": "Hello"} for i in range(2, 6)]
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence(steps=steps))
        await time_env.sleep(timedelta(minutes=6))
        task = (await eventually(lambda: h.tasks(handle)))[0]
        assert task.channel == "call" and task.instructions == "Call Ada" and task.status == "open"
        created = task.created_at.replace(tzinfo=timezone.utc) if task.created_at.tzinfo is None else task.created_at
        assert (await h.state(handle)).step_index == 1  # held by the open task
        await time_env.sleep(timedelta(days=1, hours=3))
        await emails_sent(h, handle, 2)
        task = h.tasks(handle)[0]
        assert task.status == "missed"
        email2 = [t for t in h.touches(handle) if t.step_id == "e2"][0]
        # The next wait counts from the expiry, not from the task's creation.
        assert email2.at >= created + timedelta(hours=2) + DAY - timedelta(seconds=5)


async def test_task_completed_moves_the_cadence_on(time_env, sqlite_db):
    steps = [{"id": "c1", "channel": "call", "wait": "PT0S", "instructions": "Call"}] + [
        {"id": f"e{i}", "channel": "email", "wait": "PT1H", "subject": "Hi", "body": "Hello"} for i in range(2, 7)]
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence(steps=steps))
        task = (await eventually(lambda: h.tasks(handle)))[0]
        await h.signal(handle, "task_completed", task_id=task.id, outcome="voicemail")
        await time_env.sleep(timedelta(hours=2))
        await emails_sent(h, handle, 1)
        assert h.tasks(handle)[0].status == "done" and h.tasks(handle)[0].outcome == "voicemail"


async def test_rank_d_without_reply_gets_every_step_on_time_then_nurture(time_env, sqlite_db):
    cadence = snapshot_from_file("rank-d")
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(cadence, timezone="America/New_York")
        first_run = (await handle.describe()).run_id
        start = (await handle.describe()).start_time
        await time_env.sleep(45 * DAY)
        state = await eventually(lambda: h.lead(handle).stage == "nurture" and h.lead(handle))
        assert state.stage_reason == "no_response"
        touches = {t.step_id: t for t in h.touches(handle)}
        assert [s.id for s in cadence.steps if s.id in touches] == [s.id for s in cadence.steps]
        # Expected due times, step by step, with the same scheduler: task steps hold the cadence
        # until they expire (no rep worked them), and the next wait counts from there.
        anchor = start
        for step in cadence.steps:
            due = schedule.next_due(anchor, parse_duration(step.wait), tz="America/New_York",
                                    window=cadence.window(), business_days=cadence.business_days)
            got = touches[step.id].due_at
            got = got if got.tzinfo else got.replace(tzinfo=timezone.utc)
            assert abs(got - due) < timedelta(seconds=5), step.id
            local = got.astimezone(schedule.ZoneInfo("America/New_York"))
            assert local.weekday() < 5 and 8 <= local.hour < 18, step.id
            anchor = due + parse_duration(step.expires_or_default()) if step.is_task else due
        # Nurture started in a fresh run (continue-as-new keeps history bounded).
        old = time_env.client.get_workflow_handle(handle.id, run_id=first_run)
        assert (await old.describe()).status == WorkflowExecutionStatus.CONTINUED_AS_NEW
        state = await h.state(handle)
        assert state.phase == "nurture" and state.cadence.name == "nurture"
        assert state.next_touch is not None and state.next_touch.channel == "email"


async def test_nurture_touches_monthly_and_reply_reenters_in_process(time_env, sqlite_db):
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence(steps=[
            {"id": f"s{i}", "channel": "email" if i % 2 else "linkedin", "wait": "PT0S", "subject": "Hi",
             "body": "Hello", "instructions": "Connect", "expires": "PT1M"} for i in range(1, 7)]))
        await time_env.sleep(2 * DAY)
        await eventually(lambda: h.lead(handle).stage == "nurture")
        before = len(h.touches(handle))
        await time_env.sleep(61 * DAY)
        after = await eventually(lambda: len(h.touches(handle)) >= before + 2 and h.touches(handle))
        nurture = [t for t in after if t.step_id.startswith("n-")]
        assert [t.step_id for t in nurture][:2] == ["n-email-1", "n-call-1"]
        await h.signal(handle, "reply", intent="neutral", text="Now is a better time")
        lead = await eventually(lambda: h.lead(handle).stage == "in_process" and h.lead(handle))
        assert lead.stage_reason == "replied_in_nurture"


async def test_the_workflow_does_what_simulate_says_across_weekends_a_window_and_dst(time_env, sqlite_db):
    from domain.simulation import simulate

    # Five waits of 50 days span more than the longest stretch between two US DST changes (about
    # 238 days), so the cadence crosses one whatever the day the test runs.
    steps = [{"id": f"m{i}", "channel": "email", "wait": "PT0S" if i == 1 else "P50DT5H", "subject": "Hi",
              "body": "Hello"} for i in range(1, 7)]
    cadence = make_cadence(steps=steps, send_window={"days": ["mon", "tue", "wed", "thu", "fri"],
                                                     "start": "09:00", "end": "17:00"})
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(cadence, timezone="America/New_York")
        start = (await handle.describe()).start_time
        await time_env.sleep(270 * DAY)
        await eventually(lambda: len(h.touches(handle)) == 6)
        expected = simulate(cadence, start, "America/New_York")
        got = {t.step_id: t.due_at for t in h.touches(handle)}
        offsets = set()
        for _, step_id, _, due in expected:
            assert abs(got[step_id] - due) < timedelta(seconds=5), step_id
            local = due.astimezone(schedule.ZoneInfo("America/New_York"))
            assert local.weekday() < 5 and 9 <= local.hour < 17, step_id
            offsets.add(local.utcoffset())
        assert len(offsets) == 2  # the cadence crossed a DST change
