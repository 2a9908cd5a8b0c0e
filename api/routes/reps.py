"""Reps: who owns leads and tasks, their territories and ranks, away flag and backup (SPEC 2.6)."""
from __future__ import annotations

import secrets
from fastapi import APIRouter, HTTPException
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.auth.deps import PrincipalDep
from api.deps import SessionDep, unprocessable
from api.schemas import RepCreate, RepPublic, RepsPublic, RepUpdate, RepUpdated
from domain.routing import backup_problem
from persistence import audit
from persistence import reps as rep_store
from persistence.models import Rep, utcnow

router = APIRouter(prefix="/reps", tags=["reps"])


def _check_backup(session: Session, rep_id: str, backup_id: str | None, away: bool, *,
                  cleared_backup: bool = False) -> None:
    backups = {rid: backup for rid, backup in session.execute(select(Rep.id, Rep.backup_id))}
    backups.setdefault(rep_id, None)
    problem = backup_problem(rep_id, backup_id, backups)
    if problem:
        raise unprocessable("backup_id", problem)
    if away and backup_id is None:  # so an away rep's work always has somewhere to go
        raise unprocessable("backup_id" if cleared_backup else "away", "a rep who is away needs a backup")


def _conflict(exc: IntegrityError) -> HTTPException:
    return HTTPException(409, f"a rep with this id or email exists already ({exc.orig.__class__.__name__})")


@router.post("", status_code=201, response_model=RepPublic)
def create_rep(body: RepCreate, session: SessionDep, principal: PrincipalDep) -> Rep:
    rep_id = body.id or f"rep-{secrets.token_hex(4)}"
    if session.get(Rep, rep_id) is not None:
        raise HTTPException(409, f"rep {rep_id!r} exists already")
    _check_backup(session, rep_id, body.backup_id, body.away)
    # A new rep joins the rotation next in line, not ahead of everyone for many turns.
    rep = Rep(id=rep_id, last_turn=0, **body.model_dump(exclude={"id"}))
    session.add(rep)
    audit.record(session, principal.actor, principal.name, "rep.created", "rep", rep_id, body.model_dump(mode="json"))
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise _conflict(exc) from None
    return rep


@router.get("", response_model=RepsPublic)
def list_reps(session: SessionDep, team: str | None = None, away: bool | None = None) -> dict:
    rows = rep_store.listing(session, team=team, away=away)
    return {"data": rows, "count": len(rows)}


@router.get("/{rep_id}", response_model=RepPublic)
def get_rep(rep_id: str, session: SessionDep) -> Rep:
    rep = session.get(Rep, rep_id)
    if rep is None:
        raise HTTPException(404, f"no rep with id {rep_id!r}")
    return rep


@router.patch("/{rep_id}", response_model=RepUpdated)
def update_rep(rep_id: str, body: RepUpdate, session: SessionDep, principal: PrincipalDep) -> dict:
    # Locked first: a task being created for this rep waits for this change, or is moved by it.
    rep = session.get(Rep, rep_id, with_for_update=True)
    if rep is None:
        raise HTTPException(404, f"no rep with id {rep_id!r}")
    changes = body.model_dump(exclude_unset=True)
    for key in ("name", "email", "territories", "ranks", "away"):
        if key in changes and changes[key] is None:
            raise unprocessable(key, "cannot be null")
    was_away = rep.away
    backup_id = changes.get("backup_id", rep.backup_id)
    _check_backup(session, rep.id, backup_id, changes.get("away", rep.away), cleared_backup="backup_id" in changes)
    before = {key: getattr(rep, key) for key in changes}
    for key, value in changes.items():
        setattr(rep, key, value)
    audit.record(session, principal.actor, principal.name, "rep.updated", "rep", rep.id, audit.diff(before, changes))
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise _conflict(exc) from None
    moved: list[str] = []
    if rep.away and not was_away:  # all at once, in this transaction with the flag itself
        moved = rep_store.move_away_rep_tasks(session, rep.id, utcnow())
    session.commit()
    return {**RepPublic.model_validate(rep).model_dump(), "moved_tasks": moved}
