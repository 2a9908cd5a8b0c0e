"""What `POST /leads` costs and how its workflow starts, on the live stack: the SQL statements one
enrolment runs (pinned, so the reads that used to come with every lead do not come back), the
first search attributes and the priority of its start, and of the starts of an import's leads."""
from __future__ import annotations

import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from domain import priority
from tests.support.harness import eventually
from tests.support.live import api_client, free_port, prepare_database, running_worker, serving_api, settings_for
from tests.test_api_e2e import dev_server  # noqa: F401  (fixture)
from workflows import search_attributes as attributes

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]

# A new lead: find its email, insert it, insert its data key, read the webhook endpoints (its
# `lead.created` event); with reps, the routing turn's compare-and-set besides. A known email: find it.
NEW_LEAD_STATEMENTS = 4
NEW_LEAD_WITH_REPS_STATEMENTS = 5
KNOWN_EMAIL_STATEMENTS = 1


@contextmanager
def counting(db):
    statements: list[str] = []

    def count(_conn, _cursor, statement, _parameters, _context, _many):
        statements.append(statement)
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def port_of(dev_server) -> int:  # noqa: F811
    return int(dev_server.client.service_client.config.target_host.rsplit(":", 1)[1])


def body(**over) -> dict:
    return {"email": f"{uuid.uuid4().hex[:10]}@example.com", "source": "form_fill", **over}


async def fewest_statements(http, db, make_body, times: int = 3) -> int:
    """The fewest statements of `times` requests: a cache that expires during one of them (the
    gate's key, the enrolment catalog, each a few seconds) does not make the count vary."""
    counts = []
    for _ in range(times):
        with counting(db) as statements:
            r = await http.post("/leads", json=make_body())
            assert r.status_code in (200, 201), r.text
        counts.append(len(statements))
    return min(counts)


async def test_an_enrolment_reads_nothing_it_read_for_the_lead_before(dev_server, any_db):  # noqa: F811
    prepare_database(any_db)
    settings = settings_for(any_db, port_of(dev_server), free_port(), f"count-{uuid.uuid4().hex[:8]}")
    with serving_api(settings, any_db) as url:  # no worker: only the API's own statements are counted
        async with api_client(url) as http:
            assert (await http.post("/leads", json=body())).status_code == 201  # the caches filled
            assert await fewest_statements(http, any_db, body) <= NEW_LEAD_STATEMENTS
            known = body()
            assert (await http.post("/leads", json=known)).status_code == 201
            assert await fewest_statements(http, any_db, lambda: known) <= KNOWN_EMAIL_STATEMENTS
            for rep in ("ana", "ben"):  # written through the API: the next lead is routed to them at once
                r = await http.post("/reps", json={"id": rep, "name": rep.title(), "email": f"{rep}@example.com"})
                assert r.status_code == 201, r.text
            owners = [(await http.post("/leads", json=body())).json()["owner"] for _ in range(4)]
            assert sorted(owners) == ["ana", "ana", "ben", "ben"] and owners[0] != owners[1]
            assert await fewest_statements(http, any_db, body) <= NEW_LEAD_WITH_REPS_STATEMENTS


async def test_a_new_lead_starts_hot_with_its_search_attributes(dev_server, sqlite_db):  # noqa: F811
    prepare_database(sqlite_db)
    settings = settings_for(sqlite_db, port_of(dev_server), free_port(), f"attrs-{uuid.uuid4().hex[:8]}")
    with serving_api(settings, sqlite_db) as url:
        async with api_client(url) as http:
            lead = (await http.post("/leads", json=body(owner="ana", first_name="Grace"))).json()
            unowned = (await http.post("/leads", json=body(source="target_list"))).json()
    described = await dev_server.client.get_workflow_handle(lead["workflow_id"]).describe()
    found = described.typed_search_attributes
    assert (found.get(attributes.STAGE), found.get(attributes.RANK), found.get(attributes.NAME),
            found.get(attributes.VERSION), found.get(attributes.OWNER)) == ("new", "A", "rank-a", 1, "ana")
    assert described.raw_description.workflow_execution_info.priority.priority_key == priority.HOT
    other = (await dev_server.client.get_workflow_handle(unowned["workflow_id"]).describe()).typed_search_attributes
    assert (other.get(attributes.RANK), other.get(attributes.NAME), other.get(attributes.OWNER)) == ("D", "rank-d", None)
    assert not {pair.key.name for pair in found} - {"CadenceStage", "CadenceRank", "CadenceName", "CadenceVersion",
                                                    "CadenceOwner", "CadenceNextTouchAt"}  # nothing personal


async def test_an_import_starts_its_leads_in_bulk(dev_server, sqlite_db):  # noqa: F811
    prepare_database(sqlite_db)
    settings = settings_for(sqlite_db, port_of(dev_server), free_port(), f"bulk-{uuid.uuid4().hex[:8]}",
                            cadence_import_start_interval=0)
    rows = "email,source\n" + "".join(f"{uuid.uuid4().hex[:10]}@example.com,target_list\n" for _ in range(2))
    async with running_worker(dev_server.client, settings, sqlite_db):
        with serving_api(settings, sqlite_db) as url:
            async with api_client(url) as http:
                r = await http.post("/imports", files={"file": ("leads.csv", rows.encode(), "text/csv")})
                assert r.status_code == 202, r.text

                async def finished():
                    done = (await http.get(f"/imports/{r.json()['id']}")).json()
                    return done if done["finished_at"] else None
                await eventually(finished, timeout=60, interval=0.5)
                leads = (await http.get("/leads")).json()["data"]
    assert len(leads) == 2
    import_info = (await dev_server.client.get_workflow_handle(f"import-{r.json()['id']}").describe())
    assert import_info.raw_description.workflow_execution_info.priority.priority_key == priority.BULK
    for lead in leads:
        described = await dev_server.client.get_workflow_handle(lead["workflow_id"]).describe()
        assert described.raw_description.workflow_execution_info.priority.priority_key == priority.BULK
        assert described.typed_search_attributes.get(attributes.RANK) == "D"
