"""Request and response bodies of the HTTP API."""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from domain.events import CALL_OUTCOMES, INTENTS, TASK_OUTCOMES
from domain.payloads import custom_fields_problem
from domain.ranks import RANKS

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# Event ids are kept in String(200) columns, and a follow-up task is `<lead id>-<event id>`
# (String(120)); a reassignment records `reassign-<event id>-<task id>`, which must fit 200 too.
# They appear in paths (`/tasks/{id}/complete`), hence the plain characters.
EVENT_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,79}$"


def e164(v: str | None) -> str | None:
    if v is None:
        return v
    compact = re.sub(r"[\s().-]", "", v)
    if not E164.match(compact):
        raise ValueError("must be an E.164 number such as +14155550100")
    return compact



def normal_email(v: str) -> str:
    """One spelling per address (SPEC 2.1: unique after normalising case and whitespace)."""
    return v.strip().lower()

class LeadCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    source: str = Field(max_length=64, description="How the lead was generated; picks its rank (see GET /ranking)")
    first_name: str | None = Field(None, max_length=120)
    last_name: str | None = Field(None, max_length=120)
    company: str | None = Field(None, max_length=200)
    title: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=40, description="E.164, e.g. +14155550100")
    timezone: str | None = Field(None, max_length=64, description="IANA name; default from settings")
    country: str | None = Field(None, min_length=2, max_length=2)
    source_detail: str | None = Field(None, max_length=500)
    owner: str | None = Field(None, max_length=64)
    custom: dict[str, Any] = Field(default_factory=dict, description=(
        "Extra fields templates read as custom.<name>: at most 50, names up to 64 characters, values text "
        "(up to 2000 characters), numbers, true/false, null or lists of up to 50 of those; 16 KB in all"))
    rank: Literal["A", "B", "C", "D"] | None = Field(None, description="Overrides the source's rank")
    cadence: str | None = Field(None, max_length=100, description="Overrides the rank's default cadence")

    @field_validator("email")
    @classmethod
    def _normalise_email(cls, v: str) -> str:
        return normal_email(v)

    @field_validator("phone")
    @classmethod
    def _e164(cls, v: str | None) -> str | None:
        return e164(v)

    @field_validator("custom")
    @classmethod
    def _bounded(cls, v: dict[str, Any]) -> dict[str, Any]:
        problem = custom_fields_problem(v)
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("timezone")
    @classmethod
    def _iana(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {v!r} (e.g. Europe/Berlin)") from None
        return v

    @field_validator("country")
    @classmethod
    def _upper(cls, v: str | None) -> str | None:
        return v.upper() if v else v


class CadenceRef(BaseModel):
    name: str
    version: int


class NextTouchPublic(BaseModel):
    step: int
    step_id: str | None = None
    channel: str
    due_at: datetime


class TouchPublic(BaseModel):
    id: str
    step: int
    step_id: str
    channel: str
    status: str
    due_at: datetime | None
    at: datetime | None
    subject: str | None = None
    variant: str | None = None
    detail: str | None = None
    delivery: str | None = Field(None, description="from the email provider: delivered, deferred, bounced, dropped")
    opens: int = 0
    clicks: int = 0


class EventPublic(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    event_id: str
    at: datetime


class LeadPublic(BaseModel):
    id: str
    email: str
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    phone: str | None
    timezone: str
    country: str | None
    source: str
    source_detail: str | None
    owner: str | None
    custom: dict[str, Any]
    rank: str
    stage: str
    stage_reason: str | None
    stage_changed_at: datetime | None
    level: str
    status: str
    cadence: CadenceRef
    workflow_id: str
    next_touch: NextTouchPublic | None
    created_at: datetime
    last_contact_at: datetime | None


class LeadKnown(BaseModel):
    """`POST /leads` for a known email, to a caller that may not read leads: no personal data."""
    id: str
    status: str


class LeadDetail(LeadPublic):
    touches: list[TouchPublic]
    events: list[EventPublic]


class LeadsPublic(BaseModel):
    data: list[LeadPublic]
    count: int
    next_cursor: str | None = Field(None, description="`cursor` of the next page (older leads); null on the last")


class SignalBody(BaseModel):
    """One body for every signal; each signal reads the fields it needs (see the API docs)."""

    model_config = ConfigDict(extra="forbid")

    event_id: str | None = Field(None, pattern=EVENT_ID, description=(
        "Same id twice has effect once; up to 80 letters, digits and . _ : @ + = -"))
    channel: Literal["email", "call", "linkedin", "sms"] | None = None
    intent: Literal[INTENTS] | None = None  # type: ignore[valid-type]
    outcome: Literal[CALL_OUTCOMES] | None = None  # type: ignore[valid-type]
    text: str | None = Field(None, max_length=20000)
    return_date: date | None = None
    need: bool | None = None
    budget: bool | None = None
    authority: bool | None = None
    timeline: bool | None = None
    notes: str | None = Field(None, max_length=5000)
    owner: str | None = Field(None, max_length=64)
    email: EmailStr | None = None
    phone: str | None = Field(None, max_length=40, description="E.164, e.g. +14155550100")

    @field_validator("phone")
    @classmethod
    def _e164(cls, v: str | None) -> str | None:
        return e164(v)

    @field_validator("email")
    @classmethod
    def _normalise_email(cls, v: str | None) -> str | None:
        return normal_email(v) if v else v


class SignalAccepted(BaseModel):
    lead_id: str
    signal: str
    event_id: str
    status: Literal["accepted"] = "accepted"


class TaskPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    lead_id: str
    step: int | None
    channel: str
    kind: str
    owner: str | None
    instructions: str | None
    status: str
    due_at: datetime
    expires_at: datetime | None
    outcome: str | None
    notes: str | None
    created_at: datetime
    completed_at: datetime | None


class TasksPublic(BaseModel):
    data: list[TaskPublic]
    count: int


class TaskComplete(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal[TASK_OUTCOMES]  # type: ignore[valid-type]
    notes: str | None = Field(None, max_length=5000)


class CadencePublic(BaseModel):
    name: str
    version: int
    definition: dict[str, Any]
    created_at: datetime
    archived: bool = Field(False, description="archived cadences take no new leads (all versions)")


class CadenceDetail(CadencePublic):
    versions: list[CadencePublic]


class OutboxEmailPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    touch_id: str
    lead_id: str
    to_email: str
    subject: str
    request: dict[str, Any]
    created_at: datetime


RANK_VALUES = RANKS


class RankingUpdate(BaseModel):
    """A whole new ranking table; it applies to leads enrolled after it, never to running ones."""

    model_config = ConfigDict(extra="forbid")
    sources: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=64)]] = Field(
        max_length=500, description="source -> rank (A-D); a source missing here is a 422 on POST /leads")
    cadences: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=100)]] = Field(
        max_length=50, description="rank -> default cadence, for every rank A-D")


