"""SendGrid's webhooks: delivery events (signed) and replies through Inbound Parse.

Both are async routes: the database work runs in short sessions in the thread pool, and the
signals are awaited between them with no session open; the raw body the signature covers is
read by an async dependency. Each event is committed once its signal went through, so a batch
that fails half way is retried by SendGrid without repeating the half that worked (events are
keyed by their ids, and the workflow drops repeated event ids).
Inbound Parse is authenticated by the HTTP Basic credentials of the Parse URL and, where the
account signs it, by SendGrid's signature.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request

from api import lead_workflows
from api.deps import DatabaseDep, SettingsDep, TemporalDep, in_session
from api.routes.webhooks import raw_body
from config import Settings
from domain.accounts import sender_is_lead_or_company
from domain.events import LeadEvent, bounded_id
from messaging import tokens
from messaging.classifier import classify, strip_quoted
from messaging.sendgrid_events import (
    SIGNATURE_HEADER, TIMESTAMP_HEADER, EmailEvent, SignatureProblem, parse, verify_signature,
)
from persistence import leads as lead_store
from persistence import provider_events
from persistence import touches as touch_store
from persistence.models import Lead

router = APIRouter(prefix="/webhooks/sendgrid", tags=["webhooks"])
log = logging.getLogger("cadence.webhooks")


RawBody = Annotated[bytes, Depends(raw_body)]


@router.post("/events")
async def email_events(raw: RawBody, request: Request, db: DatabaseDep, settings: SettingsDep,
                       temporal: TemporalDep) -> dict:
    """SendGrid's batched Event Webhook. With SENDGRID_WEBHOOK_PUBLIC_KEY set, only requests that
    carry SendGrid's valid signature from the last five minutes are accepted."""
    key = settings.sendgrid_webhook_public_key
    if key:
        try:
            verify_signature(raw, request.headers.get(SIGNATURE_HEADER), request.headers.get(TIMESTAMP_HEADER),
                             key, time.time())
        except SignatureProblem as problem:
            raise HTTPException(problem.status, str(problem)) from None
    elif settings.cadence_env == "production":
        raise HTTPException(503, "SENDGRID_WEBHOOK_PUBLIC_KEY is not set: unsigned events are refused in production")
    try:
        items = json.loads(raw)
    except ValueError:
        items = None
    if not isinstance(items, list):
        raise HTTPException(422, [{"loc": ["body"], "msg": "expected a JSON array of SendGrid events"}])
    summary: Counter[str] = Counter()
    for index, item in enumerate(items):
        try:
            event = parse(item)
        except ValueError as exc:  # one bad event must not make SendGrid retry the whole batch
            log.warning("SendGrid event %d skipped: %s", index, exc)
            summary["skipped"] += 1
            continue
        summary[await _apply(event, db, settings, temporal)] += 1
    return {"received": len(items), "applied": summary["applied"], "duplicates": summary["duplicates"],
            "skipped": summary["skipped"]}


async def _apply(event: EmailEvent, db, settings, temporal) -> str:
    """Suppress first (idempotent, and what compliance needs), then signal, then record the event
    with its marks on the touch. A failure before the record rolls back only what a redelivery
    repeats harmlessly: the workflow drops a repeated event id."""
    found = await in_session(db, _suppress, event, settings)
    if found is None:
        return "duplicates"
    lead_id, to_signal, effects = found
    if to_signal is not None:
        kind = event.suppresses or "bounce"
        signal = LeadEvent(type=kind, event_id=event.id, channel="email",
                           text=event.detail.get("reason"), at=event.at.isoformat())
        effects.append(await _signal(settings, temporal, to_signal, "email_event", signal))
    return await in_session(db, _record, event, lead_id, effects)


