"""The leads listing on both databases: search by name, email or company, and cursor pages on
(created_at, id) that neither repeat nor skip a lead when leads arrive in between."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from persistence import leads as lead_store
from persistence.leads import BadCursor, Cursor


def add(session, lead_id: str, created_at: datetime, **fields):
    values = {"email": f"{lead_id}@example.com", "source": "form_fill", "rank": "A", "cadence_name": "rank-a",
              "cadence_version": 1, "timezone": "UTC", "custom": {}, **fields}
    return lead_store.add(session, id=lead_id, workflow_id=f"lead-{lead_id}", created_at=created_at, **values)


@pytest.fixture
def leads(any_db):
    t0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
    with any_db.session() as s:
        add(s, "a1", t0, first_name="Grace", last_name="Hopper", company="US Navy")
        add(s, "a2", t0, first_name="Ada", last_name="Lovelace", company="100%_Engines")  # same instant as a1
        add(s, "a3", t0 + timedelta(microseconds=1), first_name="Katherine", company="NASA", rank="B")
        add(s, "a4", t0 + timedelta(minutes=5), email="alan@bletchley.example", owner="ben")
        add(s, "a5", t0 + timedelta(minutes=9), first_name="Margaret", company="MIT", stage="qualified")
    return any_db


def walk(session, limit: int, **filters) -> list[str]:
    seen, after = [], None
    while True:
        page = lead_store.page(session, after=after, limit=limit, **filters)
        seen += [lead.id for lead in page.rows]
        if page.older is None:
            return seen
        after = page.older


def test_pages_follow_created_at_then_id_and_leads_arriving_do_not_move_them(leads):
    with leads.session() as s:
        assert walk(s, 2) == ["a5", "a4", "a3", "a1", "a2"]  # newest first; a tie broken by id
        first = lead_store.page(s, limit=2)
        assert first.newer is None and first.total == 5
        add(s, "a6", datetime(2026, 3, 2, tzinfo=timezone.utc))  # a newer lead arrives between two pages
        second = lead_store.page(s, after=Cursor.decode(first.older.encode()), limit=2)
        assert [lead.id for lead in second.rows] == ["a3", "a1"] and second.total == 6
        back = lead_store.page(s, before=second.newer, limit=2)
        assert [lead.id for lead in back.rows] == ["a5", "a4"] and back.newer is not None  # a6 is newer still
        assert [lead.id for lead in lead_store.page(s, before=back.newer, limit=2).rows] == ["a6"]


def test_search_takes_every_word_in_name_email_or_company_any_case(leads):
    with leads.session() as s:
        def ids(q, **f):
            return [lead.id for lead in lead_store.page(s, q=q, **f).rows]
        assert ids("grace hopper") == ["a1"]
        assert ids("NAVY") == ["a1"] and ids("bletchley") == ["a4"] and ids("lovelace 100%") == ["a2"]
        assert ids("100%_") == ["a2"] and ids("%") == ["a2"] and ids("_") == ["a2"]  # wildcards are literal
        assert ids("grace navy nasa") == []
        assert ids("a", rank="B") == ["a3"] and ids(None, owner="ben") == ["a4"] and ids("", stage="qualified") == ["a5"]
        rows, total = lead_store.listing(s, q="a", limit=2)
        assert total == 5 and len(rows) == 2


@pytest.mark.parametrize("text", ["", "x", "bm90IGEgY3Vyc29y", Cursor(datetime(2026, 1, 1), "a").encode(),
                                  "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHw="])
def test_a_cursor_it_did_not_hand_out_is_refused(text):
    with pytest.raises(BadCursor):
        Cursor.decode(text)
