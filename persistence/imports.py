"""Lead imports: the uploaded file, its rows and each row's outcome (the import tables' one writer)."""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from domain.imports import Layout, email_key, rows as file_rows
from persistence.models import ImportRow, LeadImport, utcnow

OUTCOMES = ("created", "existing", "rejected")


def new_import_id() -> str:
    return secrets.token_hex(8)


def create(session: Session, *, filename: str | None, cadence: str | None, layout: Layout, total: int,
           content: bytes, batch_size: int, start_interval_ms: int, created_by: str | None) -> LeadImport:
    row = LeadImport(
        id=new_import_id(), status="running", filename=filename, cadence=cadence,
        columns=[c.header for c in layout.columns], unknown_columns=layout.unknown, warnings=list(layout.warnings),
        total=total, batch_size=batch_size, start_interval_ms=start_interval_ms, content=content,
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row


def get(session: Session, import_id: str) -> LeadImport | None:
    return session.get(LeadImport, import_id)


def write_rows(session: Session, lead_import: LeadImport, layout: Layout, chunk: int = 1000) -> int:
    """Write every data row of the stored file as a pending row, in one transaction, then drop the
    file. Malformed rows and addresses seen in an earlier row are rejected here, naming the field.
    A second call (a retried activity) finds the rows written and writes nothing."""
    written = session.scalar(select(func.count()).where(ImportRow.import_id == lead_import.id)) or 0
    if written or lead_import.content is None:
        return written
    first_row: dict[str, int] = {}
    batch: list[dict[str, Any]] = []
    for row in file_rows(lead_import.content, layout):
        values: dict[str, Any] = {"import_id": lead_import.id, "row": row.number, "status": "pending",
                                  "data": row.values, "errors": None}
        key = email_key(row.values)
        if row.problem:
            values.update(status="rejected", data=None, errors=[{"field": "row", "message": row.problem}])
        elif key is not None and key in first_row:
            values.update(status="rejected", data=None,
                          errors=[{"field": "email", "message": f"the same address as row {first_row[key]}"}])
        elif key is not None:
            first_row[key] = row.number
        batch.append(values)
        written += 1
        if len(batch) >= chunk:
            session.execute(insert(ImportRow), batch)
            batch = []
    if batch:
        session.execute(insert(ImportRow), batch)
    lead_import.content = None  # the rows hold what is still needed
    return written


def pending(session: Session, import_id: str, limit: int) -> list[ImportRow]:
    return list(session.scalars(select(ImportRow).where(ImportRow.import_id == import_id,
                                                        ImportRow.status == "pending")
                                .order_by(ImportRow.row).limit(limit)))


def record(row: ImportRow, status: str, *, lead_id: str | None = None,
           errors: list[dict[str, Any]] | None = None) -> None:
    """The row's outcome; its values are not kept once it has one."""
    row.status, row.lead_id, row.errors, row.data = status, lead_id, errors, None


def record_started(row: ImportRow) -> None:
    row.started_at = utcnow()


def unstarted(session: Session, import_id: str, limit: int) -> list[ImportRow]:
    """Created leads whose cadence has not started yet, in file order."""
    return list(session.scalars(select(ImportRow).where(ImportRow.import_id == import_id,
                                                        ImportRow.status == "created",
                                                        ImportRow.started_at.is_(None))
                                .order_by(ImportRow.row).limit(limit)))


def counts(session: Session, import_ids: list[str]) -> dict[str, dict[str, int]]:
    """Per import: rows per outcome (pending included) and how many created leads have started."""
    out = {i: {"pending": 0, "created": 0, "existing": 0, "rejected": 0, "started": 0} for i in import_ids}
    if not import_ids:
        return out
    query = (select(ImportRow.import_id, ImportRow.status, func.count(), func.count(ImportRow.started_at))
             .where(ImportRow.import_id.in_(import_ids)).group_by(ImportRow.import_id, ImportRow.status))
    for import_id, status, n, started in session.execute(query):
        out[import_id][status] = n
        out[import_id]["started"] += started
    return out


def errors(session: Session, import_id: str, limit: int, offset: int = 0) -> list[dict[str, Any]]:
    """The rejected rows' problems, one entry per field, in file order."""
    rejected = session.scalars(select(ImportRow).where(ImportRow.import_id == import_id,
                                                       ImportRow.status == "rejected")
                               .order_by(ImportRow.row).limit(limit).offset(offset))
    return [{"row": r.row, **problem} for r in rejected for problem in (r.errors or [])]


def mark(lead_import: LeadImport, *, enrolled: bool = False, finished: bool = False,
         at: datetime | None = None) -> None:
    at = at or utcnow()
    if enrolled and lead_import.enrolled_at is None:
        lead_import.enrolled_at, lead_import.content = at, None
        if lead_import.status == "running":
            lead_import.status = "done"
    if finished and lead_import.finished_at is None:
        lead_import.finished_at = at


def fail(lead_import: LeadImport, reason: str) -> None:
    """The file cannot be read after all: nothing of it is enrolled."""
    lead_import.status, lead_import.content = "failed", None
    lead_import.warnings = [*lead_import.warnings, reason]


def listing(session: Session, limit: int, offset: int) -> tuple[list[LeadImport], int]:
    total = session.scalar(select(func.count()).select_from(LeadImport)) or 0
    rows = session.scalars(select(LeadImport).order_by(LeadImport.created_at.desc(), LeadImport.id)
                           .limit(limit).offset(offset))
    return list(rows), total
