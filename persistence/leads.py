"""Lead records: creation, lookup and the listing filters of the API."""
from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from persistence import outbound
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
    outbound.lead_created(session, lead)
    return lead


class BadCursor(ValueError):
    """A cursor this listing did not hand out (or one for another order)."""


@dataclass(frozen=True)
class Cursor:
    """A position in the newest-first listing: the last lead shown, by (created_at, id). Leads
    enrolled later sort before it, so the pages after it neither repeat nor skip a lead."""

    created_at: datetime
    id: str

    def encode(self) -> str:
        raw = f"{self.created_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            at, _, lead_id = raw.partition("|")
            created_at = datetime.fromisoformat(at)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise BadCursor("not a cursor of this listing") from None
        if created_at.tzinfo is None or not lead_id or len(lead_id) > 32:
            raise BadCursor("not a cursor of this listing")
        return cls(created_at, lead_id)

    @classmethod
    def of(cls, lead: Lead) -> Cursor:
        return cls(lead.created_at, lead.id)


@dataclass(frozen=True)
class LeadPage:
    rows: list[Lead]
    total: int  # every lead the filters match, on any page
    older: Cursor | None  # the next page (older leads), None on the last
    newer: Cursor | None  # the page before (newer leads), None on the first


def _like(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(*, stage=None, rank=None, owner=None, cadence=None, q: str | None = None):
    query = select(Lead)
    for column, value in ((Lead.stage, stage), (Lead.rank, rank), (Lead.owner, owner), (Lead.cadence_name, cadence)):
        if value is not None:
            query = query.where(column == value)
    # Search: every word of `q` is in the name, the email or the company (any case).
    fields = (Lead.first_name, Lead.last_name, Lead.email, Lead.company)
    for term in (q or "").split()[:8]:
        pattern = _like(term)
        query = query.where(or_(*(func.lower(field).like(pattern, escape="\\") for field in fields)))
    return query


def _older_than(cursor: Cursor):
    return or_(Lead.created_at < cursor.created_at, and_(Lead.created_at == cursor.created_at, Lead.id > cursor.id))


def _newer_than(cursor: Cursor):
    return or_(Lead.created_at > cursor.created_at, and_(Lead.created_at == cursor.created_at, Lead.id < cursor.id))


def listing(session: Session, *, stage=None, rank=None, owner=None, cadence=None, q: str | None = None,
            after: Cursor | None = None, limit: int = 50, offset: int = 0) -> tuple[list[Lead], int]:
    """Newest first; `after` continues after that lead (see `Cursor`)."""
    query = _filtered(stage=stage, rank=rank, owner=owner, cadence=cadence, q=q)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if after is not None:
        query = query.where(_older_than(after))
    rows = session.scalars(query.order_by(Lead.created_at.desc(), Lead.id).limit(limit).offset(offset))
    return list(rows), total


def page(session: Session, *, stage=None, rank=None, owner=None, cadence=None, q: str | None = None,
         after: Cursor | None = None, before: Cursor | None = None, limit: int = 25) -> LeadPage:
    """One page of the newest-first listing: after a cursor (older leads), before one (newer
    leads), or the first; with the cursors of the pages either side."""
    query = _filtered(stage=stage, rank=rank, owner=owner, cadence=cadence, q=q)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if before is not None:  # read towards the newest, then show in the listing's order
        found = list(session.scalars(query.where(_newer_than(before))
                                     .order_by(Lead.created_at, Lead.id.desc()).limit(limit + 1)))
        more_newer, rows = len(found) > limit, found[:limit][::-1]
        return LeadPage(rows, total, older=Cursor.of(rows[-1]) if rows else before,
                        newer=Cursor.of(rows[0]) if rows and more_newer else None)
    if after is not None:
        query = query.where(_older_than(after))
    found = list(session.scalars(query.order_by(Lead.created_at.desc(), Lead.id).limit(limit + 1)))
    rows = found[:limit]
    return LeadPage(rows, total, older=Cursor.of(rows[-1]) if len(found) > limit else None,
                    newer=(Cursor.of(rows[0]) if rows else after) if after is not None else None)


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
