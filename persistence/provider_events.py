"""Events posted by the email provider: each recorded once, and its mark left on the touch."""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from messaging.sendgrid_events import FINAL_DELIVERY, EmailEvent
from persistence.models import ProviderEvent, Touch


def claim(session: Session, event: EmailEvent, lead_id: str | None) -> ProviderEvent | None:
    """The new record for `event`, or None when it was seen before (providers redeliver)."""
    record = ProviderEvent(id=event.id, type=event.type, lead_id=lead_id, touch_id=event.touch_id,
                           at=event.at, effect="", data={"email": event.email, **event.detail})
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        return None
    return record


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
