"""Reps, routing and backup through HTTP (real Temporal dev server), on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from persistence import leads as lead_store
from persistence.models import Lead, Task
from tests.support.harness import eventually
from tests.test_api_e2e import FAST, dev_server, lead_body, live  # noqa: F401  (fixtures)

def rep(rep_id, **over):
    return {"id": rep_id, "name": rep_id.title(), "email": f"{rep_id}@example.com", **over}


def error_field(response):
    assert response.status_code == 422, response.text
    return response.json()["detail"][0]["loc"][-1]


async def inbox(http, owner):
    return (await http.get("/tasks", params={"owner": owner, "status": "open"})).json()["data"]


async def timeline_moves(http, lead_id):
    events = (await http.get(f"/leads/{lead_id}")).json()["events"]
    return [(e["task_id"], e["from_owner"], e["to_owner"], e["reason"])
            for e in events if e["type"] == "task_reassigned"]


async def _owner_is(http, lead_id, owner):
    return (await http.get(f"/leads/{lead_id}")).json()["owner"] == owner


async def open_call_task(http, lead_id):
    tasks = (await http.get("/tasks", params={"lead_id": lead_id, "status": "open"})).json()["data"]
    return [t for t in tasks if t["channel"] == "call"] or None


@pytest.mark.e2e
@pytest.mark.asyncio
async def test_reps_are_created_read_and_validated(live):
    r = await live.post("/reps", json=rep("ana", team="west", territories=["us", "ca"], ranks=["A"]))
    assert r.status_code == 201, r.text
    assert (r.json()["territories"], r.json()["away"], r.json()["backup_id"]) == (["CA", "US"], False, None)
    assert (await live.post("/reps", json=rep("ana"))).status_code == 409
    assert error_field(await live.post("/reps", json=rep("ben", backup_id="nobody"))) == "backup_id"
    assert error_field(await live.post("/reps", json=rep("ben", away=True))) == "away"
    assert error_field(await live.post("/reps", json=rep("ben", territories=["USA"]))) == "territories"
    assert (await live.post("/reps", json=rep("ben", backup_id="ana"))).status_code == 201

    assert error_field(await live.patch("/reps/ana", json={"backup_id": "ana"})) == "backup_id"
    cycle = await live.patch("/reps/ana", json={"backup_id": "ben"})  # ben's backup is ana
    assert error_field(cycle) == "backup_id" and "cycle" in cycle.json()["detail"][0]["msg"]
    assert error_field(await live.patch("/reps/ana", json={"away": True})) == "away"  # no backup
    assert (await live.patch("/reps/nobody", json={"away": True})).status_code == 404

    listed = (await live.get("/reps")).json()
    assert listed["count"] == 2 and [x["id"] for x in listed["data"]] == ["ana", "ben"]
    assert [x["id"] for x in (await live.get("/reps", params={"team": "west"})).json()["data"]] == ["ana"]
    assert (await live.get("/reps/ben")).json()["backup_id"] == "ana"
    assert (await live.get("/reps/nobody")).status_code == 404


@pytest.mark.e2e
@pytest.mark.asyncio
async def test_new_leads_are_routed_by_territory_rank_and_round_robin(live):
    no_reps = (await live.post("/leads", json=lead_body(country="US"))).json()
    assert no_reps["owner"] is None  # without reps, as before
    for body in (rep("us1", territories=["US"], ranks=["A", "B"]), rep("us2", territories=["US"], ranks=["A", "B"]),
                 rep("usjunior", territories=["US"], ranks=["C", "D"]), rep("de1", territories=["DE"]),
                 rep("anyone")):
        assert (await live.post("/reps", json=body)).status_code == 201

    async def owner(**over):
        r = await live.post("/leads", json=lead_body(**over))
        assert r.status_code == 201, r.text
        return r.json()["owner"]
    assert [await owner(country="US", rank="A") for _ in range(3)] == ["us1", "us2", "us1"]
    assert await owner(country="us", rank="D") == "usjunior"
    assert await owner(country="DE", rank="A") == "de1"
    assert await owner(country="FR", rank="A") == "anyone"
    assert await owner(country="US", rank="A", owner="someone") == "someone"  # given owners are kept
    await live.patch("/reps/us1", json={"backup_id": "de1", "away": True})
    assert [await owner(country="US", rank="B") for _ in range(2)] == ["us2", "us2"]  # away: skipped


@pytest.mark.e2e
@pytest.mark.asyncio
async def test_marking_a_rep_away_moves_their_open_tasks_and_new_ones_go_to_the_backup(live):
    assert (await live.post("/cadences", json=FAST)).status_code == 201
    await live.post("/reps", json=rep("ben"))
    await live.post("/reps", json=rep("ana", backup_id="ben"))
    leads = [(await live.post("/leads", json=lead_body(cadence="fast-test", owner="ana"))).json() for _ in range(2)]
    for lead in leads:
        await eventually(lambda: open_call_task(live, lead["id"]), timeout=10)
    assert len(await inbox(live, "ana")) == 2

    r = await live.patch("/reps/ana", json={"away": True})
    assert r.status_code == 200, r.text
    moved = r.json()["moved_tasks"]
    assert len(moved) == 2 and r.json()["away"] is True
    assert await inbox(live, "ana") == [] and sorted(t["id"] for t in await inbox(live, "ben")) == sorted(moved)
    for lead in leads:
        (task,) = await open_call_task(live, lead["id"])
        assert await timeline_moves(live, lead["id"]) == [(task["id"], "ana", "ben", "owner_away")]
    again = await live.patch("/reps/ana", json={"away": True})  # already away: nothing moves twice
    assert again.json()["moved_tasks"] == []

    later = (await live.post("/leads", json=lead_body(cadence="fast-test", owner="ana"))).json()
    (task,) = await eventually(lambda: open_call_task(live, later["id"]), timeout=10)
    assert task["owner"] == "ben"
    assert await timeline_moves(live, later["id"]) == [(task["id"], "ana", "ben", "owner_away")]

    await live.patch("/reps/ana", json={"away": False})  # back: new work is hers again
    back = (await live.post("/leads", json=lead_body(cadence="fast-test", owner="ana"))).json()
    (task,) = await eventually(lambda: open_call_task(live, back["id"]), timeout=10)
    assert task["owner"] == "ana"
    assert len(await inbox(live, "ben")) == 3


@pytest.mark.e2e
@pytest.mark.asyncio
async def test_reassign_moves_the_lead_s_open_tasks_without_losing_or_duplicating(live):
    assert (await live.post("/cadences", json=FAST)).status_code == 201
    lead = (await live.post("/leads", json=lead_body(cadence="fast-test", owner="ana"))).json()
    (task,) = await eventually(lambda: open_call_task(live, lead["id"]), timeout=10)
    for _ in range(2):  # redelivered: one move
        r = await live.post(f"/leads/{lead['id']}/signals/reassign", json={"event_id": "re-1", "owner": "cid"})
        assert r.status_code == 202, r.text

    async def moved():
        tasks = await open_call_task(live, lead["id"])
        return tasks if tasks and tasks[0]["owner"] == "cid" else None
    assert [t["id"] for t in await eventually(moved, timeout=10)] == [task["id"]]
    assert await timeline_moves(live, lead["id"]) == [(task["id"], "ana", "cid", "reassigned")]
    await eventually(lambda: _owner_is(live, lead["id"], "cid"), timeout=10)
    everything = (await live.get("/tasks", params={"lead_id": lead["id"]})).json()["data"]
    assert [t["id"] for t in everything] == [task["id"]]


def test_the_inbox_is_ordered_by_due_time_then_rank(any_db):
    due = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    later = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)
    with any_db.session() as s:
        for lead_id, rank in (("lc", "C"), ("la", "A"), ("lb", "B")):
            s.add(Lead(id=lead_id, email=f"{lead_id}@example.com", timezone="UTC", source="x", rank=rank,
                       cadence_name="c", cadence_version=1, workflow_id=f"lead-{lead_id}", custom={}))
        s.flush()
        for task_id, lead_id, at in (("t1", "lc", due), ("t2", "la", later), ("t3", "lb", due), ("t4", "la", due)):
            s.add(Task(id=task_id, lead_id=lead_id, channel="call", owner="ana", status="open", due_at=at))
        s.add(Task(id="t5", lead_id="la", channel="call", owner="ben", status="open", due_at=due))
    with any_db.session() as s:
        rows, total = lead_store.tasks(s, owner="ana", status="open")
    assert [t.id for t in rows] == ["t4", "t3", "t1", "t2"] and total == 4
