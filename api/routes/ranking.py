"""The source → rank table and each rank's default cadence: data ops edit; new leads use the newest."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException

from api.auth.deps import PrincipalDep
from api.deps import SessionDep
from api.schemas import RankingPublic, RankingUpdate
from domain.ranks import NURTURE_CADENCE, ranking_problems
from persistence import audit
from persistence import cadences as cadence_store
from persistence import ranking as ranking_store

router = APIRouter(prefix="/ranking", tags=["ranking"])


def _public(ranking: ranking_store.Ranking) -> dict:
    return {"version": ranking.version, "created_at": ranking.created_at, "sources": ranking.sources,
            "cadences": ranking.cadences, "nurture": NURTURE_CADENCE}


@router.get("", response_model=RankingPublic)
def get_ranking(session: SessionDep) -> dict:
    return _public(ranking_store.current(session))


@router.get("/versions", response_model=list[RankingPublic])
def ranking_history(session: SessionDep) -> list[dict]:
    """Every stored table, oldest first: who-changed-what starts here."""
    return [_public(r) for r in ranking_store.history(session)]


@router.put("", response_model=RankingPublic)
def put_ranking(body: RankingUpdate, session: SessionDep, principal: PrincipalDep) -> dict:
    problems = ranking_problems(body.sources, body.cadences)
    archived = cadence_store.archived_names(session)
    for rank, name in sorted(body.cadences.items()):
        if not name or f"cadences.{rank}" in {field for field, _ in problems}:
            continue
        if cadence_store.latest(session, name) is None:
            problems.append((f"cadences.{rank}", f"unknown cadence {name!r}; see GET /cadences"))
        elif name in archived:  # the table would send every new lead of this rank to a 422
            problems.append((f"cadences.{rank}", f"cadence {name!r} is archived; it takes no new leads"))
    if problems:  # all at once, in FastAPI's shape; split once so a dotted source name stays whole
        raise HTTPException(422, [{"loc": ["body", *field.split(".", 1)], "msg": msg, "type": "value_error"}
                                  for field, msg in problems])
    before = ranking_store.current(session)
    row = ranking_store.save(session, body.sources, body.cadences)
    audit.record(session, principal.actor, principal.name, "ranking.changed", "ranking", str(row.version),
                 audit.diff({"sources": before.sources, "cadences": before.cadences},
                            {"sources": body.sources, "cadences": body.cadences}))
    return _public(row)
