"""Reps and the moves of tasks between them: routing turns, away stand-ins, SLA escalations.

Every move of a task is a conditional update of that one row (still open, still with the
owner we read) plus a `task_reassigned` entry on the lead's timeline in the same transaction,
so a move is never lost, never applied twice and always on the timeline.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from domain import routing
from persistence.models import Rep, Task, TaskEscalation
from persistence.touches import record_event_once

ROUTING_ATTEMPTS = 20  # compare-and-set retries when leads are routed concurrently


def snapshot(rep: Rep) -> routing.Rep:
    return routing.Rep(id=rep.id, team=rep.team, territories=tuple(rep.territories or ()),
                       ranks=tuple(rep.ranks or ()), away=bool(rep.away), backup_id=rep.backup_id,
                       last_turn=rep.last_turn or 0)


def everyone(session: Session) -> dict[str, routing.Rep]:
    rows = session.scalars(select(Rep).execution_options(populate_existing=True))
    return {r.id: snapshot(r) for r in rows}


def listing(session: Session, *, team: str | None = None, away: bool | None = None) -> list[Rep]:
    query = select(Rep)
    if team is not None:
        query = query.where(Rep.team == team)
    if away is not None:
        query = query.where(Rep.away == away)
    return list(session.scalars(query.order_by(Rep.id)))


def assign_owner(session: Session, country: str | None, rank: str | None,
                 known: Mapping[str, routing.Rep] | None = None,
                 learn: Callable[[Iterable[routing.Rep]], None] | None = None) -> str | None:
    """Route a new lead and take the turn; None when there are no reps.

    The turn is a compare-and-set on the chosen rep's `last_turn`: of two requests that read the
    same state, one wins and the other routes again, so round-robin never hands out a turn twice.
    `known`: a recent read of every rep (persistence/catalog.py) to route by first; a turn it has
    wrong fails the compare-and-set and the reps are read again. `learn` is told every turn read
    or taken, so such a cache keeps up."""
    reps = known
    for _ in range(ROUTING_ATTEMPTS):
        if reps is None:
            reps = everyone(session)
            if learn is not None:
                learn(reps.values())
        chosen = routing.route(reps.values(), country, rank)
        if chosen is None:
            return None
        seen = reps[chosen.turn].last_turn
        turn = max(r.last_turn for r in reps.values()) + 1
        taken = session.execute(update(Rep).where(Rep.id == chosen.turn, Rep.last_turn == seen)
                                .values(last_turn=turn)).rowcount
        if taken:
            if learn is not None:
                learn([replace(reps[chosen.turn], last_turn=turn)])
            return chosen.owner
        reps = None
    raise RuntimeError("could not take a routing turn; too many concurrent assignments")


def stand_in(session: Session, owner: str | None, *, lock: bool = False) -> str | None:
    """Who works `owner`'s tasks now. `lock` holds the owner's row until commit, so marking the
    rep away (which locks it too) cannot slip between this read and the task's insert."""
    if owner is None:
        return None
    if lock and session.get(Rep, owner, with_for_update=True) is None:
        return owner  # a free-text owner, not a rep: nobody stands in
    return routing.stand_in(owner, everyone(session))


def move_task(session: Session, task: Task, to_owner: str, *, reason: str, at: datetime, event_id: str,
              extra: dict[str, Any] | None = None) -> bool:
    """Move one open task to `to_owner` if it is still open with the owner read; timeline entry included."""
    from_owner = task.owner
    if to_owner == from_owner:
        return False
    moved = session.execute(  # `== None` is IS NULL: a task without an owner can be moved too
        update(Task).where(Task.id == task.id, Task.status == "open", Task.owner == from_owner)
        .values(owner=to_owner).execution_options(synchronize_session=False)
    ).rowcount
    if not moved:
        return False
    record_event_once(session, task.lead_id, event_id, "task_reassigned", at, {
        "task_id": task.id, "from_owner": from_owner, "to_owner": to_owner, "reason": reason, **(extra or {})})
    return True


def open_tasks(session: Session, *, owner: str | None = None, lead_id: str | None = None) -> list[Task]:
    query = select(Task).where(Task.status == "open").execution_options(populate_existing=True)
    if owner is not None:
        query = query.where(Task.owner == owner)
    if lead_id is not None:
        query = query.where(Task.lead_id == lead_id)
    return list(session.scalars(query.order_by(Task.due_at, Task.id).with_for_update()))


def move_away_rep_tasks(session: Session, rep_id: str, at: datetime) -> list[str]:
    """All of an away rep's open tasks to their stand-in, in the caller's one transaction."""
    target = routing.stand_in(rep_id, everyone(session))
    if target == rep_id:
        return []
    stamp = at.strftime("%Y%m%dT%H%M%S%f")  # a rep may go away more than once
    return [t.id for t in open_tasks(session, owner=rep_id)
            if move_task(session, t, target, reason="owner_away", at=at, event_id=f"away-{t.id}-{stamp}")]


def reassign_lead_tasks(session: Session, lead_id: str, owner: str, at: datetime, event_id: str) -> list[str]:
    """The `reassign` signal: every open task of the lead to the new owner (or their stand-in)."""
    target = stand_in(session, owner) or owner
    return [t.id for t in open_tasks(session, lead_id=lead_id)
            if move_task(session, t, target, reason="reassigned", at=at,
                         event_id=f"reassign-{event_id}-{t.id}", extra={"requested_owner": owner})]


def escalate(session: Session, task_id: str, at: datetime) -> str | None:
    """A task past its SLA goes to its owner's backup, once; returns the owner it has after."""
    done = session.get(TaskEscalation, task_id)
    if done is not None:
        return done.to_owner or done.from_owner
    task = session.get(Task, task_id, with_for_update=True)
    if task is None or task.status != "open":
        return None
    reps = everyone(session)
    rep = reps.get(task.owner or "")
    target = routing.stand_in(rep.backup_id, reps) if rep and rep.backup_id else None
    if target == task.owner:
        target = None
    session.add(TaskEscalation(task_id=task.id, from_owner=task.owner, to_owner=target, at=at))
    if target is None:  # nobody to take it: the breach is still on the timeline
        record_event_once(session, task.lead_id, f"sla-{task.id}", "sla_breached", at,
                          {"task_id": task.id, "owner": task.owner, "note": "no backup to escalate to"})
        return task.owner
    move_task(session, task, target, reason="sla_breached", at=at, event_id=f"sla-{task.id}")
    return target
