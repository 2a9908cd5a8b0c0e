"""The import workflow's activities: write a list's rows, enrol them, start their cadences.

Each row is enrolled through `api.enrolment.admit`, the code `POST /leads` runs, in a transaction
that also records the row's outcome: a batch cut short by a dead worker is retried and skips the
rows that have one. A created lead's workflow is started afterwards (`start_imported_leads`), at
the import's pace; a row remembers that its lead was started, and starting is idempotent by the
workflow id, so a retry never starts a cadence twice.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Coroutine, TypeVar

from fastapi import HTTPException
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from api import enrolment, lead_workflows
from api.schemas import LeadCreate
from config import Settings
from domain import priority
from domain.imports import FileProblem, layout
from persistence import imports as store
from persistence import leads as lead_store
from persistence.db import Database
from persistence.models import ImportRow, Lead, LeadImport
from workflows.imports import ImportStep, ImportStepResult

T = TypeVar("T")


class WorkerTemporal:
    """The worker's Temporal client as the API's routes hold theirs (a coroutine `client()`), for
    the enrolment code running in an activity thread: `run` runs its coroutines on the worker's
    event loop and waits for them."""

    def __init__(self, client: Client, loop: asyncio.AbstractEventLoop):
        self._client, self._loop = client, loop

    async def client(self) -> Client:
        return self._client

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()


def validation_problems(exc: ValidationError) -> list[dict[str, str]]:
    """Pydantic's errors as {"field", "message"}, the field as the request body names it."""
    return [{"field": ".".join(str(part) for part in error["loc"]) or "row",
             "message": error["msg"].removeprefix("Value error, ")} for error in exc.errors()]


class ImportActivities:
    def __init__(self, db: Database, client: Client, settings: Settings):
        self.db, self.settings = db, settings
        self.temporal = WorkerTemporal(client, asyncio.get_running_loop())

    def _import(self, session, import_id: str) -> LeadImport:
        found = store.get(session, import_id)
        if found is None:
            raise ApplicationError(f"import {import_id} does not exist", type="ImportNotFound", non_retryable=True)
        return found

    @activity.defn(name="write_import_rows")
    def write_rows(self, import_id: str) -> int:
        with self.db.session() as session:
            lead_import = self._import(session, import_id)
            if lead_import.content is None:
                return lead_import.total
            try:
                return store.write_rows(session, lead_import, layout(lead_import.content))
            except FileProblem as exc:  # checked on upload, so only a file changed since ends here
                store.fail(lead_import, str(exc))
                return 0

    @activity.defn(name="enrol_import_batch")
    def enrol_batch(self, step: ImportStep) -> ImportStepResult:
        with self.db.session() as session:
            cadence = self._import(session, step.import_id).cadence
            numbers = [r.row for r in store.pending(session, step.import_id, step.limit)]
        for number in numbers:
            self._enrol_row(step.import_id, number, cadence)
            activity.heartbeat(number)
        with self.db.session() as session:
            remaining = len(store.pending(session, step.import_id, 1))
            if not remaining:
                store.mark(self._import(session, step.import_id), enrolled=True)
        return ImportStepResult(len(numbers), remaining)

    def _enrol_row(self, import_id: str, number: int, cadence: str | None) -> None:
        with self.db.session() as session:
            row = session.get(ImportRow, (import_id, number))
            if row is None or row.status != "pending":
                return  # an earlier attempt recorded its outcome
            values = dict(row.data or {})
            if cadence:
                values["cadence"] = cadence  # the import's cadence overrides the column
            try:
                body = LeadCreate.model_validate(values)
            except ValidationError as exc:
                store.record(row, "rejected", errors=validation_problems(exc))
                return
            try:
                admitted = enrolment.admit(session, self.settings, body, refuse_suppressed=True)
                if admitted.move is not None and self.temporal.run(enrolment.reengage(
                        self.settings, self.temporal, admitted.move, priority_key=priority.BULK)):
                    enrolment.record_move(session, admitted.lead, admitted.move)
            except enrolment.Refused as exc:
                store.record(row, "rejected", errors=[{"field": exc.field, "message": exc.message}])
                return
            except IntegrityError:  # the same email enrolled meanwhile, by POST /leads or another import
                session.rollback()
                row = session.get(ImportRow, (import_id, number))
                store.record(row, "existing", lead_id=lead_store.by_email(session, body.email).id)
                return
            except HTTPException as exc:  # Temporal or the nurture cadence unavailable: retried later
                raise ApplicationError(f"row {number}: {exc.detail}") from None
            store.record(row, "created" if admitted.new else "existing", lead_id=admitted.lead.id)

    @activity.defn(name="start_imported_leads")
    def start_leads(self, step: ImportStep) -> ImportStepResult:
        with self.db.session() as session:
            rows = [(r.row, r.lead_id) for r in store.unstarted(session, step.import_id, step.limit)]
        interval, began = step.start_interval_ms / 1000, time.monotonic()
        for k, (number, lead_id) in enumerate(rows):
            self._pause_until(began + k * interval, number)
            self._start(step.import_id, number, lead_id)
            activity.heartbeat(number)
        with self.db.session() as session:
            remaining = len(store.unstarted(session, step.import_id, 1))
            lead_import = self._import(session, step.import_id)
            if not remaining and lead_import.enrolled_at is not None:
                store.mark(lead_import, finished=True)
        return ImportStepResult(len(rows), remaining)

    @staticmethod
    def _pause_until(moment: float, number: int) -> None:
        while (left := moment - time.monotonic()) > 0:
            time.sleep(min(left, 1.0))
            activity.heartbeat(number)

    def _start(self, import_id: str, number: int, lead_id: str | None) -> None:
        with self.db.session() as session:
            row = session.get(ImportRow, (import_id, number))
            if row is None or row.started_at is not None:
                return
            lead = session.get(Lead, lead_id) if lead_id else None
            if lead is not None and not lead.revision:  # not started by an event or a new inquiry meanwhile
                try:
                    request = lead_workflows.start_request(session, self.settings, lead)
                    self.temporal.run(lead_workflows.start(self.temporal, self.settings, request,
                                                           priority_key=priority.BULK))
                except lead_workflows.CadenceEnded:
                    pass  # it ran and ended already
                except HTTPException as exc:
                    raise ApplicationError(f"row {number}: {exc.detail}") from None
            store.record_started(row)

    def all(self) -> list:
        return [self.write_rows, self.enrol_batch, self.start_leads]
