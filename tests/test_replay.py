"""Replay: the workflow code must make the same decisions over histories it recorded before.

`tests/histories/*.json` are histories recorded from earlier versions of the code, one per path a
lead can take: a busy lead (send, out of office, task, neutral reply, qualification), a migration
between versions, a nurture round (continue-as-new), a long conversation that continues as new
while it waits, an account pause, an email deferred by its mailbox's cap, a re-engagement, and
touches that fail or are cancelled by an unsubscribe. A change that makes any of them fail to
replay would break running leads: guard it with `workflow.patched` instead (docs/reliability.md
says how patches are retired). Record new ones with RECORD_HISTORIES=<name>[,<name>].
"""
from __future__ import annotations

import json
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


def _email_steps(n: int = 6, wait: str = "P1D", first: str = "PT0S") -> list[dict]:
    return [{"id": f"e{i}", "channel": "email", "wait": first if i == 1 else wait, "subject": "Hi", "body": "Hello"}
            for i in range(1, n + 1)]


async def first_run(time_env, handle):
    return await time_env.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id).fetch_history()


async def _nurture_round_history(time_env, db):
    """A cadence that runs out into nurture: the run that ends by continuing as new into its rounds."""
    async with running_worker(time_env.client, db) as h:
        handle = await h.start(make_cadence(steps=_email_steps()))
        await time_env.sleep(6 * DAY)
        await eventually(lambda: h.lead(handle).stage == "nurture", timeout=30)
        return await first_run(time_env, handle)  # six touches, nurture, continue-as-new


async def _long_conversation_history(time_env, db):
    """A lead in conversation whose history passes its bound: it continues as new while it waits,
    taking the signals it has not applied yet along."""
    async with running_worker(time_env.client, db) as h:
        handle = await h.start(make_cadence(steps=_email_steps()), max_history_events=60)
        await eventually(lambda: h.touches(handle), timeout=30)
        await h.signal(handle, "reply", event_id="n1", intent="neutral")
        for n in range(40):
            await h.signal(handle, "call_outcome", event_id=f"v{n}", outcome="voicemail")
        await eventually(lambda: len(h.events(handle)) >= 41, timeout=30)
        return await first_run(time_env, handle)  # it ends by continuing as new


async def _account_pause_history(time_env, db):
    """A reply that pauses the colleagues at the same company."""
    async with running_worker(time_env.client, db) as h:
        replier = await h.start(make_cadence(steps=_email_steps()), email="ann@acme-replay.example")
        colleague = await h.start(make_cadence(steps=_email_steps()), email="bob@acme-replay.example")
        await eventually(lambda: h.touches(replier) and h.touches(colleague), timeout=30)
        await h.signal(replier, "reply", event_id="r1", intent="negative")
        await eventually(lambda: h.lead(colleague).status == "paused", timeout=30)
        await replier.result()
        return await replier.fetch_history()


async def _deferred_email_history(time_env, db):
    """An email over its mailbox's daily cap: deferred to the next day, then sent."""
    from persistence.models import Mailbox
    from tests.support.harness import SENDER

    with db.session() as s:
        if s.get(Mailbox, SENDER.email) is None:
            s.add(Mailbox(email=SENDER.email, name=SENDER.name, daily_cap=1, ramp=[]))
    async with running_worker(time_env.client, db) as h:
        first = await h.start(make_cadence(steps=_email_steps()))
        await eventually(lambda: h.touches(first), timeout=30)
        second = await h.start(make_cadence(steps=_email_steps()))
        await eventually(lambda: any(t.status == "deferred" for t in h.touches(second)), timeout=30)
        await time_env.sleep(DAY + timedelta(hours=2))
        await eventually(lambda: any(t.status == "outboxed" for t in h.touches(second)), timeout=30)
        await h.signal(second, "stop", event_id="s1")
        await second.result()
        return await second.fetch_history()


