"""Outbound webhooks through the running product (dev server, worker, API over HTTP) into real
local receivers that verify every request with the `standardwebhooks` library."""
from __future__ import annotations

import time
import uuid
from contextlib import asynccontextmanager

import pytest

from persistence import leads as lead_store
from persistence.db import Database
from persistence.models import WebhookDelivery
from tests.support.harness import eventually
from tests.support.live import api_client, free_port, prepare_database, running_worker, serving_api, settings_for
from tests.support.webhook_receiver import Receiver
from tests.test_api_e2e import dev_server, lead_body  # noqa: F401  (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]

REPLYING_LEAD_EVENTS = ["lead.created", "touch.sent", "lead.stage_changed", "reply.received"]


@asynccontextmanager
async def stack(dev_server, db, **settings):  # noqa: F811
    """The product on `db`, with webhook retries seconds apart (see settings_for) unless told."""
    prepare_database(db)
    port = int(dev_server.client.service_client.config.target_host.rsplit(":", 1)[1])
    app_settings = settings_for(db, port, free_port(), f"wh-{uuid.uuid4().hex[:8]}", **settings)
    async with running_worker(dev_server.client, app_settings, db):
        with serving_api(app_settings, db) as base_url:
            async with api_client(base_url) as http:
                yield http


async def subscribe(http, receiver: Receiver, events: list[str], **extra) -> dict:
    r = await http.post("/webhook-endpoints", json={"url": receiver.url, "events": events, **extra})
    assert r.status_code == 201, r.text
    receiver.secret = r.json()["secret"]
    return r.json()


async def replying_lead(http) -> dict:
    """A rank-A lead (its first email goes out at once) that answers positively once it has it."""
    lead = (await http.post("/leads", json=lead_body())).json()

    async def emailed():
        return [t for t in (await http.get(f"/leads/{lead['id']}")).json()["touches"] if t["status"] == "outboxed"]
    await eventually(emailed, timeout=15)
    r = await http.post(f"/leads/{lead['id']}/signals/reply",
                        json={"event_id": "mail-1", "intent": "positive", "text": "Sounds good, call me Tuesday"})
    assert r.status_code == 202, r.text
    return lead


async def test_a_receiver_gets_the_events_of_a_lead_that_replies_each_signed(dev_server, any_db):  # noqa: F811
    with Receiver() as crm, Receiver() as zap:
        async with stack(dev_server, any_db) as http:
            endpoint = await subscribe(http, crm, REPLYING_LEAD_EVENTS, description="the CRM")
            assert endpoint["secret"].startswith("whsec_") and endpoint["status"] == "active"
            await subscribe(http, zap, ["reply.received"], include_reply_text=True)
            lead = await replying_lead(http)
            await eventually(lambda: crm.types() >= set(REPLYING_LEAD_EVENTS) and zap.events(), timeout=20)

            (created,) = crm.events("lead.created")
            assert created["data"]["lead_id"] == lead["id"] and created["data"]["email"] == lead["email"]
            assert created["data"]["rank"] == "A" and created["data"]["cadence"] == {"name": "rank-a", "version": 1}
            sent = crm.events("touch.sent")[0]["data"]
            assert (sent["step"], sent["channel"], sent["status"]) == (1, "email", "outboxed")
            assert "email" not in sent  # a lead id is all a touch needs
            (moved,) = crm.events("lead.stage_changed")
            assert moved["data"] | {} == {"lead_id": lead["id"], "from": "new", "to": "qualified",
                                          "reason": "positive_reply", "level": "sql"}
            (reply,) = crm.events("reply.received")
            assert reply["data"]["intent"] == "positive" and "text" not in reply["data"]
            assert zap.events()[0]["data"]["text"] == "Sounds good, call me Tuesday"  # it opted in
            assert all(r.verified for r in crm.requests + zap.requests)
            headers = crm.accepted[0].headers
            assert headers["webhook-id"].startswith("msg_") and headers["webhook-signature"].startswith("v1,")
            assert all(set(p) == {"type", "timestamp", "data"} for p in crm.events())

            listed = (await http.get(f"/webhook-endpoints/{endpoint['id']}/deliveries")).json()
            assert listed["count"] == len(crm.accepted) and {d["status"] for d in listed["data"]} == {"succeeded"}
            delivery = listed["data"][0]
            assert delivery["attempt_count"] == 1 and delivery["attempts"][0]["response_code"] == 204
            assert delivery["attempts"][0]["duration_ms"] >= 0 and delivery["next_attempt_at"] is None
            assert {d["webhook_id"] for d in listed["data"]} == {r.webhook_id for r in crm.accepted}
            shown = (await http.get(f"/webhook-endpoints/{endpoint['id']}")).json()
            assert shown["deliveries"] == {"succeeded": len(crm.accepted)} and "secret" not in shown


