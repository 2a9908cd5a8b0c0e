"""The first credentials: from settings at start-up, or made once on an empty database."""
from __future__ import annotations

import logging
import secrets

from api.auth import credentials
from config import Settings
from domain.access import Role
from persistence import audit, identities
from persistence.db import Database

log = logging.getLogger("cadence.auth")
FIRST_ADMIN_EMAIL = "admin@cadence.local"


def from_settings(db: Database, settings: Settings) -> None:
    """CADENCE_BOOTSTRAP_API_KEY becomes an admin key, CADENCE_FIRST_ADMIN_* the first admin user;
    each only once: a key revoked through the API stays revoked."""
    with db.session() as session:
        if settings.cadence_bootstrap_api_key:
            key = settings.cadence_bootstrap_api_key.get_secret_value()
            digest = credentials.key_hash(key)
            if not any(row.key_hash == digest for row in identities.keys(session)):
                row = identities.add_key(session, name="bootstrap (CADENCE_BOOTSTRAP_API_KEY)", role=Role.ADMIN,
                                         rep_id=None, key_hash=digest, prefix=credentials.key_prefix(key),
                                         created_by="system")
                audit.record(session, "system", None, "api_key.created", "api_key", row.id,
                             {"name": row.name, "role": row.role})
        email, password = settings.cadence_first_admin_email, settings.cadence_first_admin_password
        if email and password and identities.user_by_email(session, email) is None:
            _add_admin_user(session, email.strip().lower(), password.get_secret_value())


def first_run(db: Database) -> dict[str, str]:
    """On a database with no key and no user, make an admin key and an admin user and return them,
    to be shown once. Nothing is made when either exists."""
    made: dict[str, str] = {}
    with db.session() as session:
        if not identities.any_key(session):
            key = credentials.new_api_key()
            row = identities.add_key(session, name="first admin key", role=Role.ADMIN, rep_id=None,
                                     key_hash=credentials.key_hash(key), prefix=credentials.key_prefix(key),
                                     created_by="system")
            audit.record(session, "system", None, "api_key.created", "api_key", row.id,
                         {"name": row.name, "role": row.role})
            made["key"] = key
        if not identities.users(session):
            password = secrets.token_urlsafe(12)
            _add_admin_user(session, FIRST_ADMIN_EMAIL, password)
            made.update(email=FIRST_ADMIN_EMAIL, password=password)
    return made


def _add_admin_user(session, email: str, password: str) -> None:
    user = identities.add_user(session, email=email, name="Admin", role=Role.ADMIN, rep_id=None,
                               password_hash=credentials.hash_password(password))
    audit.record(session, "system", None, "user.created", "user", user.id, {"email": email, "role": "admin"})
