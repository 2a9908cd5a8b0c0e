"""Temporal history through the running product: what the server stores is encrypted; the codec reads it."""
from __future__ import annotations

import base64
import json
import subprocess
import uuid

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.client import Client

from privacy.codec import data_converter
from tests.support.harness import eventually
from tests.support.live import BIN, settings_for
from tests.test_api_e2e import dev_server, live  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]


def person() -> dict:
    """A lead whose every personal value is unique to the test, so a search finds only it."""
    tag = uuid.uuid4().hex[:10]
    return {"email": f"zq-{tag}@example.com", "source": "form_fill", "first_name": f"Zebulon{tag[:4]}",
            "last_name": f"Quillfeather{tag[4:]}", "company": "Navy", "timezone": "America/New_York",
            "phone": f"+1415555{int(tag[:6], 16) % 10000:04d}"}


def needles(lead: dict, reply_text: str) -> list[str]:
    return [lead["email"], lead["first_name"], lead["last_name"], lead["phone"], reply_text]


def stack_settings(dev_server, db):  # noqa: F811
    """The settings the live stack runs with (same secret, same database)."""
    port = int(dev_server.client.service_client.config.target_host.rsplit(":", 1)[1])
    return settings_for(db, port, 0, "unused")


def payloads_in(message) -> list[Payload]:
    """Every Payload anywhere in a proto message (history events nest them in many places)."""
    found = []
    for field, value in message.ListFields():
        if field.message_type is None or field.name == "search_attributes":  # indexed by the server, never
            continue  # sealed: stage, rank, cadence, version and a rep's id (workflows/search_attributes.py)
        if field.message_type.GetOptions().map_entry:
            items = list(value.values()) if field.message_type.fields_by_name["value"].message_type else []
        else:
            items = list(value) if field.is_repeated else [value]
        for item in items:
            if item.DESCRIPTOR.full_name == Payload.DESCRIPTOR.full_name:
                found.append(item)
            else:
                found.extend(payloads_in(item))
    return found


# Written by the SDK itself, not through the codec: the ids of `workflow.patched` changes.
SDK_BOOKKEEPING = {EventType.EVENT_TYPE_MARKER_RECORDED, EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES}


def product_payloads(history: History) -> list[Payload]:
    return [p for event in history.events if event.event_type not in SDK_BOOKKEEPING for p in payloads_in(event)]


async def enrol_and_reply(http, body: dict, text: str, intent: str = "neutral") -> str:
    """A lead that had its first email and then replied with `text`."""
    r = await http.post("/leads", json=body)
    assert r.status_code == 201, r.text
    lead_id = r.json()["id"]

    async def detail_when(done):
        detail = (await http.get(f"/leads/{lead_id}")).json()
        return detail if done(detail) else None
    await eventually(lambda: detail_when(lambda d: d["touches"]), timeout=15)
    r = await http.post(f"/leads/{lead_id}/signals/reply", json={"event_id": "mail-1", "intent": intent, "text": text})
    assert r.status_code == 202, r.text
    await eventually(lambda: detail_when(lambda d: any(e["event_id"] == "mail-1" for e in d["events"])), timeout=15)
    if intent == "neutral":  # the reply is written first, then the rep's follow-up task is made

        async def follow_up():
            tasks = (await http.get("/tasks", params={"lead_id": lead_id})).json()["data"]
            return any(t["kind"] == "follow_up" for t in tasks)
        await eventually(follow_up, timeout=15)
    return lead_id


async def raw_history(dev_server, lead_id: str):  # noqa: F811
    """As the server stores it: fetched by a client without the codec."""
    fetched = await dev_server.client.get_workflow_handle(f"lead-{lead_id}").fetch_history()
    return History(events=fetched.events)


def readable(blob: bytes, values: list[str]) -> list[str]:
    text = blob.lower()
    return [v for v in values if v.lower().encode() in text]


