"""The API's one Temporal client, made at start-up or, when Temporal was not up yet, on the first
request that needs it: an API started before Temporal recovers by itself, without a restart."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from temporalio.client import Client

from config import Settings
from persistence.db import Database
from temporal_client import connect

log = logging.getLogger("cadence.api")
RETRY_SECONDS = 2.0  # while Temporal is down, requests try to connect at most this often


class TemporalLink:
    def __init__(self, settings: Settings, db: Database, client: Client | None = None,
                 on_connect: Callable[[Client], None] | None = None):
        self._settings, self._db, self._on_connect = settings, db, on_connect
        self.client = client
        self._next_try = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> Client | None:
        """The client, connecting first if need be; None while Temporal cannot be reached."""
        if self.client is not None or time.monotonic() < self._next_try:
            return self.client
        async with self._lock:
            if self.client is None and time.monotonic() >= self._next_try:
                try:
                    client = await connect(self._settings, self._db)
                except Exception as exc:
                    self._next_try = time.monotonic() + RETRY_SECONDS
                    log.warning("Temporal at %s is not reachable: %s", self._settings.temporal_address, exc)
                    return None
                if self._on_connect is not None:
                    self._on_connect(client)
                self.client = client
        return self.client
