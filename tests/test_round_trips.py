"""How few Temporal round trips a lead costs: the read model is written once per decision, with the
touch it records where there is one, and the search attributes follow the lead."""
from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

import pytest

from tests.support.harness import DAY, eventually, make_cadence, running_worker
from workflows import search_attributes as attrs

pytestmark = pytest.mark.asyncio

SIX_EMAILS = [{"id": f"e{i}", "channel": "email", "wait": "PT0S" if i == 1 else "P1D", "subject": "Hi",
               "body": "Hello"} for i in range(1, 7)]


def _activities(history: WorkflowHistory) -> list[str]:
    return [e.activity_task_scheduled_event_attributes.activity_type.name for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]


def _local_writes(history: WorkflowHistory) -> int:
    return sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
               and e.marker_recorded_event_attributes.marker_name == "core_local_activity")


async def test_a_new_leads_first_email_is_the_first_workflow_tasks_only_command(time_env, sqlite_db):
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence(steps=SIX_EMAILS))
        await eventually(lambda: h.outbox(handle))
        history = await handle.fetch_history()
        kinds = [e.event_type for e in history.events]
        first_activity = kinds.index(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
        # Started, one workflow task, then the send: no write of the read model before it.
        assert kinds[:first_activity].count(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) == 1
        assert _local_writes(WorkflowHistory(history.workflow_id, history.events[:first_activity])) == 0
        assert _activities(history)[0] == "send_email"
        # The read model already shows what the send carried: a revision the workflow wrote.
        assert h.lead(handle).revision >= 1


async def test_each_email_touch_costs_one_send_one_write_and_one_timer(time_env, sqlite_db):
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence(steps=SIX_EMAILS, on_complete="not_interested"))
        final = await handle.result()
        assert final.stage == "not_interested"
        history = await handle.fetch_history()
        assert _activities(history) == ["send_email"] * 6  # no read-model write through the task queue
        timers = sum(1 for e in history.events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED)
        assert timers == 5  # the waits between the six emails
        # One write per decision to wait, and the last one as the lead ends.
        assert _local_writes(history) <= 6
        # Between two sends: the send (3 events), the task that decides the wait (3), its write (a
        # marker), the search attributes' upsert, the timer (2) and the task that sends (3).
        sends = [e.event_id for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
        assert {b - a for a, b in zip(sends[1:], sends[2:])} == {13}  # the first run also records its patches
        lead = h.lead(handle)
        assert (lead.stage, lead.status, lead.next_touch) == ("not_interested", "completed", None)
        assert [t.status for t in h.touches(handle)] == ["outboxed"] * 6


async def test_a_positive_reply_writes_the_stage_before_the_hand_off_task(time_env, sqlite_db):
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence(steps=SIX_EMAILS))
        await eventually(lambda: h.outbox(handle))
        await h.signal(handle, "reply", intent="positive", channel="email", text="Yes, call me")
        await handle.result()
        history = await handle.fetch_history()
        signalled = next(i for i, e in enumerate(history.events)
                         if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
        after = history.events[signalled:]
        write = next(i for i, e in enumerate(after) if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
                     and e.marker_recorded_event_attributes.marker_name == "core_local_activity")
        hand_off = next(i for i, e in enumerate(after) if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
                        and e.activity_task_scheduled_event_attributes.activity_type.name == "create_task")
        assert write < hand_off
        assert h.lead(handle).stage == "qualified"
        assert [t.kind for t in h.tasks(handle)] == ["hand_off"]


async def test_search_attributes_follow_stage_owner_cadence_and_next_touch(time_env, sqlite_db):
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence("rank-x", steps=SIX_EMAILS, version=3), owner="rep-1")
        await eventually(lambda: h.outbox(handle))
        async def searchable():
            found = (await handle.describe()).typed_search_attributes
            return found if found.get(attrs.NEXT_TOUCH_AT) else None
        found = await eventually(searchable)
        state = await h.state(handle)
        assert (found.get(attrs.STAGE), found.get(attrs.OWNER), found.get(attrs.NAME), found.get(attrs.VERSION)) == (
            "new", "rep-1", "rank-x", 3)
        assert found.get(attrs.NEXT_TOUCH_AT) == state.next_touch.due_at
        await h.signal(handle, "reply", intent="positive", channel="email", text="Yes")
        await handle.result()
        assert (await handle.describe()).typed_search_attributes.get(attrs.STAGE) == "qualified"


async def test_a_waiting_lead_writes_nothing_while_it_waits(time_env, sqlite_db):
    steps = [SIX_EMAILS[0], {"id": "e2", "channel": "email", "wait": "P30D", "subject": "Hi", "body": "Hello"}]
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence(steps=steps))
        await eventually(lambda: h.outbox(handle))
        async def waiting():
            events = (await handle.fetch_history()).events
            return events if events[-1].event_type == EventType.EVENT_TYPE_TIMER_STARTED else None
        before = len(await eventually(waiting))
        assert h.lead(handle).next_touch["step_id"] == "e2"
        await time_env.sleep(10 * DAY)
        assert len((await handle.fetch_history()).events) == before
