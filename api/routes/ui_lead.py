"""A lead's page: its timeline (emails as sent, replies and their intent, stage changes, tasks)
and what a person does with the lead (pause, resume, stop, qualify, disqualify, reassign, correct a
reply's intent). Every action is the JSON API's `send_signal`, so it has the same checks and effects."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from api.deps import DatabaseDep, LimitsDep, SessionDep, SettingsDep, TemporalDep, in_session
from api.auth.deps import PrincipalDep
from api.routes.leads import _lead_or_404, send_signal
from api.routes.ui import _page, describe, page_router, task_cards, viewer_tz
from api.schemas import SignalBody
from domain.access import Permission
from domain.events import INTENTS, QUALIFICATION_QUESTIONS, LeadEvent, decide
from domain.stages import ENDED_STATUSES, FINAL_STAGES, Stage
from persistence import leads as lead_store
from persistence.models import Lead, LeadEventRecord, OutboxEmail, Rep

router = page_router()
REPLIES = ("reply", "unverified_reply")
CORRECTION = "correct-"  # event id prefix of a corrected reply intent: correct-<record id>-<intent>
# What a person can do from the page, and what the notice after it says.
ACTIONS = {
    "pause": "Paused: no touches go out until it is resumed.",
    "resume": "Resumed: the cadence goes on from where it was.",
    "stop": "Stopped: this lead's cadence has ended.",
    "qualify": "Qualification answers sent.",
    "disqualify": "Disqualified: the lead is not interested.",
    "reassign": "Reassigned: the lead and its open tasks move to the new owner.",
    "reply": "Intent corrected: the cadence takes the reply again with the intent you chose.",
}


@dataclass
class StageChange:
    at: datetime
    stage: str
    reason: str | None
    before: str


def stage_changes(lead: Lead, events: list[LeadEventRecord]) -> list[StageChange]:
    """The stage changes the recorded events made, found with the workflow's own `decide`; a
    change without an event (the cadence ran out, the lead went quiet) is the lead's last one."""
    stage, reason, changes = "new", None, []
    for record in events:
        data = record.data or {}
        if data.get("ignored") or stage in FINAL_STAGES:
            continue
        if record.type == "re_engaged":
            decision_stage, decision_reason = ("in_process", "re_engaged") if stage == "nurture" else (None, None)
        else:
            try:
                decision = decide(Stage(stage), LeadEvent(
                    type=record.type, event_id=record.event_id, intent=data.get("intent"),
                    outcome=data.get("outcome"), answers=data.get("answers") or {}, changed=data.get("changed") or []))
            except ValueError:  # moves no stage (migrations, task moves)
                continue
            decision_stage, decision_reason = decision.stage, decision.reason
        if decision_stage and (decision_stage != stage or decision_reason != reason):
            changes.append(StageChange(record.at, str(decision_stage), decision_reason and str(decision_reason), stage))
            stage, reason = str(decision_stage), decision_reason and str(decision_reason)
    if (lead.stage, lead.stage_reason) != (stage, reason) and lead.stage_changed_at:
        changes.append(StageChange(lead.stage_changed_at, lead.stage, lead.stage_reason, stage))
    return changes


def email_bodies(session, lead_id: str) -> dict[str, str]:
    """The text of each email as it went out, from its outbox copy (the request SendGrid gets)."""
    bodies = {}
    for row in session.scalars(select(OutboxEmail).where(OutboxEmail.lead_id == lead_id)):
        content = (row.request or {}).get("content") or []
        text = next((c.get("value") for c in content if c.get("type") == "text/plain"), None)
        if text:
            bodies[row.touch_id] = text
    return bodies


def timeline(session, lead: Lead) -> list[dict[str, Any]]:
    """Everything that happened to the lead, newest first."""
    touches, events = lead_store.timeline(session, lead.id)
    bodies = email_bodies(session, lead.id)
    corrections: dict[int, str] = {}
    for e in events:
        if e.type == "reply" and e.event_id.startswith(CORRECTION):
            record_id = e.event_id[len(CORRECTION):].split("-", 1)[0]
            if record_id.isdigit():
                corrections[int(record_id)] = (e.data or {}).get("intent")
    items: list[dict[str, Any]] = []
    for t in touches:
        items.append({"kind": "touch", "at": t.at or t.due_at, "touch": t, "body": bodies.get(t.id)})
    for e in events:
        data = e.data or {}
        corrected = e.event_id.startswith(CORRECTION) and e.type == "reply"
        items.append({"kind": "correction" if corrected else "event", "at": e.at, "event": e, "data": data,
                      "corrected_to": corrections.get(e.id)})
    for change in stage_changes(lead, events):
        items.append({"kind": "stage", "at": change.at, "change": change})
    order = {"stage": 0, "event": 1, "correction": 1, "touch": 2}  # a change shows above its cause
    items.sort(key=lambda item: (item["at"] is not None, item["at"] or datetime.min, order[item["kind"]]),
               reverse=True)
    return items


