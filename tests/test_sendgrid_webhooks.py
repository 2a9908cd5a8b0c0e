"""SendGrid's Event Webhook and Inbound Parse end to end: real API, worker and Temporal server."""
from __future__ import annotations

import json
import time
import uuid
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import select

from messaging import tokens
from persistence.models import ProviderEvent, Suppression
from tests.support.harness import eventually
from tests.support.live import add_unstarted_lead, free_port, serving_api, settings_for
from tests.support.sendgrid_signing import WEBHOOK_KEY, SigningKey
from tests.test_api_e2e import dev_server, lead_body, live  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]

ONLY_EMAIL_REACHABLE = {  # without a phone, a bounce leaves this cadence no channel at all
    "name": "bounce-test", "send_window": None, "business_days": False,
    "steps": [{"id": f"mail-{i}", "channel": "email", "wait": "PT0S" if i == 1 else "PT3S",
               "subject": f"Note {i}", "body": "Hello {{ first_name }}"} for i in range(1, 6)]
    + [{"id": "sms-6", "channel": "sms", "wait": "PT3S", "body": "Hi"}],
}


def sg_event(kind: str, sent: dict, **extra) -> dict:
    """One event as SendGrid posts it: custom_args appear as top-level keys."""
    return {"event": kind, "email": sent["to"], "timestamp": int(time.time()),
            "sg_event_id": uuid.uuid4().hex, "sg_message_id": "msg.filter0001", "smtp-id": "<msg@cadence>",
            "lead_id": sent["lead_id"], "touch_id": sent["touch_id"], **extra}


async def post_events(http, events, key: SigningKey = WEBHOOK_KEY, **sign):
    raw = json.dumps(events).encode()
    return await http.post("/webhooks/sendgrid/events", content=raw, headers=key.headers(raw, **sign))


async def enrol_and_first_email(http, **over) -> dict:
    lead = (await http.post("/leads", json=lead_body(**over))).json()

    async def first_email():
        outbox = (await http.get("/outbox", params={"lead_id": lead["id"]})).json()
        return outbox or None
    request = (await eventually(first_email, timeout=10))[0]["request"]
    args = request["custom_args"]
    return {"lead_id": lead["id"], "touch_id": args["touch_id"], "to": lead["email"], "lead": lead,
            "reply_to": request["reply_to"]["email"]}


async def lead_when(http, lead_id, check, timeout=10):
    async def probe():
        body = (await http.get(f"/leads/{lead_id}")).json()
        return body if check(body) else None
    return await eventually(probe, timeout=timeout)


# ---- signatures ----------------------------------------------------------------------
async def test_only_requests_sendgrid_signed_recently_are_accepted(live):
    sent = await enrol_and_first_email(live)
    batch = [sg_event("delivered", sent)]
    assert (await post_events(live, batch)).status_code == 200
    raw = json.dumps(batch).encode()
    headers = WEBHOOK_KEY.headers(raw)
    altered = raw.replace(b"delivered", b"spamreport")
    assert (await live.post("/webhooks/sendgrid/events", content=altered, headers=headers)).status_code == 403
    assert (await post_events(live, batch, key=SigningKey())).status_code == 403  # wrong key
    assert (await post_events(live, batch, timestamp=int(time.time()) - 3600)).status_code == 403  # stale
    unsigned = await live.post("/webhooks/sendgrid/events", content=raw, headers={"content-type": "application/json"})
    assert unsigned.status_code == 401 and "Signature" in unsigned.json()["detail"]


async def test_without_a_verification_key_production_refuses_events(dev_server, sqlite_db):  # noqa: F811
    settings = settings_for(sqlite_db, int(dev_server.client.service_client.config.target_host.rsplit(":", 1)[1]),
                            free_port(), "unused").model_copy(update={
                                "cadence_env": "production", "sendgrid_webhook_public_key": None,
                                "cadence_secret_key": "a-production-secret"})
    with serving_api(settings, sqlite_db) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as http:
            r = await http.post("/webhooks/sendgrid/events", json=[])
    assert r.status_code == 503 and "SENDGRID_WEBHOOK_PUBLIC_KEY" in r.json()["detail"]


# ---- event effects -------------------------------------------------------------------
async def test_delivery_opens_and_clicks_are_recorded_on_the_touch_once(live):
    sent = await enrol_and_first_email(live)
    batch = [sg_event("processed", sent), sg_event("delivered", sent), sg_event("open", sent),
             sg_event("open", sent), sg_event("click", sent, url="https://example.com/demo"),
             sg_event("deferred", sent, response="451 try later", attempt="1")]  # late: changes nothing
    first = (await post_events(live, batch)).json()
    assert first == {"received": 6, "applied": 6, "duplicates": 0, "skipped": 0}
    again = (await post_events(live, batch)).json()  # SendGrid retries deliveries
    assert again == {"received": 6, "applied": 0, "duplicates": 6, "skipped": 0}
    touch = [t for t in (await live.get(f"/leads/{sent['lead_id']}")).json()["touches"]
             if t["id"] == sent["touch_id"]][0]
    assert (touch["delivery"], touch["opens"], touch["clicks"]) == ("delivered", 2, 1)
    lead = (await live.get(f"/leads/{sent['lead_id']}")).json()
    assert lead["stage"] == "new"  # no stage change (SPEC 2.8)