async def test_a_failing_receiver_gets_every_event_once_after_it_recovers(dev_server, any_db):  # noqa: F811
    with Receiver(down=True) as crm:
        async with stack(dev_server, any_db) as http:
            endpoint = await subscribe(http, crm, REPLYING_LEAD_EVENTS)
            await replying_lead(http)

            async def retrying():
                data = (await http.get(f"/webhook-endpoints/{endpoint['id']}/deliveries")).json()["data"]
                return [d for d in data if d["status"] == "retrying" and d["attempt_count"] >= 2] or None
            waiting = await eventually(retrying, timeout=20)
            assert waiting[0]["last_response_code"] == 503 and waiting[0]["next_attempt_at"] is not None
            assert [a["response_code"] for a in waiting[0]["attempts"]][:2] == [503, 503]
            assert crm.accepted == []

            crm.recover()
            await eventually(lambda: crm.types() >= set(REPLYING_LEAD_EVENTS), timeout=20)

            async def all_delivered():
                data = (await http.get(f"/webhook-endpoints/{endpoint['id']}/deliveries")).json()["data"]
                return data if {d["status"] for d in data} == {"succeeded"} else None
            delivered = await eventually(all_delivered, timeout=20)
            ids = [r.webhook_id for r in crm.accepted]
            assert len(ids) == len(set(ids)) == len(delivered), "each event once in the log of successes"
            refused = {r.webhook_id for r in crm.requests if r.answered == 503}
            assert refused and refused <= set(ids)  # a retry carries the id of the first attempt


async def test_a_receiver_that_never_answers_does_not_slow_a_lead(dev_server, sqlite_db):  # noqa: F811
    emails = {"name": "five-emails", "ranks": ["A"], "send_window": None, "business_days": False, "steps": [
        {"id": f"mail-{i}", "channel": "email", "wait": "PT0S" if i == 1 else "PT1S", "subject": f"Note {i}",
         "body": "Hello {{ first_name }}"} for i in range(1, 6)] + [
        {"id": "call-6", "channel": "call", "wait": "P1D", "instructions": "Call"}]}
    with Receiver(delay=5) as hanging:
        async with stack(dev_server, sqlite_db, cadence_webhook_timeout_seconds=1) as http:
            await subscribe(http, hanging, ["lead.created", "touch.sent"])
            assert (await http.post("/cadences", json=emails)).status_code == 201
            started = time.monotonic()
            lead = (await http.post("/leads", json=lead_body(cadence="five-emails"))).json()

            async def all_sent():
                touches = (await http.get(f"/leads/{lead['id']}")).json()["touches"]
                return len([t for t in touches if t["status"] == "outboxed"]) == 5
            await eventually(all_sent, timeout=30)
            took = time.monotonic() - started
            assert took < 10, f"five emails a second apart took {took:.1f} s"
            data = (await http.get("/webhook-endpoints")).json()[0]["deliveries"]
            assert sum(data.values()) == 6 and "succeeded" not in data  # every attempt timed out meanwhile


