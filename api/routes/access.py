"""Credentials and their history: API keys, UI users, and the audit log of configuration changes."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator
from sqlalchemy.exc import IntegrityError

from api.auth import credentials
from api.auth.deps import PrincipalDep
from api.deps import SessionDep, unprocessable
from api.schemas import normal_email
from domain.access import Role, role_problem
from persistence import audit, identities
from persistence.models import ApiKey, Rep, User

router = APIRouter(tags=["access"])


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    role: Role
    rep_id: str | None = Field(None, min_length=1, max_length=64, description="required for, and only for, role rep")


class KeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    role: str
    rep_id: str | None
    prefix: str = Field(description="the key's first characters, to tell keys apart")
    created_by: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyPublic):
    key: str = Field(description="the key itself: shown only in this answer, store it now")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    password: str = Field(min_length=credentials.MIN_PASSWORD_LENGTH, max_length=200)
    role: Role
    rep_id: str | None = Field(None, min_length=1, max_length=64)
    name: str | None = Field(None, max_length=200)

    @field_validator("email")
    @classmethod
    def _normalise(cls, v: str) -> str:
        return normal_email(v)


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    email: str
    name: str | None
    role: str
    rep_id: str | None
    created_at: datetime
    last_login_at: datetime | None
    disabled_at: datetime | None


class AuditPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    actor: str
    actor_name: str | None
    action: str
    target_type: str
    target_id: str | None
    changes: dict[str, Any]


class AuditPage(BaseModel):
    data: list[AuditPublic]
    count: int


def _check_binding(session, role: Role, rep_id: str | None) -> None:
    problem = role_problem(role, rep_id)
    if problem:
        raise unprocessable("rep_id", problem)
    if rep_id and session.get(Rep, rep_id) is None:
        raise unprocessable("rep_id", f"no rep with id {rep_id!r}; POST /reps creates one")


# ---- API keys ------------------------------------------------------------------------
@router.post("/api-keys", status_code=201, response_model=KeyCreated, tags=["access"])
def create_key(body: KeyCreate, session: SessionDep, principal: PrincipalDep) -> dict:
    """A new key for a person or a tool; the key is in this answer only (only its hash is kept)."""
    _check_binding(session, body.role, body.rep_id)
    key = credentials.new_api_key()
    row = identities.add_key(session, name=body.name, role=body.role, rep_id=body.rep_id,
                             key_hash=credentials.key_hash(key), prefix=credentials.key_prefix(key),
                             created_by=principal.actor)
    audit.record(session, principal.actor, principal.name, "api_key.created", "api_key", row.id,
                 {"name": row.name, "role": row.role, "rep_id": row.rep_id})
    session.commit()  # usable as soon as the caller has it
    return {**KeyPublic.model_validate(row).model_dump(), "key": key}


@router.get("/api-keys", response_model=list[KeyPublic])
def list_keys(session: SessionDep) -> list[ApiKey]:
    return identities.keys(session)


@router.delete("/api-keys/{key_id}", response_model=KeyPublic)
def revoke_key(key_id: str, session: SessionDep, principal: PrincipalDep, request: Request) -> ApiKey:
    """Revoked at once; the key's row stays, so the audit log can still name it."""
    row = identities.revoke_key(session, key_id)
    if row is None:
        raise HTTPException(404, f"no API key with id {key_id!r}")
    audit.record(session, principal.actor, principal.name, "api_key.revoked", "api_key", key_id, {"name": row.name})
    session.commit()
    request.app.state.directory.forget(key_id)
    return row


# ---- users ---------------------------------------------------------------------------
@router.post("/users", status_code=201, response_model=UserPublic)
def create_user(body: UserCreate, session: SessionDep, principal: PrincipalDep) -> User:
    """A person who logs in to the web UI at /ui/login with this email and password."""
    _check_binding(session, body.role, body.rep_id)
    if identities.user_by_email(session, body.email) is not None:
        raise HTTPException(409, f"a user with the email {body.email} exists")
    try:
        user = identities.add_user(session, email=body.email, name=body.name, role=body.role, rep_id=body.rep_id,
                                   password_hash=credentials.hash_password(body.password))
    except IntegrityError:  # created concurrently
        session.rollback()
        raise HTTPException(409, f"a user with the email {body.email} exists") from None
    audit.record(session, principal.actor, principal.name, "user.created", "user", user.id,
                 {"email": user.email, "role": user.role, "rep_id": user.rep_id})
    session.commit()
    return user


@router.get("/users", response_model=list[UserPublic])
def list_users(session: SessionDep) -> list[User]:
    return identities.users(session)


@router.delete("/users/{user_id}", response_model=UserPublic)
def disable_user(user_id: str, session: SessionDep, principal: PrincipalDep) -> User:
    """The user can no longer log in, and every session of theirs ends now."""
    user = identities.disable_user(session, user_id)
    if user is None:
        raise HTTPException(404, f"no user with id {user_id!r}")
    audit.record(session, principal.actor, principal.name, "user.disabled", "user", user_id, {"email": user.email})
    session.commit()
    return user


# ---- audit log -----------------------------------------------------------------------
@router.get("/audit", response_model=AuditPage)
def audit_log(session: SessionDep, action: Annotated[str | None, Query(max_length=60)] = None,
              target_type: Annotated[str | None, Query(max_length=40)] = None,
              target_id: Annotated[str | None, Query(max_length=320)] = None,
              actor: Annotated[str | None, Query(max_length=120)] = None, since: datetime | None = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 100,
              offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> dict:
    """Who created or changed cadences, the ranking, reps, mailboxes, keys and users, or started a
    migration; newest first."""
    if since is not None and since.tzinfo is None:
        raise unprocessable("since", "needs a UTC offset, e.g. 2026-01-05T09:00:00+00:00", location="query")
    rows, total = audit.listing(session, action=action, target_type=target_type, target_id=target_id,
                                actor=actor, since=since, limit=limit, offset=offset)
    return {"data": rows, "count": total}
