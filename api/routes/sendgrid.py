"""SendGrid's webhooks: delivery events (signed) and replies through Inbound Parse.

Both are sync routes (database and Temporal calls from the thread pool); the raw body the
signature covers is read by an async dependency. Each event is committed once its signal
went through, so a batch that fails half way is retried by SendGrid without repeating the
half that worked (events are keyed by their ids, and the workflow drops repeated event ids).
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import Counter
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Request

from api import lead_workflows
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.routes.webhooks import raw_body
from domain.events import LeadEvent
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
def email_events(raw: RawBody, request: Request, session: SessionDep, settings: SettingsDep,
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
        summary[_apply(event, session, settings, temporal)] += 1
    return {"received": len(items), "applied": summary["applied"], "duplicates": summary["duplicates"],
            "skipped": summary["skipped"]}


def _apply(event: EmailEvent, session, settings, temporal) -> str:
    """Suppress first (idempotent, and what compliance needs), then signal, then record the event
    with its marks on the touch. A failure before the record rolls back only what a redelivery
    repeats harmlessly: the workflow drops a repeated event id."""
    if provider_events.seen(session, event.id):
        return "duplicates"
    lead = session.get(Lead, event.lead_id) if event.lead_id else None
    if lead is None and event.email:
        lead = lead_store.by_email(session, event.email)
    effects = []
    if event.suppresses and event.email:  # for good, whatever becomes of the lead
        touch_store.suppress(session, event.email, event.suppresses)
        session.commit()
        effects.append(f"{event.email} suppressed")
    if lead is not None and (event.blocks_email or event.suppresses):
        kind = event.suppresses or "bounce"
        signal = LeadEvent(type=kind, event_id=event.id, channel="email",
                           text=event.detail.get("reason"), at=event.at.isoformat())
        effects.append(_signal(session, settings, temporal, lead, "email_event", signal))
    record = provider_events.claim(session, event, lead.id if lead else None)
    if record is None:  # the same event, delivered twice at once: the other request recorded it
        session.rollback()
        return "duplicates"
    effects.insert(0, provider_events.mark_touch(session, event))
    record.effect = "; ".join(e for e in effects if e) or "recorded"
    session.commit()
    return "applied"


def _signal(session, settings, temporal, lead: Lead, name: str, event: LeadEvent) -> str:
    """Signal the lead's workflow; an ended cadence needs nothing more. Other failures raise 503."""
    try:
        lead_workflows.signal(session, settings, temporal, lead, name, event)
    except lead_workflows.CadenceEnded as ended:
        return str(ended)
    return f"{event.type} signalled to lead {lead.id}"


# ---- Inbound Parse ---------------------------------------------------------------------
ROUTING_ADDRESS = re.compile(r"reply\+([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)@", re.I)
TAGS = re.compile(r"<[^>]+>")


def _routing_token(*fields: str | None) -> str | None:
    for value in fields:
        found = ROUTING_ADDRESS.search(value or "")
        if found:
            return found.group(1)
    return None


def _message_id(headers: str | None) -> str | None:
    found = re.search(r"^message-id:\s*(\S+)", headers or "", re.I | re.M)
    return found.group(1).strip("<>") if found else None


@router.post("/inbound")
def inbound_reply(session: SessionDep, settings: SettingsDep, temporal: TemporalDep,
                  to: Annotated[str, Form()] = "", envelope: Annotated[str | None, Form()] = None,
                  sender: Annotated[str | None, Form(alias="from")] = None,
                  subject: Annotated[str | None, Form()] = None, text: Annotated[str | None, Form()] = None,
                  html: Annotated[str | None, Form()] = None, headers: Annotated[str | None, Form()] = None,
                  cc: Annotated[str | None, Form()] = None) -> dict:
    """A reply to a cadence email, as SendGrid Inbound Parse posts it (multipart form). The
    Reply-To address of every cadence email carries a signed token naming the lead."""
    token = _routing_token(envelope, to, cc)
    if token is None:
        raise HTTPException(404, "no reply+<token>@ address among the recipients: not a reply to a cadence email")
    lead_id = tokens.verify("reply", token, settings.secret())
    if lead_id is None:
        raise HTTPException(403, "the routing token is forged or altered")
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise HTTPException(404, f"the routing token names no known lead ({lead_id})")
    body = text if text and text.strip() else TAGS.sub(" ", html or "")
    received = datetime.now(ZoneInfo(lead.timezone)).date()
    verdict = classify(body, today=received)
    fingerprint = _message_id(headers) or hashlib.sha256(f"{sender}|{subject}|{body}".encode()).hexdigest()[:32]
    event = LeadEvent(
        type="reply", event_id=f"inbound:{fingerprint}", channel="email", intent=verdict.intent,
        text=strip_quoted(body).strip()[:2000], notes=f"classified by rule: {verdict.rule}",
        return_date=verdict.return_date.isoformat() if verdict.return_date else None,
    )
    if verdict.intent == "unsubscribe":  # honoured at once and for good, even if the cadence ended
        touch_store.suppress(session, lead.email, "unsubscribed")
        session.commit()
    status = _signal(session, settings, temporal, lead, "reply", event)
    return {"lead_id": lead.id, "event_id": event.event_id, "intent": verdict.intent, "rule": verdict.rule,
            "return_date": event.return_date, "status": status}
