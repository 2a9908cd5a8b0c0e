"""The one writer of `lead_keys`: each lead's wrapped data key for its Temporal payloads."""
from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from persistence.models import LeadKey


def get(session: Session, lead_id: str) -> LeadKey | None:
    return session.get(LeadKey, lead_id)


def add(session: Session, lead_id: str, wrapping_key_id: str, wrapped_key: str) -> None:
    """The key of a lead being added in this same transaction: nobody else can have made one."""
    session.add(LeadKey(lead_id=lead_id, wrapping_key_id=wrapping_key_id, wrapped_key=wrapped_key))


def insert_or_get(session: Session, lead_id: str, wrapping_key_id: str, wrapped_key: str) -> LeadKey:
    """The lead's key row: this one if none exists, else the one stored first. Two processes
    encoding the lead's first payloads at once both end up with the same key."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(LeadKey).values(lead_id=lead_id, wrapping_key_id=wrapping_key_id,
                                           wrapped_key=wrapped_key).on_conflict_do_nothing(index_elements=["lead_id"]))
    return session.scalars(select(LeadKey).where(LeadKey.lead_id == lead_id)).one()


def remove(session: Session, lead_id: str) -> bool:
    """Crypto-shredding: without its row, nothing sealed with the lead's key opens again."""
    return session.execute(delete(LeadKey).where(LeadKey.lead_id == lead_id)).rowcount > 0
