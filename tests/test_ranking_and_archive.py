"""Ranking rules as data (PUT /ranking) and archived cadences: both apply to new leads only."""
from __future__ import annotations

import pytest

from domain.ranks import DEFAULT_RANK_CADENCES, DEFAULT_SOURCE_RANKS
from persistence import cadences as cadence_store
from persistence import ranking as ranking_store
from tests.test_api_e2e import dev_server, lead_body, live  # noqa: F401  (fixtures)


def locs(response) -> set[tuple[str, ...]]:
    return {tuple(e["loc"][1:]) for e in response.json()["detail"]}


def test_ranking_versions_are_kept_and_the_newest_applies(any_db):
    with any_db.session() as session:
        assert ranking_store.current(session) == ranking_store.DEFAULT
        first = ranking_store.save(session, {"webinar": "A"}, DEFAULT_RANK_CADENCES)
        assert ranking_store.save(session, {"webinar": "A"}, DEFAULT_RANK_CADENCES) == first  # no-op edit
        second = ranking_store.save(session, {"webinar": "B"}, DEFAULT_RANK_CADENCES)
    with any_db.session() as session:
        assert second.version > first.version > 0 and second.created_at is not None
        assert ranking_store.current(session).sources == {"webinar": "B"}
        assert [r.sources["webinar"] for r in ranking_store.history(session)] == ["A", "B"]
        cadence_store.archive(session, "rank-d")
        cadence_store.archive(session, "rank-d")  # twice is harmless
    with any_db.session() as session:
        assert cadence_store.archived_names(session) == {"rank-d"}
        cadence_store.unarchive(session, "rank-d")
        assert not cadence_store.is_archived(session, "rank-d")


@pytest.mark.e2e
@pytest.mark.asyncio
async def test_a_new_ranking_applies_to_new_leads_only(live):
    assert (await live.get("/ranking")).json()["version"] == 0  # nothing stored: the defaults
    before = (await live.post("/leads", json=lead_body(source="event"))).json()
    assert (before["rank"], before["cadence"]["name"]) == ("B", "rank-b")

    table = {"sources": {**DEFAULT_SOURCE_RANKS, "event": "A", "webinar": "C"},
             "cadences": {**DEFAULT_RANK_CADENCES, "C": "rank-d"}}
    r = await live.put("/ranking", json=table)
    assert r.status_code == 200, r.text
    assert r.json()["version"] >= 1 and r.json()["sources"]["webinar"] == "C"
    assert (await live.get("/ranking")).json() == r.json()

    moved = await live.post("/leads", json=lead_body(source="event"))
    assert moved.status_code == 201, moved.text
    assert (moved.json()["rank"], moved.json()["cadence"]["name"]) == ("A", "rank-a")
    added = (await live.post("/leads", json=lead_body(source="webinar"))).json()
    assert (added["rank"], added["cadence"]["name"]) == ("C", "rank-d")
    kept = (await live.get(f"/leads/{before['id']}")).json()  # enrolled earlier: untouched
    assert (kept["rank"], kept["cadence"]["name"], kept["status"]) == ("B", "rank-b", "active")

    # A source the new table dropped is unknown, as any unknown source.
    smaller = {"sources": {"webinar": "A"}, "cadences": DEFAULT_RANK_CADENCES}
    assert (await live.put("/ranking", json=smaller)).status_code == 200
    gone = await live.post("/leads", json=lead_body(source="event"))
    assert gone.status_code == 422 and locs(gone) == {("source",)}
    history = (await live.get("/ranking/versions")).json()
    assert [v["sources"].get("webinar") for v in history] == ["C", "A"]


@pytest.mark.e2e
@pytest.mark.asyncio
async def test_bad_ranking_tables_are_refused_naming_each_field(live):
    bad = {"sources": {"webinar": "E", "referral": "A"},
           "cadences": {"A": "rank-a", "B": "no-such-cadence", "C": "rank-c", "E": "rank-d"}}
    r = await live.put("/ranking", json=bad)
    assert r.status_code == 422
    assert locs(r) == {("sources", "webinar"), ("cadences", "B"), ("cadences", "D"), ("cadences", "E")}
    assert (await live.put("/ranking", json={"sources": {}, "cadences": {}, "nurture": "x"})).status_code == 422
    assert (await live.get("/ranking")).json()["version"] == 0  # nothing was stored


@pytest.mark.e2e
@pytest.mark.asyncio
async def test_an_archived_cadence_takes_no_new_leads_but_its_leads_go_on(live):
    enrolled = (await live.post("/leads", json=lead_body(source="target_list"))).json()
    assert enrolled["cadence"]["name"] == "rank-d"

    r = await live.post("/cadences/rank-d/archive")
    assert r.status_code == 200 and r.json()["archived"] is True
    for body in (lead_body(source="target_list"), lead_body(source="form_fill", cadence="rank-d")):
        refused = await live.post("/leads", json=body)  # through the ranking table, and named explicitly
        assert refused.status_code == 422 and locs(refused) == {("cadence",)}, refused.text
    table = {"sources": DEFAULT_SOURCE_RANKS, "cadences": {**DEFAULT_RANK_CADENCES, "A": "rank-d"}}
    pointing = await live.put("/ranking", json=table)
    assert pointing.status_code == 422 and locs(pointing) == {("cadences", "A"), ("cadences", "D")}

    detail = (await live.get("/cadences/rank-d")).json()  # still readable, every version archived
    assert detail["archived"] is True and all(v["archived"] for v in detail["versions"])
    listed = {c["name"]: c["archived"] for c in (await live.get("/cadences")).json()}
    assert listed["rank-d"] is True and listed["rank-a"] is False
    open_ = {c["name"] for c in (await live.get("/cadences", params={"archived": "false"})).json()}
    assert "rank-d" not in open_ and "rank-a" in open_
    signal = await live.post(f"/leads/{enrolled['id']}/signals/reply", json={"intent": "neutral"})
    assert signal.status_code == 202, signal.text  # the enrolled lead's workflow goes on
    assert (await live.get(f"/leads/{enrolled['id']}")).json()["cadence"]["name"] == "rank-d"

    assert (await live.post("/cadences/nurture/archive")).status_code == 409
    assert (await live.post("/cadences/nope/archive")).status_code == 404
    r = await live.post("/cadences/rank-d/unarchive")
    assert r.status_code == 200 and r.json()["archived"] is False
    again = await live.post("/leads", json=lead_body(source="target_list"))
    assert again.status_code == 201 and again.json()["cadence"]["name"] == "rank-d"
