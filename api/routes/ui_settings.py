"""Settings pages for ops and admins: reps (away, backup), mailboxes (today's use, the 7-day
forecast), the ranking table, API keys and users. Each write is the JSON API's own route function,
so its checks, its audit entry and its effects are the same; a refusal is shown on the form."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select

from api.auth.deps import PrincipalDep
from api.auth.principal import Principal
from api.deps import SessionDep, SettingsDep
from api.routes import access, mailboxes, ranking, reps
from api.routes.ui import _page, describe, is_htmx, page_router
from api.schemas import RankingUpdate, RepCreate, RepUpdate
from domain.access import Permission, Role
from persistence import cadences as cadence_store
from persistence import ranking as ranking_store
from persistence.models import CadenceVersion, Rep, Task

router = page_router()
# (path under /ui/settings, label, the permission that shows it)
TABS = (("reps", "Reps", Permission.REPS_READ), ("mailboxes", "Mailboxes", Permission.MAILBOXES_READ),
        ("ranking", "Ranking", Permission.RANKING_READ), ("keys", "API keys", Permission.KEYS_MANAGE),
        ("users", "Users", Permission.USERS_MANAGE))
# Integrations, listed apart from the tabs above: outbound webhook endpoints (`ui_webhooks.py`).
INTEGRATION_TABS = (("webhooks", "Webhooks", Permission.WEBHOOKS_MANAGE),)


class Refused(Exception):
    """A write the API refused: shown on the page's form with the API's words."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except HTTPException as exc:
        raise Refused(exc.status_code, describe(exc.detail)) from None
    except ValidationError as exc:
        raise Refused(422, describe(list(exc.errors()))) from None


def _render(request: Request, principal: Principal, tab: str, context: dict, status: int = 200,
            template: str | None = None) -> Response:
    tabs = [(path, label) for path, label, permission in TABS if principal.may(permission)]
    integrations = [(path, label) for path, label, permission in INTEGRATION_TABS if principal.may(permission)]
    return _page(request, template or f"settings_{tab}.html", {"tab": tab, "tabs": tabs,
                                                               "integrations": integrations, **context},
                 status_code=status)


def _refused(request: Request, session, principal: Principal, tab: str, context, exc: Refused, **extra) -> Response:
    """The tab again with the API's refusal above its form (`extra`: the form as it was filled)."""
    session.rollback()
    return _render(request, principal, tab, context(session, error=exc.message, **extra), exc.status)


def _shown_once(response: Response) -> Response:
    """An answer that holds a secret: no cache keeps it."""
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/settings")
def settings_home(principal: PrincipalDep):
    first = next((path for path, _, permission in TABS if principal.may(permission)), "reps")
    return RedirectResponse(f"/ui/settings/{first}", status_code=303)


# ---- reps ------------------------------------------------------------------------------
def _reps_context(session, **extra) -> dict[str, Any]:
    rows = reps.list_reps(session)["data"]
    open_tasks = dict(session.execute(select(Task.owner, func.count()).where(Task.status == "open")
                                      .group_by(Task.owner)).all())
    return {"reps": rows, "names": {r.id: r.name for r in rows}, "open_tasks": open_tasks, "message": None,
            "error": None, "form": {}, **extra}


@router.get("/settings/reps", response_class=HTMLResponse)
def reps_page(request: Request, session: SessionDep, principal: PrincipalDep):
    return _render(request, principal, "reps", _reps_context(session))


@router.post("/settings/reps")
def create_rep(request: Request, session: SessionDep, principal: PrincipalDep,
               name: Annotated[str, Form(max_length=200)], email: Annotated[str, Form(max_length=320)],
               rep_id: Annotated[str | None, Form(alias="id", max_length=64)] = None,
               team: Annotated[str | None, Form(max_length=100)] = None,
               backup_id: Annotated[str | None, Form(max_length=64)] = None):
    form = {"id": rep_id, "name": name, "email": email, "team": team, "backup_id": backup_id}
    try:
        body = _call(RepCreate, **{k: (v or "").strip() or None for k, v in form.items()})
        rep = _call(reps.create_rep, body, session, principal)
    except Refused as exc:
        return _refused(request, session, principal, "reps", _reps_context, exc, form=form)
    return RedirectResponse(f"/ui/settings/reps?added={rep.id}#rep-{rep.id}", status_code=303)


