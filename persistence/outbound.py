"""The outbox of outbound webhooks: events written in the transaction of the change they report.

The read-model writers call one function here per change (`lead_created`, `stage_written`,
`touch_written`, ...). Each adds a `webhook_events` row and one `webhook_deliveries` row per endpoint
that takes the event, in the caller's session, so the event exists exactly when the change does:
a rolled-back change reports nothing and a retried activity that finds its change made writes no
second event. Nobody listening costs one small query per transaction and writes nothing.

Deliveries start after the commit: a process that runs Temporal workflows registers a starter
(`start_after_commit`), which is handed the ids of the deliveries each commit made. A start that
is lost (the process died between the commit and the start, Temporal was down) is made later by
the sweep (`unstarted`), so every delivery is attempted at least once.
"""
from __future__ import annotations

import base64
import logging
import secrets
import threading
import weakref
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, event, func, select, update
from sqlalchemy.orm import Session

from domain.webhooks import DELIVERY_STATUSES, IN_FLIGHT
from persistence.db import Database
from persistence.models import (
    Lead, LeadEventRecord, Task, Touch, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow,
)
from privacy.keys import KeyRing, seal, unseal

log = logging.getLogger("cadence.webhooks")

_PENDING = "cadence.webhook_deliveries"  # session.info: deliveries this transaction made, to start
_ENDPOINTS = "cadence.webhook_endpoints"  # session.info: the endpoints, read once per transaction
TOUCH_EVENTS = {"sent": "touch.sent", "outboxed": "touch.sent", "failed": "touch.failed"}
_BULK = {"synchronize_session": False}  # bulk deletes and updates: no objects in the session to sync


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


# ---- emission ----------------------------------------------------------------------------
def _subscribers(session: Session, type_: str) -> list[tuple[str, str]]:
    """(endpoint id, status) of every endpoint that takes `type_`."""
    endpoints = session.info.get(_ENDPOINTS)
    if endpoints is None:
        endpoints = session.info[_ENDPOINTS] = list(session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.status, WebhookEndpoint.events)))
    return [(endpoint_id, status) for endpoint_id, status, events in endpoints if type_ in (events or ())]


def emit(session: Session, type_: str, *, lead_id: str | None, at: datetime | None,
         data: dict[str, Any]) -> str | None:
    """Record the event for every endpoint taking it; its id (the `webhook-id`), or None when no
    endpoint takes it. An active endpoint's delivery starts after the commit; a paused or failing
    one's is held until the endpoint is resumed."""
    subscribers = _subscribers(session, type_)
    if not subscribers:
        return None
    webhook_event = WebhookEvent(id=new_id("msg"), type=type_, lead_id=lead_id, at=at or utcnow(), data=data,
                                 created_at=utcnow())
    session.add(webhook_event)
    for endpoint_id, status in subscribers:
        delivery = WebhookDelivery(id=new_id("dlv"), event=webhook_event, endpoint_id=endpoint_id,
                                   status="pending" if status == "active" else "held", attempts=0,
                                   created_at=webhook_event.created_at)
        session.add(delivery)
        if status == "active":
            session.info.setdefault(_PENDING, []).append(delivery.id)
    return webhook_event.id


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def lead_created(session: Session, lead: Lead) -> str | None:
    return emit(session, "lead.created", lead_id=lead.id, at=lead.created_at, data={
        "lead_id": lead.id, "email": lead.email, "source": lead.source, "rank": lead.rank,
        "cadence": {"name": lead.cadence_name, "version": lead.cadence_version}, "owner": lead.owner,
        "created_at": _iso(lead.created_at)})


def stage_written(session: Session, lead_id: str, before: str | None, values: dict[str, Any]) -> None:
    """After the workflow's view of the lead was written: a stage it left is `lead.stage_changed`."""
    if before is None or values.get("stage") in (None, before):
        return
    emit(session, "lead.stage_changed", lead_id=lead_id, at=values.get("stage_changed_at"), data={
        "lead_id": lead_id, "from": before, "to": values["stage"], "reason": values.get("stage_reason"),
        "level": values.get("level")})


