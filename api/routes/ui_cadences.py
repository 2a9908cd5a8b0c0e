"""Cadence pages: the steps as cards, a timeline from `simulate`, email previews, the editor (ops and
admin; saving is `PUT /cadences/{name}`), version history with diffs, and moving leads to a version.

Every page calls the API's own functions (simulate, preview, new version, migrations), so what the
browser shows is what the API answers. Forms work without script; htmx (in `static/`) swaps the
part of the page a form changed instead of reloading it.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.datastructures import FormData

from api import cadence_views as views
from api import charts
from api.auth.deps import PrincipalDep, csrf_protect
from api.auth.principal import Principal
from api.deps import DatabaseDep, SessionDep, Temporal, TemporalDep, in_session
from api.routes import cadences as cadence_api
from api.routes import migrations as migration_api
from api.routes.ui import PageRoute, _page, is_htmx
from domain.access import Permission
from domain.simulation import simulate
from persistence import audit
from persistence import cadences as cadence_store
from persistence import leads as lead_store
from persistence.models import Lead

MAX_FORM_FIELDS = 5_000  # 50 steps of 10 variants each, with room to spare


async def editor_form(request: Request) -> FormData:
    """The posted form, parsed once with room for the largest cadence (the default allows 1000
    fields); the CSRF check then reads this same parse."""
    if request.method == "POST":
        await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
    await csrf_protect(request)
    return await request.form() if request.method == "POST" else FormData()


router = APIRouter(prefix="/ui/cadences", tags=["ui"], include_in_schema=False, route_class=PageRoute,
                   dependencies=[Depends(editor_form)])
FormDep = Annotated[FormData, Depends(editor_form)]


@lru_cache(maxsize=1)
def timezones() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def _versions(session, name: str):
    rows = cadence_store.versions(session, name)
    if not rows:
        raise HTTPException(404, f"no cadence named {name!r}")
    return rows


def _authors(session, name: str) -> dict[int, str]:
    """Who made each version, from the audit log (versions loaded from files have no entry)."""
    entries, _ = audit.listing(session, target_type="cadence", target_id=name, limit=500)
    out = {}
    for e in entries:
        version = (e.changes or {}).get("to_version") or (e.changes or {}).get("version")
        if e.action in ("cadence.created", "cadence.version_created") and version:
            out.setdefault(int(version), e.actor_name or e.actor)
    return out


def _channels(definition: dict) -> list[str]:
    return [s.get("channel", "") for s in definition.get("steps") or []]


# ---- the list -----------------------------------------------------------------------------
@router.get("", response_class=HTMLResponse)
def cadences_page(request: Request, session: SessionDep, principal: PrincipalDep):
    archived = cadence_store.archived_names(session)
    monday = _next_monday()
    cards = []
    for row in cadence_store.all_latest(session):
        cadence = cadence_store.snapshot(row, monday)
        try:
            due = [at for *_, at in simulate(cadence, monday, "UTC")]
        except ValueError:  # holidays that leave no day to send on: the card says 0 days
            due = []
        cards.append({"row": row, "archived": row.name in archived, "channels": _channels(row.definition),
                      "days": (due[-1] - due[0]).days if due else 0})
    return _page(request, "cadences.html", {"cards": cards, "names": views.CHANNEL_NAMES,
                                            "may_edit": principal.may(Permission.CADENCES_WRITE)})


def _next_monday() -> datetime:
    today = datetime.now(timezone.utc).replace(hour=9, minute=0, second=0, microsecond=0)
    return today + timedelta(days=(7 - today.weekday()) % 7)


# ---- one cadence: steps, timeline, preview, versions ------------------------------------------
def _start(text: str | None, tz: str) -> datetime:
    """The start field (a wall-clock time in the chosen zone); now, to the quarter hour, when unset."""
    zone = ZoneInfo(tz)
    if text:
        try:
            return datetime.fromisoformat(text).replace(tzinfo=zone)
        except ValueError:
            pass
    now = datetime.now(zone)
    return now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)


def _zone(tz: str | None) -> tuple[str, str | None]:
    if not tz:
        return "UTC", None
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC", f"unknown timezone {tz!r}; showing UTC"
    return tz, None


def _preview(session, name: str, version: int, lead_id: str | None, principal: Principal) -> tuple[dict, str | None]:
    """`POST /cadences/{name}/preview` for the sample lead or one the caller may see."""
    problem = None
    if lead_id:
        lead = session.get(Lead, lead_id)
        if lead is None or not principal.sees_owner(lead.owner):  # another rep's lead: as if it did not exist
            problem, lead_id = f"no lead with id {lead_id!r}; showing the sample lead", None
    body = cadence_api.PreviewRequest(lead_id=lead_id, version=version)
    return cadence_api.preview_cadence(name, session, principal, body), problem


@router.get("/{name}", response_class=HTMLResponse)
def cadence_page(name: str, request: Request, session: SessionDep, principal: PrincipalDep,
                 version: int | None = None, start: Annotated[str | None, Query(max_length=40)] = None,
                 tz: Annotated[str | None, Query(max_length=64)] = None,
                 lead: Annotated[str | None, Query(max_length=32)] = None, saved: int | None = None):
    rows = _versions(session, name)
    row = next((r for r in rows if r.version == version), rows[-1])
    tz, tz_problem = _zone(tz)
    begin = _start(start, tz)
    cadence = cadence_store.snapshot(row, begin)
    try:
        steps, days = views.timeline(cadence, simulate(cadence, begin, tz), begin, tz)
    except ValueError as exc:  # e.g. holidays that leave no day to send on
        steps, days, tz_problem = [], [], f"no timeline: {exc}"
    preview, lead_problem = _preview(session, name, row.version, lead, principal)
    owner, _ = principal.owner_filter(None)
    leads, _ = lead_store.listing(session, cadence=name, owner=owner, limit=50)
    window = cadence.window()
    hours = (window.start.hour + window.start.minute / 60, window.end.hour + window.end.minute / 60) if window else None

    def track(day: views.TimelineDay):
        marks = [(s.local.hour + s.local.minute / 60, str(s.number), s.channel) for s in day.steps]
        return charts.day_track(hours, marks, off=day.off)
    return _page(request, "cadence.html", {
        "row": row, "definition": row.definition, "versions": rows, "latest": rows[-1].version,
        "archived": cadence_store.is_archived(session, name), "authors": _authors(session, name),
        "views": views, "names": views.CHANNEL_NAMES, "saved": saved,
        "may_edit": principal.may(Permission.CADENCES_WRITE),
        "lead_tz": tz, "tz_problem": tz_problem, "start": begin.strftime("%Y-%m-%dT%H:%M"), "begin": begin,
        "timezones": timezones(), "steps": steps, "days": days,
        "track": track, "chart_defs": charts.DEFS,
        "window_text": f"{window.start:%H:%M}–{window.end:%H:%M}" if window else None,
        "preview": preview, "lead": lead if not lead_problem else None, "lead_problem": lead_problem,
        "leads": leads,
    })


@router.get("/{name}/diff", response_class=HTMLResponse)
def diff_page(name: str, request: Request, session: SessionDep,
              a: Annotated[int | None, Query(alias="from")] = None, b: Annotated[int | None, Query(alias="to")] = None):
    rows = _versions(session, name)
    by_number = {r.version: r for r in rows}
    new = by_number.get(b) or rows[-1]
    old = by_number.get(a) or by_number.get(new.version - 1) or rows[0]
    settings, steps = views.diff_definitions(old.definition, new.definition)
    return _page(request, "cadence_diff.html", {
        "name": name, "old": old, "new": new, "versions": rows, "settings": settings, "steps": steps,
        "names": views.CHANNEL_NAMES, "authors": _authors(session, name),
        "counts": {s: sum(1 for d in steps if d.status == s) for s in ("added", "removed", "changed", "moved")}})


# ---- the editor ---------------------------------------------------------------------------
def _editor(request: Request, name: str, base_version: int, draft: dict, *, errors: dict | None = None,
            focus: str | None = None, notice: str | None = None, status_code: int = 200) -> HTMLResponse:
    return _page(request, "cadence_edit.html", {
        "name": name, "base_version": base_version, "draft": draft, "errors": errors or {}, "focus": focus,
        "notice": notice, "choices": views.CHOICES, "names": views.CHANNEL_NAMES,
        "content_fields": views.CONTENT_FIELDS, "takes_variants": views.takes_variants,
        "field_labels": views.FIELD_LABELS, "views_on_complete": views.ON_COMPLETE_NAMES,
        "field_title": views.field_title,
        "invalid_steps": {int(k.split("-")[1]) for k in errors or {} if re.match(r"steps-\d+", k)},
    }, status_code=status_code)


@router.get("/{name}/edit", response_class=HTMLResponse)
def edit_page(name: str, request: Request, session: SessionDep, version: int | None = None):
    rows = _versions(session, name)
    row = next((r for r in rows if r.version == version), rows[-1])
    return _editor(request, name, row.version, views.draft_from_definition(row.definition))


@router.post("/{name}/edit", response_class=HTMLResponse)
def save_edit(name: str, request: Request, session: SessionDep, principal: PrincipalDep, form: FormDep):
    """A button of the editor: change the draft and show it again, or save it as a new version."""
    latest = _versions(session, name)[-1]
    draft = views.draft_from_form(form, form.getlist)
    action = str(form.get("action") or "save")
    if action != "save":
        focus = views.apply_action(draft, action) if action != "refresh" else str(form.get("focus") or "") or None
        return _editor(request, name, latest.version, draft, focus=focus)
    definition = views.definition_from_draft(draft)
    try:
        cadence_api.validated({**definition, "name": name})
    except HTTPException as exc:
        errors = views.errors_by_field(exc.detail, views.field_names(draft))
        # htmx swaps only successful answers: it gets the form with its errors as a 200
        return _editor(request, name, latest.version, draft, errors=errors,
                       status_code=200 if is_htmx(request) else 422)
    row = cadence_api.new_version(name, session, principal, definition)
    if row["version"] == latest.version:  # the API saves nothing that the latest version already is
        return _editor(request, name, latest.version, draft,
                       notice=f"Nothing changed: version {latest.version} already is this cadence.")
    session.commit()  # before the browser asks for the page that shows it
    target = f"/ui/cadences/{name}?{urlencode({'saved': row['version']})}"
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


# ---- moving leads to a version -------------------------------------------------------------
def _lead_names(session, ids: list[str]) -> dict[str, Lead]:
    if not ids:
        return {}
    return {lead.id: lead for lead in session.scalars(select(Lead).where(Lead.id.in_(ids)))}


async def _migration(db, temporal: Temporal, principal, name: str, body: dict[str, Any]) -> dict:
    """`POST /cadences/{name}/migrations` with `body`; its answer, or the problem in words."""
    try:
        request_body = migration_api.MigrationRequest(**body)
    except ValueError as exc:
        return {"problem": f"not a valid request: {exc}"}
    try:
        result = await migration_api.migrate_leads(name, request_body, db, temporal, principal)
    except HTTPException as exc:
        if exc.status_code == 404:
            raise
        detail = exc.detail if isinstance(exc.detail, str) else "; ".join(d.get("msg", "") for d in exc.detail)
        return {"problem": detail}
    return {"result": result}


def _migrate_page(session, request, name: str, outcome: dict, to_version: int | None, from_version: int | None,
                  status_code: int = 200) -> HTMLResponse:
    rows = _versions(session, name)
    result = outcome.get("result")
    leads = result["leads"] if result else []
    counts: dict[str, int] = {}
    for lead in leads:
        counts[lead.status] = counts.get(lead.status, 0) + 1
    return _page(request, "cadence_migrate.html", {
        "name": name, "versions": rows,
        "to_version": (result or {}).get("to_version") or to_version or rows[-1].version,
        "from_version": from_version, "result": result, "problem": outcome.get("problem"), "counts": counts,
        "lead_rows": _lead_names(session, [lead.lead_id for lead in leads]),
        "planned": [lead.lead_id for lead in leads if lead.status == "planned"],
    }, status_code=status_code)


@router.get("/{name}/migrate", response_class=HTMLResponse)
async def migration_plan_page(name: str, request: Request, db: DatabaseDep, principal: PrincipalDep,
                              temporal: TemporalDep, to_version: int | None = None, from_version: int | None = None):
    """The dry run: per lead, what moving it would do."""
    await in_session(db, _versions, name)
    body = {"dry_run": True, "to_version": to_version, "from_version": from_version}
    outcome = await _migration(db, temporal, principal, name, body)
    return await in_session(db, _migrate_page, request, name, outcome, to_version, from_version)


@router.post("/{name}/migrate", response_class=HTMLResponse)
async def migrate(name: str, request: Request, db: DatabaseDep, principal: PrincipalDep, temporal: TemporalDep,
                  form: FormDep):
    """The confirm button: move exactly the leads the plan listed (none are chosen: nothing moves)."""
    await in_session(db, _versions, name)
    lead_ids = [str(v) for v in form.getlist("lead_ids") if v]
    to_version = str(form.get("to_version") or "")
    if not to_version.isdigit() or not lead_ids:
        problem = "Choose a version and plan first: no lead was chosen to move." if to_version.isdigit() else \
            "Choose the version to move leads to."
        return await in_session(db, _migrate_page, request, name, {"problem": problem}, None, None, 422)
    outcome = await _migration(db, temporal, principal, name,
                               {"dry_run": False, "to_version": int(to_version), "lead_ids": lead_ids})
    return await in_session(db, _migrate_page, request, name, outcome, int(to_version), None,
                            200 if "result" in outcome else 422)
