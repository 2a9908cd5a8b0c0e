"""Hot leads first: a lead that asks while hundreds of bulk leads (an import's) are being worked gets its
first email within seconds, because bulk leads start at a lower Temporal priority (domain/priority.py)
and the dev server serves task queues by priority."""
from __future__ import annotations

import asyncio
import os
import time
import uuid

import pytest
from sqlalchemy import func, select
from temporalio.client import Client

from api import lead_workflows
from domain import priority
from persistence.models import Lead, OutboxEmail
from privacy.codec import data_converter
from tests.support.harness import eventually
from tests.support.live import (
    add_unstarted_lead, api_client, free_port, prepare_database, running_worker, serving_api, settings_for,
    start_dev_server,
)
from tests.test_api_e2e import lead_body

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.asyncio]
BULK_LEADS = int(os.environ.get("CADENCE_TEST_BULK_LEADS", "400"))
# The first email at once; the rest a month later, out of the test's way.
ONE_EMAIL = {"name": "bulk-one", "send_window": None, "business_days": False, "on_complete": "not_interested",
             "steps": [{"id": "hello", "channel": "email", "wait": "PT0S", "subject": "Hello", "body": "Hi"}] + [
                 {"id": f"later-{i}", "channel": "sms" if i == 4 else "email", "wait": "P30D", "subject": "Later",
                  "body": "Hi"} for i in range(2, 7)]}


class _Temporal:
    """What lead_workflows needs of Temporal: a coroutine giving the client."""

    def __init__(self, client: Client):
        self._client = client

    async def client(self) -> Client:
        return self._client


def _outboxed(db, lead_ids=None) -> int:
    with db.session() as s:
        query = select(func.count()).select_from(OutboxEmail)
        if lead_ids is not None:
            query = query.where(OutboxEmail.lead_id.in_(lead_ids))
        return s.scalar(query)


async def test_a_new_lead_is_emailed_within_seconds_while_a_bulk_import_is_worked(tmp_path, sqlite_db):
    prepare_database(sqlite_db)
    port = free_port()
    settings = settings_for(sqlite_db, port, free_port(), f"hot-{uuid.uuid4().hex[:8]}")
    env = await start_dev_server(tmp_path / "temporal.db", port)
    try:
        with serving_api(settings, sqlite_db) as url:
            async with api_client(url, timeout=60) as http:
                assert (await http.post("/cadences", json=ONE_EMAIL)).status_code == 201
                bulk = [add_unstarted_lead(sqlite_db, ONE_EMAIL["name"]) for _ in range(BULK_LEADS)]
                client = Client(**{**env.client.config(), "data_converter": data_converter(settings, sqlite_db)})
                temporal, gate = _Temporal(client), asyncio.Semaphore(20)

                async def start(lead_id: str) -> None:  # as an import starts its leads
                    with sqlite_db.session() as s:
                        request = lead_workflows.start_request(s, settings, s.get(Lead, lead_id))
                    async with gate:
                        await lead_workflows.start(temporal, settings, request, priority_key=priority.BULK)
                # Every bulk lead is started (its first email queued) before any worker runs.
                await asyncio.gather(*(start(lead_id) for lead_id in bulk))

                async with running_worker(env.client, settings, sqlite_db):
                    await eventually(lambda: _outboxed(sqlite_db) >= 10, timeout=120, interval=0.05)
                    asked = time.monotonic()
                    r = await http.post("/leads", json=lead_body())
                    assert r.status_code == 201, r.text
                    hot = r.json()["id"]
                    await eventually(lambda: _outboxed(sqlite_db, [hot]), timeout=60, interval=0.02)
                    waited = time.monotonic() - asked
                    bulk_done_then = _outboxed(sqlite_db, bulk)
    finally:
        await env.shutdown()
    assert bulk_done_then < BULK_LEADS * 0.75, f"the bulk was nearly done ({bulk_done_then}) when the lead came"
    print(f"hot lead emailed after {waited:.2f} s with {bulk_done_then} of {BULK_LEADS} bulk leads emailed")
    assert waited < 5, f"the new lead's first email took {waited:.1f} s"
