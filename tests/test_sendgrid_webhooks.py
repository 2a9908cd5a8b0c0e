"""SendGrid's Event Webhook and Inbound Parse end to end: real API, worker and Temporal server."""
from __future__ import annotations

import json
import time
import uuid
from datetime import date, timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from api.main import create_app
from messaging import tokens
from persistence.models import ProviderEvent, Suppression, Task
from tests.support.harness import eventually
from tests.support.live import INBOUND_PARSE_AUTH, add_unstarted_lead, free_port, serving_api, settings_for
from tests.support.sendgrid_signing import INBOUND_KEY, WEBHOOK_KEY, SigningKey
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


async def test_without_a_verification_key_production_does_not_start(sqlite_db):
    production = settings_for(sqlite_db, 7233, 8000, "unused").model_copy(update={
        "cadence_env": "production", "cadence_secret_key": SecretStr("a-production-secret-of-at-least-32-bytes"),
        "cadence_payload_keys": SecretStr("k1:" + "A" * 43 + "="), "sendgrid_webhook_public_key": None})
    with pytest.raises(RuntimeError, match="SENDGRID_WEBHOOK_PUBLIC_KEY must be set") as refused:
        create_app(production, db=sqlite_db)
    assert "INBOUND_PARSE" not in str(refused.value) and "DIALER" not in str(refused.value)  # only what is missing


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
def inbound_form(sent: dict, text: str, *, to: str | None = None, message_id: str | None = None,
                 sender: str | None = None) -> dict:
    """The multipart fields SendGrid Inbound Parse posts (a subset of its many)."""
    address, sender = to or sent["reply_to"], sender or sent["to"]
    return {
        "headers": f"Message-ID: <{message_id or uuid.uuid4().hex}@mail.example.com>\nSubject: Re: Note 1\n",
        "dkim": "{@example.com : pass}", "to": f"Cadence <{address}>", "from": f"Grace <{sender}>",
        "subject": "Re: Note 1", "text": text, "envelope": json.dumps({"to": [address], "from": sender}),
        "charsets": json.dumps({"to": "UTF-8", "text": "UTF-8"}), "SPF": "pass", "spam_score": "0.1",
    }


def multipart(form: dict) -> tuple[bytes, str]:
    """The body and content type exactly as posted, so the signature covers the bytes sent. A
    tuple value is a file (an attachment)."""
    files = {k: v if isinstance(v, tuple) else (None, v) for k, v in form.items()}
    request = httpx.Request("POST", "http://parse.invalid/", files=files)
    return request.read(), request.headers["content-type"]


async def post_inbound(http, form: dict, *, auth=INBOUND_PARSE_AUTH, key: SigningKey | None = INBOUND_KEY,
                       timestamp: int | None = None, body: bytes | None = None):
    """As SendGrid posts to `https://user:password@host/webhooks/sendgrid/inbound` with a signing
    security policy: HTTP Basic credentials, and the signature of the raw body. `body` replaces the
    body after signing (an altered request)."""
    raw, content_type = multipart(form)
    headers = {**(key.headers(raw, timestamp) if key else {}), "content-type": content_type}
    return await http.post("/webhooks/sendgrid/inbound", content=body or raw, headers=headers,
                           auth=httpx.BasicAuth(*auth) if auth else None)


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


async def test_inbound_parse_needs_its_credentials(live):
    sent = await enrol_and_first_email(live)
    form = inbound_form(sent, "Sounds great, can we talk on Tuesday?")
    for auth in (None, ("sendgrid-parse", "guessed"), ("someone", INBOUND_PARSE_AUTH[1]), ("", "")):
        r = await post_inbound(live, form, auth=auth)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic "), (auth, r.text)
        assert "credentials" in r.json()["detail"]
    raw, content_type = multipart(form)
    garbled = await live.post("/webhooks/sendgrid/inbound", content=raw, headers={
        **INBOUND_KEY.headers(raw), "content-type": content_type, "authorization": "Basic not-base64!"})
    assert garbled.status_code == 401
    assert (await live.get(f"/leads/{sent['lead_id']}")).json()["events"] == []  # nothing got through
    assert (await post_inbound(live, form)).json()["intent"] == "positive"
    await lead_when(live, sent["lead_id"], lambda b: b["stage"] == "qualified")


async def test_a_signed_inbound_parse_post_is_verified_before_it_is_read(live):
    sent = await enrol_and_first_email(live)
    form = inbound_form(sent, "Yes, let us talk on Tuesday.")
    assert (await post_inbound(live, form, key=None)).status_code == 401  # unsigned
    assert (await post_inbound(live, form, key=SigningKey())).status_code == 403  # another key
    assert (await post_inbound(live, form, timestamp=int(time.time()) - 3600)).status_code == 403  # stale
    other, _ = multipart(inbound_form(sent, "Yes, let us talk on Tuesday.", sender="mallory@elsewhere.test"))
    altered = await post_inbound(live, form, body=other)
    assert altered.status_code == 403 and "forged or altered" in altered.json()["detail"]
    assert (await live.get(f"/leads/{sent['lead_id']}")).json()["events"] == []
    logo = ("logo.png", b"\x89PNG\r\n\x1a\n\xff\xfe\x00binary", "image/png")  # not UTF-8: signed as bytes
    genuine = await post_inbound(live, {**form, "attachments": "1", "attachment1": logo})
    assert genuine.status_code == 200 and genuine.json()["intent"] == "positive", genuine.text
    await lead_when(live, sent["lead_id"], lambda b: b["stage"] == "qualified")


