"""Cadence migration through HTTP on the real dev server: the dry run and the real run agree."""
from __future__ import annotations

import uuid

import pytest

from persistence.models import Lead
from tests.support.harness import eventually
from tests.support.live import api_client, free_port, prepare_database, running_worker, serving_api, settings_for
from tests.test_api_e2e import dev_server, lead_body, live  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]


def email(step_id: str, wait: str) -> dict:
    return {"id": step_id, "channel": "email", "wait": wait, "subject": step_id, "body": "Hello {{ first_name }}"}


def version(steps: list[dict]) -> dict:
    return {"name": "mig-e2e", "send_window": None, "business_days": False, "steps": steps}


V1 = [email("e1", "PT0S"), email("e2", "PT0S"), email("e3", "P1D"), email("e4", "P1D"), email("e5", "P1D"),
      {"id": "call-6", "channel": "call", "wait": "P1D", "instructions": "Call"}]
V2 = [email("e1", "PT0S"), email("new", "P1D"), email("e3", "P1D"), email("e4", "P1D"), email("e5", "P1D"),
      {"id": "call-6", "channel": "call", "wait": "P1D", "instructions": "Call"}]


async def test_dry_run_then_migration_moves_enrolled_leads_at_their_position(live):
    assert (await live.post("/cadences", json=version(V1))).status_code == 201
    lead = (await live.post("/leads", json=lead_body(cadence="mig-e2e"))).json()

    async def two_sent():
        return len((await live.get("/outbox", params={"lead_id": lead["id"]})).json()) == 2
    await eventually(two_sent, timeout=10)
    assert (await live.put("/cadences/mig-e2e", json=version(V2))).json()["version"] == 2

    dry = (await live.post("/cadences/mig-e2e/migrations", json={})).json()
    assert dry["dry_run"] is True and dry["to_version"] == 2
    [planned] = dry["leads"]
    assert planned == {"lead_id": lead["id"], "from_version": 1, "status": "planned", "done": ["e1", "e2"],
                       "dropped": ["e2"], "added": ["new"], "next_step": "new", "note": None}
    assert (await live.get(f"/leads/{lead['id']}")).json()["cadence"]["version"] == 1  # a dry run changes nothing

    real = (await live.post("/cadences/mig-e2e/migrations", json={"dry_run": False})).json()
    [moved] = real["leads"]
    assert {**moved, "status": "planned"} == planned and moved["status"] == "migrated"

    async def on_v2():
        body = (await live.get(f"/leads/{lead['id']}")).json()
        migrated = any(e["type"] == "migrated" for e in body["events"])
        return body if migrated and (body["next_touch"] or {}).get("step_id") == "new" else None
    body = await eventually(on_v2, timeout=10)
    assert body["cadence"]["version"] == 2
    again = (await live.post("/cadences/mig-e2e/migrations", json={"dry_run": False})).json()
    assert again["leads"] == []  # already on version 2
    newcomer = (await live.post("/leads", json=lead_body(cadence="mig-e2e"))).json()
    assert newcomer["cadence"]["version"] == 2


async def test_bad_migration_requests(live):
    assert (await live.post("/cadences/nope/migrations", json={})).status_code == 404
    r = await live.post("/cadences/rank-a/migrations", json={"to_version": 99})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "to_version"
    r = await live.post("/cadences/rank-a/migrations", json={"limit": 0})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "limit"


async def test_a_target_list_lead_that_fills_a_form_moves_to_rank_a(live):
    first = (await live.post("/leads", json=lead_body(source="target_list"))).json()
    assert (first["rank"], first["cadence"]["name"]) == ("D", "rank-d")
    same = {k: first[k] for k in ("email", "first_name", "last_name", "company", "timezone", "phone")}
    lower = await live.post("/leads", json={**same, "source": "target_list"})
    assert lower.status_code == 200 and lower.json()["rank"] == "D"  # nothing better: nothing changes
    r = await live.post("/leads", json={**same, "source": "form_fill"})
    assert r.status_code == 200, r.text
    upgraded = r.json()
    assert (upgraded["id"], upgraded["rank"], upgraded["cadence"]["name"]) == (first["id"], "A", "rank-a")

    async def rank_a_email():
        outbox = (await live.get("/outbox", params={"lead_id": first["id"]})).json()
        return [o for o in outbox if o["touch_id"].endswith("a-intro-email")] or None
    await eventually(rank_a_email, timeout=10)
    body = (await live.get(f"/leads/{first['id']}")).json()
    assert [e["type"] for e in body["events"]] == ["re_engaged"]
    assert len({t["id"] for t in body["touches"]}) == len(body["touches"])


async def test_a_lead_can_be_moved_forward_and_back_between_versions(live):
    assert (await live.post("/cadences", json=version(V1))).status_code == 201
    lead = (await live.post("/leads", json=lead_body(cadence="mig-e2e"))).json()

    async def two_sent():
        return len((await live.get("/outbox", params={"lead_id": lead["id"]})).json()) == 2
    await eventually(two_sent, timeout=10)
    await live.put("/cadences/mig-e2e", json=version(V2))
    await live.put("/cadences/mig-e2e", json=version(V1))  # v3 is v1 again
    for to in (2, 3, 2):
        r = (await live.post("/cadences/mig-e2e/migrations", json={"dry_run": False, "to_version": to})).json()
        assert [m["status"] for m in r["leads"]] == ["migrated"], r
        assert (await live.get(f"/leads/{lead['id']}")).json()["cadence"]["version"] == to


async def test_migrations_find_leads_by_the_version_their_workflow_runs(dev_server, sqlite_db):  # noqa: F811
    """The database says the lead is on v2 already; its workflow's search attributes say v1, and they
    decide: the lead is migrated, and Temporal's visibility shows the version it moved to."""
    prepare_database(sqlite_db)
    port = int(dev_server.client.service_client.config.target_host.rsplit(":", 1)[1])
    settings = settings_for(sqlite_db, port, free_port(), f"mig-sa-{uuid.uuid4().hex[:8]}")
    async with running_worker(dev_server.client, settings, sqlite_db):
        with serving_api(settings, sqlite_db) as base_url:
            async with api_client(base_url) as live:
                assert (await live.post("/cadences", json=version(V1))).status_code == 201
                lead = (await live.post("/leads", json=lead_body(cadence="mig-e2e"))).json()

                async def listed(version: int):
                    query = (f"CadenceName = 'mig-e2e' AND CadenceVersion = {version} "
                             f"AND WorkflowId = '{lead['workflow_id']}'")
                    return [w async for w in dev_server.client.list_workflows(query)]
                await eventually(lambda: listed(1), timeout=20)
                assert (await live.put("/cadences/mig-e2e", json=version(V2))).json()["version"] == 2
                with sqlite_db.session() as s:
                    s.get(Lead, lead["id"]).cadence_version = 2  # a row that is wrong

                r = (await live.post("/cadences/mig-e2e/migrations", json={"dry_run": False})).json()
                assert [(m["lead_id"], m["from_version"], m["status"]) for m in r["leads"]] == [
                    (lead["id"], 1, "migrated")], r
                await eventually(lambda: listed(2), timeout=20)
