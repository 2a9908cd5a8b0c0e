"""Moving enrolled leads to another version of their cadence (SPEC 2.4): dry run, then for real.

The dry run asks each lead's workflow for its state and plans with the same function the
workflow applies, so the preview and the migration agree. The migration itself is a Temporal
Update per lead: the workflow applies it between two decisions and answers with the plan.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import select, update
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api import lead_workflows
from api.auth.deps import PrincipalDep
from api.deps import DatabaseDep, TemporalDep, in_session, unprocessable
from domain.cadences import Cadence
from domain.stages import ENDED_STATUSES, FINAL_STAGES
from persistence import audit
from persistence import cadences as cadence_store
from persistence.models import Lead
from workflows.lead_cadence import LeadCadenceWorkflow, migration_plan
from workflows.messages import MigrateRequest

router = APIRouter(prefix="/cadences", tags=["cadences"])


class MigrationRequest(BaseModel):
    to_version: Annotated[int | None, Field(ge=1, description="default: the latest version")] = None
    from_version: Annotated[int | None, Field(ge=1, description="only leads on this version")] = None
    lead_ids: list[Annotated[str, Field(max_length=32)]] | None = Field(None, max_length=1000,
                                                                       description="only these leads")
    dry_run: bool = Field(True, description="plan only; set false to migrate")
    limit: Annotated[int, Field(ge=1, le=1000)] = 500


class LeadMigration(BaseModel):
    lead_id: str
    from_version: int
    status: str  # planned, migrated, pending, skipped
    done: list[str] = []
    dropped: list[str] = []
    added: list[str] = []
    next_step: str | None = None
    note: str | None = None


class MigrationResult(BaseModel):
    cadence: str
    to_version: int
    dry_run: bool
    leads: list[LeadMigration]


@dataclass(frozen=True)
class _Moving:
    """A lead to move, as read from its row: all a migration asks of it after the session."""

    lead_id: str
    workflow_id: str
    cadence_version: int


@router.post("/{name}/migrations", response_model=MigrationResult)
async def migrate_leads(name: str, body: MigrationRequest, db: DatabaseDep, temporal: TemporalDep,
                        principal: PrincipalDep) -> dict:
    to_version, target, recorded = await in_session(db, _leads_to_move, name, body)
    leads = await _select(db, temporal, name, body, to_version, recorded)
    results = [await _migrate_one(lead, target, body.dry_run, temporal) for lead in leads]
    if not body.dry_run:
        await in_session(db, _record, name, body, to_version, leads, results, principal)
    return {"cadence": name, "to_version": to_version, "dry_run": body.dry_run, "leads": results}


def _leads_to_move(session, name: str, body: MigrationRequest) -> tuple[int, Cadence, list[_Moving]]:
    versions = {v.version: v for v in cadence_store.versions(session, name)}
    if not versions:
        raise HTTPException(404, f"no cadence named {name!r}")
    to_version = body.to_version or max(versions)
    if to_version not in versions:
        raise unprocessable("to_version", f"cadence {name!r} has no version {to_version}")
    target = cadence_store.snapshot(versions[to_version])
    query = select(Lead).where(Lead.cadence_name == name, Lead.cadence_version != to_version,
                               Lead.status.not_in(ENDED_STATUSES), Lead.stage.not_in(FINAL_STAGES))
    if body.from_version:
        query = query.where(Lead.cadence_version == body.from_version)
    if body.lead_ids is not None:
        query = query.where(Lead.id.in_(body.lead_ids))
    leads = session.scalars(query.order_by(Lead.created_at, Lead.id).limit(body.limit))
    return to_version, target, [_Moving(lead.id, lead.workflow_id, lead.cadence_version) for lead in leads]


async def _select(db, temporal, name: str, body: MigrationRequest, to_version: int,
                  recorded: list[_Moving]) -> list[_Moving]:
    """The leads to move, found through their workflows' search attributes (the version each runs,
    as the workflow sees it), then the database's for any lead visibility does not list yet: one
    enrolled a moment ago, or one whose workflow started before it had search attributes. Only
    leads this database holds: a namespace shared with another installation lists theirs too."""
    try:
        running = await lead_workflows.running_on(temporal, name, not_version=to_version, version=body.from_version,
                                                  lead_ids=body.lead_ids, limit=body.limit)
    except RPCError:  # visibility unavailable: the database alone
        running = []
    known = await in_session(db, _existing, [r.lead_id for r in running]) if running else set()
    leads = {r.lead_id: _Moving(r.lead_id, r.workflow_id, r.cadence_version) for r in running if r.lead_id in known}
    for lead in recorded:
        leads.setdefault(lead.lead_id, lead)
    return list(leads.values())[:body.limit]


def _existing(session, lead_ids: list[str]) -> set[str]:
    return set(session.scalars(select(Lead.id).where(Lead.id.in_(lead_ids))))


def _record(session, name: str, body: MigrationRequest, to_version: int, leads: list[_Moving],
            results: list[LeadMigration], principal) -> None:
    moved = [lead.lead_id for lead, result in zip(leads, results) if result.status == "migrated"]
    if moved:
        session.execute(update(Lead).where(Lead.id.in_(moved)).values(cadence_version=to_version),
                        execution_options={"synchronize_session": False})
    counts = {s: sum(r.status == s for r in results) for s in ("migrated", "pending", "skipped")}
    audit.record(session, principal.actor, principal.name, "migration.started", "cadence", name,
                 {"to_version": to_version, "from_version": body.from_version, "leads": len(results), **counts})


async def _migrate_one(lead: _Moving, target: Cadence, dry_run: bool, temporal) -> LeadMigration:
    handle = (await temporal.client()).get_workflow_handle(lead.workflow_id)
    base = {"lead_id": lead.lead_id, "from_version": lead.cadence_version}
    try:
        if dry_run:
            state = await handle.query(LeadCadenceWorkflow.state)
            if state.phase != "cadence":
                return LeadMigration(**base, status="skipped", note="the lead is in nurture: its cadence is over")
            plan, status = migration_plan(state, target), "planned"
        else:
            # One update id per move: a retried request is answered, not applied twice.
            update_id = f"migrate-{target.name}-v{lead.cadence_version}-to-v{target.version}"
            plan = await lead_workflows.update(temporal, lead.workflow_id, MigrateRequest(target, update_id), update_id)
            if plan is None:
                return LeadMigration(**base, status="pending",
                                     note="accepted: the lead moves as soon as its current step is done")
            status = "skipped" if plan.note else "migrated"
    except WorkflowUpdateFailedError as exc:
        return LeadMigration(**base, status="skipped", note=str(exc.cause or exc))
    except RPCError as exc:
        return LeadMigration(**base, status="skipped", note=f"the workflow did not answer: {exc.message}")
    return LeadMigration(**base, status=status, done=plan.done, dropped=plan.dropped, added=plan.added,
                         next_step=plan.next_step, note=plan.note)
