"""Webhook deliveries: one workflow per delivery on a task queue of their own, so a receiver that
is slow or down never holds up a lead's cadence, and a sweep that starts the ones whose start was lost.

A delivery is one activity with Temporal's retry policy: exponential back-off from
`first_retry_seconds` up to `max_retry_seconds` between attempts, for `give_up_seconds` in all
(schedule-to-close, a day by default). Then it has failed and its endpoint is marked failing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

BACKOFF = 2.0
BOOKKEEPING_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@dataclass
class WebhookDeliveryInput:
    delivery_id: str
    first_retry_seconds: float = 5.0
    max_retry_seconds: float = 3600.0
    give_up_seconds: float = 86400.0
    timeout_seconds: float = 10.0  # one request


@dataclass
class WebhookSweepInput:
    older_than_seconds: float  # a pending delivery this old was not started (or its start was lost)
    retention_days: int


def delivery_workflow_id(delivery_id: str) -> str:
    return f"webhook-{delivery_id}"


@workflow.defn
class WebhookDeliveryWorkflow:
    @workflow.run
    async def run(self, input: WebhookDeliveryInput) -> str:
        """succeeded, held (its endpoint is paused or failing), gone (deleted) or failed."""
        retry = RetryPolicy(initial_interval=timedelta(seconds=input.first_retry_seconds), backoff_coefficient=BACKOFF,
                            maximum_interval=timedelta(seconds=input.max_retry_seconds))
        try:
            return await workflow.execute_activity(
                "deliver_webhook", input, result_type=str, retry_policy=retry,
                start_to_close_timeout=timedelta(seconds=input.timeout_seconds + 30),
                schedule_to_close_timeout=timedelta(seconds=input.give_up_seconds),
            )
        except ActivityError:
            await workflow.execute_activity("webhook_gave_up", input, start_to_close_timeout=timedelta(seconds=30),
                                            retry_policy=BOOKKEEPING_RETRY)
            return "failed"


@workflow.defn
class WebhookSweepWorkflow:
    """Run by a Temporal schedule (see worker.py): starts pending deliveries nobody started and
    deletes those past their retention."""

    @workflow.run
    async def run(self, input: WebhookSweepInput) -> int:
        return await workflow.execute_activity("sweep_webhooks", input, result_type=int,
                                               start_to_close_timeout=timedelta(minutes=5),
                                               retry_policy=RetryPolicy(maximum_attempts=3))
