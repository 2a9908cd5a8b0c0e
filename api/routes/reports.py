"""Reports (SPEC 2.3, 2.4): the qualification funnel, and A/B variants compared by replies (not
opens: mail privacy proxies make opens unreliable)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.deps import SessionDep
from persistence import cadences as cadence_store
from persistence import reports

router = APIRouter(prefix="/reports", tags=["reports"])


@router.get("/funnel")
def funnel(session: SessionDep, cadence: str | None = None,
           rank: Annotated[str | None, Query(pattern="^[ABCD]$")] = None) -> dict:
    """MQL → SAL → SQL: every lead starts `mql`; `sal` when a rep accepted it; `sql` when qualified."""
    return reports.funnel(session, cadence=cadence, rank=rank)


@router.get("/variants")
def variants(session: SessionDep, cadence: str) -> dict:
    """Each variant of each step: emails sent, leads who replied afterwards, and the reply rate."""
    if cadence_store.latest(session, cadence) is None:
        raise HTTPException(404, f"no cadence named {cadence!r}")
    return {"cadence": cadence, "variants": reports.variants(session, cadence)}
