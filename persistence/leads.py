"""Lead records: creation, lookup and the listing filters of the API."""
from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from persistence.models import Lead, LeadEventRecord, Task, Touch


def new_lead_id() -> str:
    return secrets.token_urlsafe(9).replace("-", "x").replace("_", "y")  # URL-safe, no separators


def by_email(session: Session, email: str) -> Lead | None:
    return session.scalar(select(Lead).where(Lead.email == email))


def by_phone(session: Session, phone: str) -> Lead | None:
    return session.scalar(select(Lead).where(Lead.phone == phone).order_by(Lead.created_at.desc()).limit(1))


def add(session: Session, **fields: Any) -> Lead:
    lead = Lead(**fields)
    session.add(lead)
    session.flush()
    return lead


def listing(session: Session, *, stage=None, rank=None, owner=None, cadence=None,
            limit: int = 50, offset: int = 0) -> tuple[list[Lead], int]:
    query = select(Lead)
    for column, value in ((Lead.stage, stage), (Lead.rank, rank), (Lead.owner, owner), (Lead.cadence_name, cadence)):
        if value is not None:
            query = query.where(column == value)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Lead.created_at.desc(), Lead.id).limit(limit).offset(offset))
    return list(rows), total


def timeline(session: Session, lead_id: str) -> tuple[list[Touch], list[LeadEventRecord]]:
    touches = session.scalars(select(Touch).where(Touch.lead_id == lead_id)
                              .order_by(Touch.due_at.is_(None), Touch.due_at, Touch.step))
    events = session.scalars(select(LeadEventRecord).where(LeadEventRecord.lead_id == lead_id)
                             .order_by(LeadEventRecord.at, LeadEventRecord.id))
    return list(touches), list(events)


def tasks(session: Session, *, owner=None, status=None, lead_id=None, limit=100, offset=0) -> tuple[list[Task], int]:
    """A rep's inbox with `owner` and status open: soonest due first, then the better rank (A first)."""
    query = select(Task).join(Lead, Lead.id == Task.lead_id)
    for column, value in ((Task.owner, owner), (Task.status, status), (Task.lead_id, lead_id)):
        if value is not None:
            query = query.where(column == value)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Task.due_at, Lead.rank, Task.id).limit(limit).offset(offset))
    return list(rows), total


def same_account(session: Session, domain: str, exclude: str) -> list[Lead]:
    """Other leads of the company whose cadence is running (paused or ended ones need nothing)."""
    return list(session.scalars(
        select(Lead).where(func.lower(Lead.email).like(f"%@{domain}"), Lead.id != exclude, Lead.status == "active")
        .order_by(Lead.created_at)
    ))
