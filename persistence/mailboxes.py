"""Mailboxes and the sends counted against their caps."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from domain.capacity import Caps, Slot, day_start, hour_start, next_slot
from persistence.models import Lead, Mailbox, MailboxSend, Rep


def caps_of(mailbox: Mailbox) -> Caps:
    return Caps(mailbox.daily_cap, mailbox.hourly_cap, tuple(mailbox.ramp or ()), mailbox.created_at.date())


def sending_mailbox(session: Session, owner: str | None, default_email: str) -> Mailbox | None:
    """The owner's mailbox when the owner is a rep with one (SPEC 2.7), else the default sender's."""
    rep = session.get(Rep, owner) if owner else None
    mailbox = session.get(Mailbox, rep.email) if rep is not None else None
    return mailbox or session.get(Mailbox, default_email.strip().lower())


def count_between(session: Session, email: str, since: datetime, until: datetime) -> int:
    return session.scalar(select(func.count()).select_from(MailboxSend).where(
        MailboxSend.mailbox == email, MailboxSend.at >= since, MailboxSend.at < until)) or 0


def usage(session: Session, email: str, now: datetime) -> tuple[int, int]:
    """Sends counted this UTC day and this UTC hour, the periods the caps meter."""
    today, hour = day_start(now), hour_start(now)
    return (count_between(session, email, today, today + timedelta(days=1)),
            count_between(session, email, hour, hour + timedelta(hours=1)))


def reserve(session: Session, mailbox: Mailbox, touch_id: str, now: datetime) -> Slot | None:
    """Count the touch against the mailbox, or say when it may go. Reservations of one mailbox
    are serialised by a write on its row, so two workers cannot both take the last place."""
    session.execute(update(Mailbox).where(Mailbox.email == mailbox.email).values(daily_cap=Mailbox.daily_cap))
    earlier = session.get(MailboxSend, touch_id)
    if earlier is not None and earlier.mailbox == mailbox.email:
        return None  # counted by an earlier attempt of the same touch
    if earlier is not None:  # the lead changed hands between attempts: count it on the new mailbox
        session.delete(earlier)
        session.flush()
    slot = next_slot(now, caps_of(mailbox), *usage(session, mailbox.email, now))
    if slot is None:
        session.add(MailboxSend(touch_id=touch_id, mailbox=mailbox.email, at=now))
        session.flush()
    return slot


def planned_emails(session: Session, mailbox: Mailbox, default_email: str) -> dict[date, int]:
    """Emails the mailbox's leads have due next, per UTC day (a lead's next touch is what is known)."""
    out: dict[date, int] = {}
    owners: dict[str | None, bool] = {}  # owner -> sends from this mailbox
    for lead in session.scalars(select(Lead).where(Lead.status == "active", Lead.next_touch.is_not(None))):
        touch: dict[str, Any] = lead.next_touch or {}
        if touch.get("channel") != "email":
            continue
        if lead.owner not in owners:
            owners[lead.owner] = sending_mailbox(session, lead.owner, default_email) is mailbox
        if owners[lead.owner]:
            day = datetime.fromisoformat(touch["due_at"]).astimezone(timezone.utc).date()
            out[day] = out.get(day, 0) + 1
    return out
