"""Versioned cadence definitions: every change is a new version; old versions stay readable."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain.cadences import Cadence
from persistence.models import CadenceArchive, CadenceVersion

CADENCES_DIR = Path(__file__).resolve().parent.parent / "cadences"


def latest(session: Session, name: str) -> CadenceVersion | None:
    return session.scalar(select(CadenceVersion).where(CadenceVersion.name == name)
                          .order_by(CadenceVersion.version.desc()).limit(1))


def versions(session: Session, name: str) -> list[CadenceVersion]:
    return list(session.scalars(select(CadenceVersion).where(CadenceVersion.name == name)
                                .order_by(CadenceVersion.version)))


def all_latest(session: Session) -> list[CadenceVersion]:
    newest = (select(CadenceVersion.name, func.max(CadenceVersion.version).label("v"))
              .group_by(CadenceVersion.name).subquery())
    return list(session.scalars(select(CadenceVersion).join(
        newest, (CadenceVersion.name == newest.c.name) & (CadenceVersion.version == newest.c.v))
        .order_by(CadenceVersion.name)))


def save_version(session: Session, definition: dict[str, Any]) -> CadenceVersion:
    """Store `definition` (already validated) as the next version of its name."""
    current = latest(session, definition["name"])
    version = (current.version + 1) if current else 1
    cadence = Cadence.from_dict({**definition, "version": version})
    row = CadenceVersion(name=cadence.name, version=version, definition=cadence.to_dict())
    session.add(row)
    session.flush()
    return row


def snapshot(row: CadenceVersion, enrolled_at: datetime | None = None) -> Cadence:
    """The cadence a workflow receives: its holiday calendar resolved to dates here, at enrolment,
    because the workflow itself must not consult the holidays package (replays would drift)."""
    return Cadence.from_dict(row.definition).with_holidays(enrolled_at or datetime.now(timezone.utc))


def read_files(directory: Path = CADENCES_DIR) -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted(directory.glob("*.yaml"))]


def same_as(row: CadenceVersion, definition: dict[str, Any]) -> bool:
    """Whether `definition` (validated) is what version `row` already is: saving it would add nothing."""
    return Cadence.from_dict({**definition, "version": row.version}).to_dict() == row.definition


def load_definitions(session: Session, definitions: list[dict[str, Any]]) -> list[tuple[str, int, bool]]:
    """Save each definition that differs from its latest version: (name, version, changed)."""
    out = []
    for definition in definitions:
        current = latest(session, definition["name"])
        if current is not None and same_as(current, definition):
            out.append((current.name, current.version, False))
            continue
        row = save_version(session, definition)
        out.append((row.name, row.version, True))
    return out


def snapshot_from_file(name: str, directory: Path = CADENCES_DIR) -> Cadence:
    """A cadence straight from its YAML file, for tests and first start-up."""
    return Cadence.from_dict(yaml.safe_load((directory / f"{name}.yaml").read_text()))


# Archiving is by name: a cadence stops taking new leads, every version stays readable and
# running leads keep theirs (they carry a snapshot of it).

def archived_names(session: Session) -> set[str]:
    return set(session.scalars(select(CadenceArchive.name)))


def is_archived(session: Session, name: str) -> bool:
    return session.get(CadenceArchive, name) is not None


def archive(session: Session, name: str) -> None:
    if is_archived(session, name):  # archiving twice keeps the first date
        return
    try:
        with session.begin_nested():
            session.add(CadenceArchive(name=name))
    except IntegrityError:  # archived concurrently: the same outcome
        pass


def unarchive(session: Session, name: str) -> None:
    row = session.get(CadenceArchive, name)
    if row is not None:
        session.delete(row)
        session.flush()


def version(session: Session, name: str, number: int) -> CadenceVersion | None:
    return session.scalar(select(CadenceVersion).where(CadenceVersion.name == name, CadenceVersion.version == number))
