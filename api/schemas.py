"""Request and response bodies of the HTTP API."""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from domain.events import CALL_OUTCOMES, INTENTS, TASK_OUTCOMES
from domain.ranks import RANKS

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class LeadCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    source: str = Field(description="How the lead was generated; picks its rank (see GET /ranking)")
    first_name: str | None = Field(None, max_length=120)
    last_name: str | None = Field(None, max_length=120)
    company: str | None = Field(None, max_length=200)
    title: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, description="E.164, e.g. +14155550100")
    timezone: str | None = Field(None, description="IANA name; default from settings")
    country: str | None = Field(None, min_length=2, max_length=2)
    source_detail: str | None = Field(None, max_length=500)
    owner: str | None = Field(None, max_length=64)
    custom: dict[str, Any] = Field(default_factory=dict)
    rank: Literal["A", "B", "C", "D"] | None = Field(None, description="Overrides the source's rank")
    cadence: str | None = Field(None, description="Overrides the rank's default cadence")

    @field_validator("email")
    @classmethod
    def _normalise_email(cls, v: str) -> str:
        return v.strip().lower()

    @field_validator("phone")
    @classmethod
    def _e164(cls, v: str | None) -> str | None:
        if v is None:
            return v
        compact = re.sub(r"[\s().-]", "", v)
        if not E164.match(compact):
            raise ValueError("must be an E.164 number such as +14155550100")
        return compact

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


class LeadDetail(LeadPublic):
    touches: list[TouchPublic]
    events: list[EventPublic]


class LeadsPublic(BaseModel):
    data: list[LeadPublic]
    count: int


class SignalBody(BaseModel):
    """One body for every signal; each signal reads the fields it needs (see the API docs)."""

    model_config = ConfigDict(extra="forbid")

    event_id: str | None = Field(None, max_length=200, description="Same id twice has effect once")
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
    phone: str | None = None


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
