"""Leads: enrol (start the cadence workflow), read with timeline, and send signals."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from api import enrolment, lead_workflows
from api.auth.deps import PrincipalDep
from api.auth.principal import Principal
from api.deps import DatabaseDep, LimitsDep, SessionDep, SettingsDep, TemporalDep, in_session, unprocessable
from api.schemas import (
    CadenceRef, EventPublic, LeadCreate, LeadDetail, LeadKnown, LeadPublic, LeadsPublic, NextTouchPublic,
    SignalAccepted, SignalBody, TouchPublic,
)
from domain.access import Permission
from domain.events import SIGNALS, LeadEvent
from domain.stages import ENDED_STATUSES, FINAL_STAGES
from persistence import leads as lead_store
from persistence.models import Lead

router = APIRouter(prefix="/leads", tags=["leads"])


def to_public(lead: Lead) -> dict:
    return dict(
        id=lead.id, email=lead.email, first_name=lead.first_name, last_name=lead.last_name, company=lead.company,
        title=lead.title, phone=lead.phone, timezone=lead.timezone, country=lead.country, source=lead.source,
        source_detail=lead.source_detail, owner=lead.owner, custom=lead.custom or {}, rank=lead.rank,
        stage=lead.stage, stage_reason=lead.stage_reason, stage_changed_at=lead.stage_changed_at, level=lead.level,
        status=lead.status, cadence=CadenceRef(name=lead.cadence_name, version=lead.cadence_version),
        workflow_id=lead.workflow_id,
        next_touch=NextTouchPublic(**lead.next_touch) if lead.next_touch else None,
        created_at=lead.created_at, last_contact_at=lead.last_contact_at,
    )


@router.post("", status_code=201, response_model=LeadPublic,
             responses={200: {"model": LeadPublic | LeadKnown,
                              "description": "Known email: the existing lead (only its id and status for "
                                             "callers that may not read leads, such as integrations)"}})
async def create_lead(body: LeadCreate, db: DatabaseDep, settings: SettingsDep,
                      temporal: TemporalDep, principal: PrincipalDep):
    try:
        admitted = await enrolment.enrol(db, settings, temporal, body)
    except enrolment.Refused as exc:
        raise unprocessable(exc.field, exc.message) from None
    return to_public(admitted.lead) if admitted.new else _known(admitted.lead, principal)


def _known(lead: Lead, principal: Principal):
    """The answer for an email Cadence knows: a web form must not learn a person's record from it."""
    if principal.may(Permission.LEADS_READ) and principal.sees_owner(lead.owner):
        return JSONResponse(LeadPublic(**to_public(lead)).model_dump(mode="json"), status_code=200)
    return JSONResponse({"id": lead.id, "status": lead.status}, status_code=200)