async def _reengaged_history(time_env, db):
    """A new inquiry from a known lead moves it to a better cadence from its first step."""
    async with running_worker(time_env.client, db) as h:
        handle = await h.start(make_cadence("slow", steps=_email_steps(wait="P3D")))
        await eventually(lambda: h.touches(handle), timeout=30)
        better = make_cadence("better", steps=_email_steps(wait="PT1H"))
        plan = await handle.execute_update(LeadCadenceWorkflow.migrate,
                                           MigrateRequest(better, "inq-1", reengage=True, source="referral"))
        assert plan.next_step == "e1"
        await time_env.sleep(DAY)
        await h.signal(handle, "reply", event_id="p1", intent="positive")
        assert (await handle.result()).stage == "qualified"
        return await handle.fetch_history()


async def _failed_touches_history(time_env, db):
    """A template that cannot render (the touch fails and the cadence goes on), then an unsubscribe
    that arrives while an email is being sent against a SendGrid that answers 503."""
    from messaging.mailer import SendGridMailer
    from tests.support.sendgrid_standin import SendGridStandIn

    steps = [{"id": "bad", "channel": "email", "wait": "PT0S", "subject": "Hi", "body": "{{ 1 + 1 }}"}] + \
        _email_steps(6, wait="PT1H")[1:]
    with SendGridStandIn(api_key="SG.k") as standin:
        async with running_worker(time_env.client, db, mailer=SendGridMailer("SG.k", standin.url)) as h:
            handle = await h.start(make_cadence(steps=steps))
            await eventually(lambda: any(t.status == "failed" for t in h.touches(handle)), timeout=30)
            standin.fail_next(503, count=1000)
            await time_env.sleep(timedelta(hours=1, minutes=1))
            await eventually(lambda: any(t.status == "deferred" for t in h.touches(handle)), timeout=30)
            await h.signal(handle, "reply", event_id="u1", intent="unsubscribe")
            assert (await handle.result()).stage == "not_interested"
            return await handle.fetch_history()


SCENARIOS = [("busy_lead", _busy_lead_history), ("migrated_lead", _migrated_lead_history),
             ("nurture_round", _nurture_round_history), ("long_conversation", _long_conversation_history),
             ("account_pause", _account_pause_history), ("deferred_email", _deferred_email_history),
             ("reengaged", _reengaged_history), ("failed_touches", _failed_touches_history)]


def _record(name: str) -> bool:
    """RECORD_HISTORIES=busy_lead,migrated_lead records those (only for intended changes), as
    `<name><RECORD_HISTORIES_SUFFIX>.json`: a new patch gets new files next to the old ones, since
    leads started before it still run the old ones."""
    return name in os.environ.get("RECORD_HISTORIES", "").split(",")


@pytest.mark.parametrize("name,make", SCENARIOS, ids=[name for name, _ in SCENARIOS])
async def test_a_fresh_history_replays(time_env, sqlite_db, name, make):
    history = await make(time_env, sqlite_db)
    if _record(name):
        (HISTORIES / f"{name}{os.environ.get('RECORD_HISTORIES_SUFFIX', '')}.json").write_text(history.to_json())
    await Replayer(workflows=[LeadCadenceWorkflow]).replay_workflow(history)


def _patches(history: WorkflowHistory) -> set[str]:
    found = set()
    for event in history.events:
        if event.HasField("marker_recorded_event_attributes"):
            details = event.marker_recorded_event_attributes.details
            if "patch-data" in details:
                found.add(json.loads(details["patch-data"].payloads[0].data)["id"])
    return found


@pytest.mark.parametrize("name", [name for name, _ in SCENARIOS])
def test_every_path_is_recorded_before_and_after_the_lean_read_model(name):
    """Running leads of both kinds must replay: histories from before the patch and after it."""
    before, after = HISTORIES / f"{name}.json", HISTORIES / f"{name}-lean.json"
    assert "lean-read-model" not in _patches(WorkflowHistory.from_json("lead", before.read_text()))
    assert "lean-read-model" in _patches(WorkflowHistory.from_json("lead", after.read_text()))


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_recorded_histories_still_replay(path):
    history = WorkflowHistory.from_json("lead-recorded", path.read_text())
    await Replayer(workflows=[LeadCadenceWorkflow]).replay_workflow(history)
