"""The payload codec: every Temporal payload the product writes is AES-GCM encrypted.

A lead workflow's payloads (its input, signals, activity inputs and results, queries, failures)
are sealed with that lead's own data key, which Temporal's serialization context names through
the workflow id; anything else with the current payload key. Each payload says in its metadata
which key sealed it, so decoding needs no context: the Temporal Web UI and CLI decode through
the API's codec endpoint, which is given nothing but payloads. Deleting a lead's key row makes
its history unreadable everywhere (crypto-shredding).
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

from sqlalchemy.orm import Session
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec, SerializationContext,
    WithSerializationContext,
)

from config import Settings
from persistence import lead_keys
from persistence.db import Database
from persistence.models import Lead
from privacy.keys import DecryptionFailed, KeyRing, new_data_key, ring_for, seal, unseal, unwrap, wrap
from workflows.lead_cadence import workflow_id_for

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"  # a payload key id, or "lead:<lead id>" for a lead's data key
LEAD_KEY_PREFIX = "lead:"  # payload key ids cannot hold ":", so the two never collide
LEAD_WORKFLOW_PREFIX = workflow_id_for("")
KEY_CACHE_SECONDS = 60.0  # how long an erased lead's key may live on in another process's memory


class LeadKeyGone(DecryptionFailed):
    """The lead's data key was erased (or never stored): what it sealed cannot be read."""


class NoSuchLead(ValueError):
    """A payload for a lead without a row: nothing personal to seal, and no key is made for it."""


class KeyCache:
    """Unwrapped lead keys for a short time, so a busy lead costs no database read per payload.
    One per process, shared by every codec in it, so an erasure here forgets the key at once."""

    def __init__(self, ttl: float = KEY_CACHE_SECONDS):
        self._ttl, self._items, self._lock = ttl, {}, threading.Lock()

    def get(self, scope: str, lead_id: str) -> bytes | None:
        with self._lock:
            item = self._items.get((scope, lead_id))
            if item is None or item[1] < time.monotonic():
                self._items.pop((scope, lead_id), None)
                return None
            return item[0]

    def put(self, scope: str, lead_id: str, key: bytes) -> None:
        now = time.monotonic()
        with self._lock:
            self._items.pop((scope, lead_id), None)  # put back last: the items stay in the order they expire
            self._items[(scope, lead_id)] = (key, now + self._ttl)
            # Expired keys go as new ones come, so a worker that saw 50,000 leads holds only those of
            # the last TTL, not a key for every lead it ever served.
            oldest = next(iter(self._items))
            while self._items[oldest][1] < now:  # ends at the latest at the key just put
                del self._items[oldest]
                oldest = next(iter(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def forget(self, lead_id: str) -> None:
        with self._lock:
            for item in [k for k in self._items if k[1] == lead_id]:
                del self._items[item]


PROCESS_CACHE = KeyCache()


def forget_lead(lead_id: str) -> None:
    PROCESS_CACHE.forget(lead_id)


class CadenceCodec(PayloadCodec, WithSerializationContext):
    def __init__(self, ring: KeyRing, db: Database, *, lead_id: str | None = None,
                 cache: KeyCache = PROCESS_CACHE):
        self.ring, self.db, self.lead_id, self.cache = ring, db, lead_id, cache

    def with_context(self, context: SerializationContext) -> CadenceCodec:
        """The copy for one workflow's payloads (the SDK calls this per operation)."""
        workflow_id = getattr(context, "workflow_id", None) or ""  # Nexus contexts have none
        lead_id = None
        if workflow_id.startswith(LEAD_WORKFLOW_PREFIX):
            lead_id = workflow_id.removeprefix(LEAD_WORKFLOW_PREFIX) or None
        if lead_id == self.lead_id:
            return self
        return CadenceCodec(self.ring, self.db, lead_id=lead_id, cache=self.cache)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if not payloads:
            return []
        if self.lead_id:
            key_id, key = LEAD_KEY_PREFIX + self.lead_id, await self._lead_key(self.lead_id, create=True)
        else:
            key_id, key = self.ring.current_id, self.ring.key(self.ring.current_id)
        # The key id is authenticated data: a payload moved to another key's metadata does not open.
        return [Payload(metadata={"encoding": ENCODING, KEY_ID: key_id.encode()},
                        data=seal(key, p.SerializeToString(), key_id.encode())) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)  # written before encryption, or by a client without the codec
                continue
            key_id = payload.metadata.get(KEY_ID, b"").decode()
            if key_id.startswith(LEAD_KEY_PREFIX):
                key = await self._lead_key(key_id.removeprefix(LEAD_KEY_PREFIX), create=False)
            else:
                key = self.ring.key(key_id)
            inner = Payload()
            inner.ParseFromString(unseal(key, payload.data, key_id.encode()))
            decoded.append(inner)
        return decoded

    async def _lead_key(self, lead_id: str, *, create: bool) -> bytes:
        key = self.cache.get(self.db.url, lead_id)
        if key is None:
            key = await asyncio.to_thread(self._load_lead_key, lead_id, create)
            self.cache.put(self.db.url, lead_id, key)
        return key

    def _load_lead_key(self, lead_id: str, create: bool) -> bytes:
        with self.db.session() as session:
            row = lead_keys.get(session, lead_id)
            if row is None and not create:
                raise LeadKeyGone(f"payload of lead {lead_id} cannot be decrypted: its data key is gone "
                                  "(the lead was erased)")
            if row is None:
                # Only a lead that exists gets a key: after an erasure, a late write for it makes none.
                if session.get(Lead, lead_id) is None:
                    raise NoSuchLead(f"lead {lead_id} does not exist (erased?): its payloads are not sealed")
                wrapping_key_id, wrapped = wrap(self.ring, lead_id, new_data_key())
                row = lead_keys.insert_or_get(session, lead_id, wrapping_key_id, wrapped)
            return unwrap(self.ring, lead_id, row.wrapping_key_id, row.wrapped_key)


def new_lead_key(session: Session, settings: Settings, lead_id: str) -> bytes:
    """A new lead's data key, stored in the transaction that adds the lead, so the first payloads
    of its workflow cost no transaction of their own; give it to `remember_lead_key` once that
    transaction has committed."""
    key = new_data_key()
    wrapping_key_id, wrapped = wrap(ring_for(settings), lead_id, key)
    lead_keys.add(session, lead_id, wrapping_key_id, wrapped)
    return key


def remember_lead_key(db: Database, lead_id: str, key: bytes) -> None:
    PROCESS_CACHE.put(db.url, lead_id, key)


def data_converter(settings: Settings, db: Database) -> DataConverter:
    """What every client of the product uses. Failure messages and stack traces are encoded too:
    an error may quote what a lead wrote."""
    return DataConverter(payload_codec=CadenceCodec(ring_for(settings), db),
                         failure_converter_class=DefaultFailureConverterWithEncodedAttributes)
