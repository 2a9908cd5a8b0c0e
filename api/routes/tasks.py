"""The rep inbox: open work, and completing it (which signals the lead's workflow)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from temporalio.service import RPCError

from api.deps import SessionDep, TemporalDep
from api.schemas import TaskComplete, TaskPublic, TasksPublic
from domain.events import LeadEvent
from persistence import leads as lead_store
from persistence.models import Lead, Task, utcnow

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.get("", response_model=TasksPublic)
def list_tasks(session: SessionDep, owner: str | None = None,
               status: Annotated[str | None, Query(pattern="^(open|done|skipped|missed)$")] = None,
               lead_id: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100,
               offset: Annotated[int, Query(ge=0)] = 0) -> dict:
    rows, total = lead_store.tasks(session, owner=owner, status=status, lead_id=lead_id, limit=limit, offset=offset)
    return {"data": rows, "count": total}


@router.post("/{task_id}/complete", response_model=TaskPublic)
def complete_task(task_id: str, body: TaskComplete, session: SessionDep, temporal: TemporalDep) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise HTTPException(404, f"no task with id {task_id!r}")
    if task.status != "open":
        raise HTTPException(409, f"task {task_id} is already {task.status}")
    lead = session.get(Lead, task.lead_id)
    event = LeadEvent(type="task_completed", event_id=f"task-{task_id}", task_id=task_id, outcome=body.outcome,
                      notes=body.notes, channel="call" if task.channel == "call" else None)
    try:
        temporal.call(temporal.client.get_workflow_handle(lead.workflow_id).signal, "task_completed", event)
    except RPCError as exc:
        raise HTTPException(409, f"the workflow of lead {lead.id} is not running: {exc.message}") from None
    # The workflow records the same change; writing it now makes the inbox current at once.
    task.status = "skipped" if body.outcome == "skipped" else "done"
    task.outcome, task.notes, task.completed_at = body.outcome, body.notes, utcnow()
    return task