def _suppress(session, event: EmailEvent, settings) -> tuple[str | None, lead_workflows.Reach | None, list[str]] | None:
    """The event's lead, how to signal it if the event stops its emails, and the suppression,
    committed; None for an event recorded already."""
    if provider_events.seen(session, event.id):
        return None
    lead = session.get(Lead, event.lead_id) if event.lead_id else None
    if lead is None and event.email:
        lead = lead_store.by_email(session, event.email)
    effects = []
    if event.suppresses and event.email:  # for good, whatever becomes of the lead
        touch_store.suppress(session, event.email, event.suppresses)
        session.commit()
        effects.append(f"{event.email} suppressed")
    if lead is None:
        return None, None, effects
    signalled = event.blocks_email or event.suppresses
    return lead.id, lead_workflows.reach(session, settings, lead) if signalled else None, effects


def _record(session, event: EmailEvent, lead_id: str | None, effects: list[str]) -> str:
    record = provider_events.claim(session, event, lead_id)
    if record is None:  # the same event, delivered twice at once: the other request recorded it
        session.rollback()
        return "duplicates"
    effects.insert(0, provider_events.mark_touch(session, event))
    record.effect = "; ".join(e for e in effects if e) or "recorded"
    session.commit()
    return "applied"


async def _signal(settings, temporal, lead: lead_workflows.Reach, name: str, event: LeadEvent) -> str:
    """Signal the lead's workflow; an ended cadence needs nothing more. Other failures raise 503."""
    try:
        await lead_workflows.signal(temporal, settings, lead, name, event)
    except lead_workflows.CadenceEnded as ended:
        return str(ended)
    return f"{event.type} signalled to lead {lead.lead_id}"


# ---- Inbound Parse ---------------------------------------------------------------------
ROUTING_ADDRESS = re.compile(r"reply\+([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)@", re.I)
TAGS = re.compile(r"<[^>]+>")
PARSE_REALM = 'Basic realm="cadence-inbound-parse", charset="UTF-8"'


@dataclass(frozen=True)
class InboundMail:
    """The multipart fields of an Inbound Parse post that Cadence reads (SendGrid sends many more)."""

    to: str = ""
    envelope: str | None = None
    sender: str | None = None  # the From header
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    headers: str | None = None
    cc: str | None = None


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()  # equal lengths: the comparison leaks no length


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, ValueError):
        return None
    return (user, password) if sep else None


def check_parse_credentials(authorization: str | None, settings: Settings) -> None:
    """HTTP Basic, as SendGrid sends the credentials of the Parse URL (https://user:password@host/...).
    Without configured credentials only development accepts the post (production does not start)."""
    user = settings.cadence_inbound_parse_user
    secret = settings.cadence_inbound_parse_password
    password = secret.get_secret_value() if secret else ""
    if not user and not password:
        if settings.cadence_env == "production":
            raise HTTPException(503, "CADENCE_INBOUND_PARSE_USER and CADENCE_INBOUND_PARSE_PASSWORD are not set: "
                                     "replies are refused in production")
        return
    if not user or not password:  # half a pair would let a guessable half through: refuse everything
        raise HTTPException(503, "set both CADENCE_INBOUND_PARSE_USER and CADENCE_INBOUND_PARSE_PASSWORD")
    given = _basic_credentials(authorization) or ("", "")
    same_user = hmac.compare_digest(_digest(given[0]), _digest(user))
    same_password = hmac.compare_digest(_digest(given[1]), _digest(password))  # both compared, always
    if not (same_user and same_password):
        raise HTTPException(401, "missing or wrong Inbound Parse credentials (HTTP Basic, from the Parse URL)",
                            headers={"WWW-Authenticate": PARSE_REALM})


async def inbound_mail(request: Request, settings: SettingsDep) -> InboundMail:
    """The authenticated post: credentials first, then SendGrid's signature over the raw body
    (where SENDGRID_INBOUND_PUBLIC_KEY is set), and only then is the form parsed."""
    check_parse_credentials(request.headers.get("authorization"), settings)
    if settings.sendgrid_inbound_public_key:
        raw = await request.body()  # kept: the form below is parsed from these same bytes
        try:
            verify_signature(raw, request.headers.get(SIGNATURE_HEADER), request.headers.get(TIMESTAMP_HEADER),
                             settings.sendgrid_inbound_public_key, time.time())
        except SignatureProblem as problem:
            raise HTTPException(problem.status, str(problem)) from None
    form = await request.form()
    try:
        fields = {name: value for name in ("to", "envelope", "from", "subject", "text", "html", "headers", "cc")
                  if isinstance(value := form.get(name), str)}
    finally:
        await form.close()  # attachments are not read
    return InboundMail(to=fields.pop("to", ""), sender=fields.pop("from", None), **fields)