class RankingPublic(BaseModel):
    version: int = Field(description="0 while no table was stored: the built-in defaults")
    created_at: datetime | None
    sources: dict[str, str]
    cadences: dict[str, str]
    nurture: str


REP_ID = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"


def _country_codes(v: list[str] | None) -> list[str] | None:
    if v is None:
        return v
    codes = [c.strip().upper() for c in v]
    for c in codes:
        if not re.fullmatch(r"[A-Z]{2}", c):
            raise ValueError(f"{c!r} is not a two-letter country code such as US or DE")
    return sorted(set(codes))


class _RepChecks(BaseModel):
    """Normalises the fields rep creation and update share."""

    @field_validator("territories", check_fields=False)
    @classmethod
    def _codes(cls, v: list[str] | None) -> list[str] | None:
        return _country_codes(v)

    @field_validator("email", check_fields=False)
    @classmethod
    def _lower(cls, v: str | None) -> str | None:
        return v.strip().lower() if v else v


class RepCreate(_RepChecks):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, pattern=REP_ID, description="What `owner` fields hold; generated when absent")
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    team: str | None = Field(None, max_length=100)
    territories: list[Annotated[str, Field(max_length=8)]] = Field(
        default_factory=list, max_length=250, description="Country codes; empty: any country")
    ranks: list[Literal["A", "B", "C", "D"]] = Field(default_factory=list, max_length=len(RANKS),
                                                     description="Ranks taken; empty: all")
    away: bool = False
    backup_id: str | None = Field(None, max_length=64, description="Takes the rep's tasks while away or past their SLA")


class RepUpdate(_RepChecks):
    """Only the fields given change; `backup_id: null` removes the backup."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    email: EmailStr | None = None
    team: str | None = Field(None, max_length=100)
    territories: list[Annotated[str, Field(max_length=8)]] | None = Field(None, max_length=250)
    ranks: list[Literal["A", "B", "C", "D"]] | None = Field(None, max_length=len(RANKS))
    away: bool | None = Field(None, description="true moves all the rep's open tasks to the backup at once")
    backup_id: str | None = Field(None, max_length=64)


class RepPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    email: str
    team: str | None
    territories: list[str]
    ranks: list[str]
    away: bool
    backup_id: str | None
    created_at: datetime


class RepUpdated(RepPublic):
    moved_tasks: list[str] = Field(default_factory=list, description="open tasks moved to the backup")


class RepsPublic(BaseModel):
    data: list[RepPublic]
    count: int
