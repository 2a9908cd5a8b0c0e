"""Two worker processes share one task queue; one is killed outright in the middle of a burst of new
leads, and every lead still gets each of its emails exactly once."""
from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from persistence.models import OutboxEmail, Touch
from tests.support.harness import eventually
from tests.support.live import (
    api_client, free_port, prepare_database, serving_api, settings_for, start_dev_server,
)
from tests.test_api_e2e import lead_body

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.asyncio]
ROOT = Path(__file__).resolve().parent.parent
LEADS = 40
STEPS = ("m1", "m2", "m3")  # the emails the test follows; the later steps fall due a day later
# The first email at once, two more two seconds apart: a burst of first touches, then two more rounds.
SHORT = {"name": "burst-three", "send_window": None, "business_days": False, "on_complete": "not_interested",
         "steps": [{"id": step, "channel": "email", "wait": "PT0S" if step == "m1" else "PT2S",
                    "subject": f"Note {step}", "body": "Hello {{ first_name }}"} for step in STEPS] + [
             {"id": "s4", "channel": "sms", "wait": "P1D", "body": "Hi"},
             {"id": "m5", "channel": "email", "wait": "P1D", "subject": "Later", "body": "Hi"},
             {"id": "m6", "channel": "email", "wait": "P1D", "subject": "Later", "body": "Hi"}]}
# The test's own worker capacity, small enough that the burst queues up behind it.
CAPACITY = {"CADENCE_WORKER_MAX_CONCURRENT_ACTIVITIES": "4", "CADENCE_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS": "10",
            "CADENCE_WORKER_MAX_CACHED_WORKFLOWS": "30", "CADENCE_WORKER_WORKFLOW_TASK_POLLERS": "2",
            "CADENCE_WORKER_ACTIVITY_TASK_POLLERS": "2", "CADENCE_WORKER_IMPORT_THREADS": "1",
            "CADENCE_WORKER_WEBHOOK_THREADS": "2"}


def worker_process(settings, log: Path) -> subprocess.Popen:
    """`python worker.py` with the test's settings in its environment; emails go to the outbox."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CADENCE_", "TEMPORAL_", "SENDGRID_"))}
    env.update(CAPACITY, CADENCE_ENV="test", DATABASE_URL=settings.database_url,
               TEMPORAL_ADDRESS=settings.temporal_address, TEMPORAL_TASK_QUEUE=settings.temporal_task_queue,
               TEMPORAL_IMPORT_TASK_QUEUE=settings.import_task_queue,
               TEMPORAL_WEBHOOK_TASK_QUEUE=settings.temporal_webhook_task_queue,
               CADENCE_SECRET_KEY=settings.secret(), CADENCE_PUBLIC_URL=settings.cadence_public_url)
    return subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)


async def pollers(client, task_queue: str) -> set[str]:
    """Identities that polled the task queue for workflow tasks lately."""
    answer = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
        namespace=client.namespace, task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW))
    return {p.identity for p in answer.pollers}


def outboxed(db) -> list[tuple[str, str]]:
    with db.session() as s:
        return list(s.execute(select(OutboxEmail.lead_id, OutboxEmail.touch_id)).all())


async def activity_identities(client, workflow_id: str) -> set[str]:
    """Who ran the lead's activities (across its runs), from its history."""
    found = set()
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            found.add(event.activity_task_started_event_attributes.identity)
    return found


async def test_a_worker_killed_mid_burst_loses_and_repeats_no_email(tmp_path, sqlite_db):
    prepare_database(sqlite_db)
    port = free_port()
    settings = settings_for(sqlite_db, port, free_port(), f"scale-{uuid.uuid4().hex[:8]}")
    env = await start_dev_server(tmp_path / "temporal.db", port)
    logs = [tmp_path / "worker-1.log", tmp_path / "worker-2.log"]
    workers = [worker_process(settings, log) for log in logs]
    try:
        identities = {f"{w.pid}@" for w in workers}
        await eventually(lambda: _both_poll(env.client, settings.temporal_task_queue, identities), timeout=60,
                         interval=0.5)
        for log in logs:  # each process took its capacity from the environment
            assert re.search(r"up to 10 workflow tasks, 4 lead activities, 30 workflows cached, 1 import and "
                             r"2 webhook threads", log.read_text()), log.read_text()
        with serving_api(settings, sqlite_db) as url:
            async with api_client(url, timeout=60) as http:
                assert (await http.post("/cadences", json=SHORT)).status_code == 201
                answers = await asyncio.gather(*(http.post("/leads", json=lead_body(cadence=SHORT["name"]))
                                                 for _ in range(LEADS)))
                assert [r.status_code for r in answers] == [201] * LEADS, [r.text for r in answers]
                leads = [r.json() for r in answers]

                victim = workers[0]
                await eventually(lambda: len(outboxed(sqlite_db)) >= LEADS // 2, timeout=90, interval=0.1)
                sent_before_kill = len(outboxed(sqlite_db))
                victim.send_signal(signal.SIGKILL)  # mid-burst: activities and workflow tasks in its hands
                victim.wait(10)
                assert sent_before_kill < LEADS * len(STEPS), "the burst was over before the kill"

                # The survivor takes over what the dead one held (its sticky queue and its activities
                # time out first), and every lead finishes its three emails.
                await eventually(lambda: len(outboxed(sqlite_db)) >= LEADS * len(STEPS), timeout=240, interval=0.5)
                await asyncio.sleep(3)  # a duplicate arriving late would show now
                rows = outboxed(sqlite_db)
        assert workers[1].poll() is None, "the surviving worker must still run"
        with sqlite_db.session() as s:
            touches = list(s.execute(select(Touch.lead_id, Touch.step_id, Touch.status)).all())
        ran = set()
        for lead in leads:
            ran |= await activity_identities(env.client, lead["workflow_id"])
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait(10)
        await env.shutdown()

    expected = {lead["id"]: {f"{lead['id']}-0-{step}" for step in STEPS} for lead in leads}
    per_touch = Counter(touch_id for _, touch_id in rows)
    assert [t for t, n in per_touch.items() if n > 1] == [], "an email went to the outbox twice"
    assert {lead_id: {t for lid, t in rows if lid == lead_id} for lead_id in expected} == expected, "an email is missing"
    assert len(rows) == LEADS * len(STEPS)
    per_step = Counter((lead_id, step_id) for lead_id, step_id, _ in touches)
    assert set(per_step) == {(lead_id, step) for lead_id in expected for step in STEPS}
    assert set(per_step.values()) == {1}, "one touch row per lead and step"
    assert {status for *_, status in touches} == {"outboxed"}
    # Both processes did the leads' work: the killed one before it died, the survivor after.
    assert {identity.split("@")[0] for identity in ran} >= {str(w.pid) for w in workers}, ran


async def _both_poll(client, task_queue: str, identities: set[str]) -> bool:
    seen = await pollers(client, task_queue)
    return all(any(identity.startswith(prefix) for identity in seen) for prefix in identities)
