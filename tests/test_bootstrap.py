"""The first credentials: from settings at start-up, or made once (and printed once) on a new database."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.auth import bootstrap, credentials
from config import Settings
from persistence import identities
from scripts.run_local import first_run_note

BOOTSTRAP = "a-bootstrap-admin-key-of-at-least-32-characters"


def test_a_new_database_gets_one_admin_key_and_one_admin_login_once(sqlite_db):
    made = bootstrap.first_run(sqlite_db)
    assert made["key"].startswith(credentials.KEY_PREFIX) and len(made["key"]) > 40
    assert made["email"] == bootstrap.FIRST_ADMIN_EMAIL and len(made["password"]) >= 12
    assert bootstrap.first_run(sqlite_db) == {}  # shown once: nothing new on the next start
    with sqlite_db.session() as s:
        [key] = identities.keys(s)
        [user] = identities.users(s)
        assert key.role == "admin" and key.key_hash == credentials.key_hash(made["key"])
        assert made["key"] not in (key.key_hash, key.prefix)  # only a hash of the key is kept
        assert credentials.password_matches(user.password_hash, made["password"])
        assert made["password"] not in user.password_hash and user.password_hash.startswith("$argon2id$")
    note = first_run_note(made)
    assert f"export CADENCE_API_KEY={made['key']}" in note and made["password"] in note


def test_settings_make_the_bootstrap_key_and_first_admin_user_once(sqlite_db):
    settings = Settings(_env_file=None, cadence_bootstrap_api_key=BOOTSTRAP,
                        cadence_first_admin_email="Boss@Example.com", cadence_first_admin_password="a long password")
    bootstrap.from_settings(sqlite_db, settings)
    bootstrap.from_settings(sqlite_db, settings)
    with sqlite_db.session() as s:
        [key] = identities.keys(s)
        assert key.key_hash == credentials.key_hash(BOOTSTRAP) and key.role == "admin"
        user = identities.user_by_email(s, "boss@example.com")
        assert user.role == "admin" and credentials.password_matches(user.password_hash, "a long password")
        identities.revoke_key(s, key.id)
    bootstrap.from_settings(sqlite_db, settings)  # a key revoked through the API stays revoked
    with sqlite_db.session() as s:
        assert [k.revoked_at is not None for k in identities.keys(s)] == [True]
    assert bootstrap.first_run(sqlite_db) == {}  # a key and a user exist: nothing is made


def test_a_short_bootstrap_key_is_refused_naming_the_setting():
    with pytest.raises(ValidationError, match="CADENCE_BOOTSTRAP_API_KEY must be at least 32"):
        Settings(_env_file=None, cadence_bootstrap_api_key="short")


def test_an_unknown_email_costs_a_password_check_and_never_matches():
    assert not credentials.password_matches(None, "anything")
    assert not credentials.password_matches("not-a-hash", "anything")
