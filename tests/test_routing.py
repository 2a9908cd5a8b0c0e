"""Routing rules (territory, rank, round-robin) and away/backup stand-ins, without I/O."""
from __future__ import annotations

from dataclasses import replace

from domain.routing import Rep, backup_problem, route, stand_in

US_SENIOR = Rep("ana", territories=("US", "CA"), ranks=("A", "B"))
US_JUNIOR = Rep("ben", territories=("US",), ranks=("C", "D"))
DE_ANY = Rep("cem", territories=("DE",))
CATCH_ALL = Rep("dora")


def owners(reps, country, rank, n):
    """Route n leads, taking turns as persistence does."""
    reps = {r.id: r for r in reps}
    out = []
    for _ in range(n):
        r = route(reps.values(), country, rank)
        reps[r.turn] = replace(reps[r.turn], last_turn=max(x.last_turn for x in reps.values()) + 1)
        out.append(r.owner)
    return out


def test_no_reps_no_owner():
    assert route([], "US", "A") is None


def test_territory_picks_the_reps_covering_the_country():
    reps = [US_SENIOR, US_JUNIOR, DE_ANY, CATCH_ALL]
    assert route(reps, "DE", "A").owner == "cem"
    assert route(reps, "de", "C").owner == "cem"  # codes compare case-insensitively
    assert route(reps, "FR", "A").owner == "dora"  # nobody covers FR: the catch-all rep
    assert route(reps, None, "A").owner == "dora"
    assert route([US_SENIOR, DE_ANY], "FR", "A").owner in {"ana", "cem"}  # no catch-all: anyone


def test_rank_picks_the_reps_taking_it_within_the_territory():
    reps = [US_SENIOR, US_JUNIOR, DE_ANY, CATCH_ALL]
    assert route(reps, "US", "A").owner == "ana"
    assert route(reps, "US", "D").owner == "ben"
    only_juniors = [US_JUNIOR, Rep("eve", territories=("US",), ranks=("C",))]
    assert route(only_juniors, "US", "A").owner == "ben"  # nobody takes A: rank is not a dead end


def test_round_robin_takes_turns_within_the_pool():
    team = [Rep("r1", territories=("US",)), Rep("r2", territories=("US",)), Rep("r3", territories=("US",)),
            Rep("other", territories=("DE",))]
    assert owners(team, "US", "B", 6) == ["r1", "r2", "r3", "r1", "r2", "r3"]
    newcomer = team[:3] + [Rep("r0", territories=("US",), last_turn=0)]
    newcomer = [replace(r, last_turn=i + 10) if r.id != "r0" else r for i, r in enumerate(newcomer)]
    assert owners(newcomer, "US", "B", 4) == ["r0", "r1", "r2", "r3"]  # a new rep is next in line, once


def test_away_reps_are_skipped_and_a_fully_away_pool_uses_the_backup():
    team = [Rep("r1", territories=("US",), away=True, backup_id="boss"), Rep("r2", territories=("US",)),
            Rep("boss", territories=("DE",))]
    assert owners(team, "US", "A", 3) == ["r2", "r2", "r2"]
    all_away = [Rep("r1", territories=("US",), away=True, backup_id="boss"), Rep("boss", territories=("DE",))]
    r = route(all_away, "US", "A")
    assert (r.turn, r.owner) == ("r1", "boss")


def test_stand_in_follows_the_backup_chain_and_survives_cycles():
    reps = {r.id: r for r in [Rep("a", away=True, backup_id="b"), Rep("b", away=True, backup_id="c"), Rep("c")]}
    assert stand_in("a", reps) == "c"
    assert stand_in("c", reps) == "c"
    assert stand_in("free text owner", reps) == "free text owner"
    loop = {r.id: r for r in [Rep("a", away=True, backup_id="b"), Rep("b", away=True, backup_id="a")]}
    assert stand_in("a", loop) == "a"  # nobody present: the work stays where it was
    dead_end = {r.id: r for r in [Rep("a", away=True, backup_id="b"), Rep("b", away=True)]}
    assert stand_in("a", dead_end) == "a"


def test_backup_validation_names_self_unknown_and_cycles():
    backups = {"a": None, "b": "c", "c": None}
    assert backup_problem("a", None, backups) is None
    assert backup_problem("a", "b", backups) is None
    assert "own backup" in backup_problem("a", "a", backups)
    assert "no rep" in backup_problem("a", "zed", backups)
    assert "cycle" in backup_problem("c", "b", backups)  # b -> c already: c -> b closes the loop
    assert "cycle" in backup_problem("c", "a", {"a": "b", "b": "c", "c": None})