@router.post("/settings/reps/{rep_id}")
def update_rep(rep_id: str, request: Request, session: SessionDep, principal: PrincipalDep,
               backup_id: Annotated[str | None, Form(max_length=64)] = None,
               backup_given: Annotated[str | None, Form(max_length=1)] = None,
               away: Annotated[str | None, Form(max_length=5)] = None):
    """Away on or off and the backup: `PATCH /reps/{id}` with the fields the form sent (an empty
    backup select reads as absent, so the form says that it sent one)."""
    changes: dict[str, Any] = {}
    if backup_given:
        changes["backup_id"] = (backup_id or "").strip() or None
    if away is not None:
        changes["away"] = away == "true"
    message, error, status = None, None, 200
    try:
        result = _call(reps.update_rep, rep_id, _call(RepUpdate, **changes), session, principal)
        moved = len(result["moved_tasks"])
        if changes.get("away"):
            message = f"{result['name']} is away; {moved} open task{'s' if moved != 1 else ''} moved to the backup."
        elif "away" in changes:
            message = f"{result['name']} is back; new work goes to them again."
        else:
            message = "Backup saved."
    except Refused as exc:
        session.rollback()
        error, status = exc.message, exc.status
    context = _reps_context(session)
    if is_htmx(request):
        rep = session.get(Rep, rep_id)
        if rep is None:
            raise HTTPException(404, f"no rep with id {rep_id!r}")
        return _page(request, "_rep.html", {**context, "rep": rep, "message": message, "error": error},
                     status_code=status)
    return _render(request, principal, "reps", {**context, "message": message, "error": error,
                                                 "focus": rep_id}, status)


# ---- mailboxes -------------------------------------------------------------------------
def _mailboxes_context(session, settings, **extra) -> dict[str, Any]:
    return {"mailboxes": mailboxes.list_mailboxes(session, settings, days=7), "error": None, "form": {},
            "default_sender": settings.cadence_from_email, **extra}


@router.get("/settings/mailboxes", response_class=HTMLResponse)
def mailboxes_page(request: Request, session: SessionDep, settings: SettingsDep, principal: PrincipalDep):
    return _render(request, principal, "mailboxes", _mailboxes_context(session, settings))


def _cap(value: str | None) -> int | str | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else (value or None)


@router.post("/settings/mailboxes")
def create_mailbox(request: Request, session: SessionDep, settings: SettingsDep, principal: PrincipalDep,
                   email: Annotated[str, Form(max_length=320)], name: Annotated[str | None, Form(max_length=200)] = None,
                   daily_cap: Annotated[str | None, Form(max_length=10)] = None,
                   hourly_cap: Annotated[str | None, Form(max_length=10)] = None,
                   ramp: Annotated[str | None, Form(max_length=400)] = None):
    form = {"email": email, "name": name, "daily_cap": daily_cap, "hourly_cap": hourly_cap, "ramp": ramp}
    try:
        steps = [_cap(part) for part in (ramp or "").replace(";", ",").split(",") if part.strip()]
        body = _call(mailboxes.MailboxCreate, email=email.strip(), name=(name or "").strip() or None,
                     daily_cap=_cap(daily_cap), hourly_cap=_cap(hourly_cap), ramp=steps)
        _call(mailboxes.create_mailbox, body, session, settings, principal)
        session.commit()
    except Refused as exc:
        context = lambda s, **extra: _mailboxes_context(s, settings, **extra)  # noqa: E731
        return _refused(request, session, principal, "mailboxes", context, exc, form=form)
    return RedirectResponse("/ui/settings/mailboxes", status_code=303)


# ---- ranking ---------------------------------------------------------------------------
def _ranking_context(session, **extra) -> dict[str, Any]:
    table = ranking.get_ranking(session)
    archived = cadence_store.archived_names(session)
    names = sorted(set(session.scalars(select(CadenceVersion.name))) - archived - {table["nurture"]})
    return {"ranking": table, "cadence_names": names, "versions": len(ranking_store.history(session)),
            "error": None, "message": None, **extra}


@router.get("/settings/ranking", response_class=HTMLResponse)
def ranking_page(request: Request, session: SessionDep, principal: PrincipalDep):
    return _render(request, principal, "ranking", _ranking_context(session))


