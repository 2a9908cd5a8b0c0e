"""Faults on the real stack: a real Temporal dev server, the worker as a process of its own, the
SendGrid stand-in through the official client, SQLite or the PostgreSQL test database. Each test
asserts that nothing is lost and nothing is sent twice."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from persistence.models import Touch
from tests.support.harness import eventually
from tests.support.live import (
    api_client, free_port, prepare_database, running_worker, serving_api, settings_for, start_dev_server,
)
from tests.support.sendgrid_standin import SendGridStandIn
from tests.test_api_e2e import dev_server, lead_body  # noqa: F401  (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]
ROOT = Path(__file__).resolve().parent.parent
KEY = "SG.fault-test-key"

# One email at once, then nothing for a day: each test watches one send.
ONE_EMAIL = {"name": "one-email", "ranks": ["A"], "send_window": None, "business_days": False,
             "steps": [{"id": "mail-1", "channel": "email", "wait": "PT0S", "subject": "Hello {{ first_name }}",
                        "body": "Hi {{ first_name }}"}] + [
                 {"id": f"mail-{i}", "channel": "email", "wait": "P1D", "subject": "Again", "body": "Hi"}
                 for i in range(2, 6)] + [{"id": "sms-6", "channel": "sms", "wait": "P1D", "body": "Hi"}]}


@pytest.fixture
def standin():
    with SendGridStandIn(api_key=KEY) as s:
        yield s


def stack_settings(dev_server, db, standin, **over):  # noqa: F811
    port = int(dev_server.client.service_client.config.target_host.rsplit(":", 1)[1])
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    return settings_for(db, port, free_port(), queue).model_copy(update={
        "sendgrid_api_key": SecretStr(KEY), "sendgrid_host": standin.url, "temporal_import_task_queue": f"{queue}-import",
        "temporal_webhook_task_queue": f"{queue}-webhooks", **over})


def worker_process(settings) -> subprocess.Popen:
    """`python worker.py` with these settings in its environment, as a deploy runs it."""
    env = {**os.environ, "CADENCE_ENV": "test", "DATABASE_URL": settings.database_url,
           "TEMPORAL_ADDRESS": settings.temporal_address, "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
           "TEMPORAL_IMPORT_TASK_QUEUE": settings.temporal_import_task_queue,
           "TEMPORAL_WEBHOOK_TASK_QUEUE": settings.temporal_webhook_task_queue,
           "CADENCE_SECRET_KEY": settings.secret(), "SENDGRID_API_KEY": KEY, "SENDGRID_HOST": settings.sendgrid_host,
           "SENDGRID_TIMEOUT_SECONDS": str(settings.sendgrid_timeout_seconds),
           "CADENCE_PUBLIC_URL": settings.cadence_public_url}
    return subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def touch_row(db, lead_id: str, step_id: str) -> Touch | None:
    with db.session() as s:
        return s.get(Touch, f"{lead_id}-0-{step_id}")


def sent_for(standin, touch_id: str) -> list[dict]:
    return [b for b in standin.accepted if (b.get("custom_args") or {}).get("touch_id") == touch_id]


async def enrol(http) -> dict:
    if (await http.get("/cadences/one-email")).status_code == 404:
        assert (await http.post("/cadences", json=ONE_EMAIL)).status_code == 201
    r = await http.post("/leads", json=lead_body(cadence="one-email"))
    assert r.status_code == 201, r.text
    return r.json()


async def test_an_unsubscribe_is_honoured_within_seconds_while_sendgrid_is_down(dev_server, sqlite_db,  # noqa: F811
                                                                                 standin):
    prepare_database(sqlite_db)
    standin.fail_next(503, count=10_000)
    settings = stack_settings(dev_server, sqlite_db, standin)
    async with running_worker(dev_server.client, settings, sqlite_db):
        with serving_api(settings, sqlite_db) as base_url:
            async with api_client(base_url) as http:
                lead = await enrol(http)
                await eventually(lambda: (t := touch_row(sqlite_db, lead["id"], "mail-1")) and t.status == "deferred",
                                 timeout=20)  # the send retries against a SendGrid that answers 503
                asked = time.monotonic()
                r = await http.post(f"/leads/{lead['id']}/signals/reply",
                                    json={"intent": "unsubscribe", "text": "take me off your list"})
                assert r.status_code == 202
                await eventually(lambda: touch_row(sqlite_db, lead["id"], "mail-1").status == "cancelled",
                                 timeout=10)
                stopped = (await http.get(f"/leads/{lead['id']}")).json()
                took = time.monotonic() - asked
    assert (stopped["stage"], stopped["stage_reason"]) == ("not_interested", "unsubscribed")
    assert took < 5, f"the unsubscribe took {took:.1f} s"
    assert standin.accepted == []  # nothing was sent, before or after


async def test_a_worker_stopped_mid_send_finishes_the_send_first(dev_server, sqlite_db, standin):  # noqa: F811
    prepare_database(sqlite_db)
    standin.hang_next(3.0)  # the send is in flight when the deploy stops the worker
    settings = stack_settings(dev_server, sqlite_db, standin)
    worker = worker_process(settings)
    try:
        with serving_api(settings, sqlite_db) as base_url:
            async with api_client(base_url) as http:
                lead = await enrol(http)
                await eventually(lambda: standin.arrivals or None, timeout=30)
                worker.send_signal(signal.SIGTERM)
                code = worker.wait(30)
        touch = touch_row(sqlite_db, lead["id"], "mail-1")
    finally:
        if worker.poll() is None:
            worker.kill()
    assert code == 0, worker.stdout.read()
    assert touch.status == "sent", touch.detail  # the activity in flight was allowed to finish
    assert len(sent_for(standin, touch.id)) == 1


async def test_a_worker_killed_during_a_send_never_sends_twice(dev_server, sqlite_db, standin):  # noqa: F811
    prepare_database(sqlite_db)
    standin.hang_next(3.0)
    settings = stack_settings(dev_server, sqlite_db, standin)
    first = worker_process(settings)
    second = None
    try:
        with serving_api(settings, sqlite_db) as base_url:
            async with api_client(base_url) as http:
                lead = await enrol(http)
                await eventually(lambda: standin.arrivals or None, timeout=30)
                first.send_signal(signal.SIGKILL)  # in the middle of handing the email to SendGrid
                first.wait(10)
                second = worker_process(settings)
                # The retry comes when the dead attempt's heartbeat times out; it finds the send
                # recorded without its answer and does not guess.
                touch = await eventually(
                    lambda: (t := touch_row(sqlite_db, lead["id"], "mail-1")) and t.status in ("unknown", "sent")
                    and t, timeout=90)
                after = await eventually(lambda: (d := _get_json(base_url, lead["id"])) and d["next_touch"]
                                         and d["next_touch"]["step_id"] == "mail-2" and d, timeout=20)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
    assert touch.status == "unknown" and "may have been sent" in touch.detail, touch.detail
    time.sleep(0.5)
    assert len(sent_for(standin, touch.id)) == 1  # SendGrid took it once, from the killed worker
    assert after["next_touch"]["step_id"] == "mail-2"  # and the cadence went on


@pytest.mark.postgres
async def test_postgres_restarted_under_the_worker_loses_and_repeats_nothing(dev_server, postgres_db,  # noqa: F811
                                                                             standin):
    if shutil.which("pg_ctlcluster") is None or os.geteuid() != 0:
        pytest.skip("restarting PostgreSQL needs pg_ctlcluster and root")
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    prepare_database(postgres_db)
    settings = stack_settings(dev_server, postgres_db, standin)
    async with running_worker(dev_server.client, settings, postgres_db):
        with serving_api(settings, postgres_db) as base_url:
            async with api_client(base_url) as http:
                lead = await enrol(http)
                await eventually(lambda: (t := touch_row(postgres_db, lead["id"], "mail-1")) and t.status == "sent",
                                 timeout=20)
                subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                               check=True, capture_output=True, timeout=60)
                r = await http.post(f"/leads/{lead['id']}/signals/reply", json={"intent": "neutral",
                                                                                 "text": "tell me more"})
                assert r.status_code == 202, r.text
                detail = await eventually(
                    lambda: (d := _get_json(base_url, lead["id"])) and d["stage"] == "in_process" and d, timeout=60)
    assert len(sent_for(standin, f"{lead['id']}-0-mail-1")) == 1
    assert [e["type"] for e in detail["events"]].count("reply") == 1
    assert sum(t["channel"] == "email" for t in detail["touches"]) == 1


def _next_step(base_url: str, lead_id: str) -> str | None:
    detail = _get_json(base_url, lead_id)
    return detail["next_touch"]["step_id"] if detail and detail["next_touch"] else None


def _get_json(base_url: str, lead_id: str) -> dict | None:
    import httpx

    from tests.support.live import ADMIN_KEY

    try:
        r = httpx.get(f"{base_url}/leads/{lead_id}", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=5)
    except httpx.HTTPError:
        return None
    return r.json() if r.status_code == 200 else None


async def test_the_temporal_server_killed_while_leads_wait_and_signals_arrive(tmp_path, sqlite_db, standin):
    """Signals the API takes while Temporal is down are refused (503, nothing half-written) and
    delivered when retried after the restart; leads waiting on timers go on from where they were."""
    prepare_database(sqlite_db)
    port = free_port()
    db_file = tmp_path / "temporal.db"
    server = await start_dev_server(db_file, port)
    queue = f"restart-{uuid.uuid4().hex[:8]}"
    settings = settings_for(sqlite_db, port, free_port(), queue).model_copy(update={
        "sendgrid_api_key": SecretStr(KEY), "sendgrid_host": standin.url, "temporal_import_task_queue": f"{queue}-i",
        "temporal_webhook_task_queue": f"{queue}-w"})
    worker = worker_process(settings)
    try:
        with serving_api(settings, sqlite_db) as base_url:
            async with api_client(base_url) as http:
                leads = [await enrol(http) for _ in range(3)]
                for lead in leads:
                    await eventually(lambda: (t := touch_row(sqlite_db, lead["id"], "mail-1")) and t.status == "sent",
                                     timeout=30)
                    # The send is recorded in the email's own transaction; the next touch is written
                    # by the decision after it. Only then is the lead waiting on its timer.
                    await eventually(lambda: _next_step(base_url, lead["id"]) == "mail-2", timeout=30)
                await server.shutdown()  # killed while the leads wait a day for their next touch
                refused = await http.post(f"/leads/{leads[0]['id']}/signals/reply", json={"intent": "positive"})
                assert refused.status_code == 503 and "could not reach" in refused.text
                server = await start_dev_server(db_file, port)
                async def delivered(lead_id):
                    r = await http.post(f"/leads/{lead_id}/signals/reply",
                                        json={"event_id": f"after-{lead_id}", "intent": "positive"})
                    return r.status_code == 202
                for lead in leads[:2]:
                    await eventually(lambda: delivered(lead["id"]), timeout=60, interval=1)
                for lead in leads[:2]:
                    await eventually(lambda: _get_json(base_url, lead["id"])["stage"] == "qualified", timeout=60)
                waiting = await eventually(lambda: (d := _get_json(base_url, leads[2]["id"]))
                                           and d["next_touch"] and d, timeout=30)
    finally:
        worker.kill()
        await server.shutdown()
    assert waiting["stage"] == "new" and waiting["next_touch"]["step_id"] == "mail-2"
    assert sorted(len(sent_for(standin, f"{lead['id']}-0-mail-1")) for lead in leads) == [1, 1, 1]
