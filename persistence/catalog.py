"""What every enrolment reads and few requests change, kept in memory for a few seconds: the
ranking table, each cadence's latest version, the archived cadences and the reps' routing state.

Without it, `POST /leads` (and every imported row) read all of them again for each lead. There is
one cache per database in a process. A commit in this process that writes one of those tables
drops it at once (a session event looks at what each flush wrote), so a change made through this
API applies to the very next lead. A change made by another process (a second API process, the
worker) is seen within TTL_SECONDS: with several API processes, that is the staleness this bounds.
Round-robin stays exact whatever the cache holds: a turn is taken by a compare-and-set on the rep's
row (persistence/reps.py), and a turn the cache has wrong only makes the routing read the reps again.
"""
from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from domain import routing
from persistence import cadences as cadence_store
from persistence import ranking as ranking_store
from persistence import reps as rep_store
from persistence.models import CadenceArchive, CadenceVersion, RankingVersion, Rep

TTL_SECONDS = 5.0
WATCHED = (RankingVersion, CadenceVersion, CadenceArchive, Rep)
_WROTE = "cadence.catalog_written"  # session.info: this transaction wrote a watched table


@dataclass(frozen=True)
class CadenceRow:
    """A cadence version as enrolment uses it: the stored row's fields, outside any session."""

    name: str
    version: int
    definition: dict[str, Any]
    created_at: datetime | None = None


@dataclass(frozen=True)
class Known:
    ranking: ranking_store.Ranking
    latest: Mapping[str, CadenceRow]  # each cadence's latest version, by name
    archived: frozenset[str]
    reps: Mapping[str, routing.Rep]

    def version(self, name: str, number: int) -> CadenceRow | None:
        """The version if it is the latest; None means: read it from the database."""
        row = self.latest.get(name)
        return row if row is not None and row.version == number else None


def _read(session: Session) -> Known:
    latest = {row.name: CadenceRow(row.name, row.version, row.definition, row.created_at)
              for row in cadence_store.all_latest(session)}
    return Known(ranking_store.current(session), latest, frozenset(cadence_store.archived_names(session)),
                 rep_store.everyone(session))


class Catalog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: Known | None = None
        self._until = 0.0
        self._generation = 0  # a read that began before a drop is not kept

    def get(self, session: Session) -> Known:
        with self._lock:
            if self._known is not None and time.monotonic() < self._until:
                return self._known
            generation = self._generation
        known = _read(session)
        with self._lock:
            if generation == self._generation:
                self._known, self._until = known, time.monotonic() + TTL_SECONDS
        return known

    def drop(self) -> None:
        with self._lock:
            self._generation += 1
            self._known = None

    def learn_turns(self, reps: Iterable[routing.Rep]) -> None:
        """Turns taken (or read) since the cache was filled: a rep's last turn only grows."""
        with self._lock:
            if self._known is None:
                return
            cached = dict(self._known.reps)
            newer = {r.id: replace(cached[r.id], last_turn=r.last_turn) for r in reps
                     if r.id in cached and r.last_turn > cached[r.id].last_turn}
            if newer:
                self._known = replace(self._known, reps={**cached, **newer})


_catalogs: dict[str, Catalog] = {}
_catalogs_lock = threading.Lock()


_keys: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def _key(session: Session) -> str:
    """The database's URL: every engine of one database in the process shares its catalog."""
    engine = session.get_bind()
    key = _keys.get(engine)
    if key is None:
        key = _keys[engine] = engine.url.render_as_string(hide_password=False)
    return key


def catalog_for(session: Session) -> Catalog:
    key = _key(session)
    with _catalogs_lock:
        return _catalogs.setdefault(key, Catalog())


def current(session: Session) -> Known:
    """What enrolment reads, at most TTL_SECONDS old (read in `session` when it is older)."""
    return catalog_for(session).get(session)


@event.listens_for(Session, "after_flush")
def _note_writes(session: Session, _context) -> None:
    if any(isinstance(obj, WATCHED) for changed in (session.new, session.dirty, session.deleted) for obj in changed):
        session.info[_WROTE] = True


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _drop_written(session: Session) -> None:
    """Dropped after a commit that wrote a watched table, and after a rollback of one: a read in
    that transaction may have seen what the rollback undid."""
    if session.info.pop(_WROTE, False):
        catalog_for(session).drop()
