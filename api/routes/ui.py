"""A small web UI over the same reads and writes as the JSON API: leads, a lead's timeline, a rep's inbox.

Server-rendered with Jinja2 (autoescaped); the one write, completing a task, posts a form to
`POST /ui/tasks/{id}/complete`, which goes through the same route logic as the API.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.routes.tasks import complete_task
from api.schemas import TaskComplete
from domain.events import TASK_OUTCOMES
from persistence import leads as lead_store
from persistence import reports
from persistence.models import Lead

router = APIRouter(prefix="/ui", tags=["ui"], include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[2] / "templates" / "ui")
STAGES = ("new", "in_process", "qualified", "nurture", "not_interested")


@router.get("", response_class=HTMLResponse)
def leads_page(request: Request, session: SessionDep, stage: str | None = None, owner: str | None = None):
    stage = stage if stage in STAGES else None
    rows, total = lead_store.listing(session, stage=stage, owner=owner or None, limit=200)
    counts = Counter(dict(session.execute(select(Lead.stage, func.count()).group_by(Lead.stage)).all()))
    tasks, open_count = lead_store.tasks(session, owner=owner or None, status="open", limit=50)
    names = {lead.id: lead for lead in session.scalars(select(Lead).where(Lead.id.in_({t.lead_id for t in tasks})))}
    return templates.TemplateResponse(request, "leads.html", {
        "leads": rows, "total": total, "counts": counts, "stages": STAGES, "stage": stage, "owner": owner or "",
        "tasks": tasks, "open_count": open_count, "task_leads": names, "outcomes": TASK_OUTCOMES,
        "funnel": reports.funnel(session),
    })


@router.get("/leads/{lead_id}", response_class=HTMLResponse)
def lead_page(lead_id: str, request: Request, session: SessionDep):
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise HTTPException(404, f"no lead with id {lead_id!r}")
    touches, events = lead_store.timeline(session, lead_id)
    tasks, _ = lead_store.tasks(session, lead_id=lead_id, limit=200)
    timeline = sorted(
        [("touch", t.at or t.due_at, t) for t in touches] + [("event", e.at, e) for e in events],
        key=lambda item: (item[1] is None, item[1]))
    return templates.TemplateResponse(request, "lead.html", {
        "lead": lead, "timeline": timeline, "tasks": tasks, "outcomes": TASK_OUTCOMES})


@router.post("/tasks/{task_id}/complete")
def complete_from_form(task_id: str, session: SessionDep, settings: SettingsDep, temporal: TemporalDep,
                       outcome: Annotated[str, Form()], notes: Annotated[str | None, Form()] = None,
                       back: Annotated[str, Form()] = "/ui"):
    if outcome not in TASK_OUTCOMES:
        raise HTTPException(422, [{"loc": ["body", "outcome"], "msg": f"use one of {', '.join(TASK_OUTCOMES)}"}])
    complete_task(task_id, TaskComplete(outcome=outcome, notes=notes or None), session, settings, temporal)
    return RedirectResponse(back if back.startswith("/ui") else "/ui", status_code=303)
