"""Edge cases of the lead workflow: events racing its activities, open tasks at transitions."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from temporalio import activity

from activities.touches import TouchActivities
from tests.support.harness import DAY, LINKS, SENDER, eventually, make_cadence, running_worker
from workflows.messages import SendEmailInput, TouchResult

pytestmark = pytest.mark.asyncio

EMAILS_AT_ONCE = [{"id": f"e{i}", "channel": "email", "wait": "PT0S", "subject": "Hi", "body": "Hello"}
                  for i in range(1, 7)]


class HeldWrites(TouchActivities):
    """Holds the send of step `hold_step`, which carries the read model's write of the step before,
    until released; then waits for the cancellation the workflow may have asked for meanwhile."""

    def __init__(self, db, hold_step: int):
        super().__init__(db, mailer=None, sender=SENDER, links=LINKS)
        self.hold_step = hold_step
        self.holding = threading.Event()
        self.release = threading.Event()

    @activity.defn(name="send_email")
    def send_email(self, input: SendEmailInput) -> TouchResult:
        if input.step == self.hold_step and not self.release.is_set():
            self.holding.set()
            self.release.wait(10)
            deadline = time.monotonic() + 45
            while not activity.is_cancelled() and time.monotonic() < deadline:
                activity.heartbeat()  # a requested cancellation is raised here
                time.sleep(0.05)
        return super().send_email(input)


async def _while_held(acts: HeldWrites, action) -> None:
    await eventually(acts.holding.is_set)
    await action()
    acts.release.set()


async def test_unsubscribe_while_a_send_waits_to_start_stops_that_send(time_env, sqlite_db):
    acts = HeldWrites(sqlite_db, hold_step=2)
    async with running_worker(time_env.client, sqlite_db, activities=acts) as h:
        handle = await h.start(make_cadence(steps=EMAILS_AT_ONCE))
        await _while_held(acts, lambda: h.signal(handle, "reply", intent="unsubscribe"))
        final = await handle.result()
        assert (final.stage, final.stage_reason) == ("not_interested", "unsubscribed")
        assert [(t.step_id, t.status) for t in h.touches(handle)] == [("e1", "outboxed"), ("e2", "cancelled")]
        assert len(h.outbox(handle)) == 1


async def test_an_event_after_the_lead_ended_is_recorded_as_ignored(time_env, sqlite_db):
    acts = HeldWrites(sqlite_db, hold_step=2)
    async with running_worker(time_env.client, sqlite_db, activities=acts) as h:
        handle = await h.start(make_cadence(steps=EMAILS_AT_ONCE))

        async def two_answers():
            await h.signal(handle, "reply", event_id="yes", intent="positive")
            await h.signal(handle, "reply", event_id="no", intent="negative")
        await _while_held(acts, two_answers)
        final = await handle.result()
        assert final.stage == "qualified"
        events = {e.event_id: e.data for e in h.events(handle)}
        assert "ignored" not in events["yes"]
        assert events["no"]["ignored"] == "the lead is already qualified"


CALL_FIRST = [{"id": "e1", "channel": "email", "wait": "PT0S", "subject": "Hi", "body": "Hello"},
              {"id": "c1", "channel": "call", "wait": "PT0S", "instructions": "Call", "expires": "P60D"}] + [
    {"id": f"e{i}", "channel": "email", "wait": "P1D", "subject": "Hi", "body": "Hello"} for i in range(2, 6)]


async def test_stop_closes_the_open_step_task(time_env, sqlite_db):
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence(steps=CALL_FIRST))
        await eventually(lambda: h.tasks(handle))
        await h.signal(handle, "stop")
        assert (await handle.result()).status == "stopped"
        task = h.tasks(handle)[0]
        assert (task.status, task.notes) == ("skipped", "the cadence was stopped")


async def test_going_quiet_with_an_open_task_closes_it_and_nurture_starts_at_its_first_step(time_env, sqlite_db):
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence(steps=CALL_FIRST), quiet_days=30)
        await eventually(lambda: h.tasks(handle))
        await h.signal(handle, "reply", intent="neutral", text="What does it cost?")
        await time_env.sleep(31 * DAY)
        lead = await eventually(lambda: h.lead(handle).stage == "nurture" and h.lead(handle))
        assert lead.stage_reason == "went_quiet"
        step_task = [t for t in h.tasks(handle) if t.kind == "step"][0]
        assert step_task.status == "missed"
        state = await h.state(handle)
        assert state.open_task is None and state.step_index == 0
        assert state.next_touch.step_id == "n-email-1"


async def test_resume_does_not_cut_short_an_out_of_office(time_env, sqlite_db):
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence())
        await eventually(lambda: h.touches(handle))
        start = h.touches(handle)[0].at
        back = (start + timedelta(days=10)).date()
        await h.signal(handle, "reply", intent="out_of_office", return_date=back.isoformat())
        await h.signal(handle, "resume")
        await time_env.sleep(5 * DAY)
        assert len(h.touches(handle)) == 1
        assert (await h.state(handle)).ooo_until is not None
        await time_env.sleep(6 * DAY)
        await eventually(lambda: len(h.touches(handle)) >= 2)


async def test_a_nurture_cadence_that_does_not_repeat_still_goes_round(time_env, sqlite_db):
    nurture = make_cadence("flat-nurture", steps=[
        {"id": f"n{i}", "channel": "email", "wait": "P1D", "subject": "Hi", "body": "Hello"} for i in range(1, 7)],
        repeat=False)
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence(), nurture=nurture)
        await time_env.sleep(7 * DAY)
        await eventually(lambda: h.lead(handle).stage == "nurture")
        await time_env.sleep(14 * DAY)
        state = await h.state(handle)
        assert state.phase == "nurture" and state.cycle >= 2 and state.status == "active"
        nurture_touches = [t for t in h.touches(handle) if t.step_id.startswith("n")]
        assert len(nurture_touches) >= 8
        assert len({t.id for t in nurture_touches}) == len(nurture_touches)  # no touch twice