def touch_written(session: Session, touch: Touch, before: str | None) -> None:
    """A touch that became sent (or outboxed) or failed; the failure's text stays on the timeline
    (it may quote the address)."""
    type_ = TOUCH_EVENTS.get(touch.status)
    if type_ is None or touch.status == before:
        return
    data = {"lead_id": touch.lead_id, "touch_id": touch.id, "step": touch.step, "step_id": touch.step_id,
            "channel": touch.channel}
    emit(session, type_, lead_id=touch.lead_id, at=touch.at,
         data={**data, "status": touch.status} if type_ == "touch.sent" else data)


def event_recorded(session: Session, lead_id: str, event_id: str, type_: str, at: datetime,
                   data: dict[str, Any]) -> None:
    """A reply on the lead's timeline is `reply.received`; its text goes only to endpoints that opt
    in, read from the timeline when sent (`payload`), so it is kept once."""
    if type_ == "reply":
        emit(session, "reply.received", lead_id=lead_id, at=at, data={
            "lead_id": lead_id, "event_id": event_id, "intent": data.get("intent"), "channel": data.get("channel")})


def _task_data(task: Task) -> dict[str, Any]:
    return {"lead_id": task.lead_id, "task_id": task.id, "kind": task.kind, "channel": task.channel,
            "owner": task.owner}


def task_created(session: Session, task: Task) -> None:
    emit(session, "task.created", lead_id=task.lead_id, at=task.created_at, data={
        **_task_data(task), "step": task.step, "due_at": _iso(task.due_at)})


def task_closed(session: Session, task: Task) -> str | None:
    """Done, skipped, or missed (expired unworked)."""
    return emit(session, "task.completed", lead_id=task.lead_id, at=task.completed_at, data={
        **_task_data(task), "status": task.status, "outcome": task.outcome})


def suppressed(session: Session, email: str, reason: str) -> None:
    """An address put on the suppression list: the lead's receivers suppress it in their tools too."""
    if not _subscribers(session, "lead.unsubscribed"):
        return
    lead_id = session.scalar(select(Lead.id).where(Lead.email == email))
    if lead_id is not None:
        emit(session, "lead.unsubscribed", lead_id=lead_id, at=utcnow(),
             data={"lead_id": lead_id, "email": email, "reason": reason})


def withdraw(session: Session, event_id: str | None) -> None:
    """Take back an event whose change was undone, where no delivery of it was attempted yet."""
    if event_id is None:
        return
    _delete_deliveries(session, WebhookDelivery.event_id == event_id, WebhookDelivery.attempts == 0,
                       WebhookDelivery.status.in_(("pending", "held")))
    if session.scalar(select(func.count()).where(WebhookDelivery.event_id == event_id)) == 0:
        session.execute(delete(WebhookEvent).where(WebhookEvent.id == event_id), execution_options=_BULK)


def _delete_deliveries(session: Session, *where) -> int:
    """The deliveries matching `where`, with their attempts."""
    session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(
        select(WebhookDelivery.id).where(*where))), execution_options=_BULK)
    return session.execute(delete(WebhookDelivery).where(*where), execution_options=_BULK).rowcount


def forget_lead(session: Session, lead_id: str) -> int:
    """Every event about the lead, delivered or not, with its deliveries and attempts (erasure)."""
    about_lead = WebhookEvent.lead_id == lead_id
    _delete_deliveries(session, WebhookDelivery.event_id.in_(select(WebhookEvent.id).where(about_lead)))
    return session.execute(delete(WebhookEvent).where(about_lead), execution_options=_BULK).rowcount


# ---- starting deliveries after the commit ---------------------------------------------------
Starter = Callable[[list[str]], None]
_starters: weakref.WeakKeyDictionary[Engine, list[Starter]] = weakref.WeakKeyDictionary()
_starters_lock = threading.Lock()


