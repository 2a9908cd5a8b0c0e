"""The enrolment catalog (persistence/catalog.py): what a commit in this process changes applies at
once, and routing by a stale cache never hands out a turn twice."""
from __future__ import annotations

from sqlalchemy import select, update

from domain.ranks import DEFAULT_RANK_CADENCES
from persistence import cadences as cadence_store
from persistence import catalog
from persistence import ranking as ranking_store
from persistence import reps as rep_store
from persistence.models import Rep


def test_a_commit_that_changes_what_enrolment_reads_applies_to_the_next_read(sqlite_db):
    with sqlite_db.session() as s:
        first = catalog.current(s)
        assert first.ranking.version == 0 and not first.reps and not first.archived
        assert catalog.current(s) is first  # cached: nothing read again
    with sqlite_db.session() as s:
        ranking_store.save(s, {"webinar": "B"}, DEFAULT_RANK_CADENCES)
        s.add(Rep(id="ana", name="Ana", email="ana@example.com"))
    with sqlite_db.session() as s:
        after = catalog.current(s)
        assert after.ranking.sources == {"webinar": "B"} and list(after.reps) == ["ana"]
        cadence_store.archive(s, "rank-d")
    with sqlite_db.session() as s:
        assert "rank-d" in catalog.current(s).archived


def test_a_rolled_back_change_is_not_kept(sqlite_db):
    with sqlite_db.session() as s:
        ranking_store.save(s, {"webinar": "C"}, DEFAULT_RANK_CADENCES)
        assert catalog.current(s).ranking.sources == {"webinar": "C"}  # read in the transaction that wrote it
        s.rollback()
    with sqlite_db.session() as s:
        assert catalog.current(s).ranking.version == 0


def test_a_turn_another_process_took_makes_routing_read_the_reps_again(sqlite_db):
    with sqlite_db.session() as s:
        s.add_all([Rep(id="ana", name="Ana", email="ana@example.com"), Rep(id="ben", name="Ben", email="ben@example.com")])
    with sqlite_db.session() as s:
        known = catalog.current(s)  # both at turn 0
        # Another process routes to ana: a bulk update this process's catalog does not see.
        s.execute(update(Rep).where(Rep.id == "ana").values(last_turn=1))
    with sqlite_db.session() as s:
        learn = catalog.catalog_for(s).learn_turns
        assert rep_store.assign_owner(s, None, "A", known.reps, learn) == "ben"  # ana's stale turn failed
        assert rep_store.assign_owner(s, None, "A", catalog.current(s).reps, learn) == "ana"
        turns = dict(s.execute(select(Rep.id, Rep.last_turn)).all())
    assert turns == {"ana": 3, "ben": 2}
    with sqlite_db.session() as s:
        assert {r.id: r.last_turn for r in catalog.current(s).reps.values()} == turns  # learned, not read