@router.post("/settings/ranking")
def save_ranking(request: Request, session: SessionDep, principal: PrincipalDep,
                 source: Annotated[list[str], Form(max_length=500)] = [],  # noqa: B006  (FastAPI reads it)
                 rank: Annotated[list[str], Form(max_length=500)] = [],  # noqa: B006
                 cadence_A: Annotated[str, Form(max_length=100)] = "", cadence_B: Annotated[str, Form(max_length=100)] = "",
                 cadence_C: Annotated[str, Form(max_length=100)] = "", cadence_D: Annotated[str, Form(max_length=100)] = ""):
    """`PUT /ranking` with the whole table from the form; a source whose rank is left empty is removed."""
    sources = {s.strip(): r for s, r in zip(source, rank) if s.strip() and r}
    cadences = {"A": cadence_A, "B": cadence_B, "C": cadence_C, "D": cadence_D}
    try:
        saved = _call(ranking.put_ranking, _call(RankingUpdate, sources=sources, cadences=cadences), session,
                      principal)
        session.commit()
    except Refused as exc:
        return _refused(request, session, principal, "ranking", _ranking_context, exc)
    return _render(request, principal, "ranking", _ranking_context(
        session, message=f"Saved as version {saved['version']}; it applies to leads enrolled from now on."))


# ---- API keys --------------------------------------------------------------------------
def _keys_context(session, **extra) -> dict[str, Any]:
    keys = access.list_keys(session)[::-1]  # newest first
    actors = {f"user:{u.id}": u.email for u in access.list_users(session)} | {f"key:{k.id}": k.name for k in keys}
    return {"keys": keys, "actors": actors, "reps": session.scalars(select(Rep).order_by(Rep.name)).all(),
            "roles": [r.value for r in Role], "error": None, "created": None, "form": {}, **extra}


@router.get("/settings/keys", response_class=HTMLResponse)
def keys_page(request: Request, session: SessionDep, principal: PrincipalDep):
    return _render(request, principal, "keys", _keys_context(session))


@router.post("/settings/keys")
def create_key(request: Request, session: SessionDep, principal: PrincipalDep,
               name: Annotated[str, Form(max_length=100)], role: Annotated[str, Form(max_length=20)],
               rep_id: Annotated[str | None, Form(max_length=64)] = None):
    """The new key is on this answer only (never stored, never in a redirect's URL)."""
    form = {"name": name, "role": role, "rep_id": rep_id}
    try:
        body = _call(access.KeyCreate, name=name.strip(), role=role,
                     rep_id=(rep_id or "").strip() or None if role == Role.REP else None)
        created = _call(access.create_key, body, session, principal)
    except Refused as exc:
        return _refused(request, session, principal, "keys", _keys_context, exc, form=form)
    return _shown_once(_render(request, principal, "keys", _keys_context(session, created=created), 201))


@router.post("/settings/keys/{key_id}/revoke")
def revoke_key(key_id: str, request: Request, session: SessionDep, principal: PrincipalDep):
    row = access.revoke_key(key_id, session, principal, request)
    if is_htmx(request):
        return _page(request, "_key.html", {**_keys_context(session), "key": row, "message": f"Revoked {row.name}."})
    return RedirectResponse("/ui/settings/keys", status_code=303)


# ---- users -----------------------------------------------------------------------------
def _users_context(session, **extra) -> dict[str, Any]:
    return {"users": access.list_users(session), "reps": session.scalars(select(Rep).order_by(Rep.name)).all(),
            "roles": [r.value for r in Role if r != Role.INTEGRATION], "error": None, "form": {}, "message": None,
            **extra}


@router.get("/settings/users", response_class=HTMLResponse)
def users_page(request: Request, session: SessionDep, principal: PrincipalDep):
    return _render(request, principal, "users", _users_context(session))


@router.post("/settings/users")
def create_user(request: Request, session: SessionDep, principal: PrincipalDep,
                email: Annotated[str, Form(max_length=320)], password: Annotated[str, Form(max_length=200)],
                role: Annotated[str, Form(max_length=20)], name: Annotated[str | None, Form(max_length=200)] = None,
                rep_id: Annotated[str | None, Form(max_length=64)] = None):
    form = {"email": email, "name": name, "role": role, "rep_id": rep_id}  # never the password
    try:
        body = _call(access.UserCreate, email=email, password=password, role=role, name=(name or "").strip() or None,
                     rep_id=(rep_id or "").strip() or None if role == Role.REP else None)
        user = _call(access.create_user, body, session, principal)
    except Refused as exc:
        return _refused(request, session, principal, "users", _users_context, exc, form=form)
    return _render(request, principal, "users", _users_context(
        session, message=f"{user.email} can log in now at /ui/login."), 201)


@router.post("/settings/users/{user_id}/disable")
def disable_user(user_id: str, request: Request, session: SessionDep, principal: PrincipalDep):
    if principal.kind == "user" and principal.id == user_id:
        raise HTTPException(409, "you cannot disable yourself; another admin can")
    user = access.disable_user(user_id, session, principal)
    if is_htmx(request):
        return _page(request, "_user.html", {"user": user, "message": f"{user.email} is disabled and logged out."})
    return RedirectResponse("/ui/settings/users", status_code=303)