def start_after_commit(db: Database, starter: Starter) -> Callable[[], None]:
    """From now on every commit on `db` hands the deliveries it made to `starter` (which must not
    block); the newest registration wins. Returns the function that takes it back."""
    with _starters_lock:
        _starters.setdefault(db.engine, []).append(starter)

    def detach() -> None:
        with _starters_lock:
            registered = _starters.get(db.engine, [])
            if starter in registered:
                registered.remove(starter)
    return detach


def start_deliveries(session: Session, delivery_ids: list[str]) -> None:
    """Have these deliveries started after the session's commit (a retry, a resumed endpoint)."""
    session.info.setdefault(_PENDING, []).extend(delivery_ids)


@event.listens_for(Session, "after_commit")
def _start_committed(session: Session) -> None:
    session.info.pop(_ENDPOINTS, None)
    delivery_ids = session.info.pop(_PENDING, None)
    if not delivery_ids:
        return
    with _starters_lock:
        registered = _starters.get(session.bind, []) if isinstance(session.bind, Engine) else []
        starter = registered[-1] if registered else None
    if starter is None:
        return  # no Temporal client in this process: the sweep starts them
    try:
        starter(delivery_ids)
    except Exception as exc:  # the change is committed whatever happens here; the sweep catches up
        log.warning("could not start %d webhook deliveries now (the sweep will): %s", len(delivery_ids), exc)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_ENDPOINTS, None)


# ---- endpoints' secrets ----------------------------------------------------------------------
def _secret_context(endpoint_id: str) -> bytes:
    return f"webhook-secret:{endpoint_id}".encode()


def seal_secret(ring: KeyRing, endpoint: WebhookEndpoint, secret: str) -> None:
    endpoint.secret_key_id = ring.current_id
    endpoint.secret_sealed = base64.b64encode(
        seal(ring.key(ring.current_id), secret.encode(), _secret_context(endpoint.id))).decode()


def open_secret(ring: KeyRing, endpoint: WebhookEndpoint) -> str:
    return unseal(ring.key(endpoint.secret_key_id), base64.b64decode(endpoint.secret_sealed),
                  _secret_context(endpoint.id)).decode()


# ---- delivering --------------------------------------------------------------------------------
def payload_data(session: Session, webhook_event: WebhookEvent, endpoint: WebhookEndpoint) -> dict[str, Any]:
    """The event's data for this endpoint: a reply's text only where the endpoint opted in."""
    data = dict(webhook_event.data or {})
    if webhook_event.type == "reply.received" and endpoint.include_reply_text:
        recorded = session.scalar(select(LeadEventRecord.data).where(
            LeadEventRecord.lead_id == webhook_event.lead_id, LeadEventRecord.event_id == data.get("event_id")))
        data["text"] = (recorded or {}).get("text")
    return data


def record_attempt(session: Session, delivery_id: str, *, at: datetime, response_code: int | None,
                   duration_ms: int, error: str | None, retry_at: datetime | None) -> WebhookDelivery | None:
    """One request and what came of it; a 2xx answer is a success, anything else is tried again."""
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None:
        return None  # its endpoint was deleted meanwhile
    delivery.attempts += 1
    session.add(WebhookAttempt(delivery_id=delivery_id, number=delivery.attempts, at=at,
                               response_code=response_code, duration_ms=duration_ms, error=error))
    delivery.last_attempt_at, delivery.last_response_code, delivery.last_error = at, response_code, error
    if error is None:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "succeeded", at, None
    else:
        delivery.status, delivery.next_attempt_at = "retrying", retry_at
    return delivery


def hold(session: Session, delivery: WebhookDelivery) -> None:
    delivery.status, delivery.next_attempt_at = "held", None


