"""Moving an enrolled lead to another version of its cadence (SPEC 2.4), as a pure plan.

Steps are matched by id across versions: a step the lead already had stays done (even if the
new version moved it), a done step the new version no longer has is dropped, and the lead goes
on at the first step of the new version it has not had. Nothing is repeated, nothing skipped
that the lead has not had. The dry run and the workflow both call `plan_migration`, so what
ops preview is what happens.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from domain.cadences import Cadence


@dataclass
class MigrationPlan:
    from_version: int
    to_version: int
    done: list[str] = field(default_factory=list)  # step ids the lead has had; never performed again
    dropped: list[str] = field(default_factory=list)  # old-version steps the new version does not have
    added: list[str] = field(default_factory=list)  # new-version steps the lead will still get
    next_step: str | None = None  # the step performed next, None when nothing is left
    step_index: int = 0  # where the lead stands in the new version
    note: str | None = None  # why the lead was not moved, when it was not


def plan_migration(old: Cadence, step_index: int, earlier_done: list[str], new: Cadence,
                   in_progress: str | None = None) -> MigrationPlan:
    """`step_index` is the lead's position in `old`; `earlier_done` the steps marked done by an
    earlier migration; `in_progress` the step whose task is open (it counts as had)."""
    done = list(dict.fromkeys([s.id for s in old.steps[:step_index]] + list(earlier_done)
                              + ([in_progress] if in_progress else [])))
    new_ids = [s.id for s in new.steps]
    old_ids = {s.id for s in old.steps}
    position = next((i for i, step_id in enumerate(new_ids) if step_id not in done), len(new_ids))
    return MigrationPlan(
        from_version=old.version, to_version=new.version,
        done=done,
        dropped=[s.id for s in old.steps if s.id not in new_ids],
        added=[i for i in new_ids if i not in old_ids and i not in done],
        next_step=new_ids[position] if position < len(new_ids) else None,
        step_index=position,
    )
