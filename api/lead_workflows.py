"""Starting and signalling a lead's workflow: the one place the routes talk to Temporal about leads.

An event for a lead whose row exists but whose workflow has not run yet (it arrived between the
two, or the start failed) goes with signal-with-start, so it starts the workflow rather than being
lost. A lead whose workflow has run gets a plain signal, so a cadence that ended is never started
again, even after its history left the server.
"""
from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi import HTTPException
from sqlalchemy.orm import Session
from temporalio.client import WorkflowUpdateStage
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from config import Settings
from domain.events import LeadEvent
from domain.migration import MigrationPlan
from domain.ranks import NURTURE_CADENCE
from domain.stages import ENDED_STATUSES, FINAL_STAGES
from persistence import cadences as cadence_store
from persistence.models import Lead
from workflows.lead_cadence import LeadCadenceWorkflow
from workflows.messages import LeadCadenceInput, MigrateRequest


class CadenceEnded(Exception):
    """The lead's workflow has closed: nothing more happens automatically."""


def start_input(session: Session, settings: Settings, lead: Lead) -> LeadCadenceInput:
    """The workflow input for `lead`, from its row: the cadence version it was enrolled on."""
    row = cadence_store.version(session, lead.cadence_name, lead.cadence_version)
    nurture = cadence_store.latest(session, NURTURE_CADENCE)
    if row is None or nurture is None:
        raise HTTPException(503, f"cadence {lead.cadence_name} v{lead.cadence_version} or the nurture cadence "
                                 "is not loaded; run `python -m scripts.load_cadences`")
    return LeadCadenceInput(
        lead_id=lead.id, cadence=cadence_store.snapshot(row, lead.created_at),
        nurture=cadence_store.snapshot(nurture, lead.created_at), timezone=lead.timezone,
        has_phone=lead.phone is not None, owner=lead.owner, quiet_days=settings.cadence_quiet_days,
        ooo_default_days=settings.cadence_ooo_default_days,
    )


def start(session: Session, settings: Settings, temporal, lead: Lead, signal: tuple[str, LeadEvent] | None = None):
    """Start the lead's workflow (or attach to it if it runs already); with `signal`, deliver it too."""
    extra = {"start_signal": signal[0], "start_signal_args": [signal[1]]} if signal else {}
    try:
        temporal.call(
            temporal.client.start_workflow, LeadCadenceWorkflow.run, start_input(session, settings, lead),
            id=lead.workflow_id, task_queue=settings.temporal_task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING, **extra,
        )
    except WorkflowAlreadyStartedError:
        raise CadenceEnded(f"the cadence of lead {lead.id} has ended") from None
    except RPCError as exc:
        raise HTTPException(503, f"could not reach the workflow of lead {lead.id}: {exc.message}") from None


def signal(session: Session, settings: Settings, temporal, lead: Lead, name: str, event: LeadEvent) -> None:
    """Deliver `event` to the lead's workflow; start it with the event only if it never ran (its
    workflow has not written the lead yet). A lead that ended is never started again."""
    if lead.status in ENDED_STATUSES or lead.stage in FINAL_STAGES:
        raise CadenceEnded(f"the cadence of lead {lead.id} has ended (stage {lead.stage})")
    if not lead.revision:
        start(session, settings, temporal, lead, signal=(name, event))
        return
    try:
        temporal.call(temporal.client.get_workflow_handle(lead.workflow_id).signal, name, event)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise CadenceEnded(f"the cadence of lead {lead.id} has ended") from None
        raise HTTPException(503, f"could not reach the workflow of lead {lead.id}: {exc.message}") from None


def update(temporal, lead: Lead, request: MigrateRequest, update_id: str,
           wait: timedelta = timedelta(seconds=10)) -> MigrationPlan | None:
    """Send a migration or re-engagement; the plan, or None when the workflow accepted it but is
    busy with a step (it applies it right after). Raises WorkflowUpdateFailedError if refused."""
    async def run() -> MigrationPlan | None:
        handle = temporal.client.get_workflow_handle(lead.workflow_id)
        accepted = await handle.start_update(LeadCadenceWorkflow.migrate, request, id=update_id,
                                             wait_for_stage=WorkflowUpdateStage.ACCEPTED)
        try:
            return await asyncio.wait_for(accepted.result(), wait.total_seconds())
        except asyncio.TimeoutError:
            return None
    return temporal.call(run)