async def test_a_day_of_failures_marks_the_endpoint_failing_and_it_holds_events_until_resumed(
        dev_server, sqlite_db):  # noqa: F811
    with Receiver(down=True) as crm:
        async with stack(dev_server, sqlite_db, cadence_webhook_give_up_seconds=2) as http:  # "a day", in a test
            endpoint = await subscribe(http, crm, ["lead.created", "reply.received"])
            lead = (await http.post("/leads", json=lead_body())).json()

            async def failing():
                shown = (await http.get(f"/webhook-endpoints/{endpoint['id']}")).json()
                return shown if shown["status"] == "failing" else None
            shown = await eventually(failing, timeout=20)
            assert shown["failing_since"] and "not accepted" in shown["status_reason"]
            assert shown["deliveries"] == {"failed": 1}

            r = await http.post(f"/leads/{lead['id']}/signals/reply", json={"event_id": "m-9", "intent": "neutral"})
            assert r.status_code == 202

            async def held():
                data = (await http.get(f"/webhook-endpoints/{endpoint['id']}/deliveries",
                                       params={"status": "held"})).json()["data"]
                return data or None
            (held_delivery,) = await eventually(held, timeout=20)
            assert held_delivery["event_type"] == "reply.received" and held_delivery["attempt_count"] == 0
            failed = (await http.get(f"/webhook-endpoints/{endpoint['id']}/deliveries",
                                     params={"status": "failed"})).json()["data"][0]
            refused = await http.post(f"/webhook-endpoints/{endpoint['id']}/deliveries/{failed['id']}/retry")
            assert refused.status_code == 409 and "resume it first" in refused.json()["detail"]

            crm.recover()
            resumed = await http.patch(f"/webhook-endpoints/{endpoint['id']}", json={"status": "active"})
            assert resumed.status_code == 200 and resumed.json()["status_reason"] is None
            await eventually(lambda: crm.events("reply.received"), timeout=20)
            retried = await http.post(f"/webhook-endpoints/{endpoint['id']}/deliveries/{failed['id']}/retry")
            assert retried.status_code == 202, retried.text
            await eventually(lambda: crm.events("lead.created"), timeout=20)
            assert crm.accepted[-1].webhook_id == failed["webhook_id"]  # the same id as its failed attempts

            log = (await http.get("/audit", params={"target_type": "webhook_endpoint"})).json()["data"]
            actions = [e["action"] for e in log]
            assert {"webhook_endpoint.created", "webhook_endpoint.updated", "webhook_delivery.retried"} <= set(actions)
            update = next(e for e in log if e["action"] == "webhook_endpoint.updated")
            assert update["changes"]["status"] == {"from": "failing", "to": "active"}
            assert update["changes"]["released"] == 1


async def test_a_delivery_whose_start_was_lost_is_started_by_the_sweep(dev_server, sqlite_db):  # noqa: F811
    with Receiver() as crm:
        async with stack(dev_server, sqlite_db) as http:
            await subscribe(http, crm, ["lead.created"])
            elsewhere = Database(sqlite_db.url)  # a process that committed and died before starting it
            with elsewhere.session() as s:
                lead = lead_store.add(s, id=lead_store.new_lead_id(), workflow_id="lead-x", email="lost@example.com",
                                      source="form_fill", rank="A", cadence_name="rank-a", cadence_version=1,
                                      timezone="UTC", custom={})
            with sqlite_db.session() as s:
                assert [d.status for d in s.query(WebhookDelivery)] == ["pending"]
            await eventually(lambda: crm.events("lead.created"), timeout=20)  # the sweep runs every 2 s here
            assert crm.events()[0]["data"]["lead_id"] == lead.id
            elsewhere.engine.dispose()