async def test_without_credentials_development_accepts_inbound_posts(sqlite_db):
    settings = settings_for(sqlite_db, free_port(), free_port(), "unused").model_copy(update={
        "cadence_env": "development", "cadence_inbound_parse_user": None, "cadence_inbound_parse_password": None,
        "sendgrid_inbound_public_key": None})
    with serving_api(settings, sqlite_db) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as http:
            form = inbound_form({"to": "grace@example.com", "reply_to": "sales@example.com"}, "hi")
            r = await post_inbound(http, form, auth=None, key=None)
    assert r.status_code == 404 and "reply+<token>" in r.json()["detail"]  # read and routed: no credentials asked


async def test_a_reply_from_a_stranger_is_recorded_for_review_and_moves_nothing(live):
    sent = await enrol_and_first_email(live)
    form = inbound_form(sent, "Sounds great, let us sign tomorrow.", sender="mallory@elsewhere.test")
    r = await post_inbound(live, form)
    assert r.status_code == 200 and (r.json()["type"], r.json()["intent"]) == ("unverified_reply", "positive")

    async def recorded():
        body = (await live.get(f"/leads/{sent['lead_id']}")).json()
        return body if body["events"] else None
    lead = await eventually(recorded, timeout=10)
    [event] = lead["events"]
    assert event["type"] == "unverified_reply" and "mallory@elsewhere.test" in event["notes"]
    assert "ignored" not in event  # decided (record only), not dropped as unknown
    assert (lead["stage"], lead["status"]) == ("new", "active")
    tasks = (await live.get("/tasks", params={"lead_id": sent["lead_id"]})).json()["data"]
    assert not [t for t in tasks if t["kind"] in ("hand_off", "follow_up")]


async def test_a_colleague_at_the_company_domain_is_the_lead_replying(live):
    sent = await enrol_and_first_email(live)  # the lead is at example.com, not a mailbox provider
    r = await post_inbound(live, inbound_form(sent, "Sounds great, can we talk on Tuesday?",
                                              sender="ceo@EXAMPLE.com"))
    assert r.json()["type"] == "reply"
    await lead_when(live, sent["lead_id"], lambda b: b["stage"] == "qualified")


async def test_on_a_mailbox_provider_only_the_lead_itself_is_verified(live):
    sent = await enrol_and_first_email(live, email=f"{uuid.uuid4().hex[:10]}@gmail.com")
    r = await post_inbound(live, inbound_form(sent, "Sounds great, call me.", sender="someone.else@gmail.com"))
    assert r.json()["type"] == "unverified_reply"
    r = await post_inbound(live, inbound_form(sent, "Sounds great, call me.", sender=sent["to"].upper()))
    assert r.json()["type"] == "reply"


async def test_an_unsubscribe_from_a_stranger_still_suppresses_the_address(live, any_db):
    sent = await enrol_and_first_email(live)
    r = await post_inbound(live, inbound_form(sent, "Please take me off your list.", sender="prankster@elsewhere.test"))
    assert (r.json()["type"], r.json()["intent"]) == ("unverified_reply", "unsubscribe")
    with any_db.session() as s:
        assert s.get(Suppression, sent["to"].lower()) is not None  # when in doubt, stop emailing

    async def recorded():
        body = (await live.get(f"/leads/{sent['lead_id']}")).json()
        return body if body["events"] else None
    lead = await eventually(recorded, timeout=10)
    assert [e["type"] for e in lead["events"]] == ["unverified_reply"]
    assert lead["stage"] == "new"  # no stage change: a person reads it


async def test_a_long_message_id_makes_a_bounded_event_and_follow_up_task(live, any_db):
    sent = await enrol_and_first_email(live)
    long_id = "x" * 300
    r = await post_inbound(live, inbound_form(sent, "What does it cost for a team of five?", message_id=long_id))
    assert r.json()["intent"] == "neutral", r.text
    event_id = r.json()["event_id"]
    assert event_id.startswith("inbound:") and len(event_id) <= 72 and long_id not in event_id
    again = await post_inbound(live, inbound_form(sent, "What does it cost?", message_id=long_id))
    assert again.json()["event_id"] == event_id  # the same message: the same id, so it counts once
    lead = await lead_when(live, sent["lead_id"], lambda b: b["stage"] == "in_process")

    async def follow_up():
        with any_db.session() as s:
            return s.get(Task, f"{sent['lead_id']}-{event_id}")
    task = await eventually(follow_up, timeout=10)
    assert task.kind == "follow_up" and len(task.id) <= 120
    assert [e["event_id"] for e in lead["events"]] == [event_id]
