"""Webhooks from tools: the dialer (signed with a shared secret)."""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api import lead_workflows
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.schemas import E164
from domain.events import CALL_OUTCOMES, LeadEvent
from persistence import leads as lead_store
from persistence.models import Lead, Task

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
SIGNATURE_HEADER = "X-Cadence-Signature"


class CallEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")  # dialers add fields of their own

    event_id: str = Field(min_length=1, max_length=200)
    type: Literal["call_completed", "missed_call"]
    task_id: str | None = None
    phone: str | None = Field(None, pattern=E164.pattern)
    outcome: Literal[CALL_OUTCOMES] | None = None  # type: ignore[valid-type]
    at: datetime | None = None


def sign_body(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def raw_body(request: Request) -> bytes:
    return await request.body()


@router.post("/calls", status_code=202)
def dialer_event(raw: Annotated[bytes, Depends(raw_body)], request: Request, session: SessionDep,
                 settings: SettingsDep, temporal: TemporalDep) -> dict:
    """Call outcomes on a lead's call task, and missed inbound calls (a callback task by the next
    business day). Signed: header `X-Cadence-Signature: sha256=<hex HMAC-SHA256 of the raw body>`."""
    if not settings.dialer_webhook_secret:
        raise HTTPException(503, "DIALER_WEBHOOK_SECRET is not set: dialer events are refused")
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not hmac.compare_digest(given.encode(), sign_body(raw, settings.dialer_webhook_secret.get_secret_value()).encode()):
        raise HTTPException(401, f"missing or wrong {SIGNATURE_HEADER}")
    try:
        event = CallEvent.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        errors = exc.errors() if isinstance(exc, ValidationError) else [{"loc": ["body"], "msg": str(exc)}]
        raise HTTPException(422, [{"loc": ["body", *e["loc"]], "msg": e["msg"]} for e in errors]) from None
    if event.type == "call_completed":
        if not event.task_id or not event.outcome:
            raise HTTPException(422, [{"loc": ["body", "task_id" if not event.task_id else "outcome"],
                                       "msg": "call_completed needs task_id and outcome"}])
        task = session.get(Task, event.task_id)
        if task is None:
            raise HTTPException(404, f"no task with id {event.task_id!r}")
        lead = session.get(Lead, task.lead_id)
        signal = LeadEvent(type="task_completed", event_id=event.event_id, task_id=task.id,
                           outcome=event.outcome, channel="call")
        name = "task_completed"
    else:
        if not event.phone:
            raise HTTPException(422, [{"loc": ["body", "phone"], "msg": "missed_call needs the caller's phone"}])
        lead = lead_store.by_phone(session, event.phone)
        if lead is None:
            raise HTTPException(404, f"no lead with phone {event.phone}")
        signal = LeadEvent(type="missed_call", event_id=event.event_id, channel="call")
        name = "missed_call"
    try:
        lead_workflows.signal(session, settings, temporal, lead, name, signal)
    except lead_workflows.CadenceEnded as exc:
        raise HTTPException(409, {"msg": str(exc), "stage": lead.stage}) from None
    return {"lead_id": lead.id, "event_id": event.event_id, "status": "accepted"}