async def test_unknown_and_malformed_events_are_skipped_without_failing_the_batch(live):
    sent = await enrol_and_first_email(live)
    batch = [{"event": "teleported", "sg_event_id": "a", "timestamp": 1}, "not an object",
             {"event": "open", "timestamp": 1}, {"event": "open", "sg_event_id": "b", "timestamp": "soon"},
             sg_event("open", sent)]
    assert (await post_events(live, batch)).json() == {"received": 5, "applied": 1, "duplicates": 0, "skipped": 4}
    assert (await post_events(live, {"event": "open"})).status_code == 422  # not an array


@pytest.mark.parametrize("kind,extra", [("bounce", {"type": "bounce", "reason": "550 5.1.1 no such user"}),
                                        ("dropped", {"reason": "Bounced Address"})])
async def test_a_hard_bounce_or_drop_turns_email_off_and_no_channel_left_means_nurture(live, kind, extra):
    assert (await live.post("/cadences", json=ONLY_EMAIL_REACHABLE)).status_code in (201, 200, 409)
    sent = await enrol_and_first_email(live, cadence="bounce-test", phone=None)
    assert (await post_events(live, [sg_event(kind, sent, **extra)])).json()["applied"] == 1
    lead = await lead_when(live, sent["lead_id"], lambda b: b["stage"] == "nurture")
    assert lead["stage_reason"] == "unreachable"
    touch = [t for t in lead["touches"] if t["id"] == sent["touch_id"]][0]
    assert touch["delivery"] == ("bounced" if kind == "bounce" else "dropped")
    assert [e["type"] for e in lead["events"]] == ["bounce"]


async def test_a_blocked_bounce_is_only_recorded(live):
    sent = await enrol_and_first_email(live)
    await post_events(live, [sg_event("bounce", sent, type="blocked", reason="IP on a blocklist")])
    lead = (await live.get(f"/leads/{sent['lead_id']}")).json()
    assert [t["delivery"] for t in lead["touches"] if t["id"] == sent["touch_id"]] == ["blocked"]
    assert lead["events"] == [] and lead["stage"] == "new"


@pytest.mark.parametrize("kind,reason", [("spamreport", "spam_report"), ("unsubscribe", "unsubscribed"),
                                         ("group_unsubscribe", "unsubscribed")])
async def test_spam_reports_and_unsubscribes_suppress_the_address_for_good(live, any_db, kind, reason):
    sent = await enrol_and_first_email(live)
    batch = [sg_event(kind, sent, asm_group_id=7)]
    assert (await post_events(live, batch)).json()["applied"] == 1
    lead = await lead_when(live, sent["lead_id"], lambda b: b["stage"] == "not_interested")
    assert lead["stage_reason"] == reason
    with any_db.session() as s:
        assert s.get(Suppression, sent["to"].lower()) is not None
        record = s.get(ProviderEvent, f"sendgrid:{batch[0]['sg_event_id']}")
        assert "suppressed" in record.effect and record.lead_id == sent["lead_id"]
    assert (await post_events(live, batch)).json()["duplicates"] == 1
    assert len((await live.get("/outbox", params={"lead_id": sent["lead_id"]})).json()) == 1


async def test_an_event_for_an_unknown_message_still_suppresses_its_address(live, any_db):
    stranger = {"to": f"{uuid.uuid4().hex[:8]}@example.com", "lead_id": None, "touch_id": None}
    assert (await post_events(live, [sg_event("spamreport", stranger)])).json()["applied"] == 1
    with any_db.session() as s:
        assert s.get(Suppression, stranger["to"]) is not None
        assert s.scalar(select(ProviderEvent.lead_id).where(ProviderEvent.type == "spamreport",
                                                             ProviderEvent.data["email"].as_string() == stranger["to"])) is None


# ---- Inbound Parse -------------------------------------------------------------------
def inbound_form(sent: dict, text: str, *, to: str | None = None, message_id: str | None = None) -> dict:
    """The multipart fields SendGrid Inbound Parse posts (a subset of its many)."""
    address = to or sent["reply_to"]
    return {
        "headers": f"Message-ID: <{message_id or uuid.uuid4().hex}@mail.example.com>\nSubject: Re: Note 1\n",
        "dkim": "{@example.com : pass}", "to": f"Cadence <{address}>", "from": f"Grace <{sent['to']}>",
        "subject": "Re: Note 1", "text": text, "envelope": json.dumps({"to": [address], "from": sent["to"]}),
        "charsets": json.dumps({"to": "UTF-8", "text": "UTF-8"}), "SPF": "pass", "spam_score": "0.1",
    }


