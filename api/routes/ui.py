"""The web UI over the same reads and writes as the JSON API: a rep's day, leads, a lead's timeline.

Server-rendered with Jinja2 (autoescaped), behind a login (`/ui/login`, email and password). What
a page shows follows the role: a rep sees its own leads and tasks only, and lands on its inbox.
Every form works without JavaScript; htmx (shipped in /static) turns some of them into in-place
updates. Every write carries the session's CSRF token (a form field, or the `X-CSRF-Token` header
htmx sends), checked by the routers' one dependency. Writes call the JSON API's route functions,
so a page and the API cannot disagree about what an action does.

This module holds what every page shares (the templates, the layout's context, error pages, times
in the viewer's timezone); the lead page is `ui_lead.py`, settings `ui_settings.py`.
"""
from __future__ import annotations

import hmac
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from markupsafe import Markup
from sqlalchemy import func, select

from api.auth import credentials
from api.auth.deps import CSRF_FIELD, PageSessionDep, PrincipalDep, csrf_protect
from api.auth.directory import SESSION_COOKIE
from api.auth.principal import Principal
from api.deps import DatabaseDep, LimitsDep, SessionDep, SettingsDep, TemporalDep, in_session
from api.rate_limits import RateLimited
from api.routes.tasks import complete_task
from api.schemas import TaskComplete
from domain.access import OWNER_SCOPED, Permission, Role
from domain.events import CALL_OUTCOMES, TASK_OUTCOMES
from persistence import identities
from persistence import leads as lead_store
from persistence import reports
from persistence.models import CadenceVersion, Lead, LeadEventRecord, Rep, Task, Touch

templates = Jinja2Templates(directory=Path(__file__).resolve().parents[2] / "templates" / "ui")
STAGES = ("new", "in_process", "qualified", "nurture", "not_interested")
RANKS = ("A", "B", "C", "D")
LOGIN_CSRF_COOKIE = "cadence_login_csrf"
TZ_COOKIE = "cadence_tz"  # the browser's timezone, set by static/cadence.js; UTC without it
SENT = ("sent", "outboxed", "unknown")  # email touches that (may) have gone out
PAGE_SIZE = 25


