"""Starting and signalling a lead's workflow: the one place the routes talk to Temporal about leads.

An event for a lead whose row exists but whose workflow has not run yet (it arrived between the
two, or the start failed) goes with signal-with-start, so it starts the workflow rather than being
lost. A lead whose workflow has run gets a plain signal, so a cadence that ended is never started
again, even after its history left the server.

What Temporal needs is read from the database first, in a session of the caller's (`start_request`,
`reach`), and the calls to Temporal are coroutines given only that: no session is open while
Temporal answers. `temporal` is anything with a coroutine `client()` giving the Temporal client
(the API's `Temporal` dependency, the worker's `WorkerTemporal`).
"""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import timedelta

from fastapi import HTTPException
from sqlalchemy.orm import Session
from temporalio.client import WorkflowUpdateStage
from temporalio.common import (
    Priority, SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from config import Settings
from domain import priority
from domain.events import LeadEvent
from domain.migration import MigrationPlan
from domain.ranks import NURTURE_CADENCE
from domain.stages import ENDED_STATUSES, FINAL_STAGES
from persistence import cadences as cadence_store
from persistence import catalog
from persistence.models import Lead
from workflows import search_attributes as attributes
from workflows.lead_cadence import LeadCadenceWorkflow, workflow_id_for
from workflows.messages import LeadCadenceInput, MigrateRequest


class CadenceEnded(Exception):
    """The lead's workflow has closed: nothing more happens automatically."""


@dataclass(frozen=True)
class StartRequest:
    """A lead's workflow start, as read from its row: its input and its first search attributes."""

    lead_id: str
    workflow_id: str
    input: LeadCadenceInput
    search_attributes: TypedSearchAttributes


@dataclass(frozen=True)
class Reach:
    """What delivering an event to a lead's workflow needs, read from its row."""

    lead_id: str
    workflow_id: str
    stage: str
    status: str
    ended: bool  # its cadence has ended: nothing is delivered
    start: StartRequest | None = None  # its workflow never ran: the event starts it
    unstartable: HTTPException | None = None  # it never ran and cannot start (a cadence is not loaded)


def start_input(session: Session, settings: Settings, lead: Lead) -> LeadCadenceInput:
    """The workflow input for `lead`, from its row: the cadence version it was enrolled on."""
    known = catalog.current(session)  # the latest versions, read at most a few seconds ago
    row = known.version(lead.cadence_name, lead.cadence_version) or \
        cadence_store.version(session, lead.cadence_name, lead.cadence_version)
    nurture = known.latest.get(NURTURE_CADENCE)
    if row is None or nurture is None:
        raise HTTPException(503, f"cadence {lead.cadence_name} v{lead.cadence_version} or the nurture cadence "
                                 "is not loaded; run `python -m scripts.load_cadences`")
    return LeadCadenceInput(
        lead_id=lead.id, cadence=cadence_store.snapshot(row, lead.created_at),
        nurture=cadence_store.snapshot(nurture, lead.created_at), timezone=lead.timezone,
        has_phone=lead.phone is not None, owner=lead.owner, quiet_days=settings.cadence_quiet_days,
        ooo_default_days=settings.cadence_ooo_default_days,
    )


def first_search_attributes(lead: Lead) -> TypedSearchAttributes:
    """What `temporal workflow list --query` finds a new lead by until its workflow updates them:
    stage, rank, cadence and version, and its owner's rep id when it has one. No personal data."""
    pairs = [SearchAttributePair(attributes.STAGE, "new"), SearchAttributePair(attributes.RANK, lead.rank),
             SearchAttributePair(attributes.NAME, lead.cadence_name),
             SearchAttributePair(attributes.VERSION, int(lead.cadence_version))]
    if lead.owner:
        pairs.append(SearchAttributePair(attributes.OWNER, lead.owner))
    return TypedSearchAttributes(pairs)


def start_request(session: Session, settings: Settings, lead: Lead) -> StartRequest:
    """Raises HTTPException (503) when the lead's cadence or the nurture cadence is not loaded."""
    return StartRequest(lead.id, lead.workflow_id, start_input(session, settings, lead), first_search_attributes(lead))


def reach(session: Session, settings: Settings, lead: Lead) -> Reach:
    """How to deliver an event to `lead`, read in `session`; `signal` delivers it afterwards."""
    ended = lead.status in ENDED_STATUSES or lead.stage in FINAL_STAGES
    row = (lead.id, lead.workflow_id, lead.stage, lead.status, ended)
    if ended or lead.revision:
        return Reach(*row)
    try:
        return Reach(*row, start=start_request(session, settings, lead))
    except HTTPException as exc:
        return Reach(*row, unstartable=exc)


async def start(temporal, settings: Settings, request: StartRequest, *, priority_key: int,
                signal: tuple[str, LeadEvent] | None = None) -> None:
    """Start the lead's workflow (or attach to it if it runs already); with `signal`, deliver it too.
    `priority_key`: see domain/priority.py."""
    extra = {"start_signal": signal[0], "start_signal_args": [signal[1]]} if signal else {}
    client = await temporal.client()
    try:
        await client.start_workflow(
            LeadCadenceWorkflow.run, request.input, id=request.workflow_id, task_queue=settings.temporal_task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=request.search_attributes, priority=Priority(priority_key=priority_key), **extra,
        )
    except WorkflowAlreadyStartedError:
        raise CadenceEnded(f"the cadence of lead {request.lead_id} has ended") from None
    except RPCError as exc:
        raise HTTPException(503, f"could not reach the workflow of lead {request.lead_id}: {exc.message}") from None


async def signal(temporal, settings: Settings, lead: Reach, name: str, event: LeadEvent) -> None:
    """Deliver `event` to the lead's workflow; start it with the event only if it never ran (its
    workflow has not written the lead yet). A lead that ended is never started again."""
    if lead.ended:
        raise CadenceEnded(f"the cadence of lead {lead.lead_id} has ended (stage {lead.stage})")
    client = await temporal.client()
    if lead.unstartable is not None:
        raise lead.unstartable
    if lead.start is not None:  # a lead's own event: it is served first, as a new lead is
        await start(temporal, settings, lead.start, priority_key=priority.HOT, signal=(name, event))
        return
    try:
        await client.get_workflow_handle(lead.workflow_id).signal(name, event)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise CadenceEnded(f"the cadence of lead {lead.lead_id} has ended") from None
        raise HTTPException(503, f"could not reach the workflow of lead {lead.lead_id}: {exc.message}") from None


async def update(temporal, workflow_id: str, request: MigrateRequest, update_id: str,
                 wait: timedelta = timedelta(seconds=10)) -> MigrationPlan | None:
    """Send a migration or re-engagement; the plan, or None when the workflow accepted it but is
    busy with a step (it applies it right after). Raises WorkflowUpdateFailedError if refused."""
    handle = (await temporal.client()).get_workflow_handle(workflow_id)
    accepted = await handle.start_update(LeadCadenceWorkflow.migrate, request, id=update_id,
                                         wait_for_stage=WorkflowUpdateStage.ACCEPTED)
    try:
        return await asyncio.wait_for(accepted.result(), wait.total_seconds())
    except asyncio.TimeoutError:
        return None


@dataclass(frozen=True)
class Running:
    """A lead's workflow as Temporal's visibility sees it."""

    lead_id: str
    workflow_id: str
    cadence_version: int


_QUERYABLE = re.compile(r"[A-Za-z0-9_.-]+")


async def running_on(temporal, cadence: str, *, not_version: int, version: int | None = None,
                     lead_ids: list[str] | None = None, limit: int = 500) -> list[Running]:
    """The running leads on `cadence` at another version than `not_version`, found by their search
    attributes (workflows/search_attributes.py) rather than the database: the version the workflow
    itself runs. Empty for a name or id the query language could misread."""
    if not _QUERYABLE.fullmatch(cadence) or any(not _QUERYABLE.fullmatch(i) for i in lead_ids or []):
        return []
    query = (f"WorkflowType = 'LeadCadenceWorkflow' AND ExecutionStatus = 'Running' "
             f"AND {attributes.NAME.name} = '{cadence}' AND {attributes.VERSION.name} != {int(not_version)} "
             f"AND {attributes.STAGE.name} NOT IN ({', '.join(repr(str(s)) for s in sorted(FINAL_STAGES))})")
    if version is not None:
        query += f" AND {attributes.VERSION.name} = {int(version)}"
    if lead_ids is not None:
        if not lead_ids:
            return []
        query += f" AND WorkflowId IN ({', '.join(repr(workflow_id_for(i)) for i in lead_ids)})"
    found: list[Running] = []
    async for execution in (await temporal.client()).list_workflows(query, limit=limit):
        found.append(Running(execution.id.removeprefix("lead-"), execution.id,
                             execution.typed_search_attributes.get(attributes.VERSION)))
    return found