def gave_up(session: Session, delivery_id: str, after: timedelta) -> None:
    """A delivery not accepted for the whole give-up time: it failed, and its endpoint is marked
    failing (deliveries after it are held) until a person resumes it."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status == "succeeded":
        return
    delivery.status, delivery.next_attempt_at = "failed", None
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint is not None and endpoint.status == "active":
        hours = after.total_seconds() / 3600
        endpoint.status, endpoint.failing_since, endpoint.updated_at = "failing", utcnow(), utcnow()
        endpoint.status_reason = (f"delivery {delivery.id} was not accepted for {hours:g} hours "
                                  f"(last: {delivery.last_error or 'no answer'}); later events are held "
                                  f"until the endpoint is resumed")[:500]


def release_held(session: Session, endpoint_id: str) -> int:
    """A resumed endpoint: its held deliveries are started after the commit."""
    held = list(session.scalars(select(WebhookDelivery.id).where(
        WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "held")))
    if held:
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(held)).values(status="pending"),
                        execution_options=_BULK)
        start_deliveries(session, held)
    return len(held)


def requeue(session: Session, delivery: WebhookDelivery) -> None:
    """A person asked for another try: the same event, the same webhook-id."""
    delivery.status, delivery.next_attempt_at = "pending", None
    start_deliveries(session, [delivery.id])


def unstarted(session: Session, older_than: datetime, limit: int = 500) -> list[str]:
    """Deliveries still pending (never tried since they were queued) from before `older_than`."""
    return list(session.scalars(select(WebhookDelivery.id).where(
        WebhookDelivery.status == "pending", WebhookDelivery.created_at < older_than)
        .order_by(WebhookDelivery.created_at).limit(limit)))


def expire(session: Session, before: datetime) -> int:
    """Deliveries (and then events) older than the retention time, except those still in flight."""
    settled = [status for status in DELIVERY_STATUSES if status not in IN_FLIGHT]  # listed: the index serves it
    removed = _delete_deliveries(session, WebhookDelivery.status.in_(settled), WebhookDelivery.created_at < before)
    orphans = select(WebhookEvent.id).where(
        WebhookEvent.created_at < before,
        ~select(WebhookDelivery.id).where(WebhookDelivery.event_id == WebhookEvent.id).exists())
    session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(orphans)), execution_options=_BULK)
    return removed


def delete_endpoint(session: Session, endpoint: WebhookEndpoint) -> int:
    """The endpoint with its deliveries and their attempts; running deliveries find nothing and stop."""
    removed = _delete_deliveries(session, WebhookDelivery.endpoint_id == endpoint.id)
    session.delete(endpoint)
    return removed


# ---- reading, for the API -------------------------------------------------------------------
def delivery_counts(session: Session, endpoint_ids: list[str]) -> dict[str, dict[str, int]]:
    """endpoint id -> {status: deliveries}."""
    counts: dict[str, dict[str, int]] = {endpoint_id: {} for endpoint_id in endpoint_ids}
    if endpoint_ids:
        for endpoint_id, status, n in session.execute(
                select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count())
                .where(WebhookDelivery.endpoint_id.in_(endpoint_ids))
                .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status)):
            counts[endpoint_id][status] = n
    return counts


def deliveries(session: Session, endpoint_id: str, *, status: str | None = None, limit: int = 50,
               offset: int = 0) -> tuple[list[tuple[WebhookDelivery, WebhookEvent, list[WebhookAttempt]]], int]:
    """The endpoint's deliveries, newest first, each with its event and its attempts in order."""
    query = select(WebhookDelivery, WebhookEvent).join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id) \
        .where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(session.execute(query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
                                .limit(limit).offset(offset)))
    attempts: dict[str, list[WebhookAttempt]] = {delivery.id: [] for delivery, _ in rows}
    if attempts:
        for attempt in session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(attempts))
                                       .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)):
            attempts[attempt.delivery_id].append(attempt)
    return [(delivery, event_, attempts[delivery.id]) for delivery, event_ in rows], total


def attempts_of(session: Session, delivery_id: str) -> list[WebhookAttempt]:
    return list(session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id)
                                .order_by(WebhookAttempt.number)))
