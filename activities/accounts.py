"""Account-level effects: a reply from one lead pauses the running cadences of its colleagues.

An async activity, because it signals other workflows through the worker's Temporal client;
the database lookup runs in a thread. Retried safely: the pause event id is derived from the
reply's, so a colleague's workflow applies it once however often it is delivered.
"""
from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.accounts import account_domain
from domain.events import LeadEvent
from persistence import cadences as cadence_store
from persistence import leads as lead_store
from persistence.db import Database
from workflows.messages import PauseAccountInput


def _takes_account_pauses(cadence) -> bool:
    """A cadence may opt out of account pauses; one not stored keeps the default."""
    return cadence is None or cadence.definition.get("pause_account", True)


class AccountActivities:
    def __init__(self, db: Database, client: Client):
        self.db, self.client = db, client

    def _colleagues(self, lead_id: str) -> tuple[str | None, list[tuple[str, str]]]:
        with self.db.session() as session:
            lead = session.get(lead_store.Lead, lead_id)
            domain = account_domain(lead.email) if lead else None
            if domain is None:
                return None, []
            colleagues = [c for c in lead_store.same_account(session, domain, lead_id)
                          if _takes_account_pauses(cadence_store.version(session, c.cadence_name, c.cadence_version))]
            return domain, [(c.id, c.workflow_id) for c in colleagues]

    @activity.defn(name="pause_account")
    async def pause_account(self, input: PauseAccountInput) -> list[str]:
        domain, colleagues = await asyncio.to_thread(self._colleagues, input.lead_id)
        paused = []
        for lead_id, workflow_id in colleagues:
            event = LeadEvent(type="pause", event_id=f"account-{input.event_id}",
                              notes=f"a colleague at {domain} replied (lead {input.lead_id})")
            try:
                await self.client.get_workflow_handle(workflow_id).signal("pause", event)
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    continue  # its cadence ended meanwhile
                raise  # the activity is retried; colleagues already paused drop the repeat (same event id)
            paused.append(lead_id)
        return paused

    def all(self) -> list:
        return [self.pause_account]
