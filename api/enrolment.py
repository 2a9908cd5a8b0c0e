"""Enrolment: the one path from a validated `LeadCreate` to a lead on its cadence.

`POST /leads` calls `enrol` (admit, commit, start the workflow) and an import calls `admit` for each
row, recording the row's outcome in the same transaction as the new lead and starting the
workflows at its own pace (see `activities/imports.py`). Both therefore rank, choose the cadence,
route and re-engage known emails with the same code.
"""
from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api import lead_workflows
from api.schemas import LeadCreate
from config import Settings
from domain.ranks import NURTURE_CADENCE, UnknownSource, is_higher, rank_for
from domain.stages import ENDED_STATUSES, FINAL_STAGES
from persistence import cadences as cadence_store
from persistence import leads as lead_store
from persistence import ranking as ranking_store
from persistence import reps as rep_store
from persistence import touches as touch_store
from persistence.models import CadenceVersion, Lead
from workflows.lead_cadence import workflow_id_for
from workflows.messages import MigrateRequest


class Refused(Exception):
    """The lead cannot be enrolled as given: a 422 on `POST /leads`, a rejected row in an import."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


@dataclass
class Admitted:
    lead: Lead
    new: bool  # False: the email was known; the lead was re-engaged by the usual rule (or left alone)


def open_cadence(session: Session, name: str) -> CadenceVersion:
    """The latest version of a cadence that takes new leads; Refused on `cadence` otherwise."""
    row = cadence_store.latest(session, name)
    if row is None:
        raise Refused("cadence", f"unknown cadence {name!r}; see GET /cadences")
    if cadence_store.is_archived(session, name):
        raise Refused("cadence", f"cadence {name!r} is archived and takes no new leads")
    return row


def suppression_reason(session: Session, email: str, settings: Settings) -> str | None:
    """Why the address must not be emailed (unsubscribed, spam report, ...), or None."""
    return touch_store.suppression_reason(session, email, settings.secret())


def admit(session: Session, settings: Settings, temporal, body: LeadCreate, *,
          refuse_suppressed: bool = False) -> Admitted:
    """Rank, re-engage a known email, or add a new lead (flushed, not committed; its workflow not
    started). Raises Refused for input that cannot be enrolled."""
    ranking = ranking_store.current(session)  # read each time: a PUT /ranking applies to the next lead
    try:
        by_source = rank_for(body.source, ranking.sources)  # an unknown source is an error even with a rank
        rank = body.rank or by_source
    except UnknownSource as exc:
        raise Refused("source", str(exc)) from None
    if refuse_suppressed:
        reason = suppression_reason(session, body.email, settings)
        if reason:
            raise Refused("email", f"the address is suppressed ({reason}) and is never emailed again")
    existing = lead_store.by_email(session, body.email)
    if existing is not None:
        _reengage(existing, body, rank, ranking, session, settings, temporal)
        return Admitted(existing, new=False)
    cadence_row = open_cadence(session, body.cadence or ranking.cadences[rank])
    if cadence_store.latest(session, NURTURE_CADENCE) is None:
        raise HTTPException(503, "the nurture cadence is not loaded; run `python -m scripts.load_cadences`")
    lead_id = lead_store.new_lead_id()
    # No owner given: the routing rules pick one (territory, rank, round-robin) when reps exist.
    owner = body.owner or rep_store.assign_owner(session, body.country, rank)
    lead = lead_store.add(
        session, id=lead_id, workflow_id=workflow_id_for(lead_id), rank=rank, cadence_name=cadence_row.name,
        cadence_version=cadence_row.version, timezone=body.timezone or settings.cadence_default_timezone,
        owner=owner, **body.model_dump(exclude={"rank", "cadence", "timezone", "owner"}),
    )
    return Admitted(lead, new=True)


def enrol(session: Session, settings: Settings, temporal, body: LeadCreate) -> Admitted:
    """`POST /leads`: admit, commit and start the cadence workflow at once."""
    try:
        admitted = admit(session, settings, temporal, body)
        if not admitted.new:
            return admitted
        session.commit()  # committed before the workflow starts: its first activity writes to this row
    except IntegrityError:  # the same email enrolled concurrently: that lead is the answer
        session.rollback()
        return Admitted(lead_store.by_email(session, body.email), new=False)
    try:
        lead_workflows.start(session, settings, temporal, admitted.lead)
    except (HTTPException, lead_workflows.CadenceEnded):
        session.delete(admitted.lead)  # nothing is left half-written
        session.commit()
        raise HTTPException(503, "could not start the cadence workflow; is Temporal reachable? see /healthz") from None
    return admitted


def _reengage(lead: Lead, body: LeadCreate, rank: str, ranking, session: Session, settings: Settings,
              temporal) -> None:
    """A new inquiry from a known lead (SPEC 2.7): a higher rank moves it to that rank's cadence,
    and a lead in nurture re-enters; anything else leaves the running cadence alone."""
    if lead.status in ENDED_STATUSES or lead.stage in FINAL_STAGES:
        return  # its answer is in: a person decides what comes next
    upgrade = is_higher(rank, lead.rank)
    if not upgrade and lead.stage != "nurture":
        return
    rank = rank if upgrade else lead.rank
    cadence_name = body.cadence or ranking.cadences[rank]
    row = cadence_store.latest(session, cadence_name)
    if row is None or cadence_store.is_archived(session, cadence_name):
        return  # nothing better to move to: the lead goes on as it is
    if not lead.revision:  # its workflow never ran (an imported lead waiting for its turn): start it now
        try:
            lead_workflows.start(session, settings, temporal, lead)
        except (HTTPException, lead_workflows.CadenceEnded):
            return
    # The same inquiry twice (a double-submitted form) is one update: same lead state, same target.
    update_id = f"reengage-{lead.id}-{row.name}-v{row.version}-{lead.revision}"
    request = MigrateRequest(cadence_store.snapshot(row), update_id, reengage=True, source=body.source)
    try:
        plan = lead_workflows.update(temporal, lead, request, update_id)
    except (WorkflowUpdateFailedError, RPCError):
        return  # the cadence ended meanwhile: the lead is returned as it is
    if plan is None or not plan.note:  # applied, or accepted and applied right after the current step
        lead.rank, lead.cadence_name, lead.cadence_version = rank, row.name, row.version
        session.commit()
        session.refresh(lead)
