"""Stop every process mid-cadence and start them again: nothing lost, nothing repeated."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select

from persistence.models import Lead, WebhookEvent
from tests.support.harness import eventually
from tests.support.live import (
    api_client, free_port, prepare_database, running_worker, serving_api, settings_for, start_dev_server,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]

STEADY = {
    "name": "steady", "send_window": None, "business_days": False,
    "steps": [{"id": f"m{i}", "channel": "sms" if i == 6 else "email", "wait": "PT0S" if i == 1 else "PT2S",
               "subject": f"Note {i}", "body": "Hello {{ first_name }}"} for i in range(1, 7)],
}


async def _outbox(http, lead_id):
    return (await http.get("/outbox", params={"lead_id": lead_id})).json()


async def test_restarting_everything_mid_cadence_loses_and_repeats_nothing(tmp_path, sqlite_db):
    prepare_database(sqlite_db)
    temporal_db, port = tmp_path / "temporal.db", free_port()
    settings = settings_for(sqlite_db, port, free_port(), f"restart-{uuid.uuid4().hex[:6]}")

    env = await start_dev_server(temporal_db, port)
    async with running_worker(env.client, settings, sqlite_db):
        with serving_api(settings, sqlite_db) as url:
            async with api_client(url) as http:
                assert (await http.post("/cadences", json=STEADY)).status_code == 201
                lead = (await http.post("/leads", json={"email": "restart@example.com", "source": "event",
                                                        "cadence": "steady", "first_name": "Kay",
                                                        "phone": "+14155550123"})).json()
                await eventually(lambda: _at_least(http, lead["id"], 2), timeout=15)
    await env.shutdown()  # the worker, the API and the Temporal server are all gone now

    await asyncio.sleep(3)  # touches fall due while nothing runs
    env = await start_dev_server(temporal_db, port)
    try:
        async with running_worker(env.client, settings, sqlite_db):
            with serving_api(settings, sqlite_db) as url:
                async with api_client(url) as http:
                    await eventually(lambda: _at_least(http, lead["id"], 5), timeout=30)

                    async def sms_task():
                        tasks = (await http.get("/tasks", params={"lead_id": lead["id"]})).json()["data"]
                        return tasks or None
                    await eventually(sms_task, timeout=15)
                    outbox = await _outbox(http, lead["id"])
                    detail = (await http.get(f"/leads/{lead['id']}")).json()
    finally:
        await env.shutdown()
    touch_ids = [o["touch_id"] for o in outbox]
    assert len(touch_ids) == len(set(touch_ids)) == 5
    assert sorted(t["step"] for t in detail["touches"]) == [1, 2, 3, 4, 5, 6]


async def _at_least(http, lead_id, n):
    return len(await _outbox(http, lead_id)) >= n


async def test_an_api_started_before_temporal_connects_once_it_is_up(tmp_path, sqlite_db):
    from tests.support.live import api_client

    prepare_database(sqlite_db)
    port = free_port()
    settings = settings_for(sqlite_db, port, free_port(), f"late-{uuid.uuid4().hex[:8]}")
    with serving_api(settings, sqlite_db) as url:  # nothing listens on the Temporal port yet
        async with api_client(url) as http:
            down = await http.get("/healthz")
            assert down.status_code == 503 and down.json()["checks"]["temporal"] == "error: not connected"
            hook = await http.post("/webhook-endpoints", json={"url": "https://hooks.example.com/cadence",
                                                              "events": ["lead.created"]})
            assert hook.status_code == 201, hook.text
            refused = await http.post("/leads", json={"email": "early@example.com", "source": "form_fill"})
            assert refused.status_code == 503 and "Temporal" in refused.json()["detail"]
            with sqlite_db.session() as s:  # nothing half-written, and nothing announced
                assert s.scalar(select(func.count()).select_from(Lead)) == 0
                assert s.scalar(select(func.count()).select_from(WebhookEvent)) == 0
            env = await start_dev_server(tmp_path / "temporal.db", port)
            try:
                async with running_worker(env.client, settings, sqlite_db):
                    async def up():
                        r = await http.get("/healthz")
                        return r.json()["checks"].get("temporal") == "ok"
                    await eventually(up, timeout=30, interval=0.5)
                    lead = await http.post("/leads", json={"email": f"{uuid.uuid4().hex[:8]}@example.com",
                                                           "source": "form_fill"})
                    assert lead.status_code == 201, lead.text  # no restart of the API was needed
            finally:
                await env.shutdown()
