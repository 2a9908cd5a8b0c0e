"""Enrolment: the one path from a validated `LeadCreate` to a lead on its cadence.

`POST /leads` calls `enrol` (admit and commit in a short session, then start the workflow) and an
import calls `admit` for each row, recording the row's outcome in the same transaction as the new
lead and starting the workflows at its own pace (see `activities/imports.py`). Both therefore
rank, choose the cadence, route and re-engage known emails with the same code.

`admit` only reads and writes the database: a known lead to re-engage comes back with the move to
make (`Reengagement`), which `reengage` sends to Temporal once the session is done with.
"""
from __future__ import annotations

from dataclasses import dataclass

from fastapi import HTTPException
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api import lead_workflows
from api.deps import in_session
from api.schemas import LeadCreate
from config import Settings
from domain import priority
from domain.ranks import NURTURE_CADENCE, UnknownSource, is_higher, rank_for
from domain.stages import ENDED_STATUSES, FINAL_STAGES
from persistence import cadences as cadence_store
from persistence import catalog, lead_keys, outbound
from persistence import leads as lead_store
from persistence import reps as rep_store
from persistence import touches as touch_store
from persistence.db import Database
from persistence.models import Lead
from privacy import codec
from workflows.lead_cadence import workflow_id_for
from workflows.messages import MigrateRequest


class Refused(Exception):
    """The lead cannot be enrolled as given: a 422 on `POST /leads`, a rejected row in an import."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


@dataclass(frozen=True)
class Reengagement:
    """A known lead's move to a better cadence (or back from nurture), to send to its workflow."""

    lead_id: str
    workflow_id: str
    rank: str
    cadence_name: str
    cadence_version: int
    request: MigrateRequest
    update_id: str
    start: lead_workflows.StartRequest | None  # its workflow never ran (an imported lead waiting): start it first


@dataclass
class Admitted:
    lead: Lead
    new: bool  # False: the email was known; the lead was re-engaged by the usual rule (or left alone)
    move: Reengagement | None = None  # from `admit`: the re-engagement still to send


def open_cadence(session: Session, name: str, known: catalog.Known | None = None) -> catalog.CadenceRow:
    """The latest version of a cadence that takes new leads; Refused on `cadence` otherwise."""
    known = known or catalog.current(session)
    row = known.latest.get(name)
    if row is None:
        raise Refused("cadence", f"unknown cadence {name!r}; see GET /cadences")
    if name in known.archived:
        raise Refused("cadence", f"cadence {name!r} is archived and takes no new leads")
    return row


def suppression_reason(session: Session, email: str, settings: Settings) -> str | None:
    """Why the address must not be emailed (unsubscribed, spam report, ...), or None."""
    return touch_store.suppression_reason(session, email, settings.secret())


def admit(session: Session, settings: Settings, body: LeadCreate, *, refuse_suppressed: bool = False) -> Admitted:
    """Rank, plan the re-engagement of a known email, or add a new lead (flushed, not committed; its
    workflow not started). Raises Refused for input that cannot be enrolled."""
    # The ranking, cadences, archive flags and reps, read at most a few seconds ago: a PUT /ranking
    # (or any change to them) through this process applies to the next lead (persistence/catalog.py).
    known = catalog.current(session)
    ranking = known.ranking
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
        return Admitted(existing, new=False, move=_reengagement(existing, body, rank, known, session, settings))
    cadence_row = open_cadence(session, body.cadence or ranking.cadences[rank], known)
    if NURTURE_CADENCE not in known.latest:
        raise HTTPException(503, "the nurture cadence is not loaded; run `python -m scripts.load_cadences`")
    lead_id = lead_store.new_lead_id()
    # No owner given: the routing rules pick one (territory, rank, round-robin) when reps exist.
    owner = body.owner or rep_store.assign_owner(session, body.country, rank, known.reps,
                                                 catalog.catalog_for(session).learn_turns)
    lead = lead_store.add(
        session, id=lead_id, workflow_id=workflow_id_for(lead_id), rank=rank, cadence_name=cadence_row.name,
        cadence_version=cadence_row.version, timezone=body.timezone or settings.cadence_default_timezone,
        owner=owner, **body.model_dump(exclude={"rank", "cadence", "timezone", "owner"}),
    )
    return Admitted(lead, new=True)


@dataclass(frozen=True)
class _Enrolled:
    admitted: Admitted
    start: lead_workflows.StartRequest | None = None  # None for a new lead: a cadence went missing
    key: bytes | None = None  # a new lead's data key, committed with it


def _admit_and_commit(session: Session, settings: Settings, body: LeadCreate) -> _Enrolled:
    try:
        admitted = admit(session, settings, body)
        if not admitted.new:
            return _Enrolled(admitted)
        key = codec.new_lead_key(session, settings, admitted.lead.id)
        session.commit()  # committed before the workflow starts: its first activity writes to this row
    except IntegrityError:  # the same email enrolled concurrently: that lead is the answer
        session.rollback()
        return _Enrolled(Admitted(lead_store.by_email(session, body.email), new=False))
    try:
        return _Enrolled(admitted, lead_workflows.start_request(session, settings, admitted.lead), key)
    except HTTPException:
        return _Enrolled(admitted, key=key)


