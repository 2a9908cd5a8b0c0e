"""Cadence definitions: list, read with past versions, create (validated), archive."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Body, HTTPException, Query
from pydantic import BaseModel, Field, field_validator

from api.auth.deps import PrincipalDep
from api.deps import SessionDep
from api.schemas import CadenceDetail, CadencePublic
from activities.touches import choose_variant
from domain.cadences import validate_cadence
from domain.ranks import NURTURE_CADENCE
from domain.simulation import simulate
from messaging.rendering import SAMPLE_LEAD, TemplateError, render, template_context, template_problem
from persistence import audit
from persistence import cadences as cadence_store

router = APIRouter(prefix="/cadences", tags=["cadences"])


def _public(row, archived: bool = False) -> dict:
    return {"name": row.name, "version": row.version, "definition": row.definition, "created_at": row.created_at,
            "archived": archived}


@router.get("", response_model=list[CadencePublic])
def list_cadences(session: SessionDep, archived: Annotated[bool | None, Query(
        description="true: only archived cadences; false: only those taking new leads; unset: all")] = None,
) -> list[dict]:
    names = cadence_store.archived_names(session)
    return [_public(r, r.name in names) for r in cadence_store.all_latest(session)
            if archived is None or (r.name in names) == archived]


@router.get("/{name}", response_model=CadenceDetail)
def get_cadence(name: str, session: SessionDep, version: int | None = None) -> dict:
    versions = cadence_store.versions(session, name)
    if not versions:
        raise HTTPException(404, f"no cadence named {name!r}")
    chosen = versions[-1] if version is None else next((v for v in versions if v.version == version), None)
    if chosen is None:
        raise HTTPException(404, f"cadence {name!r} has no version {version}")
    archived = cadence_store.is_archived(session, name)
    return {**_public(chosen, archived), "versions": [_public(v, archived) for v in versions]}


@router.post("/{name}/archive", response_model=CadencePublic)
def archive_cadence(name: str, session: SessionDep, principal: PrincipalDep) -> dict:
    """No new leads (explicit or through the ranking table); running leads and reads are untouched."""
    row = cadence_store.latest(session, name)
    if row is None:
        raise HTTPException(404, f"no cadence named {name!r}")
    if name == NURTURE_CADENCE:  # every lead's fallback: archiving it would stop all enrolment
        raise HTTPException(409, f"{name!r} is the nurture cadence every lead falls back to; it cannot be archived")
    cadence_store.archive(session, name)
    audit.record(session, principal.actor, principal.name, "cadence.archived", "cadence", name)
    session.commit()  # in force for the caller's next request
    return _public(row, True)


@router.post("/{name}/unarchive", response_model=CadencePublic)
def unarchive_cadence(name: str, session: SessionDep, principal: PrincipalDep) -> dict:
    row = cadence_store.latest(session, name)
    if row is None:
        raise HTTPException(404, f"no cadence named {name!r}")
    cadence_store.unarchive(session, name)
    audit.record(session, principal.actor, principal.name, "cadence.unarchived", "cadence", name)
    session.commit()  # in force for the caller's next request
    return _public(row, False)


def validated(definition: Any) -> dict:
    problems = validate_cadence(definition, template_problem)
    if problems:
        raise HTTPException(422, [{"loc": ["body", *p.field.replace("]", "").replace("[", ".").split(".")],
                                   "msg": p.message, "type": "value_error"} for p in problems])
    return definition


@router.post("", status_code=201, response_model=CadencePublic)
def create_cadence(session: SessionDep, principal: PrincipalDep, definition: dict[str, Any] = Body(...)) -> dict:
    validated(definition)
    if cadence_store.latest(session, definition["name"]) is not None:
        raise HTTPException(409, f"cadence {definition['name']!r} exists; PUT /cadences/{definition['name']} "
                                 "makes a new version")
    row = cadence_store.save_version(session, definition)
    audit.record(session, principal.actor, principal.name, "cadence.created", "cadence", row.name,
                 {"version": row.version, "steps": len(definition.get("steps") or [])})
    return _public(row)


@router.put("/{name}", response_model=CadencePublic)
def new_version(name: str, session: SessionDep, principal: PrincipalDep,
                definition: dict[str, Any] = Body(...)) -> dict:
    named = validated({**definition, "name": name})
    previous = cadence_store.latest(session, name)
    if previous is None:
        raise HTTPException(404, f"no cadence named {name!r}; POST /cadences creates it")
    if cadence_store.same_as(previous, named):  # a retried or repeated save
        return _public(previous, cadence_store.is_archived(session, name))
    row = cadence_store.save_version(session, named)
    audit.record(session, principal.actor, principal.name, "cadence.version_created", "cadence", name,
                 {"from_version": previous.version, "to_version": row.version,
                  **audit.diff(previous.definition, named)})
    return _public(row, cadence_store.is_archived(session, name))  # a new version stays archived


class SimulateRequest(BaseModel):
    start: datetime = Field(description="Enrolment time, ISO-8601 with offset")
    timezone: str = Field("UTC", max_length=64, description="The lead's IANA timezone")
    version: int | None = None

    @field_validator("start")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-01-05T09:00:00+00:00")
        return v

    @field_validator("timezone")
    @classmethod
    def _iana(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {v!r}") from None
        return v


class PreviewRequest(BaseModel):
    lead: dict[str, Any] | None = Field(None, description="Lead fields; a sample lead when omitted")
    lead_id: str | None = Field(None, max_length=32)
    version: int | None = None


def _chosen(session, name: str, version: int | None):
    detail = get_cadence(name, session, version)
    return cadence_store.snapshot(next(v for v in cadence_store.versions(session, name)
                                       if v.version == detail["version"]))


@router.post("/{name}/simulate")
def simulate_cadence(name: str, body: SimulateRequest, session: SessionDep) -> dict:
    cadence = _chosen(session, name, body.version)
    return {"cadence": {"name": cadence.name, "version": cadence.version}, "timezone": body.timezone,
            "steps": [{"step": n, "id": sid, "channel": ch, "at": at.astimezone(timezone.utc).isoformat(),
                       "local": at.astimezone(ZoneInfo(body.timezone)).isoformat()}
                      for n, sid, ch, at in simulate(cadence, body.start, body.timezone)]}


@router.post("/{name}/preview")
def preview_cadence(name: str, session: SessionDep, principal: PrincipalDep,
                    body: PreviewRequest | None = None) -> dict:
    body = body or PreviewRequest()
    cadence = _chosen(session, name, body.version)
    lead = dict(SAMPLE_LEAD, **(body.lead or {}))
    lead_key = body.lead_id or lead.get("email") or "sample"
    if body.lead_id:
        from persistence.models import Lead
        from persistence.touches import lead_fields

        row = session.get(Lead, body.lead_id)
        if row is None or not principal.sees_owner(row.owner):  # another rep's lead: as if it did not exist
            raise HTTPException(404, f"no lead with id {body.lead_id!r}")
        lead = lead_fields(row)
    context = template_context(lead, sender_name="Your name", unsubscribe_url="https://example.com/unsubscribe")
    steps = []
    for n, step in enumerate(cadence.steps, 1):
        variant = choose_variant(lead_key, step)
        texts = {k: (getattr(variant, k, None) if variant else None) or getattr(step, k)
                 for k in ("subject", "body", "instructions")}
        warnings, rendered = [], {}
        for key, text in texts.items():
            try:
                rendered[key] = render(text, context)
            except TemplateError as exc:  # what the send would fail with: show it, do not fail the preview
                rendered[key], _ = None, warnings.append(f"{key}: {exc}")
            if text and rendered.get(key) is not None and "{{" in text and not rendered[key].strip():
                warnings.append(f"{key} renders empty for this lead")
        steps.append({"step": n, "id": step.id, "channel": step.channel, "variant": variant.id if variant else None,
                      **rendered, "warnings": warnings})
    return {"cadence": {"name": cadence.name, "version": cadence.version}, "steps": steps}