def codec_body(payloads: list[Payload]) -> dict:
    return {"payloads": [{"metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                          "data": base64.b64encode(p.data).decode()} for p in payloads]}


def shown_by_cli(dev_server, workflow_id: str, *codec: str) -> bytes:  # noqa: F811
    """`temporal workflow show --output json`: every payload's data, as the CLI decoded it."""
    shown = subprocess.run([str(BIN / "temporal"), "workflow", "show", "--workflow-id", workflow_id, "--address",
                            dev_server.client.service_client.config.target_host, "--output", "json", *codec],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr

    def datas(node):
        if isinstance(node, dict):
            if "metadata" in node and "data" in node:
                yield base64.b64decode(node["data"])
            for value in node.values():
                yield from datas(value)
        elif isinstance(node, list):
            for value in node:
                yield from datas(value)
    return b"\n".join(datas(json.loads(shown.stdout)))


async def test_history_keeps_what_a_lead_wrote_encrypted_and_the_codec_reads_it(live, dev_server, any_db):  # noqa: F811
    lead, text = person(), f"Ring me at the lighthouse {uuid.uuid4().hex[:8]}"
    lead_id = await enrol_and_reply(live, lead, text)

    history = await raw_history(dev_server, lead_id)
    assert readable(history.SerializeToString(), needles(lead, text)) == []
    stored = product_payloads(history)
    assert stored and all(p.metadata["encoding"] == b"binary/encrypted" for p in stored)
    assert {p.metadata["encryption-key-id"] for p in stored} == {f"lead:{lead_id}".encode()}

    with_codec = Client(**{**dev_server.client.config(),
                           "data_converter": data_converter(stack_settings(dev_server, any_db), any_db)})
    decoded = await with_codec.data_converter.payload_codec.decode(stored)
    assert text.encode() in b"".join(p.data for p in decoded)
    state = await with_codec.get_workflow_handle(f"lead-{lead_id}").query("state")
    assert state["lead_id"] == lead_id  # the worker's query answer is encrypted too, and decodes

    # Through the API's codec endpoint, as the Temporal Web UI and CLI use it.
    r = await live.post("/codec/decode", json=codec_body(stored), headers={"X-Namespace": "default"})
    assert r.status_code == 200, r.text
    assert text in "".join(base64.b64decode(p["data"]).decode() for p in r.json()["payloads"])
    workflow_id = f"lead-{lead_id}"
    assert readable(shown_by_cli(dev_server, workflow_id), [text]) == []
    auth = live.headers.get("authorization")
    with_endpoint = shown_by_cli(dev_server, workflow_id, "--codec-endpoint", str(live.base_url).rstrip("/") + "/codec",
                                 *(["--codec-auth", auth] if auth else []))
    assert readable(with_endpoint, [text]) == [text]


async def test_the_codec_endpoint_round_trips_payloads(live):  # noqa: F811
    original = [Payload(metadata={"encoding": b"json/plain"}, data=b'{"note": "for the endpoint"}'),
                Payload(metadata={"encoding": b"binary/null"}, data=b"")]
    encoded = await live.post("/codec/encode", json=codec_body(original), headers={"X-Namespace": "default"})
    assert encoded.status_code == 200, encoded.text
    sealed = encoded.json()["payloads"]
    assert all(base64.b64decode(p["metadata"]["encoding"]) == b"binary/encrypted" for p in sealed)
    assert b"for the endpoint" not in b"".join(base64.b64decode(p["data"]) for p in sealed)
    decoded = await live.post("/codec/decode", json={"payloads": sealed}, headers={"X-Namespace": "default"})
    assert decoded.status_code == 200, decoded.text
    assert decoded.json() == codec_body(original)

    tampered = [{**sealed[0], "data": base64.b64encode(base64.b64decode(sealed[0]["data"])[:-1] + b"x").decode()}]
    assert (await live.post("/codec/decode", json={"payloads": tampered})).status_code == 422
    assert (await live.post("/codec/decode", json={"payloads": "nope"})).status_code == 400
    other = await live.post("/codec/decode", json={"payloads": sealed}, headers={"X-Namespace": "elsewhere"})
    assert other.status_code == 400
