"""The dialer webhook end to end: signatures, call outcomes on tasks, missed inbound calls."""
from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from api.routes.webhooks import sign_body
from persistence.models import ProviderEvent
from tests.support.harness import eventually
from tests.support.live import DIALER_SECRET
from tests.test_api_e2e import FAST, dev_server, lead_body, live  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]


async def post_signed(http, payload, secret=DIALER_SECRET, tamper=False, timestamp=None, signature=None):
    raw = json.dumps(payload).encode()
    headers = {"X-Cadence-Signature": signature or sign_body(raw, secret, timestamp), "content-type": "application/json"}
    if tamper:
        raw = raw.replace(b"no_answer", b"connected_positive")
    return await http.post("/webhooks/calls", content=raw, headers=headers)


async def callbacks(http, lead_id):
    tasks = (await http.get("/tasks", params={"lead_id": lead_id})).json()["data"]
    return [t for t in tasks if t["kind"] == "callback"]


async def open_call_task(http, lead_id):
    tasks = (await http.get("/tasks", params={"lead_id": lead_id, "status": "open"})).json()["data"]
    return [t for t in tasks if t["channel"] == "call"] or None


async def test_signatures_are_checked(live):
    phone = f"+1415557{uuid.uuid4().int % 10000:04d}"
    lead = (await live.post("/leads", json=lead_body(source="target_list", phone=phone))).json()
    payload = {"event_id": f"m-{uuid.uuid4().hex}", "type": "missed_call", "phone": phone}
    raw, now = json.dumps(payload).encode(), int(time.time())
    refused = {
        "unsigned": (await live.post("/webhooks/calls", json=payload), 401),
        "wrong secret": (await post_signed(live, payload, secret="wrong"), 401),
        "altered body": (await post_signed(live, {**payload, "outcome": "no_answer"}, tamper=True), 401),
        "old scheme": (await post_signed(live, payload, signature="sha256=" + "0" * 64), 401),
        # a captured signature with a fresh time put in front of it: the time is part of what is signed
        "moved time": (await post_signed(live, payload, signature=f"t={now},v1="
                                          + sign_body(raw, DIALER_SECRET, now - 600).split("v1=")[1]), 401),
        "six minutes old": (await post_signed(live, payload, timestamp=now - 360), 403),
        "six minutes ahead": (await post_signed(live, payload, timestamp=now + 360), 403),
    }
    for what, (response, status) in refused.items():
        assert response.status_code == status, (what, response.text)
        assert isinstance(response.json()["detail"], str), what
    assert " s ago; at most 300 s" in refused["six minutes old"][0].json()["detail"]
    assert await callbacks(live, lead["id"]) == []  # none of them had any effect
    assert (await post_signed(live, payload, timestamp=now - 240)).status_code == 202  # four minutes: in time
    await eventually(lambda: callbacks(live, lead["id"]), timeout=10)


async def test_a_replayed_event_id_has_no_second_effect(live, any_db):
    phone = f"+1415558{uuid.uuid4().int % 10000:04d}"
    lead = (await live.post("/leads", json=lead_body(source="target_list", phone=phone))).json()
    event = {"event_id": f"m-{uuid.uuid4().hex}", "type": "missed_call", "phone": phone}
    first = await post_signed(live, event)
    assert first.status_code == 202 and first.json()["status"] == "accepted"
    await eventually(lambda: callbacks(live, lead["id"]), timeout=10)
    for timestamp in (None, int(time.time()) + 60):  # the same request again, and re-signed later
        again = await post_signed(live, event, timestamp=timestamp)
        assert again.status_code == 202 and again.json() == {"lead_id": lead["id"], "event_id": event["event_id"],
                                                            "status": "duplicate"}
    with any_db.session() as s:
        record = s.get(ProviderEvent, f"dialer:{event['event_id']}")
        assert record.lead_id == lead["id"] and record.type == "missed_call" and "signalled" in record.effect
    await asyncio.sleep(1)  # a second callback would have had time to appear
    assert len(await callbacks(live, lead["id"])) == 1


async def test_call_outcome_on_a_task_moves_the_lead_once(live):
    await live.post("/cadences", json=FAST)
    lead = (await live.post("/leads", json=lead_body(cadence="fast-test"))).json()
    task = (await eventually(lambda: open_call_task(live, lead["id"]), timeout=10))[0]
    event = {"event_id": f"call-{uuid.uuid4().hex}", "type": "call_completed", "task_id": task["id"],
             "outcome": "connected_positive"}
    statuses = [(await post_signed(live, event)).json()["status"] for _ in range(2)]
    assert statuses == ["accepted", "duplicate"]  # dialers retry: the second delivery changes nothing

    async def qualified():
        body = (await live.get(f"/leads/{lead['id']}")).json()
        return body if body["stage"] == "qualified" else None
    body = await eventually(qualified, timeout=10)
    assert [e["event_id"] for e in body["events"]] == [event["event_id"]]

    async def hand_offs():  # the stage is written first, then the hand-off task is made
        tasks = (await live.get("/tasks", params={"lead_id": lead["id"]})).json()["data"]
        return [t["kind"] for t in tasks if t["kind"] == "hand_off"]
    assert await eventually(hand_offs, timeout=10) == ["hand_off"]
    bad = await post_signed(live, {"event_id": "e", "type": "call_completed", "task_id": task["id"], "outcome": "meh"})
    assert bad.status_code == 422


async def test_missed_inbound_call_creates_a_callback_by_the_next_business_day(live):
    phone = f"+1415555{uuid.uuid4().int % 10000:04d}"
    lead = (await live.post("/leads", json=lead_body(source="target_list", phone=phone))).json()
    r = await post_signed(live, {"event_id": f"m-{uuid.uuid4().hex}", "type": "missed_call", "phone": phone})
    assert r.status_code == 202, r.text

    task = (await eventually(lambda: callbacks(live, lead["id"]), timeout=10))[0]
    assert task["channel"] == "call"
    due = datetime.fromisoformat(task["due_at"]).astimezone(ZoneInfo("America/New_York"))
    today = datetime.now(ZoneInfo("America/New_York")).date()
    next_business = today + timedelta(days=1)
    while next_business.weekday() >= 5:
        next_business += timedelta(days=1)
    assert today < due.date() <= next_business and due.weekday() < 5
    unknown = await post_signed(live, {"event_id": "u", "type": "missed_call", "phone": "+19999999999"})
    assert unknown.status_code == 404


async def test_an_event_for_a_lead_whose_cadence_ended_never_restarts_it(live):
    phone = f"+1415556{uuid.uuid4().int % 10000:04d}"
    lead = (await live.post("/leads", json=lead_body(phone=phone))).json()
    assert (await live.post(f"/leads/{lead['id']}/signals/meeting_booked", json={})).status_code == 202

    async def ended():
        body = (await live.get(f"/leads/{lead['id']}")).json()
        return body if body["status"] == "completed" else None
    await eventually(ended, timeout=10)
    r = await post_signed(live, {"event_id": f"m-{uuid.uuid4().hex}", "type": "missed_call", "phone": phone})
    assert r.status_code == 409
    body = (await live.get(f"/leads/{lead['id']}")).json()
    assert (body["stage"], body["status"]) == ("qualified", "completed")
    assert not [t for t in body["touches"] if t["step"] > 2]  # no cadence started over
