"""Sending mailboxes (SPEC 2.7): caps and ramp, with today's use and a forecast of the coming days."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.auth.deps import PrincipalDep
from api.deps import SessionDep, SettingsDep, unprocessable
from domain.capacity import MAX_DAILY_CAP, MAX_HOURLY_CAP, forecast, hourly_cap_problem
from persistence import audit
from persistence import mailboxes as store
from persistence.models import Mailbox

router = APIRouter(prefix="/mailboxes", tags=["mailboxes"])

Cap = Annotated[int | None, Field(ge=1, le=MAX_DAILY_CAP, description="emails per UTC day; null: no cap")]
HourlyCap = Annotated[int | None, Field(ge=1, le=MAX_HOURLY_CAP, description="emails per UTC hour; null: no cap")]
RampCap = Annotated[int, Field(ge=1, le=MAX_DAILY_CAP)]


class MailboxCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A plain address check: development senders such as sales@cadence.local are fine here.
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=320,
                       description="the sender address: a rep's email makes it that rep's mailbox")
    name: str | None = Field(None, max_length=200)
    daily_cap: Cap = None
    hourly_cap: HourlyCap = None
    ramp: list[RampCap] = Field(
        default_factory=list, max_length=52, description="daily caps for week 1, 2, ... of a new mailbox")

    @field_validator("hourly_cap")
    @classmethod
    def _within_daily(cls, v: int | None, info: ValidationInfo) -> int | None:
        problem = hourly_cap_problem(info.data.get("daily_cap"), v)
        if problem:
            raise ValueError(problem)
        return v


class MailboxUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200)
    daily_cap: Cap = None
    hourly_cap: HourlyCap = None
    ramp: list[RampCap] | None = Field(None, max_length=52)


def _public(session, settings, mailbox: Mailbox, days: int) -> dict:
    now = datetime.now(timezone.utc)
    today = now.date()
    caps = store.caps_of(mailbox)
    sent_today, sent_this_hour = store.usage(session, mailbox.email, now)
    return {
        "email": mailbox.email, "name": mailbox.name, "daily_cap": mailbox.daily_cap,
        "hourly_cap": mailbox.hourly_cap, "ramp": mailbox.ramp or [], "created_at": mailbox.created_at,
        "today": {"cap": caps.daily_on(today), "sent": sent_today,
                  "sent_this_hour": sent_this_hour},
        "forecast": forecast(caps, today, days, store.planned_emails(session, mailbox, settings.cadence_from_email),
                             sent_today),
    }


@router.post("", status_code=201)
def create_mailbox(body: MailboxCreate, session: SessionDep, settings: SettingsDep, principal: PrincipalDep) -> dict:
    email = body.email.strip().lower()
    if session.get(Mailbox, email) is not None:
        raise HTTPException(409, f"a mailbox {email} exists; PATCH /mailboxes/{email} changes it")
    mailbox = Mailbox(email=email, name=body.name, daily_cap=body.daily_cap, hourly_cap=body.hourly_cap,
                      ramp=body.ramp)
    session.add(mailbox)
    audit.record(session, principal.actor, principal.name, "mailbox.created", "mailbox", email,
                 body.model_dump(mode="json", exclude={"email"}))
    try:
        session.flush()
    except IntegrityError:  # created concurrently
        session.rollback()
        raise HTTPException(409, f"a mailbox {email} exists; PATCH /mailboxes/{email} changes it") from None
    return _public(session, settings, mailbox, 7)


@router.get("")
def list_mailboxes(session: SessionDep, settings: SettingsDep,
                   days: Annotated[int, Query(ge=1, le=31, description="forecast horizon")] = 7) -> list[dict]:
    return [_public(session, settings, m, days) for m in session.scalars(select(Mailbox).order_by(Mailbox.email))]


def _mailbox_or_404(session, email: str) -> Mailbox:
    mailbox = session.get(Mailbox, email.strip().lower())
    if mailbox is None:
        raise HTTPException(404, f"no mailbox {email}")
    return mailbox


@router.get("/{email}")
def get_mailbox(email: str, session: SessionDep, settings: SettingsDep,
                days: Annotated[int, Query(ge=1, le=31)] = 7) -> dict:
    return _public(session, settings, _mailbox_or_404(session, email), days)


@router.patch("/{email}")
def update_mailbox(email: str, body: MailboxUpdate, session: SessionDep, settings: SettingsDep,
                   principal: PrincipalDep) -> dict:
    """Only the fields given change; `null` removes a cap."""
    mailbox = _mailbox_or_404(session, email)
    given = body.model_fields_set  # the caps after this change must still go together
    problem = hourly_cap_problem(body.daily_cap if "daily_cap" in given else mailbox.daily_cap,
                                 body.hourly_cap if "hourly_cap" in given else mailbox.hourly_cap)
    if problem:
        raise unprocessable("hourly_cap" if "hourly_cap" in given else "daily_cap", problem)
    changes = body.model_dump(exclude_unset=True)
    before = {field: getattr(mailbox, field) for field in changes}
    for field, value in changes.items():
        setattr(mailbox, field, value if field != "ramp" else (value or []))
    audit.record(session, principal.actor, principal.name, "mailbox.updated", "mailbox", mailbox.email,
                 audit.diff(before, changes))
    session.flush()
    return _public(session, settings, mailbox, 7)
