"""The rep inbox: open work, and completing it (which signals the lead's workflow)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import update
from sqlalchemy.orm import Session

from api import lead_workflows
from api.auth.deps import PrincipalDep
from api.auth.principal import Principal
from api.deps import DatabaseDep, SessionDep, SettingsDep, TemporalDep, in_session
from api.schemas import TaskComplete, TaskPublic, TasksPublic
from domain.events import LeadEvent
from persistence import leads as lead_store
from persistence import outbound
from persistence.models import Lead, Task, utcnow

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.get("", response_model=TasksPublic)
def list_tasks(session: SessionDep, principal: PrincipalDep, owner: str | None = None,
               status: Annotated[str | None, Query(pattern="^(open|done|skipped|missed)$")] = None,
               lead_id: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100,
               offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict:
    owner, visible = principal.owner_filter(owner)  # a rep lists only its own
    if not visible:
        return {"data": [], "count": 0}
    rows, total = lead_store.tasks(session, owner=owner, status=status, lead_id=lead_id, limit=limit, offset=offset)
    return {"data": rows, "count": total}


def visible_task(session, task_id: str, principal: Principal) -> Task:
    """The task, if the caller may see it: another rep's task is a 404, as if it did not exist."""
    task = session.get(Task, task_id)
    if task is None or not principal.sees_owner(task.owner):
        raise HTTPException(404, f"no task with id {task_id!r}")
    return task


@router.post("/{task_id}/complete", response_model=TaskPublic)
async def complete_task(task_id: str, body: TaskComplete, db: DatabaseDep, settings: SettingsDep,
                        temporal: TemporalDep, principal: PrincipalDep) -> Task:
    task = await in_session(db, _open_task, task_id, principal)
    event = LeadEvent(type="task_completed", event_id=f"task-{task_id}", task_id=task_id, outcome=body.outcome,
                      notes=body.notes, channel="call" if task.channel == "call" else None)
    await temporal.client()  # 503 now, before anything is written, if Temporal is down
    lead, completed = await in_session(db, _claim, task_id, body, settings)
    try:
        await lead_workflows.signal(temporal, settings, lead, "task_completed", event)
    except lead_workflows.CadenceEnded:
        pass  # the cadence ended (a hand-off task outlives it): closing the row is all there is to do
    except HTTPException:  # not delivered: the task stays open to try again
        await in_session(db, _reopen, task_id, completed)
        raise
    return await in_session(db, lambda session: session.get(Task, task_id))  # as it is now


def _open_task(session: Session, task_id: str, principal: Principal) -> Task:
    task = visible_task(session, task_id, principal)
    if task.status != "open":
        raise HTTPException(409, f"task {task_id} is already {task.status}")
    return task


def _claim(session: Session, task_id: str, body: TaskComplete, settings) -> tuple[lead_workflows.Reach, str | None]:
    """Claim the task first, so two reps completing it at once cannot both win; `task.completed`
    commits with the claim."""
    task = session.get(Task, task_id)
    lead = session.get(Lead, task.lead_id)
    new_status = "skipped" if body.outcome == "skipped" else "done"
    claimed = session.execute(
        update(Task).where(Task.id == task_id, Task.status == "open")
        .values(status=new_status, outcome=body.outcome, notes=body.notes, completed_at=utcnow())
    ).rowcount
    if not claimed:
        session.rollback()
        raise HTTPException(409, f"task {task_id} is no longer open")
    completed = outbound.task_closed(session, task)
    session.commit()
    return lead_workflows.reach(session, settings, lead), completed


def _reopen(session: Session, task_id: str, completed: str | None) -> None:
    session.execute(update(Task).where(Task.id == task_id).values(
        status="open", outcome=None, notes=None, completed_at=None))
    outbound.withdraw(session, completed)
