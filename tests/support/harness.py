"""Runs lead workflows on a Temporal test environment with the real activities and database."""
from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities.accounts import AccountActivities
from activities.touches import TouchActivities
from domain.cadences import Cadence
from domain.events import LeadEvent
from messaging.email_message import Links, Sender
from persistence import cadences as cadence_store
from persistence import leads as lead_store
from persistence.db import Database
from persistence.models import LeadEventRecord, OutboxEmail, Task, Touch
from worker import HEARTBEAT_THROTTLE
from workflows.lead_cadence import LeadCadenceWorkflow, workflow_id_for
from workflows.messages import LeadCadenceInput, LeadState

SENDER = Sender("sales@example.com", "Sam Seller")
LINKS = Links("http://cadence.test", "reply.cadence.test", "test-secret")


def make_cadence(name: str = "test", steps: list[dict] | None = None, **extra: Any) -> Cadence:
    """Six one-day email/SMS steps, any time of day, unless told otherwise."""
    steps = steps or [
        {"id": f"s{i}", "channel": "sms" if i == 6 else "email", "wait": "PT0S" if i == 1 else "P1D",
         "subject": f"Touch {i} for {{{{ first_name }}}}", "body": f"Hello {{{{ first_name }}}}, touch {i}."}
        for i in range(1, 7)
    ]
    data = {"name": name, "steps": steps, "send_window": None, "business_days": False, **extra}
    return Cadence.from_dict(data)


def nurture_cadence() -> Cadence:
    return cadence_store.snapshot_from_file("nurture")


class Harness:
    def __init__(self, client: Client, db: Database, task_queue: str):
        self.client, self.db, self.task_queue = client, db, task_queue
        self.started: list[WorkflowHandle] = []

    async def start(self, cadence: Cadence, *, email: str | None = None, timezone: str = "UTC",
                    phone: str | None = "+14155550100", nurture: Cadence | None = None,
                    quiet_days: int = 30, owner: str | None = None,
                    max_history_events: int = 10_000) -> WorkflowHandle:
        with self.db.session() as s:
            lead = lead_store.add(
                s, id=lead_store.new_lead_id(), email=email or f"{uuid.uuid4().hex[:8]}@example.com",
                first_name="Ada", last_name="Lovelace", company="Engines", timezone=timezone, phone=phone,
                source="target_list", rank="D", cadence_name=cadence.name, cadence_version=cadence.version,
                workflow_id="pending", custom={}, owner=owner,
            )
            lead.workflow_id = workflow_id_for(lead.id)
            lead_id = lead.id
        handle = await self.client.start_workflow(
            LeadCadenceWorkflow.run,
            LeadCadenceInput(lead_id=lead_id, cadence=cadence, nurture=nurture or nurture_cadence(),
                             timezone=timezone, has_phone=phone is not None, quiet_days=quiet_days, owner=owner,
                             max_history_events=max_history_events),
            id=workflow_id_for(lead_id), task_queue=self.task_queue,
        )
        self.started.append(handle)
        return handle

    async def terminate_all(self) -> None:
        """Leftover running workflows would hold the shared test server's clock."""
        for handle in self.started:
            try:
                await self.client.get_workflow_handle(handle.id).terminate("test finished")
            except Exception:
                pass  # already closed

    @staticmethod
    def lead_id(handle: WorkflowHandle) -> str:
        return handle.id.removeprefix("lead-")

    async def signal(self, handle: WorkflowHandle, name: str, **fields: Any) -> None:
        fields.setdefault("event_id", uuid.uuid4().hex)
        await handle.signal(name, LeadEvent(type=fields.pop("type", name), **fields))

    async def state(self, handle: WorkflowHandle) -> LeadState:
        return await handle.query(LeadCadenceWorkflow.state)

    def touches(self, handle: WorkflowHandle) -> list[Touch]:
        with self.db.session() as s:
            return list(s.scalars(select(Touch).where(Touch.lead_id == self.lead_id(handle)).order_by(Touch.at.is_(None), Touch.at, Touch.step)))

    def tasks(self, handle: WorkflowHandle) -> list[Task]:
        with self.db.session() as s:
            return list(s.scalars(select(Task).where(Task.lead_id == self.lead_id(handle)).order_by(Task.created_at)))

    def events(self, handle: WorkflowHandle) -> list[LeadEventRecord]:
        with self.db.session() as s:
            return list(s.scalars(select(LeadEventRecord).where(LeadEventRecord.lead_id == self.lead_id(handle))))

    def outbox(self, handle: WorkflowHandle) -> list[OutboxEmail]:
        with self.db.session() as s:
            return list(s.scalars(select(OutboxEmail).where(OutboxEmail.lead_id == self.lead_id(handle))))

    def lead(self, handle: WorkflowHandle):
        with self.db.session() as s:
            return s.get(lead_store.Lead, self.lead_id(handle))


async def eventually(check, timeout: float = 10.0, interval: float = 0.05):
    """Poll `check` (sync or async) until it returns a truthy value; fail after `timeout` real seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    last = None
    while True:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
        await asyncio.sleep(interval)


@asynccontextmanager
async def running_worker(client: Client, db: Database, *, mailer=None, activities: TouchActivities | None = None):
    task_queue = f"q-{uuid.uuid4().hex[:8]}"
    acts = activities or TouchActivities(db, mailer=mailer, sender=SENDER, links=LINKS)
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with Worker(client, task_queue=task_queue, workflows=[LeadCadenceWorkflow],
                          activities=acts.all() + AccountActivities(db, client).all(),
                          activity_executor=executor, max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE):
            harness = Harness(client, db, task_queue)
            try:
                yield harness
            finally:
                await harness.terminate_all()


DAY = timedelta(days=1)