def _withdraw(session: Session, lead_id: str) -> None:
    """A new lead whose workflow could not start: nothing is left half-written, nor announced (its
    `lead.created` is taken back; a delivery that already went out cannot be)."""
    lead = session.get(Lead, lead_id)
    if lead is not None:
        session.delete(lead)
    lead_keys.remove(session, lead_id)
    outbound.forget_lead(session, lead_id)


async def enrol(db: Database, settings: Settings, temporal, body: LeadCreate) -> Admitted:
    """`POST /leads`: admit and commit, then start the cadence workflow at once (a hot start: see
    domain/priority.py). No session is open while Temporal answers."""
    enrolled = await in_session(db, _admit_and_commit, settings, body)
    admitted = enrolled.admitted
    if not admitted.new:
        if admitted.move is None:
            return admitted
        lead = await reengage_and_record(db, settings, temporal, admitted.lead, admitted.move)
        return Admitted(lead, new=False)
    codec.remember_lead_key(db, admitted.lead.id, enrolled.key)  # the start's payloads are sealed without a read
    try:
        if enrolled.start is None:
            raise HTTPException(503, "a cadence of the lead is not loaded")
        await lead_workflows.start(temporal, settings, enrolled.start, priority_key=priority.HOT)
    except (HTTPException, lead_workflows.CadenceEnded):
        await in_session(db, _withdraw, admitted.lead.id)
        codec.forget_lead(admitted.lead.id)
        raise HTTPException(503, "could not start the cadence workflow; is Temporal reachable? see /healthz") from None
    return admitted


def _reengagement(lead: Lead, body: LeadCreate, rank: str, known: catalog.Known, session: Session,
                  settings: Settings) -> Reengagement | None:
    """A new inquiry from a known lead (SPEC 2.7): a higher rank moves it to that rank's cadence,
    and a lead in nurture re-enters; anything else leaves the running cadence alone (None)."""
    if lead.status in ENDED_STATUSES or lead.stage in FINAL_STAGES:
        return None  # its answer is in: a person decides what comes next
    upgrade = is_higher(rank, lead.rank)
    if not upgrade and lead.stage != "nurture":
        return None
    rank = rank if upgrade else lead.rank
    cadence_name = body.cadence or known.ranking.cadences[rank]
    row = known.latest.get(cadence_name)
    if row is None or cadence_name in known.archived:
        return None  # nothing better to move to: the lead goes on as it is
    start = None
    if not lead.revision:  # its workflow never ran (an imported lead waiting for its turn): started first
        try:
            start = lead_workflows.start_request(session, settings, lead)
        except HTTPException:
            return None
    # The same inquiry twice (a double-submitted form) is one update: same lead state, same target.
    update_id = f"reengage-{lead.id}-{row.name}-v{row.version}-{lead.revision}"
    request = MigrateRequest(cadence_store.snapshot(row), update_id, reengage=True, source=body.source, rank=rank)
    return Reengagement(lead.id, lead.workflow_id, rank, row.name, row.version, request, update_id, start)


async def reengage(settings: Settings, temporal, move: Reengagement, *, priority_key: int) -> bool:
    """Send the move to the lead's workflow (starting it first if it never ran); True when the lead
    is on its new cadence now or right after its current step, False when nothing moved."""
    if move.start is not None:
        try:
            await lead_workflows.start(temporal, settings, move.start, priority_key=priority_key)
        except (HTTPException, lead_workflows.CadenceEnded):
            return False
    try:
        plan = await lead_workflows.update(temporal, move.workflow_id, move.request, move.update_id)
    except (WorkflowUpdateFailedError, RPCError):
        return False  # the cadence ended meanwhile: the lead is returned as it is
    return plan is None or not plan.note  # applied, or accepted and applied right after the current step


def record_move(session: Session, lead: Lead, move: Reengagement) -> Lead:
    """The lead's row on its new cadence, committed."""
    lead.rank, lead.cadence_name, lead.cadence_version = move.rank, move.cadence_name, move.cadence_version
    session.commit()
    session.refresh(lead)
    return lead


async def reengage_and_record(db: Database, settings: Settings, temporal, lead: Lead, move: Reengagement) -> Lead:
    """`POST /leads` for a known email: the move, then the lead as it is afterwards."""
    if not await reengage(settings, temporal, move, priority_key=priority.HOT):
        return lead

    def moved(session: Session) -> Lead:
        row = session.get(Lead, move.lead_id)
        return lead if row is None else record_move(session, row, move)  # None: erased meanwhile
    return await in_session(db, moved)
