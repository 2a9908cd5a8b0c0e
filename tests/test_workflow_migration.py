"""Migrating enrolled leads to a new cadence version, on the time-skipping server."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.migration import plan_migration
from tests.support.harness import DAY, eventually, make_cadence, running_worker
from workflows.lead_cadence import LeadCadenceWorkflow
from workflows.messages import MigrateRequest

pytestmark = pytest.mark.asyncio


def email(step_id: str, wait: str = "P1D") -> dict:
    return {"id": step_id, "channel": "email", "wait": wait, "subject": f"About {step_id}", "body": "Hello"}


V1 = [email("e1", "PT0S"), email("e2"), email("e3"), email("e4"), email("e5"),
      {"id": "sms6", "channel": "sms", "wait": "P1D", "body": "Hi"}]
V2 = [email("e1", "PT0S"), email("new"), email("e3"), email("e4"), email("e5"),
      {"id": "sms6", "channel": "sms", "wait": "P1D", "body": "Hi"}]  # e2 dropped, "new" added


async def test_a_lead_mid_cadence_gets_the_new_step_once_and_nothing_repeated(time_env, sqlite_db):
    v1, v2 = make_cadence("mig", V1, version=1), make_cadence("mig", V2, version=2)
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(v1)
        await time_env.sleep(timedelta(days=1, hours=12))
        await eventually(lambda: len(h.touches(handle)) >= 2)
        state = await h.state(handle)
        dry_run = plan_migration(state.cadence, state.step_index, state.done_step_ids, v2)
        plan = await handle.execute_update(LeadCadenceWorkflow.migrate, MigrateRequest(v2, "req-1"))
        assert plan == dry_run  # what ops previewed is what happened
        assert (plan.done, plan.dropped, plan.added, plan.next_step) == (["e1", "e2"], ["e2"], ["new"], "new")
        await time_env.sleep(10 * DAY)
        await eventually(lambda: h.lead(handle).stage == "nurture")
        had = Counter(t.step_id for t in h.touches(handle))
        assert set(had) == {"e1", "e2", "new", "e3", "e4", "e5", "sms6"} and set(had.values()) == {1}
        assert h.lead(handle).cadence_version == 2
        migrated = [e for e in h.events(handle) if e.type == "migrated"]
        assert [(e.data["from_version"], e.data["to_version"]) for e in migrated] == [(1, 2)]


async def test_a_lead_with_an_open_task_moves_on_from_it_when_it_is_done(time_env, sqlite_db):
    steps = [email("e1", "PT0S"), {"id": "c1", "channel": "call", "wait": "PT1H", "instructions": "Call",
                                   "expires": "P3D"}] + [email(f"e{i}") for i in range(2, 6)]
    v2_steps = [email("e1", "PT0S"), {"id": "c1", "channel": "call", "wait": "PT1H", "instructions": "Call",
                                      "expires": "P3D"}, email("fresh")] + [email(f"e{i}") for i in range(2, 6)]
    v1, v2 = make_cadence("mig2", steps, version=1), make_cadence("mig2", v2_steps, version=2)
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(v1)
        await time_env.sleep(timedelta(hours=2))
        task = (await eventually(lambda: [t for t in h.tasks(handle) if t.status == "open"]))[0]
        plan = await handle.execute_update(LeadCadenceWorkflow.migrate, MigrateRequest(v2, "req-2"))
        assert plan.next_step == "fresh" and "c1" in plan.done
        assert [t.step_id for t in h.touches(handle)] == ["e1", "c1"]  # the open task still holds the cadence
        await h.signal(handle, "task_completed", task_id=task.id, outcome="voicemail")
        await time_env.sleep(8 * DAY)
        await eventually(lambda: h.lead(handle).stage == "nurture")
        had = Counter(t.step_id for t in h.touches(handle))
        assert set(had.values()) == {1} and {"fresh", "e2", "e5"} <= set(had)
        assert len(h.tasks(handle)) == 1


async def test_a_lead_whose_cadence_ended_is_not_migrated(time_env, sqlite_db):
    v1, v2 = make_cadence("mig3", V1, version=1), make_cadence("mig3", V2, version=2)
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(v1)
        await eventually(lambda: h.touches(handle))
        await h.signal(handle, "reply", intent="neutral")
        await time_env.sleep(40 * DAY)  # went quiet: nurture
        await eventually(lambda: h.lead(handle).stage == "nurture")
        with pytest.raises(WorkflowUpdateFailedError) as failed:
            await handle.execute_update(LeadCadenceWorkflow.migrate, MigrateRequest(v2, "req-3"))
        assert "nurture" in str(failed.value.cause)


async def test_a_new_inquiry_moves_a_lead_to_a_better_cadence_with_no_touch_repeated(time_env, sqlite_db):
    slow = make_cadence("slow", [email(f"d{i}", "PT0S" if i == 1 else "P3D") for i in range(1, 6)]
                        + [{"id": "d-sms", "channel": "sms", "wait": "P3D", "body": "Hi"}])
    fast = make_cadence("fast", [email(f"a{i}", "PT0S" if i == 1 else "P1D") for i in range(1, 6)]
                        + [{"id": "a-sms", "channel": "sms", "wait": "P1D", "body": "Hi"}], version=3)
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(slow)
        await time_env.sleep(4 * DAY)
        await eventually(lambda: len(h.touches(handle)) >= 2)
        plan = await handle.execute_update(LeadCadenceWorkflow.migrate,
                                           MigrateRequest(fast, "inq-1", reengage=True, source="form_fill"))
        assert (plan.done, plan.next_step) == (["d1", "d2"], "a1") and plan.dropped[0] == "d3"
        await time_env.sleep(10 * DAY)
        await eventually(lambda: h.lead(handle).stage == "nurture")
        touches = h.touches(handle)
        assert [t.step_id for t in touches] == ["d1", "d2", "a1", "a2", "a3", "a4", "a5", "a-sms"]
        assert len({t.id for t in touches}) == len(touches)
        events = [e for e in h.events(handle) if e.type == "re_engaged"]
        assert events[0].data["to_cadence"] == "fast" and events[0].data["source"] == "form_fill"


async def test_a_nurture_lead_that_makes_a_new_inquiry_re_enters(time_env, sqlite_db):
    fast = make_cadence("fast", [email(f"a{i}", "PT0S" if i == 1 else "P1D") for i in range(1, 7)])
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence())
        await time_env.sleep(7 * DAY)
        await eventually(lambda: h.lead(handle).stage == "nurture")
        plan = await handle.execute_update(LeadCadenceWorkflow.migrate, MigrateRequest(fast, "inq-2", reengage=True))
        assert plan.next_step == "a1" and plan.note is None
        lead = await eventually(lambda: h.lead(handle).stage == "in_process" and h.lead(handle))
        assert lead.stage_reason == "re_engaged"
        await eventually(lambda: any(t.step_id == "a1" for t in h.touches(handle)))
        state = await h.state(handle)
        assert state.phase == "cadence" and state.cadence.name == "fast"


async def test_a_migrated_repeating_cadence_has_every_step_again_in_its_next_round(time_env, sqlite_db):
    v1 = make_cadence("loop", [email(f"e{i}", "PT0S" if i == 1 else "P1D") for i in range(1, 6)]
                      + [{"id": "s6", "channel": "sms", "wait": "P1D", "body": "Hi"}], version=1, repeat=True)
    v2 = make_cadence("loop", [email(f"e{i}", "PT0S" if i == 1 else "P1D") for i in (1, 2, 4, 5)]
                      + [email("n", "P1D"), {"id": "s6", "channel": "sms", "wait": "P1D", "body": "Hi"}],
                      version=2, repeat=True)
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(v1)
        await time_env.sleep(timedelta(days=1, hours=12))
        await handle.execute_update(LeadCadenceWorkflow.migrate, MigrateRequest(v2, "loop-1"))
        await time_env.sleep(9 * DAY)
        touches = await eventually(lambda: (lambda ts: ts if any("-1-e1" in t.id for t in ts) else None)(
            h.touches(handle)))
        second_round = [t.step_id for t in touches if "-1-" in t.id]
        assert second_round[:2] == ["e1", "e2"]  # had before the migration, due again in a new round
        assert len({t.id for t in touches}) == len(touches)
        assert (await h.state(handle)).cycle >= 1
