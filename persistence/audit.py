"""The audit log's one writer and its reads: who changed configuration or credentials, and how."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from persistence.models import AuditEntry


def record(session: Session, actor: str, actor_name: str | None, action: str, target_type: str,
           target_id: str | None, changes: dict[str, Any] | None = None) -> None:
    """Add an entry in the caller's transaction, so the change and its record commit together."""
    session.add(AuditEntry(actor=actor, actor_name=actor_name, action=action, target_type=target_type,
                           target_id=target_id, changes=changes or {}))


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The fields that changed, as {field: {"from": old, "to": new}}."""
    return {k: {"from": before.get(k), "to": after.get(k)} for k in sorted(set(before) | set(after))
            if before.get(k) != after.get(k)}


def listing(session: Session, *, action: str | None = None, target_type: str | None = None,
            target_id: str | None = None, actor: str | None = None, since: datetime | None = None,
            limit: int = 100, offset: int = 0) -> tuple[list[AuditEntry], int]:
    query = select(AuditEntry)
    if action:
        query = query.where(AuditEntry.action == action)
    if target_type:
        query = query.where(AuditEntry.target_type == target_type)
    if target_id:
        query = query.where(AuditEntry.target_id == target_id)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if since:
        query = query.where(AuditEntry.at >= since)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit).offset(offset))
    return list(rows), total
