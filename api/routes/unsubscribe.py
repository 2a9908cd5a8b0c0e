"""The unsubscribe link in every email: GET shows a confirmation, POST is RFC 8058 one-click."""
from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse

from api import lead_workflows
from api.deps import DatabaseDep, SessionDep, SettingsDep, TemporalDep, in_session
from domain.events import LeadEvent
from messaging import tokens
from persistence import touches as store
from persistence.models import Lead

router = APIRouter(prefix="/unsubscribe", tags=["unsubscribe"])
log = logging.getLogger("cadence.api")

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; max-width: 32rem;
margin: 4rem auto; padding: 0 1rem; color: #1f2328; line-height: 1.5">
<h1 style="font-size: 1.4rem">{title}</h1><p>{text}</p>{form}</body></html>"""


def _lead_for(token: str, session, settings) -> Lead:
    lead_id = tokens.verify("unsubscribe", token, settings.secret())
    lead = session.get(Lead, lead_id) if lead_id else None
    if lead is None:
        raise HTTPException(404, "this unsubscribe link is not valid")
    return lead


@router.get("/{token}", response_class=HTMLResponse)
def confirm(token: str, session: SessionDep, settings: SettingsDep) -> str:
    lead = _lead_for(token, session, settings)
    form = (f'<form method="post"><button type="submit" style="font-size: 1rem; padding: .6rem 1.2rem">'
            f"Unsubscribe {lead.email}</button></form>")
    return PAGE.format(title="Unsubscribe", text="We will not email this address again.", form=form)


@router.post("/{token}", response_class=HTMLResponse)
async def unsubscribe(token: str, db: DatabaseDep, settings: SettingsDep, temporal: TemporalDep) -> str:
    lead, email = await in_session(db, _suppress, token, settings)
    event = LeadEvent(type="reply", event_id=f"unsubscribe-{lead.lead_id}", intent="unsubscribe", channel="email")
    try:
        await lead_workflows.signal(temporal, settings, lead, "reply", event)
    except (lead_workflows.CadenceEnded, HTTPException) as exc:  # the suppression holds whatever happens
        log.info("unsubscribe of lead %s not signalled: %s", lead.lead_id, exc)
    return PAGE.format(title="You are unsubscribed", text=f"{email} will not receive emails from us again.",
                       form="")


def _suppress(session, token: str, settings) -> tuple[lead_workflows.Reach, str]:
    lead = _lead_for(token, session, settings)
    # The suppression list is what every send checks, so it is written first and for good.
    store.suppress(session, lead.email, "unsubscribed")
    session.commit()
    return lead_workflows.reach(session, settings, lead), lead.email
