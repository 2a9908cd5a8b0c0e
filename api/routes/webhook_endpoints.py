"""Outbound webhooks: where Cadence posts its events (a CRM, a Zapier-style tool), and each delivery.

The signing secret is in the answer to `POST /webhook-endpoints` only; deliveries are retried with
back-off for a day, then the endpoint is `failing` and holds later events until it is resumed.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select

from api.auth.deps import PrincipalDep
from api.deps import SessionDep, SettingsDep, unprocessable
from domain.webhooks import (
    DELIVERY_STATUSES, EVENT_TYPES, IN_FLIGHT, MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH, events_problem, url_problem,
)
from messaging.webhooks import new_secret
from persistence import audit, outbound
from persistence.models import WebhookDelivery, WebhookEndpoint, utcnow
from privacy.keys import ring_for

router = APIRouter(prefix="/webhook-endpoints", tags=["webhooks"])
MAX_ENDPOINTS = 50  # every change is checked against each endpoint's events: keep the list short

EventName = Annotated[str, Field(max_length=40)]
Url = Annotated[str, Field(max_length=MAX_URL_LENGTH, description="https:// (or http://) address that takes POSTs")]
Description = Annotated[str | None, Field(max_length=MAX_DESCRIPTION_LENGTH)]
EVENTS_HELP = f"event types to receive, some of: {', '.join(EVENT_TYPES)}"


def _checked_url(v: str | None) -> str | None:
    problem = url_problem(v) if v is not None else None
    if problem:
        raise ValueError(problem)
    return v


def _checked_events(v: list[str] | None) -> list[str] | None:
    problem = events_problem(v) if v is not None else None
    if problem:
        raise ValueError(problem)
    return v


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Url
    events: list[EventName] = Field(max_length=len(EVENT_TYPES), description=EVENTS_HELP)
    description: Description = None
    include_reply_text: bool = Field(False, description="send a reply's text with reply.received (personal data)")

    _url = field_validator("url")(_checked_url)
    _events = field_validator("events")(_checked_events)


class EndpointUpdate(BaseModel):
    """Only the fields given change; `status` pauses (`paused`) or resumes (`active`) deliveries."""
    model_config = ConfigDict(extra="forbid")
    url: Url | None = None
    events: list[EventName] | None = Field(None, max_length=len(EVENT_TYPES), description=EVENTS_HELP)
    description: Description = None
    include_reply_text: bool | None = None
    status: Literal["active", "paused"] | None = None

    _url = field_validator("url")(_checked_url)
    _events = field_validator("events")(_checked_events)


class EndpointPublic(BaseModel):
    id: str
    url: str
    description: str | None
    events: list[str]
    include_reply_text: bool
    status: str = Field(description="active; paused (by a person); failing (a delivery failed for a day: "
                                    "later events are held until it is resumed)")
    status_reason: str | None
    failing_since: datetime | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    deliveries: dict[str, int] = Field(description="deliveries by status")


class EndpointCreated(EndpointPublic):
    secret: str = Field(description="the signing secret (whsec_...): shown only in this answer, store it now")


class AttemptPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    number: int
    at: datetime
    response_code: int | None
    duration_ms: int
    error: str | None


class DeliveryPublic(BaseModel):
    id: str
    webhook_id: str = Field(description="the event's id, sent as `webhook-id` on every attempt")
    event_type: str
    event_at: datetime
    status: str
    attempt_count: int
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = Field(description="when the next try comes, while retrying")
    delivered_at: datetime | None
    last_response_code: int | None
    last_error: str | None
    attempts: list[AttemptPublic]


class DeliveriesPage(BaseModel):
    data: list[DeliveryPublic]
    count: int


def _public(endpoint: WebhookEndpoint, counts: dict[str, int]) -> dict:
    return dict(id=endpoint.id, url=endpoint.url, description=endpoint.description, events=endpoint.events or [],
                include_reply_text=endpoint.include_reply_text, status=endpoint.status,
                status_reason=endpoint.status_reason, failing_since=endpoint.failing_since,
                created_by=endpoint.created_by, created_at=endpoint.created_at, updated_at=endpoint.updated_at,
                deliveries=counts)


def _one(session, endpoint: WebhookEndpoint) -> dict:
    return _public(endpoint, outbound.delivery_counts(session, [endpoint.id])[endpoint.id])


def _delivery_public(delivery, event, attempts) -> dict:
    return dict(id=delivery.id, webhook_id=event.id, event_type=event.type, event_at=event.at, status=delivery.status,
                attempt_count=delivery.attempts, created_at=delivery.created_at,
                last_attempt_at=delivery.last_attempt_at, next_attempt_at=delivery.next_attempt_at,
                delivered_at=delivery.delivered_at, last_response_code=delivery.last_response_code,
                last_error=delivery.last_error, attempts=[AttemptPublic.model_validate(a) for a in attempts])


def _endpoint_or_404(session, endpoint_id: str) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise HTTPException(404, f"no webhook endpoint with id {endpoint_id!r}")
    return endpoint


@router.post("", status_code=201, response_model=EndpointCreated)
def create_endpoint(body: EndpointCreate, session: SessionDep, settings: SettingsDep, principal: PrincipalDep) -> dict:
    """Events from now on go to `url`, signed as the Standard Webhooks specification has it."""
    if (session.scalar(select(func.count()).select_from(WebhookEndpoint)) or 0) >= MAX_ENDPOINTS:
        raise HTTPException(409, f"there are {MAX_ENDPOINTS} webhook endpoints already; delete one first")
    secret = new_secret()
    now = utcnow()
    endpoint = WebhookEndpoint(id=outbound.new_id("ep"), url=body.url, description=body.description,
                               events=body.events, include_reply_text=body.include_reply_text, status="active",
                               created_by=principal.actor, created_at=now, updated_at=now)
    outbound.seal_secret(ring_for(settings), endpoint, secret)
    session.add(endpoint)
    audit.record(session, principal.actor, principal.name, "webhook_endpoint.created", "webhook_endpoint",
                 endpoint.id, body.model_dump(mode="json"))
    session.commit()  # events from the next change on reach it
    return {**_public(endpoint, {}), "secret": secret}


@router.get("", response_model=list[EndpointPublic])
def list_endpoints(session: SessionDep) -> list[dict]:
    endpoints = list(session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)))
    counts = outbound.delivery_counts(session, [e.id for e in endpoints])
    return [_public(e, counts[e.id]) for e in endpoints]


@router.get("/{endpoint_id}", response_model=EndpointPublic)
def get_endpoint(endpoint_id: str, session: SessionDep) -> dict:
    return _one(session, _endpoint_or_404(session, endpoint_id))


@router.patch("/{endpoint_id}", response_model=EndpointPublic)
def update_endpoint(endpoint_id: str, body: EndpointUpdate, session: SessionDep, principal: PrincipalDep) -> dict:
    """Resuming (`{"status": "active"}`) a paused or failing endpoint sends the events it held."""
    endpoint = _endpoint_or_404(session, endpoint_id)
    changes = body.model_dump(exclude_unset=True)
    for field in ("url", "events", "include_reply_text", "status"):
        if field in changes and changes[field] is None:
            raise unprocessable(field, "may not be null")
    before = {field: getattr(endpoint, field) for field in changes}
    for field, value in changes.items():
        setattr(endpoint, field, value)
    resumed = changes.get("status") == "active" and before["status"] != "active"
    if changes.get("status") == "paused" and before["status"] != "paused":
        endpoint.status_reason = f"paused by {principal.name or principal.actor}"[:500]
    if resumed:
        endpoint.status_reason, endpoint.failing_since = None, None
    endpoint.updated_at = utcnow()
    released = outbound.release_held(session, endpoint.id) if resumed else 0
    audit.record(session, principal.actor, principal.name, "webhook_endpoint.updated", "webhook_endpoint",
                 endpoint.id, {**audit.diff(before, changes), **({"released": released} if resumed else {})})
    session.commit()  # held deliveries start now
    return _one(session, endpoint)


@router.delete("/{endpoint_id}", response_model=EndpointPublic)
def delete_endpoint(endpoint_id: str, session: SessionDep, principal: PrincipalDep) -> dict:
    """The endpoint and its deliveries; nothing more is sent to it, retries included."""
    endpoint = _endpoint_or_404(session, endpoint_id)
    shown = _one(session, endpoint)
    removed = outbound.delete_endpoint(session, endpoint)
    audit.record(session, principal.actor, principal.name, "webhook_endpoint.deleted", "webhook_endpoint",
                 endpoint_id, {"url": shown["url"], "deliveries_deleted": removed})
    session.commit()
    return shown


@router.get("/{endpoint_id}/deliveries", response_model=DeliveriesPage)
def list_deliveries(endpoint_id: str, session: SessionDep,
                    status: Annotated[str | None, Query(pattern=f"^({'|'.join(DELIVERY_STATUSES)})$")] = None,
                    limit: Annotated[int, Query(ge=1, le=200)] = 50,
                    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict:
    """Newest first, each with every attempt: its answer, how long it took, and the next try."""
    _endpoint_or_404(session, endpoint_id)
    rows, total = outbound.deliveries(session, endpoint_id, status=status, limit=limit, offset=offset)
    return {"data": [_delivery_public(*row) for row in rows], "count": total}


@router.post("/{endpoint_id}/deliveries/{delivery_id}/retry", status_code=202, response_model=DeliveryPublic)
def retry_delivery(endpoint_id: str, delivery_id: str, session: SessionDep, principal: PrincipalDep) -> dict:
    """Send a delivery again (failed, held or even succeeded), with the same `webhook-id`."""
    endpoint = _endpoint_or_404(session, endpoint_id)
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint_id:
        raise HTTPException(404, f"no delivery {delivery_id!r} for this endpoint")
    if delivery.status in IN_FLIGHT:
        raise HTTPException(409, f"delivery {delivery_id} is {delivery.status}: it is being tried already")
    if endpoint.status != "active":
        raise HTTPException(409, f"the endpoint is {endpoint.status}; resume it first "
                                 f"(PATCH /webhook-endpoints/{endpoint_id} {{\"status\": \"active\"}})")
    outbound.requeue(session, delivery)
    audit.record(session, principal.actor, principal.name, "webhook_delivery.retried", "webhook_endpoint",
                 endpoint_id, {"delivery_id": delivery_id})
    session.commit()  # started after this commit
    return _delivery_public(delivery, delivery.event, outbound.attempts_of(session, delivery_id))