@router.get("/leads/{lead_id}", response_class=HTMLResponse)
def lead_page(lead_id: str, request: Request, session: SessionDep, principal: PrincipalDep,
              sent: str | None = None):
    lead = _lead_or_404(session, lead_id, principal)  # another rep's lead: as if it did not exist
    tasks, _ = lead_store.tasks(session, lead_id=lead_id, owner=principal.owner_scope, limit=200)
    tz = viewer_tz(request)
    cards = task_cards(session, tasks, tz, principal)
    reps = session.scalars(select(Rep).order_by(Rep.name)).all() if principal.may(Permission.REPS_READ) else []
    owner = session.get(Rep, lead.owner) if lead.owner else None
    return _page(request, "lead.html", {
        "lead": lead, "owner": owner, "items": timeline(session, lead), "open_cards": [c for c in cards if
                                                                                      c.task.status == "open"],
        "closed_tasks": [c.task for c in cards if c.task.status != "open"], "reps": reps,
        "ended": lead.status in ENDED_STATUSES or lead.stage in FINAL_STAGES, "intents": INTENTS,
        "questions": QUALIFICATION_QUESTIONS, "notice": ACTIONS.get(sent or ""),
        "may_signal": principal.may(Permission.LEADS_SIGNAL), "back": f"/ui/leads/{lead.id}",
    })


def _answer(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get((value or "").lower())


async def _signal(lead_id: str, name: str, body: dict, db, settings, temporal, principal, limits):
    """The JSON API's signal route, with the form's fields; a refusal comes back as a page."""
    try:
        signal_body = SignalBody(**body)
    except ValidationError as exc:
        raise HTTPException(422, describe(list(exc.errors()))) from None
    await send_signal(lead_id, name, db, settings, temporal, principal, limits, signal_body)
    return RedirectResponse(f"/ui/leads/{lead_id}?sent={name}", status_code=303)


@router.post("/leads/{lead_id}/signals/{name}")
async def lead_action(lead_id: str, name: str, db: DatabaseDep, settings: SettingsDep,
                      temporal: TemporalDep, principal: PrincipalDep, limits: LimitsDep,
                notes: Annotated[str | None, Form(max_length=5000)] = None,
                owner: Annotated[str | None, Form(max_length=64)] = None,
                need: Annotated[str | None, Form(max_length=5)] = None,
                budget: Annotated[str | None, Form(max_length=5)] = None,
                authority: Annotated[str | None, Form(max_length=5)] = None,
                timeline_: Annotated[str | None, Form(alias="timeline", max_length=5)] = None):
    if name not in ACTIONS or name == "reply":
        raise HTTPException(404, f"no action {name!r} on this page")
    body: dict[str, Any] = {"notes": (notes or "").strip() or None}
    if name == "qualify":
        body.update(need=_answer(need), budget=_answer(budget), authority=_answer(authority),
                    timeline=_answer(timeline_))
    if name == "reassign":
        body["owner"] = (owner or "").strip() or None
    return await _signal(lead_id, name, body, db, settings, temporal, principal, limits)


@router.post("/leads/{lead_id}/replies/{record_id}/intent")
async def correct_intent(lead_id: str, record_id: int, db: DatabaseDep, settings: SettingsDep,
                         temporal: TemporalDep, principal: PrincipalDep, limits: LimitsDep,
                         intent: Annotated[str, Form(max_length=20)]):
    """A reply read wrongly: the `reply` signal again, with the right intent and a new event id
    (the same correction twice has effect once)."""
    body = await in_session(db, _correction, lead_id, record_id, intent, principal)
    return await _signal(lead_id, "reply", body, db, settings, temporal, principal, limits)


def _correction(session, lead_id: str, record_id: int, intent: str, principal) -> dict[str, Any]:
    lead = _lead_or_404(session, lead_id, principal)
    record = session.get(LeadEventRecord, record_id)
    if record is None or record.lead_id != lead.id or record.type not in REPLIES:
        raise HTTPException(404, f"no reply {record_id} on lead {lead_id}")
    if intent not in INTENTS:
        raise HTTPException(422, [{"loc": ["body", "intent"], "msg": f"use one of {', '.join(INTENTS)}"}])
    data = record.data or {}
    before = data.get("intent") or ("unverified" if record.type == "unverified_reply" else "unknown")
    return {"event_id": f"{CORRECTION}{record.id}-{intent}", "intent": intent, "text": data.get("text"),
            "notes": f"intent corrected from {before} (reply {record.event_id})"[:5000]}