async def post_inbound(http, form: dict):
    return await http.post("/webhooks/sendgrid/inbound", files={k: (None, v) for k, v in form.items()})


async def test_a_positive_reply_email_qualifies_the_right_lead(live):
    other = await enrol_and_first_email(live)
    sent = await enrol_and_first_email(live)
    text = ("Sounds great, can we talk on Tuesday at 2pm?\n\nGrace\n\n"
            "On Mon, Nov 23, 2026 at 9:00 AM Cadence <sales@cadence.local> wrote:\n"
            "> Not interested? Reply stop and we will not write again.\n")
    r = await post_inbound(live, inbound_form(sent, text, message_id="abc"))
    assert r.status_code == 200 and r.json()["intent"] == "positive", r.text
    lead = await lead_when(live, sent["lead_id"], lambda b: b["stage"] == "qualified")
    assert lead["stage_reason"] == "positive_reply"
    reply = [e for e in lead["events"] if e["type"] == "reply"][0]
    assert reply["text"].startswith("Sounds great") and "wrote:" not in reply["text"]
    assert (await post_inbound(live, inbound_form(sent, text, message_id="abc"))).status_code == 200  # redelivered
    lead = (await live.get(f"/leads/{sent['lead_id']}")).json()
    assert len([e for e in lead["events"] if e["type"] == "reply"]) == 1
    assert (await live.get(f"/leads/{other['lead_id']}")).json()["stage"] == "new"


async def test_an_out_of_office_reply_pauses_the_lead_until_its_return_date(live):
    sent = await enrol_and_first_email(live)
    back = date.today() + timedelta(days=21)
    text = f"I am out of the office until {back.day} {back:%B %Y} with limited access to email."
    r = await post_inbound(live, inbound_form(sent, text))
    assert r.json()["intent"] == "out_of_office" and r.json()["return_date"] == back.isoformat()
    lead = await lead_when(live, sent["lead_id"], lambda b: b["status"] == "paused")
    assert lead["stage"] == "new"


async def test_an_unsubscribe_reply_suppresses_the_address(live, any_db):
    sent = await enrol_and_first_email(live)
    r = await post_inbound(live, inbound_form(sent, "Please take me off your list."))
    assert r.json()["intent"] == "unsubscribe"
    lead = await lead_when(live, sent["lead_id"], lambda b: b["stage"] == "not_interested")
    assert lead["stage_reason"] == "unsubscribed"
    with any_db.session() as s:
        assert s.get(Suppression, sent["to"].lower()) is not None


async def test_forged_and_unknown_routing_tokens_are_rejected(live):
    sent = await enrol_and_first_email(live)
    token = sent["reply_to"].split("+", 1)[1].split("@", 1)[0]
    forged = sent["reply_to"].replace(token, tokens.sign("reply", sent["lead_id"], "guessed-secret"))
    assert (await post_inbound(live, inbound_form(sent, "yes!", to=forged))).status_code == 403
    other_purpose = sent["reply_to"].replace(token, tokens.sign("unsubscribe", sent["lead_id"], "test-secret"))
    assert (await post_inbound(live, inbound_form(sent, "yes!", to=other_purpose))).status_code == 403
    nobody = sent["reply_to"].replace(token, tokens.sign("reply", "nobody", "test-secret"))
    assert (await post_inbound(live, inbound_form(sent, "yes!", to=nobody))).status_code == 404
    assert (await post_inbound(live, inbound_form(sent, "yes!", to="sales@example.com"))).status_code == 404
    assert (await live.get(f"/leads/{sent['lead_id']}")).json()["stage"] == "new"


async def test_a_spam_report_suppresses_at_once_even_when_the_lead_cannot_be_signalled(live, any_db):
    lead_id = add_unstarted_lead(any_db, cadence_name="ghost")  # its workflow cannot start: no such cadence
    sent = {"to": f"{lead_id}@example.com", "lead_id": lead_id, "touch_id": None}
    batch = [sg_event("spamreport", sent)]
    for _ in range(2):  # SendGrid retries a failed batch: the event is handled in full each time
        assert (await post_events(live, batch)).status_code == 503
        with any_db.session() as s:
            assert s.get(Suppression, sent["to"].lower()) is not None  # compliance first
            assert s.get(ProviderEvent, f"sendgrid:{batch[0]['sg_event_id']}") is None  # not marked done
