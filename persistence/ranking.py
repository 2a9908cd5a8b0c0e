"""The ranking table as data: each edit is a new version, the newest applies to new leads."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.ranks import DEFAULT_RANK_CADENCES, DEFAULT_SOURCE_RANKS
from persistence.models import RankingVersion


@dataclass(frozen=True)
class Ranking:
    version: int  # 0: nothing stored yet, the built-in defaults
    sources: dict[str, str]
    cadences: dict[str, str]
    created_at: datetime | None = None


DEFAULT = Ranking(0, dict(DEFAULT_SOURCE_RANKS), dict(DEFAULT_RANK_CADENCES))


def _ranking(row: RankingVersion) -> Ranking:
    return Ranking(row.version, dict(row.sources), dict(row.cadences), row.created_at)


def current(session: Session) -> Ranking:
    row = session.scalar(select(RankingVersion).order_by(RankingVersion.version.desc()).limit(1))
    return DEFAULT if row is None else _ranking(row)


def history(session: Session) -> list[Ranking]:
    return [_ranking(r) for r in session.scalars(select(RankingVersion).order_by(RankingVersion.version))]


def save(session: Session, sources: dict[str, str], cadences: dict[str, str]) -> Ranking:
    """Store a validated table as the next version; the same table as the newest stores nothing."""
    latest = current(session)
    if latest.version and (latest.sources, latest.cadences) == (sources, cadences):
        return latest
    row = RankingVersion(sources=dict(sources), cadences=dict(cadences))
    session.add(row)
    session.flush()  # the autoincrement key is the version, so concurrent edits cannot collide
    return _ranking(row)
