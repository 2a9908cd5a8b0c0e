"""Webhook deliveries' hands: one signed request per attempt, the record of each, and the sweep.

`DeliveryStarter` starts delivery workflows after a commit, from whichever thread committed,
without waiting for Temporal: the API's routes and the lead activities hand it the deliveries they
wrote (see `persistence.outbound.start_after_commit`) and go on at once.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

from temporalio import activity
from temporalio.client import (
    Client, Schedule, ScheduleActionStartWorkflow, ScheduleAlreadyRunningError, ScheduleIntervalSpec,
    ScheduleOverlapPolicy, SchedulePolicy, ScheduleSpec, ScheduleUpdate,
)
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory, WorkflowAlreadyStartedError

from config import Settings
from domain.webhooks import retry_delay
from messaging import webhooks as http
from persistence import outbound
from persistence.db import Database
from persistence.models import Lead, WebhookDelivery, WebhookEndpoint, WebhookEvent
from privacy.keys import KeyRing
from workflows.webhooks import (
    WebhookDeliveryInput, WebhookDeliveryWorkflow, WebhookSweepInput, WebhookSweepWorkflow, delivery_workflow_id,
)

log = logging.getLogger("cadence.webhooks")


def delivery_input(settings: Settings, delivery_id: str) -> WebhookDeliveryInput:
    return WebhookDeliveryInput(
        delivery_id, first_retry_seconds=settings.cadence_webhook_retry_first_seconds,
        max_retry_seconds=settings.cadence_webhook_retry_max_seconds,
        give_up_seconds=settings.cadence_webhook_give_up_seconds,
        timeout_seconds=settings.cadence_webhook_timeout_seconds,
    )


class DeliveryStarter:
    """Starts `webhook-<delivery id>` workflows on the webhook task queue."""

    def __init__(self, client: Client, settings: Settings, loop: asyncio.AbstractEventLoop | None = None):
        self.client, self.settings = client, settings
        self.loop = loop or asyncio.get_running_loop()
        self._tasks: set[asyncio.Task] = set()

    def __call__(self, delivery_ids: list[str]) -> None:
        """From any thread; returns at once (the start happens on the client's event loop)."""
        self.loop.call_soon_threadsafe(self._spawn, list(delivery_ids))

    def _spawn(self, delivery_ids: list[str]) -> None:
        task = self.loop.create_task(self.start(delivery_ids))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self, delivery_ids: list[str]) -> int:
        """How many were started; one running already is left alone, a failure is left to the sweep."""
        started = 0
        for delivery_id in delivery_ids:
            try:
                await self.client.start_workflow(
                    WebhookDeliveryWorkflow.run, delivery_input(self.settings, delivery_id),
                    id=delivery_workflow_id(delivery_id), task_queue=self.settings.temporal_webhook_task_queue)
                started += 1
            except WorkflowAlreadyStartedError:
                pass
            except Exception as exc:
                log.warning("webhook delivery %s not started now (the sweep will): %s", delivery_id, exc)
        return started


def sweep_schedule_id(settings: Settings) -> str:
    return f"webhook-sweep-{settings.temporal_webhook_task_queue}"


async def ensure_sweep_schedule(client: Client, settings: Settings) -> str:
    """The schedule that runs the sweep every CADENCE_WEBHOOK_SWEEP_SECONDS; made by the first
    worker to start, brought up to date with the settings by every later one."""
    every = timedelta(seconds=settings.cadence_webhook_sweep_seconds)
    schedule_id = sweep_schedule_id(settings)
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            WebhookSweepWorkflow.run,
            WebhookSweepInput(older_than_seconds=every.total_seconds(),
                              retention_days=settings.cadence_webhook_retention_days),
            id=schedule_id, task_queue=settings.temporal_webhook_task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:
        await client.get_schedule_handle(schedule_id).update(lambda _: ScheduleUpdate(schedule=schedule))
    return schedule_id


class WebhookActivities:
    def __init__(self, db: Database, ring: KeyRing, starter: DeliveryStarter | None = None):
        self.db, self.ring, self.starter = db, ring, starter

    def _prepare(self, delivery_id: str) -> tuple[str, str, str, str] | str:
        """(url, secret, webhook-id, body), or what became of the delivery instead."""
        with self.db.session() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None:
                return "gone"  # its endpoint (or the lead) was deleted
            if delivery.status == "succeeded":
                return "succeeded"  # a repeated start
            endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
            if endpoint.status != "active":
                outbound.hold(session, delivery)
                return "held"
            event: WebhookEvent = delivery.event
            if event.lead_id and session.get(Lead, event.lead_id) is None:
                outbound.forget_lead(session, event.lead_id)  # erased, or its enrolment was undone
                return "gone"
            payload = http.body(event.type, event.at, outbound.payload_data(session, event, endpoint))
            return endpoint.url, outbound.open_secret(self.ring, endpoint), event.id, payload

    @activity.defn(name="deliver_webhook")
    def deliver(self, input: WebhookDeliveryInput) -> str:
        prepared = self._prepare(input.delivery_id)
        if isinstance(prepared, str):
            return prepared
        url, secret, message_id, payload = prepared
        now = datetime.now(timezone.utc)  # the receiver checks the signature's time against its clock
        answer = http.post(url, payload, http.signed_headers(secret, message_id, payload, now), input.timeout_seconds)
        retry_at = None
        if answer.error is not None:
            retry_at = now + retry_delay(activity.info().attempt, timedelta(seconds=input.first_retry_seconds),
                                         timedelta(seconds=input.max_retry_seconds))
        with self.db.session() as session:
            outbound.record_attempt(session, input.delivery_id, at=now, response_code=answer.response_code,
                                    duration_ms=answer.duration_ms, error=answer.error, retry_at=retry_at)
        if answer.error is not None:
            # Expected while a receiver is down, and recorded above: logged quietly, tried again.
            raise ApplicationError(f"the endpoint did not accept the event: {answer.error}", type="WebhookNotAccepted",
                                   category=ApplicationErrorCategory.BENIGN)
        return "succeeded"

    @activity.defn(name="webhook_gave_up")
    def gave_up(self, input: WebhookDeliveryInput) -> None:
        with self.db.session() as session:
            outbound.gave_up(session, input.delivery_id, timedelta(seconds=input.give_up_seconds))

    def _sweep_rows(self, input: WebhookSweepInput) -> list[str]:
        now = datetime.now(timezone.utc)
        with self.db.session() as session:
            outbound.expire(session, now - timedelta(days=input.retention_days))
            return outbound.unstarted(session, now - timedelta(seconds=input.older_than_seconds))

    @activity.defn(name="sweep_webhooks")
    async def sweep(self, input: WebhookSweepInput) -> int:
        """How many deliveries it started."""
        delivery_ids = await asyncio.to_thread(self._sweep_rows, input)
        if not delivery_ids or self.starter is None:
            return 0
        started = await self.starter.start(delivery_ids)
        if started:
            log.info("the sweep started %d webhook deliveries", started)
        return started

    def all(self) -> list:
        return [self.deliver, self.gave_up, self.sweep]
