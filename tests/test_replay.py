"""Replay: the workflow code must make the same decisions over histories it recorded before.

`tests/histories/*.json` are histories recorded from earlier versions of the code. A change
that makes any of them fail to replay would break running leads: guard it with
`workflow.patched` instead. Record new ones with RECORD_HISTORIES=<name>[,<name>].
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.support.harness import DAY, eventually, make_cadence, running_worker
from workflows.lead_cadence import LeadCadenceWorkflow
from workflows.messages import MigrateRequest

pytestmark = pytest.mark.asyncio
HISTORIES = Path(__file__).parent / "histories"


async def _busy_lead_history(time_env, db):
    """A lead that sees most of the workflow's paths: send, OOO pause, task, neutral reply, qualify."""
    steps = [{"id": "e1", "channel": "email", "wait": "PT0S", "subject": "Hi", "body": "Hello"},
             {"id": "c1", "channel": "call", "wait": "PT1H", "instructions": "Call", "expires": "PT4H"}] + [
        {"id": f"e{i}", "channel": "email", "wait": "P1D", "subject": "Hi", "body": "Hello"} for i in range(2, 6)]
    async with running_worker(time_env.client, db) as h:
        handle = await h.start(make_cadence(steps=steps))
        await eventually(lambda: h.touches(handle))
        await h.signal(handle, "reply", event_id="ooo", intent="out_of_office")
        await time_env.sleep(8 * DAY)
        task = (await eventually(lambda: h.tasks(handle)))[0]
        await h.signal(handle, "task_completed", task_id=task.id, outcome="voicemail")
        await time_env.sleep(2 * DAY)
        await h.signal(handle, "reply", event_id="n1", intent="neutral")
        await h.signal(handle, "qualify", event_id="q1", answers={"need": True, "budget": True,
                                                                     "authority": True, "timeline": True})
        final = await handle.result()
        assert final.stage == "qualified"
        return await handle.fetch_history()


async def _migrated_lead_history(time_env, db):
    """A lead moved from version 1 to 2 of its cadence mid-way, with a task open, to the end."""
    def steps(*ids):
        return [{"id": i, "channel": "email", "wait": "PT0S" if i == "e1" else "P1D", "subject": "Hi",
                 "body": "Hello"} if i.startswith("e") else
                {"id": i, "channel": "call", "wait": "PT1H", "instructions": "Call", "expires": "P1D"} for i in ids]
    v1 = make_cadence("versioned", steps("e1", "c1", "e2", "e3", "e4", "e5"), version=1, on_complete="not_interested")
    v2 = make_cadence("versioned", steps("e1", "c1", "new", "e3", "e4", "e5"), version=2,
                      on_complete="not_interested")
    async with running_worker(time_env.client, db) as h:
        handle = await h.start(v1)
        await time_env.sleep(timedelta(hours=2))
        await eventually(lambda: h.tasks(handle))
        plan = await handle.execute_update(LeadCadenceWorkflow.migrate, MigrateRequest(v2, "to-v2"))
        assert plan.next_step == "new"
        await time_env.sleep(10 * DAY)
        final = await handle.result()
        assert final.stage == "not_interested" and final.cadence.version == 2
        return await handle.fetch_history()


def _record(name: str) -> bool:
    """RECORD_HISTORIES=busy_lead,migrated_lead re-records those (only for intended changes)."""
    return name in os.environ.get("RECORD_HISTORIES", "").split(",")


@pytest.mark.parametrize("name,make", [("busy_lead", _busy_lead_history), ("migrated_lead", _migrated_lead_history)])
async def test_a_fresh_history_replays(time_env, sqlite_db, name, make):
    history = await make(time_env, sqlite_db)
    if _record(name):
        (HISTORIES / f"{name}.json").write_text(history.to_json())
    await Replayer(workflows=[LeadCadenceWorkflow]).replay_workflow(history)


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_recorded_histories_still_replay(path):
    history = WorkflowHistory.from_json("lead-recorded", path.read_text())
    await Replayer(workflows=[LeadCadenceWorkflow]).replay_workflow(history)
