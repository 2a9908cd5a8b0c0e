"""A small web UI over the same reads and writes as the JSON API: leads, a lead's timeline, a rep's inbox.

Server-rendered with Jinja2 (autoescaped), behind a login (`/ui/login`, email and password). What
a page shows follows the role: a rep sees its own leads and tasks only. Every form that changes
something carries the session's CSRF token, checked by this router's one dependency.
"""
from __future__ import annotations

import hmac
from collections import Counter
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select

from api.auth import credentials
from api.auth.deps import CSRF_FIELD, PageSessionDep, PrincipalDep, csrf_protect
from api.auth.directory import SESSION_COOKIE
from api.deps import LimitsDep, SessionDep, SettingsDep, TemporalDep
from api.rate_limits import RateLimited
from api.routes.tasks import complete_task
from api.schemas import TaskComplete
from domain.access import Permission
from domain.events import TASK_OUTCOMES
from persistence import identities
from persistence import leads as lead_store
from persistence import reports
from persistence.models import Lead

router = APIRouter(prefix="/ui", tags=["ui"], include_in_schema=False, dependencies=[Depends(csrf_protect)])
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[2] / "templates" / "ui")
STAGES = ("new", "in_process", "qualified", "nurture", "not_interested")
LOGIN_CSRF_COOKIE = "cadence_login_csrf"


def _page(request: Request, name: str, context: dict, status_code: int = 200) -> HTMLResponse:
    page = getattr(request.state, "page_session", None)
    return templates.TemplateResponse(request, name, {
        **context, "me": page.principal if page else None, "csrf_token": page.csrf_token if page else None,
        "csrf_field": CSRF_FIELD}, status_code=status_code)


# ---- login -----------------------------------------------------------------------------
def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/ui") and not target.startswith("/ui/login") else "/ui"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None):
    token = credentials.new_token()  # double-submit: a cross-site form cannot read or set this cookie
    response = _page(request, "login.html", {"next": _safe_next(next), "login_csrf": token, "error": None})
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/ui/login")
    return response


@router.post("/login")
def login(request: Request, session: SessionDep, settings: SettingsDep, limits: LimitsDep,
          email: Annotated[str, Form(max_length=320)], password: Annotated[str, Form(max_length=200)],
          csrf_token: Annotated[str, Form(max_length=100)] = "", next: Annotated[str, Form(max_length=500)] = "/ui"):
    email = email.strip().lower()
    client = request.client.host if request.client else "unknown"
    sent = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not sent or not hmac.compare_digest(sent, csrf_token):
        raise HTTPException(403, "the login form is out of date (CSRF check); reload the page")

    def refuse(message: str, status: int):
        fresh = credentials.new_token()
        response = _page(request, "login.html", {"next": _safe_next(next), "login_csrf": fresh, "error": message,
                                                  "email": email}, status_code=status)
        response.set_cookie(LOGIN_CSRF_COOKIE, fresh, httponly=True, samesite="strict", path="/ui/login")
        return response

    try:  # repeated failures slow an address and a client down
        limits.check(limits.failed_logins, "logins", "login", email)
        limits.check(limits.failed_logins_per_client, "logins", "login-client", client)
    except RateLimited as exc:
        response = refuse(f"Too many failed logins. Try again in {exc.retry_after} seconds.", 429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    user = identities.user_by_email(session, email)
    ok = credentials.password_matches(user.password_hash if user else None, password)
    if not ok or user is None or user.disabled_at is not None:
        limits.limiter.hit(limits.failed_logins, "login", email)
        limits.limiter.hit(limits.failed_logins_per_client, "login-client", client)
        return refuse("Wrong email or password.", 401)
    session_id, csrf = credentials.new_token(), credentials.new_token()
    identities.open_session(session, user, credentials.key_hash(session_id), csrf, settings.cadence_session_hours)
    session.commit()  # before the browser follows the redirect with its new cookie
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, credentials.sign_session(session_id, settings.secret()), httponly=True,
                        samesite="lax", secure=settings.cadence_public_url.startswith("https://"), path="/",
                        max_age=settings.cadence_session_hours * 3600)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui/login")
    return response


@router.post("/logout")
def logout(page: PageSessionDep, session: SessionDep):
    identities.close_session(session, page.id_hash)
    session.commit()
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# ---- pages -----------------------------------------------------------------------------
@router.get("", response_class=HTMLResponse)
def leads_page(request: Request, session: SessionDep, principal: PrincipalDep, stage: str | None = None,
               owner: str | None = None):
    stage = stage if stage in STAGES else None
    owner, visible = principal.owner_filter(owner or None)
    rows, total = lead_store.listing(session, stage=stage, owner=owner, limit=200) if visible else ([], 0)
    by_stage = select(Lead.stage, func.count()).group_by(Lead.stage)
    if principal.owner_scope:
        by_stage = by_stage.where(Lead.owner == principal.owner_scope)
    counts = Counter(dict(session.execute(by_stage).all()))
    tasks, open_count = lead_store.tasks(session, owner=owner, status="open", limit=50) if visible else ([], 0)
    names = {lead.id: lead for lead in session.scalars(select(Lead).where(Lead.id.in_({t.lead_id for t in tasks})))}
    return _page(request, "leads.html", {
        "leads": rows, "total": total, "counts": counts, "stages": STAGES, "stage": stage, "owner": owner or "",
        "tasks": tasks, "open_count": open_count, "task_leads": names, "outcomes": TASK_OUTCOMES,
        "funnel": reports.funnel(session) if principal.may(Permission.REPORTS_READ) else None,
    })


@router.get("/leads/{lead_id}", response_class=HTMLResponse)
def lead_page(lead_id: str, request: Request, session: SessionDep, principal: PrincipalDep):
    lead = session.get(Lead, lead_id)
    if lead is None or not principal.sees_owner(lead.owner):  # another rep's lead: as if it did not exist
        raise HTTPException(404, f"no lead with id {lead_id!r}")
    touches, events = lead_store.timeline(session, lead_id)
    tasks, _ = lead_store.tasks(session, lead_id=lead_id, limit=200)
    timeline = sorted(
        [("touch", t.at or t.due_at, t) for t in touches] + [("event", e.at, e) for e in events],
        key=lambda item: (item[1] is None, item[1]))
    return _page(request, "lead.html", {"lead": lead, "timeline": timeline, "tasks": tasks, "outcomes": TASK_OUTCOMES})


@router.post("/tasks/{task_id}/complete")
def complete_from_form(task_id: str, session: SessionDep, settings: SettingsDep, temporal: TemporalDep,
                       principal: PrincipalDep, outcome: Annotated[str, Form()],
                       notes: Annotated[str | None, Form(max_length=5000)] = None,
                       back: Annotated[str, Form(max_length=500)] = "/ui"):
    if outcome not in TASK_OUTCOMES:
        raise HTTPException(422, [{"loc": ["body", "outcome"], "msg": f"use one of {', '.join(TASK_OUTCOMES)}"}])
    complete_task(task_id, TaskComplete(outcome=outcome, notes=notes or None), session, settings, temporal, principal)
    return RedirectResponse(_safe_next(back), status_code=303)