# ---- what every page shares ------------------------------------------------------------
def viewer_tz(request: Request) -> ZoneInfo:
    name = request.cookies.get(TZ_COOKIE) or "UTC"
    try:
        return ZoneInfo(name) if len(name) <= 64 else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def today_bounds(tz: ZoneInfo, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The viewer's calendar day, in UTC: a task due before its start is overdue."""
    local = (now or datetime.now(timezone.utc)).astimezone(tz).date()
    start = datetime.combine(local, time(), tz).astimezone(timezone.utc)
    end = datetime.combine(local + timedelta(days=1), time(), tz).astimezone(timezone.utc)
    return start, end


def overdue_count(session, principal: Principal, tz: ZoneInfo) -> int:
    start, _ = today_bounds(tz)
    query = select(func.count()).select_from(Task).where(Task.status == "open", Task.due_at < start)
    if principal.owner_scope:
        query = query.where(Task.owner == principal.owner_scope)
    return session.scalar(query) or 0


def _layout(request: Request) -> dict[str, Any]:
    """The layout's context for every page rendered with `templates`: who is logged in, the CSRF
    token, the viewer's timezone and the overdue count in the header."""
    page = getattr(request.state, "page_session", None)
    principal = page.principal if page else None
    tz = viewer_tz(request)
    overdue = None
    if principal is not None and principal.may(Permission.TASKS_READ):
        with request.app.state.db.session() as session:
            overdue = overdue_count(session, principal, tz)
    return {"me": principal, "csrf_token": page.csrf_token if page else None, "csrf_field": CSRF_FIELD,
            "tz": tz, "overdue_count": overdue, "path": request.url.path,
            "may": (lambda permission: principal is not None and principal.may(Permission(permission)))}


templates.context_processors.append(_layout)


def _local(context, at: datetime) -> datetime:
    return at.astimezone(context.get("tz") or timezone.utc)


def _when(context, at: datetime | None, with_time: bool = True) -> Markup:
    """A time as people read it: "today 14:05", "tomorrow 09:00", "Mon 14:05", "12 Jan 14:05"."""
    if at is None:
        return Markup('<span class="muted">—</span>')
    local = _local(context, at)
    today = datetime.now(local.tzinfo).date()
    days = (local.date() - today).days
    clock = f" {local:%H:%M}" if with_time else ""
    if days == 0:
        label = "today" + clock
    elif days == 1:
        label = "tomorrow" + clock
    elif days == -1:
        label = "yesterday" + clock
    elif -6 <= days <= 6:
        label = f"{local:%a}" + clock
    elif local.year == today.year:
        label = f"{local.day} {local:%b}" + clock
    else:
        label = f"{local.day} {local:%b %Y}"
    full = f"{local:%A %d %B %Y, %H:%M} {local.tzname()}"
    return Markup('<time datetime="{}" title="{}">{}</time>').format(at.isoformat(), full, label)


def _when_iso(context, text: str | None) -> Markup:
    try:
        return _when(context, datetime.fromisoformat(text)) if text else _when(context, None)
    except ValueError:
        return Markup("{}").format(text)


def _day(context, text: str) -> str:
    """An ISO date as "today", "tomorrow" or "Mon 5 Jan"."""
    day = datetime.fromisoformat(text).date() if isinstance(text, str) else text
    today = datetime.now(context.get("tz") or timezone.utc).date()
    return {0: "today", 1: "tomorrow"}.get((day - today).days, f"{day:%a} {day.day} {day:%b}")


def _label(value: str | None) -> str:
    return (value or "").replace("_", " ")


CHANNELS = {"email": "Email", "call": "Call", "linkedin": "LinkedIn", "sms": "SMS", "manual_email": "Email to write",
            "task": "Task"}
TASK_KINDS = {"step": "", "follow_up": "Follow up", "hand_off": "Hand off", "callback": "Call back"}
OUTCOMES = {"done": "Done", "skipped": "Skipped", "connected_positive": "Connected: interested",
            "connected_neutral": "Connected: follow up", "connected_negative": "Connected: not interested",
            "voicemail": "Left a voicemail", "no_answer": "No answer", "wrong_number": "Wrong number"}
templates.env.filters.update(
    when=pass_context(_when), when_iso=pass_context(_when_iso), day=pass_context(_day),
    label=_label,
    channel=lambda c: CHANNELS.get(c, _label(c).capitalize()), outcome=lambda o: OUTCOMES.get(o, _label(o)),
)
templates.env.globals.update(STAGES=STAGES, RANKS=RANKS, CALL_OUTCOMES=CALL_OUTCOMES, OUTCOMES=OUTCOMES,
                             TASK_KINDS=TASK_KINDS)


def describe(detail: Any) -> str:
    """An HTTPException's detail in words (the API's details are strings, dicts or 422 lists)."""
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = [str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path")]
                parts.append(f"{'.'.join(loc)}: {item.get('msg')}" if loc else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    if isinstance(detail, dict):
        words = str(detail.get("msg") or detail.get("detail") or detail)
        return words + (f" (stage: {_label(detail['stage'])})" if detail.get("stage") else "")
    return str(detail)


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


TITLES = {400: "That did not work", 401: "Log in first", 403: "Not allowed", 404: "Not found",
          409: "Already changed", 422: "Please check the form", 429: "Too many requests", 503: "Temporarily unavailable"}


def error_page(request: Request, status: int, message: str, headers: dict | None = None) -> Response:
    """A failed page request as a page (or, for htmx, a fragment its script shows as a notice)."""
    if is_htmx(request):
        return HTMLResponse(Markup('<p class="notice error" role="alert" data-error>{}</p>').format(message),
                            status_code=status, headers=headers)
    return templates.TemplateResponse(request, "error.html", {
        "status": status, "title": TITLES.get(status, "Something went wrong"), "message": message,
    }, status_code=status, headers=headers)


class PageRoute(APIRoute):
    """Routes of the UI answer errors as pages, not as the API's JSON."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as exc:
                return error_page(request, exc.status_code, describe(exc.detail), getattr(exc, "headers", None))
            except RequestValidationError as exc:
                return error_page(request, 422, describe(list(exc.errors())))
        return page_handler


def page_router(**options) -> APIRouter:
    """A router for UI pages: under /ui, CSRF-checked, errors as pages."""
    return APIRouter(prefix="/ui", tags=["ui"], include_in_schema=False, route_class=PageRoute,
                     dependencies=[Depends(csrf_protect)], **options)


router = page_router()


def _page(request: Request, name: str, context: dict, status_code: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def done(request: Request, back: str, fragment: str | None = None, context: dict | None = None) -> Response:
    """After a write: the changed fragment for htmx, else back to the page (post/redirect/get)."""
    if fragment and is_htmx(request):
        return _page(request, fragment, context or {})
    return RedirectResponse(safe_next(back), status_code=303)


def safe_next(target: str | None, default: str = "/ui") -> str:
    ok = target and target.startswith("/ui") and not target.startswith("/ui/login") and "//" not in target
    return target if ok else default


# ---- login -----------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None):
    token = credentials.new_token()  # double-submit: a cross-site form cannot read or set this cookie
    response = _page(request, "login.html", {"next": safe_next(next), "login_csrf": token, "error": None})
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/ui/login")
    return response


@router.post("/login")
def login(request: Request, session: SessionDep, settings: SettingsDep, limits: LimitsDep,
          email: Annotated[str, Form(max_length=320)], password: Annotated[str, Form(max_length=200)],
          csrf_token: Annotated[str, Form(max_length=100)] = "", next: Annotated[str, Form(max_length=500)] = "/ui"):
    email = email.strip().lower()
    client = request.client.host if request.client else "unknown"
    sent = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not sent or not hmac.compare_digest(sent.encode(), csrf_token.encode()):
        raise HTTPException(403, "the login form is out of date (CSRF check); reload the page")

    def refuse(message: str, status: int):
        fresh = credentials.new_token()
        response = _page(request, "login.html", {"next": safe_next(next), "login_csrf": fresh, "error": message,
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
    target = safe_next(next)
    if target == "/ui" and Role(user.role) in OWNER_SCOPED:
        target = "/ui/inbox"  # a rep's day starts with its work
    response = RedirectResponse(target, status_code=303)
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


# ---- leads -----------------------------------------------------------------------------
@router.get("", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, principal: PrincipalDep):
    """Ops and admins land on the leads, a rep on its day."""
    if principal.owner_scope:  # an old link with filters still finds the leads
        query = request.url.query
        return RedirectResponse(f"/ui/leads?{query}" if query else "/ui/inbox", status_code=303)
    return leads_page(request, session, principal)


def _cursor(text: str | None) -> lead_store.Cursor | None:
    try:
        return lead_store.Cursor.decode(text) if text else None
    except lead_store.BadCursor:
        raise HTTPException(422, "this page link is not valid any more; start from the first page") from None


@router.get("/leads", response_class=HTMLResponse)
def leads_page(request: Request, session: SessionDep, principal: PrincipalDep):
    params = request.query_params
    stage = params.get("stage") if params.get("stage") in STAGES else None
    rank = params.get("rank") if params.get("rank") in RANKS else None
    q = (params.get("q") or "").strip()[:200] or None
    cadence = (params.get("cadence") or "").strip()[:100] or None
    try:
        limit = min(max(int(params.get("limit") or PAGE_SIZE), 1), 100)
    except ValueError:
        limit = PAGE_SIZE
    owner, visible = principal.owner_filter((params.get("owner") or "").strip()[:64] or None)
    after, before = _cursor(params.get("after")), _cursor(params.get("before"))
    found = (lead_store.page(session, stage=stage, rank=rank, owner=owner, cadence=cadence, q=q, after=after,
                             before=before, limit=limit)
             if visible else lead_store.LeadPage([], 0, None, None))
    by_stage = select(Lead.stage, func.count()).group_by(Lead.stage)
    if principal.owner_scope:
        by_stage = by_stage.where(Lead.owner == principal.owner_scope)
    counts = Counter(dict(session.execute(by_stage).all()))
    filters = {k: v for k, v in (("q", q), ("stage", stage), ("rank", rank), ("cadence", cadence),
                                 ("owner", None if principal.owner_scope else owner)) if v}
    if limit != PAGE_SIZE:
        filters["limit"] = str(limit)

    def link(**changes) -> str:
        merged = {**filters, **changes}
        query = urlencode({k: v for k, v in merged.items() if v})
        return "/ui/leads" + (f"?{query}" if query else "")
    cadences = sorted(set(session.scalars(select(CadenceVersion.name))))
    reps = session.scalars(select(Rep).order_by(Rep.name)).all() if principal.may(Permission.REPS_READ) else []
    return _page(request, "leads.html", {
        "page": found, "counts": counts, "filters": filters, "link": link, "cadences": cadences, "reps": reps,
        "funnel": reports.funnel(session) if principal.may(Permission.REPORTS_READ) else None,
        "newer": link(after=None, before=found.newer.encode()) if found.newer else None,
        "older": link(before=None, after=found.older.encode()) if found.older else None,
        "first": link() if (after or before) else None,
        "here": link(after=params.get("after"), before=params.get("before")),
    })


# ---- tasks -----------------------------------------------------------------------------
@dataclass
class TaskCard:
    """A task with what a rep needs to act on it: the lead, what was sent, what came back."""

    task: Task
    lead: Lead | None
    emails_sent: int = 0
    last_email: Touch | None = None
    replies: int = 0
    last_reply: LeadEventRecord | None = None
    overdue: bool = False
    message: str | None = None  # after an action: what happened
    covering_for: str | None = None  # the owner of a lead the viewer may not see (its task was moved here)


def task_cards(session, tasks: list[Task], tz: ZoneInfo, principal: Principal) -> list[TaskCard]:
    """The tasks as cards. A task moved to a backup stays the backup's, but its lead stays its
    owner's: a rep covering for another sees the task, not the lead (as in the API)."""
    ids = {t.lead_id for t in tasks}
    found = session.scalars(select(Lead).where(Lead.id.in_(ids))).all() if ids else []
    owners = {lead.id: lead.owner for lead in found}
    leads = {lead.id: lead for lead in found if principal.sees_owner(lead.owner)}
    ids = set(leads)
    emails: dict[str, list[Touch]] = defaultdict(list)
    replies: dict[str, list[LeadEventRecord]] = defaultdict(list)
    if ids:
        for touch in session.scalars(select(Touch).where(Touch.lead_id.in_(ids), Touch.channel == "email",
                                                         Touch.status.in_(SENT)).order_by(Touch.at)):
            emails[touch.lead_id].append(touch)
        for event in session.scalars(select(LeadEventRecord).where(
                LeadEventRecord.lead_id.in_(ids), LeadEventRecord.type.in_(("reply", "unverified_reply")))
                .order_by(LeadEventRecord.at, LeadEventRecord.id)):
            replies[event.lead_id].append(event)
    start, _ = today_bounds(tz)
    return [TaskCard(t, leads.get(t.lead_id), len(emails[t.lead_id]), (emails[t.lead_id] or [None])[-1],
                     len(replies[t.lead_id]), (replies[t.lead_id] or [None])[-1],
                     overdue=t.status == "open" and t.due_at < start,
                     covering_for=None if t.lead_id in leads else owners.get(t.lead_id)) for t in tasks]


INBOX_LIMIT = 300


@router.get("/inbox", response_class=HTMLResponse)
def inbox_page(request: Request, session: SessionDep, principal: PrincipalDep, owner: str | None = None):
    """Open tasks in the order of `GET /tasks` (soonest due first, then rank), as overdue, today
    and upcoming in the viewer's calendar."""
    tz = viewer_tz(request)
    owner, visible = principal.owner_filter((owner or "").strip()[:64] or None)
    tasks, total = (lead_store.tasks(session, owner=owner, status="open", limit=INBOX_LIMIT)
                    if visible else ([], 0))
    start, end = today_bounds(tz)
    groups: dict[str, list[TaskCard]] = {"overdue": [], "today": [], "upcoming": []}
    for card in task_cards(session, tasks, tz, principal):
        due = card.task.due_at
        groups["overdue" if due < start else "today" if due < end else "upcoming"].append(card)
    reps = session.scalars(select(Rep).order_by(Rep.name)).all() if principal.may(Permission.REPS_READ) else []
    done_today = session.scalar(select(func.count()).select_from(Task).where(
        Task.status.in_(("done", "skipped")), Task.completed_at >= start,
        *([Task.owner == owner] if owner else []))) or 0
    shown_owner = "" if principal.owner_scope else owner or ""
    return _page(request, "inbox.html", {"groups": groups, "total": total, "owner": shown_owner, "reps": reps,
                                         "shown": len(tasks), "done_today": done_today})


@router.post("/tasks/{task_id}/complete")
async def complete_from_form(task_id: str, request: Request, db: DatabaseDep, settings: SettingsDep,
                             temporal: TemporalDep, principal: PrincipalDep, outcome: Annotated[str, Form()],
                             notes: Annotated[str | None, Form(max_length=5000)] = None,
                             back: Annotated[str, Form(max_length=500)] = "/ui/inbox"):
    """Complete, skip or log a call: the JSON API's `complete_task`; htmx gets the task's new row."""
    if outcome not in TASK_OUTCOMES:
        raise HTTPException(422, [{"loc": ["body", "outcome"], "msg": f"use one of {', '.join(TASK_OUTCOMES)}"}])
    task = await complete_task(task_id, TaskComplete(outcome=outcome, notes=(notes or "").strip() or None), db,
                               settings, temporal, principal)
    if not is_htmx(request):
        return RedirectResponse(safe_next(back, "/ui/inbox"), status_code=303)

    def task_row(session) -> Response:
        card = task_cards(session, [task], viewer_tz(request), principal)[0]
        card.message = "Skipped." if outcome == "skipped" else f"{OUTCOMES[outcome]}."
        return _page(request, "_task.html", {"card": card, "back": back, "oob_overdue": True})
    return await in_session(db, task_row)
