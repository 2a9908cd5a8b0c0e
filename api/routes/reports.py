"""Reports (SPEC 2.3, 2.4): the qualification funnel, A/B variants compared by replies (not opens:
mail privacy proxies make opens unreliable), each step of a cadence, the time to a lead's first
touch per rank, and rep tasks done on time. A period is `since` and `until`, both whole days in
UTC and both included."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.deps import SessionDep
from persistence import cadences as cadence_store
from persistence import reports

router = APIRouter(prefix="/reports", tags=["reports"])
Since = Annotated[date | None, Query(description="first day of the period (UTC), included")]
Until = Annotated[date | None, Query(description="last day of the period (UTC), included")]


def period(since: date | None, until: date | None) -> dict[str, datetime | None]:
    """The days as the half-open range of instants the queries take."""
    start = datetime.combine(since, time(0), timezone.utc) if since else None
    end = datetime.combine(until + timedelta(days=1), time(0), timezone.utc) if until and until < date.max else None
    return {"since": start, "until": end}


def known_cadence(session, name: str) -> str:
    if cadence_store.latest(session, name) is None:
        raise HTTPException(404, f"no cadence named {name!r}")
    return name


@router.get("/funnel")
def funnel(session: SessionDep, cadence: str | None = None,
           rank: Annotated[str | None, Query(pattern="^[ABCD]$")] = None, since: Since = None,
           until: Until = None) -> dict:
    """MQL → SAL → SQL: every lead starts `mql`; `sal` when a rep accepted it; `sql` when qualified.
    With a period: the leads created in it."""
    return reports.funnel(session, cadence=cadence, rank=rank, **period(since, until))


@router.get("/variants")
def variants(session: SessionDep, cadence: str, since: Since = None, until: Until = None) -> dict:
    """Each variant of each step: emails sent, leads who replied afterwards, and the reply rate."""
    return {"cadence": known_cadence(session, cadence),
            "variants": reports.variants(session, cadence, **period(since, until))}


@router.get("/steps")
def steps(session: SessionDep, cadence: str, since: Since = None, until: Until = None) -> dict:
    """Each step of a cadence: touches performed, and the rates delivered, replied, positive,
    unsubscribed and bounced (an answer counts for the lead's last touch before it)."""
    return {"cadence": known_cadence(session, cadence),
            "steps": reports.cadence_steps(session, cadence, **period(since, until))}


@router.get("/first-touch")
def first_touch(session: SessionDep, cadence: str | None = None, since: Since = None, until: Until = None) -> dict:
    """Per rank: seconds from a lead's creation to its first touch, median and 90th percentile."""
    return {"ranks": reports.first_touch(session, cadence=cadence, **period(since, until))}


@router.get("/tasks")
def tasks(session: SessionDep, since: Since = None, until: Until = None) -> dict:
    """Per rep: tasks due in the period done on time, done late (after their SLA), missed, open."""
    return {"reps": reports.task_timeliness(session, **period(since, until))}
