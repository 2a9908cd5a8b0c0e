"""Webhooks from tools: the dialer (signed with a shared secret and a timestamp)."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api import lead_workflows
from api.deps import DatabaseDep, SettingsDep, TemporalDep, in_session
from api.schemas import E164
from domain.events import CALL_OUTCOMES, LeadEvent, bounded_id
from persistence import leads as lead_store
from persistence import provider_events
from persistence.models import Lead, ProviderEvent, Task, utcnow

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
SIGNATURE_HEADER = "X-Cadence-Signature"
MAX_AGE_SECONDS = 300  # older (or further in the future) signed requests are refused: no replays


class CallEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")  # dialers add fields of their own

    event_id: str = Field(min_length=1, max_length=200)
    type: Literal["call_completed", "missed_call"]
    task_id: str | None = None
    phone: str | None = Field(None, pattern=E164.pattern)
    outcome: Literal[CALL_OUTCOMES] | None = None  # type: ignore[valid-type]
    at: datetime | None = None


def _mac(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def sign_body(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `X-Cadence-Signature` value for `body`: `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return f"t={stamp},v1={_mac(secret, stamp, body)}"


def verify_signature(raw: bytes, header: str | None, secret: str, now: float) -> None:
    """Raise 401 unless `header` signs `raw` with `secret`, 403 if it was signed too long ago (or
    ahead): the signed time cannot be changed without the secret, so a captured request expires."""
    parts: dict[str, list[str]] = {}
    for item in (header or "").split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(name, []).append(value)
    stamp, given = (parts.get("t") or [""])[0], parts.get("v1") or []
    if not stamp.isdigit() or not given:
        raise HTTPException(401, f"missing or malformed {SIGNATURE_HEADER}: expected t=<unix time>,v1=<hex HMAC>")
    expected = _mac(secret, stamp, raw).encode()
    if not any(hmac.compare_digest(value.encode(), expected) for value in given):
        raise HTTPException(401, f"{SIGNATURE_HEADER} does not match the body: wrong secret, or an altered request")
    age = int(now) - int(stamp)
    if abs(age) > MAX_AGE_SECONDS:
        when = f"{age} s ago" if age > 0 else f"{-age} s ahead"
        raise HTTPException(403, f"the request was signed {when}; at most {MAX_AGE_SECONDS} s either way is accepted")


async def raw_body(request: Request) -> bytes:
    return await request.body()


@router.post("/calls", status_code=202)
async def dialer_event(raw: Annotated[bytes, Depends(raw_body)], request: Request, db: DatabaseDep,
                       settings: SettingsDep, temporal: TemporalDep) -> dict:
    """Call outcomes on a lead's call task, and missed inbound calls (a callback task by the next
    business day). Signed: header `X-Cadence-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`,
    within five minutes. An event id has effect once; a repeat answers `"status": "duplicate"`."""
    if not settings.dialer_webhook_secret:
        raise HTTPException(503, "DIALER_WEBHOOK_SECRET is not set: dialer events are refused")
    verify_signature(raw, request.headers.get(SIGNATURE_HEADER), settings.dialer_webhook_secret.get_secret_value(),
                     time.time())
    try:
        event = CallEvent.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        errors = exc.errors() if isinstance(exc, ValidationError) else [{"loc": ["body"], "msg": str(exc)}]
        raise HTTPException(422, [{"loc": ["body", *e["loc"]], "msg": e["msg"]} for e in errors]) from None
    event_id = bounded_id(event.event_id)  # it names the follow-up task: bounded width
    record_id = f"dialer:{event_id}"
    found = await in_session(db, _call_target, event, event_id, record_id, settings)
    if isinstance(found, dict):
        return found
    lead, name, signal = found
    try:
        await lead_workflows.signal(temporal, settings, lead, name, signal)
    except lead_workflows.CadenceEnded as exc:
        raise HTTPException(409, {"msg": str(exc), "stage": lead.stage}) from None
    return await in_session(db, _record, event, record_id, lead.lead_id, name)


def _call_target(session, event: CallEvent, event_id: str, record_id: str,
                 settings) -> dict | tuple[lead_workflows.Reach, str, LeadEvent]:
    """The lead the call is about and the signal for it; the answer itself for a repeated event."""
    known = session.get(ProviderEvent, record_id)
    if known is not None:  # replayed or redelivered: no second effect
        return {"lead_id": known.lead_id, "event_id": event.event_id, "status": "duplicate"}
    if event.type == "call_completed":
        if not event.task_id or not event.outcome:
            raise HTTPException(422, [{"loc": ["body", "task_id" if not event.task_id else "outcome"],
                                       "msg": "call_completed needs task_id and outcome"}])
        task = session.get(Task, event.task_id)
        if task is None:
            raise HTTPException(404, f"no task with id {event.task_id!r}")
        lead = session.get(Lead, task.lead_id)
        signal = LeadEvent(type="task_completed", event_id=event_id, task_id=task.id,
                           outcome=event.outcome, channel="call")
        name = "task_completed"
    else:
        if not event.phone:
            raise HTTPException(422, [{"loc": ["body", "phone"], "msg": "missed_call needs the caller's phone"}])
        lead = lead_store.by_phone(session, event.phone)
        if lead is None:
            raise HTTPException(404, f"no lead with phone {event.phone}")
        signal = LeadEvent(type="missed_call", event_id=event_id, channel="call")
        name = "missed_call"
    return lead_workflows.reach(session, settings, lead), name, signal


def _record(session, event: CallEvent, record_id: str, lead_id: str, name: str) -> dict:
    record = provider_events.claim_id(
        session, record_id, event.type, lead_id, utcnow(),  # when it came
        {k: v for k, v in {"task_id": event.task_id, "outcome": event.outcome}.items() if v is not None},
    )
    if record is None:  # the same event, delivered twice at once: the other request recorded it
        session.rollback()
        return {"lead_id": lead_id, "event_id": event.event_id, "status": "duplicate"}
    record.effect = f"{name} signalled to lead {lead_id}"
    session.commit()
    return {"lead_id": lead_id, "event_id": event.event_id, "status": "accepted"}
