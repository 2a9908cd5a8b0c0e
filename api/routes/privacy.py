"""A person's rights over their data: a copy of all of it (GDPR Art. 15) and erasure (Art. 17)."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException
from temporalio.service import RPCError, RPCStatusCode

from api.auth.deps import PrincipalDep
from api.deps import DatabaseDep, SessionDep, SettingsDep, TemporalDep, in_session
from api.routes.leads import _lead_or_404
from persistence import audit, erasure
from persistence.models import utcnow
from privacy.codec import forget_lead

router = APIRouter(prefix="/leads", tags=["privacy"])

TERMINATE_REASON = "personal data erased on request"  # stored in clear in the history: no names here


@router.get("/{lead_id}/export")
def export_lead(lead_id: str, session: SessionDep, principal: PrincipalDep) -> dict:
    """Everything stored about the lead: its fields, touches, events, tasks, outbox emails,
    the email provider's events and its suppression."""
    data = erasure.personal_data(session, _lead_or_404(session, lead_id, principal))
    audit.record(session, principal.actor, principal.name, "lead.exported", "lead", lead_id, {})
    return {"exported_at": utcnow(), **data}


@router.delete("/{lead_id}")
async def erase_lead(lead_id: str, db: DatabaseDep, settings: SettingsDep, temporal: TemporalDep,
                     principal: PrincipalDep) -> dict:
    """Stop the lead's workflow, then delete everything about it in one transaction; its Temporal
    history stays on the server but can no longer be decrypted (its data key is deleted)."""
    workflow_id = await in_session(db, lambda session: _lead_or_404(session, lead_id, principal).workflow_id)
    client = await temporal.client()  # nothing is held while Temporal answers
    try:  # first: a running cadence would go on writing about the person
        await client.get_workflow_handle(workflow_id).terminate(reason=TERMINATE_REASON)
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:  # not found: closed already, or its history is gone
            raise HTTPException(503, f"could not stop the workflow of lead {lead_id}; nothing was erased: "
                                     f"{exc.message}") from None
    counts = await in_session(db, _erase, lead_id, settings, principal)
    forget_lead(lead_id)  # this process's codecs drop the key now; others within a minute
    return {"lead_id": lead_id, "erased": counts}


def _erase(session, lead_id: str, settings, principal) -> dict:
    counts = erasure.erase(session, lead_id, settings.secret())
    if counts is None:  # erased by a concurrent request meanwhile
        raise HTTPException(404, f"no lead with id {lead_id!r}")
    audit.record(session, principal.actor, principal.name, "lead.erased", "lead", lead_id, {})
    session.commit()
    return counts
