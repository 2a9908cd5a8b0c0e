"""A person's data through the running product: export, and erasure that leaves nothing readable."""
from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import MetaData, select
from temporalio.client import WorkflowExecutionStatus

from persistence.models import AuditEntry, ErasedSuppression, LeadKey, Suppression
from privacy.codec import CadenceCodec, KeyCache, LeadKeyGone
from privacy.keys import ring_for
from tests.support.harness import eventually
from tests.support.live import free_port, serving_api
from tests.test_api_e2e import dev_server, live  # noqa: F401  (fixtures)
from tests.test_privacy_e2e import (
    codec_body, enrol_and_reply, needles, person, product_payloads, raw_history, readable, stack_settings,
)
from tests.test_sendgrid_webhooks import post_events, sg_event

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]


def database_text(db) -> bytes:
    """Every row of every table, as text."""
    tables = MetaData()
    tables.reflect(db.engine)
    with db.engine.connect() as conn:
        return "\n".join(repr(tuple(row)) for table in tables.sorted_tables
                         for row in conn.execute(select(table))).encode()


async def test_export_gives_a_person_all_their_data(live):  # noqa: F811
    lead, text = person(), f"Please write to my other address {uuid.uuid4().hex[:8]}"
    lead_id = await enrol_and_reply(live, lead, text)
    r = await live.get(f"/leads/{lead_id}/export")
    assert r.status_code == 200, r.text
    data = r.json()
    assert {k: data["lead"][k] for k in ("id", "email", "first_name", "last_name", "phone")} == \
        {"id": lead_id, **{k: lead[k] for k in ("email", "first_name", "last_name", "phone")}}
    assert [e["data"]["text"] for e in data["events"] if e["event_id"] == "mail-1"] == [text]
    assert data["touches"] and data["touches"][0]["channel"] == "email"
    assert data["outbox"][0]["to_email"] == lead["email"]
    assert data["outbox"][0]["request"]["personalizations"][0]["to"][0]["email"] == lead["email"]
    assert any(t["kind"] == "follow_up" for t in data["tasks"])  # the neutral reply's task for the rep
    assert (await live.get("/leads/nobody/export")).status_code == 404


async def test_erasure_leaves_nothing_readable_anywhere(live, dev_server, any_db):  # noqa: F811
    lead, text = person(), f"My daughter Ottilie answers at home {uuid.uuid4().hex[:8]}"
    # The email provider's events: one from before the person was a lead (only the address names
    # them), one for the email the cadence sent.
    before = {"to": lead["email"], "lead_id": None, "touch_id": None}
    assert (await post_events(live, [sg_event("open", before)])).json()["applied"] == 1
    lead_id = await enrol_and_reply(live, lead, text)
    [touch] = [t for t in (await live.get(f"/leads/{lead_id}")).json()["touches"] if t["channel"] == "email"]
    sent = {"to": lead["email"], "lead_id": lead_id, "touch_id": touch["id"]}
    assert (await post_events(live, [sg_event("delivered", sent)])).json()["applied"] == 1
    history_before = product_payloads(await raw_history(dev_server, lead_id))
    assert readable(database_text(any_db), needles(lead, text))  # the search does find them while they exist

    r = await live.delete(f"/leads/{lead_id}")
    assert r.status_code == 200, r.text
    erased = r.json()["erased"]
    assert (erased["lead_keys"], erased["provider_events"], erased["events"]) == (1, 2, 1) and erased["touches"] >= 1

    described = await dev_server.client.get_workflow_handle(f"lead-{lead_id}").describe()
    assert described.status == WorkflowExecutionStatus.TERMINATED
    assert (await live.get(f"/leads/{lead_id}")).status_code == 404
    outbox = (await live.get("/outbox", params={"limit": 500})).json()
    assert [o for o in outbox if o["lead_id"] == lead_id or o["to_email"] == lead["email"]] == []
    assert readable(database_text(any_db), needles(lead, text)) == []
    with any_db.session() as s:
        assert s.get(LeadKey, lead_id) is None
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "lead.erased",
                                                     AuditEntry.target_id == lead_id))
        assert entry.target_type == "lead" and entry.changes == {}

    history = await raw_history(dev_server, lead_id)
    assert readable(history.SerializeToString(), needles(lead, text)) == []
    fresh = CadenceCodec(ring_for(stack_settings(dev_server, any_db)), any_db, cache=KeyCache())
    for payload in product_payloads(history):  # every payload was the lead's: none opens any more
        with pytest.raises(LeadKeyGone):
            await fresh.decode([payload])
    r = await live.post("/codec/decode", json=codec_body(history_before), headers={"X-Namespace": "default"})
    assert r.status_code == 410 and lead_id in r.json()["detail"]
    assert (await live.delete(f"/leads/{lead_id}")).status_code == 404


async def test_an_erased_person_who_unsubscribed_is_never_emailed_again(live, any_db):  # noqa: F811
    lead, text = person(), f"Remove me, and do not write again {uuid.uuid4().hex[:8]}"
    lead_id = await enrol_and_reply(live, lead, text, intent="unsubscribe")

    async def suppressed():
        with any_db.session() as s:
            return s.get(Suppression, lead["email"].lower())
    await eventually(suppressed, timeout=10)
    r = await live.delete(f"/leads/{lead_id}")
    assert r.status_code == 200 and r.json()["erased"]["suppression_hashed"] == 1
    with any_db.session() as s:
        assert s.get(Suppression, lead["email"].lower()) is None
        assert s.scalars(select(ErasedSuppression.reason)).all().count("unsubscribed") >= 1
    assert readable(database_text(any_db), needles(lead, text)) == []

    again = await live.post("/leads", json={**person(), "email": lead["email"]})
    assert again.status_code == 201, again.text
    new_id = again.json()["id"]

    async def first_touch():
        touches = (await live.get(f"/leads/{new_id}")).json()["touches"]
        return touches[0] if touches else None
    touch = await eventually(first_touch, timeout=15)
    assert (touch["channel"], touch["status"]) == ("email", "suppressed")
    assert (await live.get("/outbox", params={"lead_id": new_id})).json() == []


async def test_without_temporal_an_erasure_is_refused_and_changes_nothing(live, dev_server, any_db):  # noqa: F811
    lead, text = person(), f"Keep this until Temporal answers {uuid.uuid4().hex[:8]}"
    lead_id = await enrol_and_reply(live, lead, text)
    cut_off = stack_settings(dev_server, any_db).model_copy(update={
        "temporal_address": f"127.0.0.1:{free_port()}", "cadence_api_port": free_port()})
    with serving_api(cut_off, any_db) as base_url:  # an API process that cannot reach Temporal
        async with httpx.AsyncClient(base_url=base_url, headers=live.headers, timeout=15) as http:
            r = await http.delete(f"/leads/{lead_id}")
    assert r.status_code == 503, r.text
    assert (await live.get(f"/leads/{lead_id}")).json()["events"][0]["text"] == text
    with any_db.session() as s:
        assert s.get(LeadKey, lead_id) is not None
    described = await dev_server.client.get_workflow_handle(f"lead-{lead_id}").describe()
    assert described.status == WorkflowExecutionStatus.RUNNING