def _routing_token(*fields: str | None) -> str | None:
    for value in fields:
        found = ROUTING_ADDRESS.search(value or "")
        if found:
            return found.group(1)
    return None


def _message_id(headers: str | None) -> str | None:
    found = re.search(r"^message-id:\s*(\S+)", headers or "", re.I | re.M)
    return (found.group(1).strip("<>") or None) if found else None


def inbound_event_id(headers: str | None, sender: str | None, subject: str | None, body: str) -> str:
    """`inbound:<Message-ID>` (hashed when long), or a hash of the message without one."""
    message_id = _message_id(headers)
    fingerprint = bounded_id(message_id) if message_id else \
        hashlib.sha256(f"{sender}|{subject}|{body}".encode()).hexdigest()[:32]
    return f"inbound:{fingerprint}"


@router.post("/inbound")
async def inbound_reply(mail: Annotated[InboundMail, Depends(inbound_mail)], db: DatabaseDep, settings: SettingsDep,
                        temporal: TemporalDep) -> dict:
    """A reply to a cadence email, as SendGrid Inbound Parse posts it (multipart form). The
    Reply-To address of every cadence email carries a signed token naming the lead. A reply whose
    From is neither the lead nor its company is recorded for a person to review and moves nothing."""
    token = _routing_token(mail.envelope, mail.to, mail.cc)
    if token is None:
        raise HTTPException(404, "no reply+<token>@ address among the recipients: not a reply to a cadence email")
    lead_id = tokens.verify("reply", token, settings.secret())
    if lead_id is None:
        raise HTTPException(403, "the routing token is forged or altered")
    lead, event, verdict = await in_session(db, _reply, lead_id, mail, settings)
    status = await _signal(settings, temporal, lead, "reply", event)
    return {"lead_id": lead.lead_id, "event_id": event.event_id, "type": event.type, "intent": verdict.intent,
            "rule": verdict.rule, "return_date": event.return_date, "status": status}


def _reply(session, lead_id: str, mail: InboundMail, settings) -> tuple[lead_workflows.Reach, LeadEvent, Any]:
    """The reply as an event for its lead, classified; an unsubscribe is suppressed and committed."""
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise HTTPException(404, f"the routing token names no known lead ({lead_id})")
    body = mail.text if mail.text and mail.text.strip() else TAGS.sub(" ", mail.html or "")
    received = datetime.now(ZoneInfo(lead.timezone)).date()
    verdict = classify(body, today=received)
    sender = parseaddr(mail.sender or "")[1].strip().lower() or None
    verified = sender_is_lead_or_company(lead.email, sender)
    notes = f"classified by rule: {verdict.rule}"
    if not verified:
        notes = (f"from {sender or 'an unknown sender'}, neither the lead's address nor its company's domain: "
                 f"review it before acting; {notes}")
    event = LeadEvent(
        type="reply" if verified else "unverified_reply", channel="email", intent=verdict.intent,
        event_id=inbound_event_id(mail.headers, mail.sender, mail.subject, body),
        text=strip_quoted(body).strip()[:2000], notes=notes,
        return_date=verdict.return_date.isoformat() if verdict.return_date else None,
    )
    # Honoured at once and for good, even if the cadence ended, and even from an unverified
    # sender: when in doubt, stop emailing.
    if verdict.intent == "unsubscribe":
        touch_store.suppress(session, lead.email, "unsubscribed")
        session.commit()
    return lead_workflows.reach(session, settings, lead), event, verdict
