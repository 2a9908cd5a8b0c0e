"""What /metrics counts, straight from the read model: one GROUP BY per family, run at scrape time."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from persistence.models import Lead, LeadEventRecord, Task, Touch, WebhookDelivery, WebhookEndpoint


def leads(session: Session) -> list[tuple[str, str, int]]:
    """(stage, rank, leads)"""
    return [tuple(r) for r in session.execute(
        select(Lead.stage, Lead.rank, func.count()).group_by(Lead.stage, Lead.rank))]


def touches(session: Session) -> list[tuple[str, str, int]]:
    """(channel, status, touches)"""
    return [tuple(r) for r in session.execute(
        select(Touch.channel, Touch.status, func.count()).group_by(Touch.channel, Touch.status))]


def replies(session: Session) -> list[tuple[str | None, int]]:
    """(intent, replies) of the replies on every lead's timeline."""
    intent = LeadEventRecord.data["intent"].as_string()
    return [tuple(r) for r in session.execute(
        select(intent, func.count()).where(LeadEventRecord.type == "reply").group_by(intent))]


def open_tasks(session: Session, now: datetime) -> list[tuple[str | None, int, int]]:
    """(owner, open tasks, of which overdue)"""
    overdue = func.sum(case((Task.due_at < now, 1), else_=0))
    return [(owner, n, int(late or 0)) for owner, n, late in session.execute(
        select(Task.owner, func.count(), overdue).where(Task.status == "open").group_by(Task.owner))]


def webhook_deliveries(session: Session) -> list[tuple[str, int]]:
    """(status, deliveries)"""
    return [tuple(r) for r in session.execute(
        select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status))]


def webhook_endpoints(session: Session) -> list[tuple[str, int]]:
    """(status, endpoints)"""
    return [tuple(r) for r in session.execute(
        select(WebhookEndpoint.status, func.count()).group_by(WebhookEndpoint.status))]
