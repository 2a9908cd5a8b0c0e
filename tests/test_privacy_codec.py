"""The payload codec on its own: AES-GCM round trips, key rotation, tampering, per-lead keys."""
from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.api.common.v1 import Payload
from temporalio.converter import ActivitySerializationContext, WorkflowSerializationContext

from config import Settings
from domain.events import LeadEvent
from persistence import leads as lead_store
from persistence.models import LeadKey
from privacy.codec import CadenceCodec, KeyCache, LeadKeyGone, NoSuchLead, data_converter, forget_lead
from privacy.keys import DERIVED_KEY_ID, DecryptionFailed, KeyProblem, email_hash, parse_ring, ring_for

SECRET_TEXT = b'{"text": "my cell is +1 415 555 0199, call after six"}'


def ring_text(*ids: str, keys: dict[str, bytes] | None = None) -> str:
    return ",".join(f"{i}:{base64.b64encode(keys[i]).decode()}" for i in ids)


@pytest.fixture
def keys() -> dict[str, bytes]:
    return {"k1": os.urandom(32), "k2": os.urandom(32)}


def plain(data: bytes = SECRET_TEXT) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


def add_lead(db) -> str:
    with db.session() as s:
        lead_id = lead_store.new_lead_id()
        lead_store.add(s, id=lead_id, workflow_id=f"lead-{lead_id}", email=f"{lead_id}@example.com",
                       first_name="Grace", source="form_fill", rank="A", cadence_name="rank-a", cadence_version=1,
                       timezone="UTC", custom={})
    return lead_id


def for_lead(codec: CadenceCodec, lead_id: str) -> CadenceCodec:
    return codec.with_context(WorkflowSerializationContext(namespace="default", workflow_id=f"lead-{lead_id}"))


async def test_a_payload_round_trips_and_is_not_readable_as_stored(sqlite_db, keys):
    codec = CadenceCodec(parse_ring(ring_text("k1", keys=keys)), sqlite_db, cache=KeyCache())
    [sealed] = await codec.encode([plain()])
    assert sealed.metadata["encoding"] == b"binary/encrypted" and sealed.metadata["encryption-key-id"] == b"k1"
    assert b"415 555" not in sealed.SerializeToString() and b"json/plain" not in sealed.SerializeToString()
    assert await codec.decode([sealed]) == [plain()]
    again = await codec.encode([plain()])
    assert again[0].data != sealed.data  # a fresh nonce every time
    assert await codec.decode([plain(b'"not encrypted"')]) == [plain(b'"not encrypted"')]  # older history


async def test_after_a_new_key_is_put_first_old_payloads_still_decrypt(sqlite_db, keys):
    old = CadenceCodec(parse_ring(ring_text("k1", keys=keys)), sqlite_db, cache=KeyCache())
    lead_id = add_lead(sqlite_db)
    sealed = await old.encode([plain()])
    sealed_for_lead = await for_lead(old, lead_id).encode([plain()])  # its data key is wrapped with k1

    rotated = CadenceCodec(parse_ring(ring_text("k2", "k1", keys=keys)), sqlite_db, cache=KeyCache())
    assert await rotated.decode(sealed) == [plain()]
    assert await rotated.decode(sealed_for_lead) == [plain()]
    [new] = await rotated.encode([plain()])
    assert new.metadata["encryption-key-id"] == b"k2"

    retired = CadenceCodec(parse_ring(ring_text("k2", keys=keys)), sqlite_db, cache=KeyCache())
    assert await retired.decode([new]) == [plain()]
    with pytest.raises(KeyProblem, match="'k1' is not in CADENCE_PAYLOAD_KEYS"):
        await retired.decode(sealed)


