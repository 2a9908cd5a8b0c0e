"""Events posted by providers (the email provider, the dialer): each recorded once, and an email
event's mark left on its touch."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from messaging.sendgrid_events import FINAL_DELIVERY, EmailEvent
from persistence.models import ProviderEvent, Touch


def seen(session: Session, event_id: str) -> bool:
    return session.get(ProviderEvent, event_id) is not None


def claim(session: Session, event: EmailEvent, lead_id: str | None) -> ProviderEvent | None:
    """The new record for `event`, or None when it was seen before (providers redeliver)."""
    return claim_id(session, event.id, event.type, lead_id, event.at, {"email": event.email, **event.detail},
                    touch_id=event.touch_id)


def claim_id(session: Session, event_id: str, kind: str, lead_id: str | None, at: datetime,
             data: dict[str, Any], touch_id: str | None = None) -> ProviderEvent | None:
    """The new record for the event `event_id` (e.g. "sendgrid:...", "dialer:..."), or None when
    it was seen before.

    An INSERT ... ON CONFLICT DO NOTHING inside the caller's transaction, not a savepoint: if
    the rest of the event's handling fails, the claim is rolled back with it and a redelivery
    is handled in full."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    inserted = session.scalar(insert(ProviderEvent).values(
        id=event_id, type=kind, lead_id=lead_id, touch_id=touch_id, at=at, effect="", data=data,
    ).on_conflict_do_nothing(index_elements=["id"]).returning(ProviderEvent.id))
    return session.get(ProviderEvent, inserted) if inserted else None


def mark_touch(session: Session, event: EmailEvent) -> str | None:
    """Delivery, opens and clicks on the touch the event names; a description, or None."""
    touch = session.get(Touch, event.touch_id) if event.touch_id else None
    if touch is None:
        return None
    if event.type == "open":
        touch.opens = (touch.opens or 0) + 1
    elif event.type == "click":
        touch.clicks = (touch.clicks or 0) + 1
    elif event.delivery and not (event.delivery == "deferred" and touch.delivery in FINAL_DELIVERY):
        touch.delivery = event.delivery  # events arrive out of order: a late deferral changes nothing
    else:
        return None
    return f"{event.type} recorded on touch {touch.id}"