async def test_endpoints_are_validated_and_kept_private(dev_server, sqlite_db):  # noqa: F811
    async with stack(dev_server, sqlite_db) as http:
        for body, field in [
            ({"url": "ftp://crm.example.com/x", "events": ["lead.created"]}, "url"),
            ({"url": "https://", "events": ["lead.created"]}, "url"),
            ({"url": "https://crm.example.com/" + "x" * 2000, "events": ["lead.created"]}, "url"),
            ({"url": "https://crm.example.com/x", "events": ["lead.exploded"]}, "events"),
            ({"url": "https://crm.example.com/x", "events": []}, "events"),
            ({"url": "https://crm.example.com/x", "events": ["lead.created", "lead.created"]}, "events"),
            ({"url": "https://crm.example.com/x", "events": ["lead.created"], "description": "x" * 501}, "description"),
        ]:
            r = await http.post("/webhook-endpoints", json=body)
            assert r.status_code == 422, (body, r.text)
            assert field in r.json()["detail"][0]["loc"], (body, r.json())
        made = (await http.post("/webhook-endpoints", json={"url": "https://crm.example.com/hooks",
                                                            "events": ["lead.created"]})).json()
        r = await http.patch(f"/webhook-endpoints/{made['id']}", json={"url": "javascript:alert(1)"})
        assert r.status_code == 422 and "url" in r.json()["detail"][0]["loc"]
        r = await http.patch(f"/webhook-endpoints/{made['id']}", json={"events": None})
        assert r.status_code == 422 and "events" in r.json()["detail"][0]["loc"]
        r = await http.patch(f"/webhook-endpoints/{made['id']}", json={"status": "failing"})
        assert r.status_code == 422
        r = await http.patch(f"/webhook-endpoints/{made['id']}", json={"status": "paused", "description": "CRM"})
        assert r.status_code == 200 and r.json()["status"] == "paused" and r.json()["description"] == "CRM"
        listed = (await http.get("/webhook-endpoints")).json()
        assert [e["id"] for e in listed] == [made["id"]] and "secret" not in listed[0]
        assert (await http.get("/webhook-endpoints/nope")).status_code == 404
        assert (await http.get("/webhook-endpoints/nope/deliveries")).status_code == 404
        assert (await http.post(f"/webhook-endpoints/{made['id']}/deliveries/nope/retry")).status_code == 404
        assert (await http.delete(f"/webhook-endpoints/{made['id']}")).status_code == 200
        assert (await http.get(f"/webhook-endpoints/{made['id']}")).status_code == 404
        log = (await http.get("/audit", params={"target_id": made["id"]})).json()["data"]
        assert [e["action"] for e in log] == ["webhook_endpoint.deleted", "webhook_endpoint.updated",
                                              "webhook_endpoint.created"]
        assert all("whsec_" not in str(e["changes"]) for e in log)


async def test_erasing_a_lead_erases_its_events_and_nothing_more_is_sent(dev_server, sqlite_db):  # noqa: F811
    from tests.test_erasure_e2e import database_text

    with Receiver() as crm, Receiver(down=True) as down:
        async with stack(dev_server, sqlite_db) as http:
            await subscribe(http, crm, ["lead.created", "reply.received"], include_reply_text=True)
            await subscribe(http, down, ["lead.created"])
            lead = await replying_lead(http)
            await eventually(lambda: crm.types() == {"lead.created", "reply.received"}, timeout=20)
            exported = (await http.get(f"/leads/{lead['id']}/export")).json()
            assert {e["type"] for e in exported["webhook_events"]} == {"lead.created", "reply.received"}

            erased = (await http.delete(f"/leads/{lead['id']}")).json()["erased"]
            assert erased["webhook_events"] == 2
            assert lead["email"].encode() not in database_text(sqlite_db)
            assert b"call me Tuesday" not in database_text(sqlite_db)
            down.recover()  # its delivery was still being retried: it is gone, not sent late
            later = (await http.post("/leads", json=lead_body())).json()  # the next lead still reaches it
            await eventually(lambda: down.events("lead.created"), timeout=20)
            assert [e["data"]["email"] for e in down.events()] == [later["email"]]