async def test_an_altered_payload_does_not_decrypt(sqlite_db, keys):
    codec = CadenceCodec(parse_ring(ring_text("k1", "k2", keys=keys)), sqlite_db, cache=KeyCache())
    [sealed] = await codec.encode([plain()])
    flipped = bytearray(sealed.data)
    flipped[-1] ^= 1
    with pytest.raises(DecryptionFailed):
        await codec.decode([Payload(metadata=sealed.metadata, data=bytes(flipped))])
    relabelled = Payload(metadata={**sealed.metadata, "encryption-key-id": b"k2"}, data=sealed.data)
    with pytest.raises(DecryptionFailed):
        await codec.decode([relabelled])

    a, b = add_lead(sqlite_db), add_lead(sqlite_db)
    [for_a] = await for_lead(codec, a).encode([plain()])
    await for_lead(codec, b).encode([plain()])  # b has a key too
    moved = Payload(metadata={**for_a.metadata, "encryption-key-id": f"lead:{b}".encode()}, data=for_a.data)
    with pytest.raises(DecryptionFailed):
        await codec.decode([moved])


async def test_a_lead_workflow_payload_uses_that_leads_own_key(sqlite_db, keys):
    codec = CadenceCodec(parse_ring(ring_text("k1", keys=keys)), sqlite_db, cache=KeyCache())
    lead_id = add_lead(sqlite_db)
    [by_workflow] = await for_lead(codec, lead_id).encode([plain()])
    activity = codec.with_context(ActivitySerializationContext(
        namespace="default", activity_id="1", activity_type="send_email", activity_task_queue="q",
        workflow_id=f"lead-{lead_id}", workflow_type="LeadCadenceWorkflow", is_local=False))
    [by_activity] = await activity.encode([plain()])
    assert by_workflow.metadata["encryption-key-id"] == by_activity.metadata["encryption-key-id"] == \
        f"lead:{lead_id}".encode()
    with sqlite_db.session() as s:
        [row] = s.scalars(select(LeadKey).where(LeadKey.lead_id == lead_id))
        assert row.wrapping_key_id == "k1"
    # The metadata says which key: a codec without any context (the Web UI's) decodes it.
    assert await CadenceCodec(codec.ring, sqlite_db, cache=KeyCache()).decode([by_workflow, by_activity]) == \
        [plain(), plain()]
    [other] = await codec.with_context(WorkflowSerializationContext("default", "reports-daily")).encode([plain()])
    assert other.metadata["encryption-key-id"] == b"k1"
    with pytest.raises(NoSuchLead):  # no key is made for a lead without a row
        await for_lead(codec, "nobody").encode([plain()])


async def test_two_processes_starting_a_lead_at_once_share_one_key(any_db, keys):
    ring = parse_ring(ring_text("k1", keys=keys))
    lead_id = add_lead(any_db)
    first, second = (for_lead(CadenceCodec(ring, any_db, cache=KeyCache()), lead_id) for _ in range(2))
    a, b = await asyncio.gather(first.encode([plain(b'"a"')]), second.encode([plain(b'"b"')]))
    assert await first.decode(b) == [plain(b'"b"')] and await second.decode(a) == [plain(b'"a"')]


async def test_once_the_lead_key_is_deleted_nothing_of_the_lead_decodes(sqlite_db, keys):
    from persistence import lead_keys

    ring = parse_ring(ring_text("k1", keys=keys))
    lead_id = add_lead(sqlite_db)
    codec = for_lead(CadenceCodec(ring, sqlite_db), lead_id)  # the process-wide cache, as in production
    sealed = await codec.encode([plain()])
    assert await codec.decode(sealed) == [plain()]
    with sqlite_db.session() as s:
        assert lead_keys.remove(s, lead_id)
    forget_lead(lead_id)
    for reader in (codec, CadenceCodec(ring, sqlite_db, cache=KeyCache())):
        with pytest.raises(LeadKeyGone, match=f"payload of lead {lead_id} cannot be decrypted"):
            await reader.decode(sealed)


async def test_the_data_converter_encrypts_what_the_sdk_serialises(sqlite_db):
    settings = Settings(_env_file=None, database_url=sqlite_db.url, cadence_secret_key="test-secret")
    lead_id = add_lead(sqlite_db)
    converter = data_converter(settings, sqlite_db).with_context(
        WorkflowSerializationContext(namespace="default", workflow_id=f"lead-{lead_id}"))
    event = LeadEvent(type="reply", event_id="m-1", text="Call me on +1 415 555 0199")
    [stored] = await converter.encode([event])
    assert b"555 0199" not in stored.SerializeToString()
    assert await converter.decode([stored], [LeadEvent]) == [event]


