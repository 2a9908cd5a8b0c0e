"""Signed, URL-safe tokens: unsubscribe links and Reply-To routing cannot be guessed or forged."""
from __future__ import annotations

import base64
import hashlib
import hmac


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(purpose: str, value: str, secret: str) -> str:
    """`value` with a MAC bound to `purpose`, so an unsubscribe token is no reply token."""
    mac = hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()[:16]
    return f"{_b64(value.encode())}.{_b64(mac)}"


def verify(purpose: str, token: str, secret: str) -> str | None:
    """The signed value, or None when the token was forged or altered."""
    try:
        encoded, _ = token.split(".", 1)
        value = _unb64(encoded).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return value if hmac.compare_digest(sign(purpose, value, secret).encode(), token.encode()) else None
