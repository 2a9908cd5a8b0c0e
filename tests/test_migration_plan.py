"""The pure migration plan: matched by step id, nothing repeated, nothing lost."""
from __future__ import annotations

from domain.migration import plan_migration
from tests.support.harness import make_cadence


def cadence(version: int, ids: list[str]):
    steps = [{"id": i, "channel": "email", "wait": "P1D", "subject": "Hi", "body": "Hello"} for i in ids]
    return make_cadence(steps=steps, version=version)


OLD = cadence(1, ["e1", "e2", "e3", "e4", "e5", "e6"])


def test_a_dropped_done_step_stays_done_and_a_new_step_is_next():
    new = cadence(2, ["e1", "new", "e3", "e4", "e5", "e6"])
    plan = plan_migration(OLD, 2, [], new)  # e1 and e2 done
    assert (plan.done, plan.dropped, plan.added) == (["e1", "e2"], ["e2"], ["new"])
    assert (plan.next_step, plan.step_index) == ("new", 1)
    assert (plan.from_version, plan.to_version) == (1, 2)


def test_a_new_step_before_the_position_is_still_had_once():
    new = cadence(2, ["intro", "e1", "e2", "e3", "e4", "e5"])
    plan = plan_migration(OLD, 3, [], new)
    assert (plan.next_step, plan.step_index, plan.added) == ("intro", 0, ["intro"])
    assert plan.dropped == ["e6"] and plan.done == ["e1", "e2", "e3"]


def test_a_step_whose_task_is_open_counts_as_had():
    plan = plan_migration(OLD, 1, [], cadence(2, ["e1", "e2", "e3", "e4", "e5", "e6"]), in_progress="e2")
    assert plan.done == ["e1", "e2"] and (plan.next_step, plan.step_index) == ("e3", 2)


def test_steps_had_before_an_earlier_migration_are_never_repeated():
    v2 = cadence(2, ["e1", "e3", "e4", "e5", "e6", "e7"])
    first = plan_migration(OLD, 2, [], v2)  # e2 dropped
    v3 = cadence(3, ["e1", "e2", "e3", "e4", "e5", "e6"])  # e2 comes back
    second = plan_migration(v2, first.step_index, first.done, v3)
    assert (second.next_step, second.step_index) == ("e3", 2)
    assert "e2" in second.done and second.added == []  # back in the cadence, but already had


def test_nothing_left_means_no_next_step():
    plan = plan_migration(OLD, 6, [], cadence(2, ["e1", "e2", "e3", "e4", "e5", "e6"]))
    assert plan.next_step is None and plan.step_index == 6
