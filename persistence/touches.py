"""Writes the workflow's activities make: touches, tasks, outbox, events, suppressions, lead state."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from persistence import outbound
from persistence.models import ErasedSuppression, Lead, LeadEventRecord, OutboxEmail, Suppression, Task, Touch
from privacy.keys import email_hash


def lead_fields(lead: Lead) -> dict[str, Any]:
    """What templates may use about a lead."""
    return {
        "id": lead.id, "email": lead.email, "first_name": lead.first_name, "last_name": lead.last_name,
        "company": lead.company, "title": lead.title, "phone": lead.phone, "country": lead.country,
        "timezone": lead.timezone, "source": lead.source, "owner": lead.owner, "custom": lead.custom or {},
    }


def suppression_reason(session: Session, email: str, secret: str) -> str | None:
    """Why the address must never be emailed (unsubscribed, spam report, ...), or None. It is on the
    list, or it is the address of an erased person who had been suppressed (kept as a keyed hash of
    `secret`, so it matches without being readable)."""
    row = session.get(Suppression, email.strip().lower()) or session.get(ErasedSuppression, email_hash(secret, email))
    return row.reason if row is not None else None


def is_suppressed(session: Session, email: str, secret: str) -> bool:
    return suppression_reason(session, email, secret) is not None


def suppress(session: Session, email: str, reason: str) -> None:
    key = email.strip().lower()
    if session.get(Suppression, key) is None:
        session.add(Suppression(email=key, reason=reason))
        outbound.suppressed(session, email, reason)


def write_outbox(session: Session, *, touch_id: str, lead_id: str, to_email: str, subject: str,
                 request: dict[str, Any]) -> None:
    if session.scalar(select(OutboxEmail.id).where(OutboxEmail.touch_id == touch_id)) is None:
        session.add(OutboxEmail(touch_id=touch_id, lead_id=lead_id, to_email=to_email, subject=subject,
                                request=request))


def upsert_touch(session: Session, touch_id: str, **values: Any) -> Touch:
    touch = session.get(Touch, touch_id)
    before = touch.status if touch is not None else None
    if touch is None:
        touch = Touch(id=touch_id, **values)
        session.add(touch)
    else:
        for key, value in values.items():
            setattr(touch, key, value)
    outbound.touch_written(session, touch, before)
    return touch


def add_task_once(session: Session, task: Task) -> Task:
    """Insert unless a task with this id exists: a retried activity never makes a second one."""
    existing = session.get(Task, task.id)
    if existing is not None:
        return existing
    session.add(task)
    outbound.task_created(session, task)
    return task


def close_task(session: Session, task_id: str, status: str, at: datetime, outcome: str | None,
               notes: str | None) -> None:
    task = session.get(Task, task_id)
    if task is None:
        return
    was_open = task.status == "open"
    if was_open or task.status == status:
        task.status, task.completed_at = status, task.completed_at or at
        task.outcome, task.notes = outcome or task.outcome, notes or task.notes
    if was_open:
        outbound.task_closed(session, task)
    if task.touch_id:
        touch = session.get(Touch, task.touch_id)
        if touch is not None and touch.status == "task_open":
            touch.status, touch.at = status, at


def record_event_once(session: Session, lead_id: str, event_id: str, type_: str, at: datetime,
                      data: dict[str, Any]) -> None:
    exists = session.scalar(select(LeadEventRecord.id).where(
        LeadEventRecord.lead_id == lead_id, LeadEventRecord.event_id == event_id))
    if exists is None:
        session.add(LeadEventRecord(lead_id=lead_id, event_id=event_id, type=type_, at=at, data=data))
        outbound.event_recorded(session, lead_id, event_id, type_, at, data)


def write_lead_state(session: Session, lead_id: str, revision: int, values: dict[str, Any]) -> bool:
    """Apply the workflow's view unless a newer one was written already (retries, reordering)."""
    lead = session.get(Lead, lead_id)  # as the caller read it: the stage the lead may be leaving
    stage_before = lead.stage if lead is not None else None
    result = session.execute(
        update(Lead).where(Lead.id == lead_id, Lead.revision < revision).values(revision=revision, **values)
    )
    if result.rowcount == 1:
        outbound.stage_written(session, lead_id, stage_before, values)
    return result.rowcount == 1
