"""Leads: enrol (start the cadence workflow), read with timeline, and send signals."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api import lead_workflows
from api.auth.deps import PrincipalDep
from api.auth.principal import Principal
from api.deps import LimitsDep, SessionDep, SettingsDep, TemporalDep, unprocessable
from api.schemas import (
    CadenceRef, EventPublic, LeadCreate, LeadDetail, LeadKnown, LeadPublic, LeadsPublic, NextTouchPublic,
    SignalAccepted, SignalBody, TouchPublic,
)
from domain.access import Permission
from domain.events import SIGNALS, LeadEvent
from domain.ranks import NURTURE_CADENCE, UnknownSource, is_higher, rank_for
from domain.stages import ENDED_STATUSES, FINAL_STAGES
from persistence import cadences as cadence_store
from persistence import leads as lead_store
from persistence import ranking as ranking_store
from persistence import reps as rep_store
from persistence.models import Lead
from workflows.lead_cadence import workflow_id_for
from workflows.messages import MigrateRequest

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
def create_lead(body: LeadCreate, session: SessionDep, settings: SettingsDep,
                temporal: TemporalDep, principal: PrincipalDep):
    ranking = ranking_store.current(session)  # read per request: a PUT /ranking applies to the next lead
    try:
        by_source = rank_for(body.source, ranking.sources)  # an unknown source is an error even with a rank
        rank = body.rank or by_source
    except UnknownSource as exc:
        raise unprocessable("source", str(exc)) from None
    existing = lead_store.by_email(session, body.email)
    if existing is not None:
        _reengage(existing, body, rank, ranking, session, temporal)
        return _known(existing, principal)
    cadence_name = body.cadence or ranking.cadences[rank]
    cadence_row = cadence_store.latest(session, cadence_name)
    if cadence_row is None:
        raise unprocessable("cadence", f"unknown cadence {cadence_name!r}; see GET /cadences")
    if cadence_store.is_archived(session, cadence_name):
        raise unprocessable("cadence", f"cadence {cadence_name!r} is archived and takes no new leads")
    if cadence_store.latest(session, NURTURE_CADENCE) is None:
        raise HTTPException(503, "the nurture cadence is not loaded; run `python -m scripts.load_cadences`")
    lead_id = lead_store.new_lead_id()
    timezone = body.timezone or settings.cadence_default_timezone
    # No owner given: the routing rules pick one (territory, rank, round-robin) when reps exist.
    owner = body.owner or rep_store.assign_owner(session, body.country, rank)
    try:
        lead = lead_store.add(
            session, id=lead_id, workflow_id=workflow_id_for(lead_id), rank=rank, cadence_name=cadence_row.name,
            cadence_version=cadence_row.version, timezone=timezone,
            owner=owner, **body.model_dump(exclude={"rank", "cadence", "timezone", "owner"}),
        )
        # Committed before the workflow starts: its first activity writes to this row.
        session.commit()
    except IntegrityError:  # the same email enrolled concurrently: that lead is the answer
        session.rollback()
        return _known(lead_store.by_email(session, body.email), principal)
    try:
        lead_workflows.start(session, settings, temporal, lead)
    except (HTTPException, lead_workflows.CadenceEnded):
        session.delete(lead)  # nothing is left half-written
        session.commit()
        raise HTTPException(503, "could not start the cadence workflow; is Temporal reachable? see /healthz") from None
    return to_public(lead)


def _known(lead: Lead, principal: Principal):
    """The answer for an email Cadence knows: a web form must not learn a person's record from it."""
    if principal.may(Permission.LEADS_READ) and principal.sees_owner(lead.owner):
        return JSONResponse(LeadPublic(**to_public(lead)).model_dump(mode="json"), status_code=200)
    return JSONResponse({"id": lead.id, "status": lead.status}, status_code=200)


def _reengage(lead: Lead, body: LeadCreate, rank: str, ranking, session, temporal) -> None:
    """A new inquiry from a known lead (SPEC 2.7): a higher rank moves it to that rank's cadence,
    and a lead in nurture re-enters; anything else leaves the running cadence alone."""
    if lead.status in ENDED_STATUSES or lead.stage in FINAL_STAGES:
        return  # its answer is in: a person decides what comes next
    upgrade = is_higher(rank, lead.rank)
    if not upgrade and lead.stage != "nurture":
        return
    rank = rank if upgrade else lead.rank
    cadence_name = body.cadence or ranking.cadences[rank]
    row = cadence_store.latest(session, cadence_name)
    if row is None or cadence_store.is_archived(session, cadence_name):
        return  # nothing better to move to: the lead goes on as it is
    # The same inquiry twice (a double-submitted form) is one update: same lead state, same target.
    update_id = f"reengage-{lead.id}-{row.name}-v{row.version}-{lead.revision}"
    request = MigrateRequest(cadence_store.snapshot(row), update_id, reengage=True, source=body.source)
    try:
        plan = lead_workflows.update(temporal, lead, request, update_id)
    except (WorkflowUpdateFailedError, RPCError):
        return  # the cadence ended meanwhile: the lead is returned as it is
    if plan is None or not plan.note:  # applied, or accepted and applied right after the current step
        lead.rank, lead.cadence_name, lead.cadence_version = rank, row.name, row.version
        session.commit()
        session.refresh(lead)


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
def send_signal(lead_id: str, name: SignalName, session: SessionDep, settings: SettingsDep, temporal: TemporalDep,
                principal: PrincipalDep, limits: LimitsDep, body: SignalBody | None = None) -> dict:
    if name not in SIGNALS:
        raise HTTPException(404, f"unknown signal {name!r}; use one of {', '.join(SIGNALS)}")
    body = body or SignalBody()
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
    try:
        lead_workflows.signal(session, settings, temporal, lead, name, event)
    except lead_workflows.CadenceEnded as exc:
        raise HTTPException(409, {"msg": str(exc), "stage": lead.stage, "status": lead.status}) from None
    return {"lead_id": lead_id, "signal": name, "event_id": event.event_id}


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
