"""A person's data: all of it read out (GDPR Art. 15) or erased in one transaction (Art. 17).

Both walk the same tables, so what the export shows is what the erasure removes. The erasure
deletes rows other modules write; it is the one exception to one writer per table, because a
person must leave every table at once or not at all.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Text, cast, delete, func, or_, select
from sqlalchemy.orm import Session

from persistence import lead_keys, outbound
from persistence.models import (
    ErasedSuppression, Lead, LeadEventRecord, OutboxEmail, ProviderEvent, Suppression, Task, TaskEscalation, Touch,
    WebhookEvent,
)
from privacy.keys import email_hash


def _row(row) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}


def _provider_events(lead: Lead, touch_ids):
    """The email provider's events about this person: by lead, by touch, or naming the address
    (an event whose custom args were lost still carries the recipient)."""
    return or_(ProviderEvent.lead_id == lead.id, ProviderEvent.touch_id.in_(touch_ids),
               func.lower(cast(ProviderEvent.data, Text)).contains(lead.email.strip().lower(), autoescape=True))


def personal_data(session: Session, lead: Lead) -> dict[str, Any]:
    """Everything stored about the lead, as plain values."""
    touch_ids = select(Touch.id).where(Touch.lead_id == lead.id)
    rows = {
        "touches": select(Touch).where(Touch.lead_id == lead.id).order_by(Touch.step, Touch.id),
        "events": select(LeadEventRecord).where(LeadEventRecord.lead_id == lead.id)
        .order_by(LeadEventRecord.at, LeadEventRecord.id),
        "tasks": select(Task).where(Task.lead_id == lead.id).order_by(Task.created_at, Task.id),
        "outbox": select(OutboxEmail).where(OutboxEmail.lead_id == lead.id).order_by(OutboxEmail.id),
        "provider_events": select(ProviderEvent).where(_provider_events(lead, touch_ids))
        .order_by(ProviderEvent.at, ProviderEvent.id),
        "webhook_events": select(WebhookEvent).where(WebhookEvent.lead_id == lead.id).order_by(WebhookEvent.at),
    }
    suppression = session.get(Suppression, lead.email.strip().lower())
    return {
        "lead": _row(lead),
        **{name: [_row(r) for r in session.scalars(query)] for name, query in rows.items()},
        "suppression": _row(suppression) if suppression else None,
    }


def _delete(session: Session, statement) -> int:
    return session.execute(statement, execution_options={"synchronize_session": False}).rowcount


def erase(session: Session, lead_id: str, secret: str) -> dict[str, int] | None:
    """Delete the lead and everything about it; None when there is no such lead. The caller
    commits (with its audit entry). An unsubscribed address stays suppressed as a keyed hash."""
    # Locked first (PostgreSQL): an activity still finishing for the lead waits, then finds it gone.
    lead = session.scalars(select(Lead).where(Lead.id == lead_id).with_for_update()).one_or_none()
    if lead is None:
        return None
    touch_ids = select(Touch.id).where(Touch.lead_id == lead_id)
    task_ids = select(Task.id).where(Task.lead_id == lead_id)
    counts = {name: _delete(session, statement) for name, statement in (
        ("provider_events", delete(ProviderEvent).where(_provider_events(lead, touch_ids))),
        ("task_escalations", delete(TaskEscalation).where(TaskEscalation.task_id.in_(task_ids))),
        ("tasks", delete(Task).where(Task.lead_id == lead_id)),
        ("touches", delete(Touch).where(Touch.lead_id == lead_id)),
        ("events", delete(LeadEventRecord).where(LeadEventRecord.lead_id == lead_id)),
        ("outbox", delete(OutboxEmail).where(OutboxEmail.lead_id == lead_id)),
    )}  # in this order: what refers to a row goes before it
    counts["webhook_events"] = outbound.forget_lead(session, lead_id)  # delivered or not: never sent now
    counts["lead_keys"] = int(lead_keys.remove(session, lead_id))  # its Temporal history is unreadable now
    address = lead.email.strip().lower()
    suppression = session.get(Suppression, address)
    if suppression is not None:  # never emailed again, and the address cannot be read back
        digest = email_hash(secret, address)
        if session.get(ErasedSuppression, digest) is None:
            session.add(ErasedSuppression(email_hash=digest, reason=suppression.reason))
        session.delete(suppression)
    counts["suppression_hashed"] = int(suppression is not None)
    session.delete(lead)
    session.flush()
    return counts
