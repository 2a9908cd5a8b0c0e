"""Secrets a caller presents, and how they are kept: API keys as SHA-256 hashes (they are random,
high-entropy values, so a fast hash is enough), passwords as Argon2 hashes (people choose them),
UI session ids signed with the secret key and kept only as hashes."""
from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeSerializer

KEY_PREFIX = "cad_"
KEY_BYTES = 32
MIN_PASSWORD_LENGTH = 12
_passwords = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the email is unknown, so an unknown email costs as much as a wrong password.
_DUMMY_HASH = _passwords.hash(secrets.token_urlsafe(16))


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_prefix(key: str) -> str:
    return key[:10]


def hash_password(password: str) -> str:
    return _passwords.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    try:
        return _passwords.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


def sign_session(session_id: str, secret: str) -> str:
    return URLSafeSerializer(secret, salt="cadence-ui-session").dumps(session_id)


def unsign_session(cookie: str, secret: str) -> str | None:
    try:
        value = URLSafeSerializer(secret, salt="cadence-ui-session").loads(cookie)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None
