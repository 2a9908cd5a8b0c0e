"""Cadence definitions: list, read with past versions, create (validated)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException

from api.deps import SessionDep
from api.schemas import CadenceDetail, CadencePublic
from domain.cadences import validate_cadence
from messaging.rendering import template_problem
from persistence import cadences as cadence_store

router = APIRouter(prefix="/cadences", tags=["cadences"])


def _public(row) -> dict:
    return {"name": row.name, "version": row.version, "definition": row.definition, "created_at": row.created_at}


@router.get("", response_model=list[CadencePublic])
def list_cadences(session: SessionDep) -> list[dict]:
    return [_public(r) for r in cadence_store.all_latest(session)]


@router.get("/{name}", response_model=CadenceDetail)
def get_cadence(name: str, session: SessionDep, version: int | None = None) -> dict:
    versions = cadence_store.versions(session, name)
    if not versions:
        raise HTTPException(404, f"no cadence named {name!r}")
    chosen = versions[-1] if version is None else next((v for v in versions if v.version == version), None)
    if chosen is None:
        raise HTTPException(404, f"cadence {name!r} has no version {version}")
    return {**_public(chosen), "versions": [_public(v) for v in versions]}


def validated(definition: Any) -> dict:
    problems = validate_cadence(definition, template_problem)
    if problems:
        raise HTTPException(422, [{"loc": ["body", *p.field.replace("]", "").replace("[", ".").split(".")],
                                   "msg": p.message, "type": "value_error"} for p in problems])
    return definition


@router.post("", status_code=201, response_model=CadencePublic)
def create_cadence(session: SessionDep, definition: dict[str, Any] = Body(...)) -> dict:
    validated(definition)
    if cadence_store.latest(session, definition["name"]) is not None:
        raise HTTPException(409, f"cadence {definition['name']!r} exists; PUT /cadences/{definition['name']} "
                                 "makes a new version")
    return _public(cadence_store.save_version(session, definition))


@router.put("/{name}", response_model=CadencePublic)
def new_version(name: str, session: SessionDep, definition: dict[str, Any] = Body(...)) -> dict:
    validated({**definition, "name": name})
    if cadence_store.latest(session, name) is None:
        raise HTTPException(404, f"no cadence named {name!r}; POST /cadences creates it")
    return _public(cadence_store.save_version(session, {**definition, "name": name}))
