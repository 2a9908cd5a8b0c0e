"""Turning what a request presents (an API key, a session cookie) into a Principal.

Keys are looked up by their hash and cached for a few seconds, so a busy integration costs one
query per key every `CACHE_SECONDS`, which is also when its last-used time is written. Revoking
a key drops it from this process's cache at once; other API processes see it within seconds.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from anyio import to_thread

from api.auth import credentials
from api.auth.principal import Principal
from domain.access import Role
from persistence import identities
from persistence.db import Database
from persistence.models import utcnow

CACHE_SECONDS = 5.0
SESSION_COOKIE = "cadence_session"


@dataclass(frozen=True)
class PageSession:
    principal: Principal
    csrf_token: str
    id_hash: str


class Directory:
    def __init__(self, db: Database, secret: str):
        self._db, self._secret = db, secret
        self._keys: dict[str, tuple[float, Principal | None]] = {}

    async def by_key(self, key: str) -> Principal | None:
        digest = credentials.key_hash(key)
        cached = self._keys.get(digest)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        principal = await to_thread.run_sync(self._load_key, digest)
        if len(self._keys) > 10_000:  # bounded: random keys must not grow the cache without end
            self._keys.clear()
        self._keys[digest] = (time.monotonic() + CACHE_SECONDS, principal)
        return principal

    def _load_key(self, digest: str) -> Principal | None:
        with self._db.session() as session:
            row = identities.active_key(session, digest)
            if row is None:
                return None
            identities.touch_key(session, row.id, utcnow())
            return Principal("key", row.id, row.name, Role(row.role), row.rep_id)

    def forget(self, key_id: str) -> None:
        """A key was revoked: stop honouring it in this process now."""
        self._keys = {d: v for d, v in self._keys.items() if not (v[1] and v[1].id == key_id)}

    async def by_cookie(self, cookie: str) -> PageSession | None:
        session_id = credentials.unsign_session(cookie, self._secret)
        if session_id is None:
            return None
        return await to_thread.run_sync(self._load_session, credentials.key_hash(session_id))

    def _load_session(self, id_hash: str) -> PageSession | None:
        with self._db.session() as session:
            found = identities.live_session(session, id_hash)
            if found is None:
                return None
            ui_session, user = found
            return PageSession(Principal("user", user.id, user.email, Role(user.role), user.rep_id),
                               ui_session.csrf_token, id_hash)
