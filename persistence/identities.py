"""The one writer of API keys, users and UI sessions."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from persistence.models import ApiKey, UiSession, User, utcnow


def new_id() -> str:
    return secrets.token_hex(8)


# ---- API keys ------------------------------------------------------------------------
def add_key(session: Session, *, name: str, role: str, rep_id: str | None, key_hash: str, prefix: str,
            created_by: str | None, key_id: str | None = None) -> ApiKey:
    row = ApiKey(id=key_id or new_id(), name=name, role=role, rep_id=rep_id, key_hash=key_hash, prefix=prefix,
                 created_by=created_by)
    session.add(row)
    session.flush()
    return row


def active_key(session: Session, key_hash: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)))


def keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def any_key(session: Session) -> bool:
    return session.scalar(select(ApiKey.id).limit(1)) is not None


def revoke_key(session: Session, key_id: str) -> ApiKey | None:
    row = session.get(ApiKey, key_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def touch_key(session: Session, key_id: str, at: datetime) -> None:
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=at))


# ---- users and their sessions --------------------------------------------------------
def add_user(session: Session, *, email: str, name: str | None, role: str, rep_id: str | None,
             password_hash: str) -> User:
    row = User(id=new_id(), email=email, name=name, role=role, rep_id=rep_id, password_hash=password_hash)
    session.add(row)
    session.flush()
    return row


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.created_at, User.id)))


def disable_user(session: Session, user_id: str) -> User | None:
    row = session.get(User, user_id)
    if row is not None and row.disabled_at is None:
        row.disabled_at = utcnow()
        session.execute(delete(UiSession).where(UiSession.user_id == user_id))  # logged out everywhere
    return row


def open_session(session: Session, user: User, id_hash: str, csrf_token: str, hours: int) -> UiSession:
    now = utcnow()
    user.last_login_at = now
    row = UiSession(id_hash=id_hash, user_id=user.id, csrf_token=csrf_token, created_at=now,
                    expires_at=now + timedelta(hours=hours))
    session.add(row)
    session.execute(delete(UiSession).where(UiSession.expires_at < now))  # expired ones go on each login
    return row


def live_session(session: Session, id_hash: str) -> tuple[UiSession, User] | None:
    found = session.execute(
        select(UiSession, User).join(User, User.id == UiSession.user_id)
        .where(UiSession.id_hash == id_hash, UiSession.expires_at > utcnow(), User.disabled_at.is_(None))
    ).first()
    return (found[0], found[1]) if found else None


def close_session(session: Session, id_hash: str) -> None:
    session.execute(delete(UiSession).where(UiSession.id_hash == id_hash))
