"""Who owns a lead or a task (SPEC 2.6): assignment rules and away/backup stand-ins, pure.

Rules, in order:
1. rank: reps who take the lead's rank (a rep with no ranks takes every rank); nobody does → all reps;
2. territory: of those, reps whose territories hold the lead's country; else reps without a
   territory (catch-all); else all of them;
3. round-robin: the one whose turn is oldest (`last_turn`, then id), reps away skipped; when
   all of the pool is away, the turn's rep stands in through their backup chain.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping


@dataclass(frozen=True)
class Rep:
    id: str
    team: str | None = None
    territories: tuple[str, ...] = ()  # ISO country codes; empty: any country (catch-all)
    ranks: tuple[str, ...] = ()  # ranks taken; empty: every rank
    away: bool = False
    backup_id: str | None = None
    last_turn: int = 0  # round-robin: the higher, the more recently this rep got a lead


@dataclass(frozen=True)
class Route:
    turn: str  # the rep whose round-robin turn this was
    owner: str  # who gets the lead: the turn's rep, or their stand-in when away


def takes(rep: Rep, rank: str | None) -> bool:
    return not rep.ranks or rank in rep.ranks


def covers(rep: Rep, country: str | None) -> bool:
    return bool(country) and country.upper() in (t.upper() for t in rep.territories)


def route(reps: Iterable[Rep], country: str | None, rank: str | None) -> Route | None:
    """The owner of a new lead, or None when there are no reps at all."""
    everyone = list(reps)
    if not everyone:
        return None
    pool = [r for r in everyone if takes(r, rank)] or everyone
    pool = [r for r in pool if covers(r, country)] or [r for r in pool if not r.territories] or pool
    present = [r for r in pool if not r.away]
    chosen = min(present or pool, key=lambda r: (r.last_turn, r.id))
    return Route(chosen.id, stand_in(chosen.id, {r.id: r for r in everyone}))


def stand_in(rep_id: str, reps: Mapping[str, Rep]) -> str:
    """Who does `rep_id`'s work now: themselves, or the first rep along the backup chain who is
    not away. A chain with no one present (or a cycle) leaves the work with `rep_id`."""
    seen = {rep_id}
    current = reps.get(rep_id)
    while current is not None and current.away:
        nxt = current.backup_id
        if nxt is None or nxt in seen or nxt not in reps:
            return rep_id
        seen.add(nxt)
        current = reps[nxt]
    return current.id if current is not None else rep_id


def backup_problem(rep_id: str, backup_id: str | None, backups: Mapping[str, str | None]) -> str | None:
    """Why `backup_id` cannot back up `rep_id` (given every rep's current backup), or None.

    Cycles are refused so that following a chain of backups always ends."""
    if backup_id is None:
        return None
    if backup_id == rep_id:
        return "a rep cannot be their own backup"
    if backup_id not in backups:
        return f"no rep with id {backup_id!r}"
    seen, current = [rep_id], backup_id
    while current is not None:
        if current == rep_id:
            return "backups would form a cycle: " + " → ".join(seen + [rep_id])
        if current in seen:  # an older cycle not through this rep: not this change's doing
            return None
        seen.append(current)
        current = backups.get(current)
    return None