@router.get("", response_model=LeadsPublic)
def list_leads(session: SessionDep, principal: PrincipalDep,
               stage: Annotated[str | None, Query(pattern="^(new|in_process|qualified|nurture|not_interested)$")] = None,
               rank: Annotated[str | None, Query(pattern="^[ABCD]$")] = None,
               owner: str | None = None, cadence: str | None = None,
               q: Annotated[str | None, Query(max_length=200, description="words in the name, email or company")] = None,
               cursor: Annotated[str | None, Query(max_length=200, description="`next_cursor` of the page before")] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 50,
               offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict:
    owner, visible = principal.owner_filter(owner)  # a rep lists only its own
    if not visible:
        return {"data": [], "count": 0, "next_cursor": None}
    try:
        after = lead_store.Cursor.decode(cursor) if cursor else None
    except lead_store.BadCursor as exc:
        raise unprocessable("cursor", str(exc), location="query") from None
    if after is not None and offset:
        raise unprocessable("offset", "give a cursor or an offset, not both", location="query")
    if offset:
        rows, total = lead_store.listing(session, stage=stage, rank=rank, owner=owner, cadence=cadence, q=q,
                                         limit=limit, offset=offset)
        nxt = lead_store.Cursor.of(rows[-1]) if len(rows) == limit else None
    else:
        found = lead_store.page(session, stage=stage, rank=rank, owner=owner, cadence=cadence, q=q, after=after,
                                limit=limit)
        rows, total, nxt = found.rows, found.total, found.older
    return {"data": [to_public(r) for r in rows], "count": total, "next_cursor": nxt.encode() if nxt else None}


def _lead_or_404(session, lead_id: str, principal: Principal) -> Lead:
    """Another rep's lead is a 404 too: the answer must not tell that it exists."""
    lead = session.get(Lead, lead_id)
    if lead is None or not principal.sees_owner(lead.owner):
        raise HTTPException(404, f"no lead with id {lead_id!r}")
    return lead


@router.get("/{lead_id}", response_model=LeadDetail)
def get_lead(lead_id: str, session: SessionDep, principal: PrincipalDep) -> dict:
    lead = _lead_or_404(session, lead_id, principal)
    touches, events = lead_store.timeline(session, lead_id)
    return {
        **to_public(lead),
        "touches": [TouchPublic(id=t.id, step=t.step, step_id=t.step_id, channel=t.channel, status=t.status,
                                due_at=t.due_at, at=t.at, subject=t.subject, variant=t.variant, detail=t.detail,
                                delivery=t.delivery, opens=t.opens or 0, clicks=t.clicks or 0)
                    for t in touches],
        "events": [EventPublic(type=e.type, event_id=e.event_id, at=e.at, **(e.data or {})) for e in events],
    }


SignalName = Annotated[str, Path(description=f"one of {', '.join(SIGNALS)}")]


@router.post("/{lead_id}/signals/{name}", status_code=202, response_model=SignalAccepted)
async def send_signal(lead_id: str, name: SignalName, db: DatabaseDep, settings: SettingsDep, temporal: TemporalDep,
                      principal: PrincipalDep, limits: LimitsDep, body: SignalBody | None = None) -> dict:
    if name not in SIGNALS:
        raise HTTPException(404, f"unknown signal {name!r}; use one of {', '.join(SIGNALS)}")
    body = body or SignalBody()
    lead, event = await in_session(db, _signal_to_send, lead_id, name, body, settings, principal, limits)
    try:
        await lead_workflows.signal(temporal, settings, lead, name, event)
    except lead_workflows.CadenceEnded as exc:
        raise HTTPException(409, {"msg": str(exc), "stage": lead.stage, "status": lead.status}) from None
    return {"lead_id": lead_id, "signal": name, "event_id": event.event_id}


def _signal_to_send(session, lead_id: str, name: str, body: SignalBody, settings, principal: Principal,
                    limits) -> tuple[lead_workflows.Reach, LeadEvent]:
    """The checks and database writes of a signal, in one short session before Temporal is called."""
    lead = _lead_or_404(session, lead_id, principal)
    limits.hit(limits.per_lead_signal, f"signals to lead {lead_id}", "signal", lead_id)
    if lead.status in ENDED_STATUSES or lead.stage in FINAL_STAGES:
        raise HTTPException(409, {"msg": f"the cadence of lead {lead_id} has ended", "stage": lead.stage,
                                  "status": lead.status})
    event = _event_for(name, body, lead)
    if name == "contact_updated":  # committed first: the workflow's next send reads the new address
        lead.email = body.email or lead.email
        lead.phone = body.phone or lead.phone
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise unprocessable("email", f"another lead already has the email {body.email}") from None
    return lead_workflows.reach(session, settings, lead), event


def _event_for(name: str, body: SignalBody, lead: Lead) -> LeadEvent:
    today = datetime.now(ZoneInfo(lead.timezone)).date()  # dates in a reply are the lead's calendar
    if name == "reply" and body.intent is None:
        if not body.text:
            raise unprocessable("intent", "give an intent, or the reply text to classify")
        from messaging.classifier import classify  # deterministic rules; see its module

        body.intent = classify(body.text, today=today).intent
    if name == "reply" and body.intent == "out_of_office" and body.return_date is None and body.text:
        from messaging.classifier import find_return_date  # the date the text states, if any

        body.return_date = find_return_date(body.text, today)
    if name == "call_outcome" and body.outcome is None:
        raise unprocessable("outcome", "is required for call_outcome")
    if name == "reassign" and not body.owner:
        raise unprocessable("owner", "is required for reassign")
    answers = {q: getattr(body, q) for q in ("need", "budget", "authority", "timeline")}
    if name == "qualify" and all(v is None for v in answers.values()):
        raise unprocessable("need", "qualify needs at least one of need, budget, authority, timeline")
    changed = [f for f in ("email", "phone") if getattr(body, f) is not None]
    if name == "contact_updated" and not changed:
        raise unprocessable("email", "contact_updated needs the new email or phone")
    return LeadEvent(
        type=name, event_id=body.event_id or f"api-{uuid.uuid4().hex}", channel=body.channel, intent=body.intent,
        outcome=body.outcome, text=body.text, return_date=body.return_date.isoformat() if body.return_date else None,
        answers=answers if name == "qualify" else {}, notes=body.notes, owner=body.owner, changed=changed,
    )
