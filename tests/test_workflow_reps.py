"""Tasks and reps in the lead workflow (time-skipping): SLA escalation once, away owners, reassign."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from temporalio.worker import Replayer

from persistence.models import Rep, TaskEscalation
from tests.support.harness import DAY, eventually, make_cadence, running_worker
from workflows.lead_cadence import LeadCadenceWorkflow

pytestmark = pytest.mark.asyncio
HOUR = timedelta(hours=1)

STEPS = [{"id": "e1", "channel": "email", "wait": "PT0S", "subject": "Hi", "body": "Hello"},
         {"id": "c1", "channel": "call", "wait": "PT1H", "instructions": "Call", "sla": "PT4H", "expires": "P2D"}] + [
    {"id": f"e{i}", "channel": "email", "wait": "P1D", "subject": "Hi", "body": "Hello"} for i in range(2, 6)]


def add_reps(db, *, ana_away=False):
    """ana → backup ben → backup cid: an escalation must stop at ben, not bounce on to cid."""
    with db.session() as s:
        s.add(Rep(id="cid", name="Cid", email="cid@example.com", territories=[], ranks=[]))
        s.flush()
        s.add(Rep(id="ben", name="Ben", email="ben@example.com", territories=[], ranks=[], backup_id="cid"))
        s.flush()
        s.add(Rep(id="ana", name="Ana", email="ana@example.com", territories=[], ranks=[], backup_id="ben",
                  away=ana_away))


def moves(h, handle):
    return [(e.data["task_id"], e.data["from_owner"], e.data["to_owner"], e.data["reason"])
            for e in h.events(handle) if e.type == "task_reassigned"]


async def test_a_task_past_its_sla_moves_to_the_backup_once(time_env, sqlite_db):
    add_reps(sqlite_db)
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence(steps=STEPS), owner="ana")
        await time_env.sleep(2 * HOUR)
        task = (await eventually(lambda: h.tasks(handle)))[0]
        assert (task.owner, task.status) == ("ana", "open")
        assert moves(h, handle) == []

        await time_env.sleep(4 * HOUR)  # the SLA (4 h after the task) has passed
        await eventually(lambda: h.tasks(handle)[0].owner == "ben")
        assert moves(h, handle) == [(task.id, "ana", "ben", "sla_breached")]

        await time_env.sleep(DAY)  # ben's own backup never gets it: once only
        assert [t.owner for t in h.tasks(handle)] == ["ben"]
        assert len(moves(h, handle)) == 1
        with sqlite_db.session() as s:
            assert [(e.from_owner, e.to_owner) for e in s.scalars(select(TaskEscalation))] == [("ana", "ben")]

        await time_env.sleep(DAY + HOUR)  # then it expires as before, and the cadence goes on
        await eventually(lambda: h.tasks(handle)[0].status == "missed")
        state = await h.state(handle)
        assert state.open_task is None and state.step_index >= 2
        history = await handle.fetch_history()
    await Replayer(workflows=[LeadCadenceWorkflow]).replay_workflow(history)


async def test_a_task_done_within_its_sla_stays_with_its_owner(time_env, sqlite_db):
    add_reps(sqlite_db)
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence(steps=STEPS), owner="ana")
        await time_env.sleep(2 * HOUR)
        task = (await eventually(lambda: h.tasks(handle)))[0]
        await h.signal(handle, "task_completed", task_id=task.id, outcome="voicemail")
        await eventually(lambda: h.tasks(handle)[0].status == "done")
        await time_env.sleep(DAY)
        assert [(t.owner, t.status) for t in h.tasks(handle)] == [("ana", "done")]
        assert moves(h, handle) == []


async def test_an_away_owner_s_new_task_goes_to_the_backup(time_env, sqlite_db):
    add_reps(sqlite_db, ana_away=True)
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence(steps=STEPS), owner="ana")
        await time_env.sleep(2 * HOUR)
        task = (await eventually(lambda: h.tasks(handle)))[0]
        assert task.owner == "ben"
        assert moves(h, handle) == [(task.id, "ana", "ben", "owner_away")]
        assert h.lead(handle).owner == "ana"  # the lead stays ana's: she is back one day


async def test_reassign_moves_open_tasks_once_and_later_tasks_follow(time_env, sqlite_db):
    add_reps(sqlite_db)
    steps = STEPS[:2] + [{"id": "c2", "channel": "call", "wait": "P1D", "instructions": "Call again"}] + STEPS[2:]
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence(steps=steps), owner="ana")
        await time_env.sleep(2 * HOUR)
        task = (await eventually(lambda: h.tasks(handle)))[0]
        for _ in range(2):  # the same signal delivered twice moves once
            await h.signal(handle, "reassign", event_id="re-1", owner="cid")
        await eventually(lambda: h.tasks(handle)[0].owner == "cid")
        assert moves(h, handle) == [(task.id, "ana", "cid", "reassigned")]
        await h.signal(handle, "task_completed", task_id=task.id, outcome="no_answer")
        await time_env.sleep(DAY + HOUR)
        tasks = await eventually(lambda: len(h.tasks(handle)) == 2 and h.tasks(handle))
        assert [(t.owner, t.status) for t in tasks] == [("cid", "done"), ("cid", "open")]
        assert len({t.id for t in tasks}) == 2 and len(moves(h, handle)) == 1
