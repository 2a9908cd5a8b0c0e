"""The source → rank table and each rank's default cadence (read-only until ops can edit it)."""
from __future__ import annotations

from fastapi import APIRouter

from domain.ranks import DEFAULT_RANK_CADENCES, DEFAULT_SOURCE_RANKS, NURTURE_CADENCE

router = APIRouter(prefix="/ranking", tags=["ranking"])


@router.get("")
def get_ranking() -> dict:
    return {"sources": DEFAULT_SOURCE_RANKS, "cadences": DEFAULT_RANK_CADENCES, "nurture": NURTURE_CADENCE}
