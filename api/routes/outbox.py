"""Emails kept locally when no SendGrid key is set: exactly the v3 request that would be sent."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from api.deps import SessionDep
from api.schemas import OutboxEmailPublic
from persistence.models import OutboxEmail

router = APIRouter(prefix="/outbox", tags=["outbox"])


@router.get("", response_model=list[OutboxEmailPublic])
def list_outbox(session: SessionDep, lead_id: str | None = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[OutboxEmail]:
    query = select(OutboxEmail).order_by(OutboxEmail.created_at.desc(), OutboxEmail.id.desc()).limit(limit)
    if lead_id:
        query = query.where(OutboxEmail.lead_id == lead_id)
    return list(session.scalars(query))
