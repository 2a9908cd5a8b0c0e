"""Lead lists from CSV files: upload (202 at once), then follow the import's progress.

The file is checked and stored here; the enrolment itself is the `ImportLeadsWorkflow`
(`workflows/imports.py`), so a list of any size never holds the API.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from temporalio.common import Priority, WorkflowIDReusePolicy
from temporalio.service import RPCError

from api import enrolment
from api.auth.deps import PrincipalDep
from api.deps import DatabaseDep, SessionDep, SettingsDep, TemporalDep, in_session, unprocessable
from domain import imports as csv_files
from domain import priority
from persistence import imports as store
from persistence.models import LeadImport
from workflows.imports import ImportInput, ImportLeadsWorkflow, import_workflow_id

router = APIRouter(prefix="/imports", tags=["imports"])


class ImportError_(BaseModel):
    row: int = Field(description="as a spreadsheet numbers it: the header is row 1")
    field: str
    message: str


class ImportSummary(BaseModel):
    id: str
    status: str = Field(description="running: rows are being enrolled; done: every row has its outcome; "
                                    "failed: the stored file could not be read (see warnings)")
    filename: str | None
    cadence: str | None = Field(description="the cadence every row was given, overriding the column")
    total: int = Field(description="data rows in the file")
    processed: int = Field(description="rows with an outcome: created + existing + rejected")
    created: int
    existing: int = Field(description="known emails; re-engaged by the usual rule, never created twice")
    rejected: int
    started: int = Field(description="created leads whose cadence has started (one every start_interval_seconds)")
    start_interval_seconds: float
    columns: list[str]
    unknown_columns: list[str] = Field(description="columns that are not lead fields: not imported")
    warnings: list[str]
    created_at: datetime
    enrolled_at: datetime | None = Field(description="when every row had its outcome")
    finished_at: datetime | None = Field(description="when every created lead's cadence had started")


class ImportDetail(ImportSummary):
    errors: list[ImportError_] = Field(description="one per problem of each rejected row, in file order")


class ImportsPublic(BaseModel):
    data: list[ImportSummary]
    count: int


def _public(row: LeadImport, counts: dict[str, int]) -> dict:
    return dict(
        id=row.id, status=row.status, filename=row.filename, cadence=row.cadence, total=row.total,
        processed=counts["created"] + counts["existing"] + counts["rejected"], created=counts["created"],
        existing=counts["existing"], rejected=counts["rejected"], started=counts["started"],
        start_interval_seconds=row.start_interval_ms / 1000, columns=row.columns, unknown_columns=row.unknown_columns,
        warnings=row.warnings, created_at=row.created_at, enrolled_at=row.enrolled_at, finished_at=row.finished_at,
    )


CadenceName = Annotated[str | None, Query(max_length=100, description="every row's cadence, overriding the column")]


@router.post("", status_code=202, response_model=ImportSummary, responses={422: {"description": (
    "the file cannot be imported (not UTF-8 CSV, no header, no email or source column), or an unknown cadence")}})
async def create_import(
    db: DatabaseDep, settings: SettingsDep, temporal: TemporalDep, principal: PrincipalDep,
    file: Annotated[UploadFile, File(description=(
        "CSV with a header row: email, source, first_name, last_name, company, title, phone, timezone, "
        "country, owner, cadence, source_detail and custom.<name> columns, matched case-insensitively"))],
    cadence_field: Annotated[str | None, Form(alias="cadence", max_length=100,
                                              description="every row's cadence, overriding the column")] = None,
    cadence: CadenceName = None,
):
    chosen = cadence_field or cadence
    content = await file.read()
    shape, total = await run_in_threadpool(_checked, content)  # a large file is parsed off the event loop
    interval_ms = round(settings.cadence_import_start_interval * 1000)
    row = await in_session(db, _stored, chosen, file.filename, shape, total, content, interval_ms, settings, principal)
    try:
        client = await temporal.client()
        await client.start_workflow(
            ImportLeadsWorkflow.run,
            ImportInput(row.id, row.batch_size, interval_ms, settings.cadence_import_batches_per_run),
            id=import_workflow_id(row.id), task_queue=settings.import_task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            priority=Priority(priority_key=priority.BULK),  # a list waits behind leads that just asked
        )
    except (RPCError, HTTPException):
        await in_session(db, _forget, row.id)
        raise HTTPException(503, "could not start the import; is Temporal reachable? see /healthz") from None
    body = await in_session(db, lambda session: ImportSummary(
        **_public(row, store.counts(session, [row.id])[row.id])).model_dump(mode="json"))
    return JSONResponse(body, status_code=202, headers={"Location": f"/imports/{row.id}"})


def _checked(content: bytes) -> tuple[csv_files.Layout, int]:
    try:
        shape = csv_files.layout(content)
        total = csv_files.count(content, shape)
    except csv_files.FileProblem as exc:
        raise unprocessable("file", str(exc)) from None
    if total == 0:
        raise unprocessable("file", "the file has a header but no rows")
    return shape, total


def _stored(session, chosen: str | None, filename: str | None, shape: csv_files.Layout, total: int, content: bytes,
            interval_ms: int, settings, principal) -> LeadImport:
    if chosen:
        try:
            enrolment.open_cadence(session, chosen)
        except enrolment.Refused as exc:
            raise unprocessable(exc.field, exc.message) from None
    row = store.create(
        session, filename=PurePath(filename).name[:255] if filename else None, cadence=chosen,
        layout=shape, total=total, content=content, batch_size=settings.cadence_import_batch_size,
        start_interval_ms=interval_ms, created_by=principal.actor,
    )
    session.commit()
    return row


def _forget(session, import_id: str) -> None:
    session.delete(session.get(LeadImport, import_id))


@router.get("", response_model=ImportsPublic)
def list_imports(session: SessionDep, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                 offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict:
    rows, total = store.listing(session, limit, offset)
    counts = store.counts(session, [r.id for r in rows])
    return {"data": [_public(r, counts[r.id]) for r in rows], "count": total}


@router.get("/{import_id}", response_model=ImportDetail)
def get_import(import_id: str, session: SessionDep,
               errors_limit: Annotated[int, Query(ge=0, le=10_000, description="rejected rows listed")] = 1000,
               errors_offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict:
    row = store.get(session, import_id)
    if row is None:
        raise HTTPException(404, f"no import with id {import_id!r}")
    return {**_public(row, store.counts(session, [row.id])[row.id]),
            "errors": store.errors(session, row.id, errors_limit, errors_offset)}