def test_keys_come_from_settings_and_production_requires_them(keys):
    dev = ring_for(Settings(_env_file=None, cadence_secret_key="s" * 40))
    assert dev.current_id == DERIVED_KEY_ID and dev.key(DERIVED_KEY_ID) != ring_for(
        Settings(_env_file=None, cadence_secret_key="t" * 40)).key(DERIVED_KEY_ID)
    with pytest.raises(KeyProblem, match="CADENCE_PAYLOAD_KEYS must be set"):
        ring_for(Settings(_env_file=None, cadence_env="production", cadence_secret_key="p" * 40))
    given = ring_for(Settings(_env_file=None, cadence_env="production", cadence_secret_key="p" * 40,
                              cadence_payload_keys=ring_text("k2", "k1", keys=keys)))
    assert given.current_id == "k2" and given.keys == {"k2": keys["k2"], "k1": keys["k1"]}
    for bad, problem in (("k1", "id:base64key"), ("k1:!!!", "not valid base64"),
                         (f"k1:{base64.b64encode(b'short').decode()}", "must be 32 bytes"),
                         (ring_text("k1", "k1", keys=keys), "given twice"), ("", "holds no key")):
        with pytest.raises(KeyProblem, match=problem):
            parse_ring(bad)


def test_the_keyed_hash_of_an_address_matches_it_and_nothing_else():
    digest = email_hash("secret", " Grace@Example.com ")
    assert digest == email_hash("secret", "grace@example.com") and len(digest) == 64
    assert "grace" not in digest and digest != email_hash("other-secret", "grace@example.com")


@pytest.mark.parametrize("keys_setting, problem", [
    (None, "CADENCE_PAYLOAD_KEYS must be set when CADENCE_ENV=production"),
    ("k1:too-short", "payload key 'k1' is not valid base64"),
])
def test_the_worker_refuses_to_start_in_production_without_usable_payload_keys(tmp_path, keys_setting, problem):
    root = Path(__file__).resolve().parent.parent
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(root), "CADENCE_ENV": "production",
           "CADENCE_SECRET_KEY": "p" * 40, "TEMPORAL_ADDRESS": "127.0.0.1:9",
           **({"CADENCE_PAYLOAD_KEYS": keys_setting} if keys_setting else {})}
    run = subprocess.run([sys.executable, str(root / "worker.py")], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 1 and f"the worker does not start: {problem}" in run.stderr


async def test_the_web_ui_origin_may_call_the_codec_with_credentials_and_no_other_origin(sqlite_db):
    import httpx

    from api.main import create_app
    from config import Settings

    app = create_app(Settings(_env_file=None, database_url=sqlite_db.url,
                              cadence_codec_origins=["http://127.0.0.1:8233"]), db=sqlite_db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        preflight = {"Origin": "http://127.0.0.1:8233", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "content-type,x-namespace"}
        ok = await http.options("/codec/decode", headers=preflight)
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "http://127.0.0.1:8233"
        assert ok.headers["access-control-allow-credentials"] == "true"
        other = await http.options("/codec/decode", headers={**preflight, "Origin": "http://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        leads = await http.options("/leads", headers={**preflight})  # no other route answers other origins
        assert "access-control-allow-origin" not in leads.headers
        refused = await http.post("/codec/decode", json={"payloads": []}, headers={"Origin": "http://127.0.0.1:8233"})
        assert refused.status_code == 401  # a preflight carries no credentials; the call itself needs them


def test_the_key_cache_holds_only_the_keys_of_its_last_ttl(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("privacy.codec.time.monotonic", lambda: clock[0])
    cache = KeyCache(ttl=60)
    for i in range(1000):
        cache.put("db", f"lead-{i}", b"k" * 32)
    clock[0] += 30
    cache.put("db", "lead-0", b"k" * 32)  # used again: it lives on from now
    assert len(cache) == 1000
    clock[0] += 31  # the other 999 expired; the next key to come drops them
    cache.put("db", "lead-new", b"n" * 32)
    assert len(cache) == 2 and cache.get("db", "lead-0") == b"k" * 32 and cache.get("db", "lead-1") is None
