"""When each step of a cadence would happen: the workflow's own rules, with tasks done at once."""
from __future__ import annotations

from datetime import datetime

from domain import schedule
from domain.cadences import Cadence
from domain.durations import parse_duration


def simulate(cadence: Cadence, start: datetime, tz: str) -> list[tuple[int, str, str, datetime]]:
    """(step number, step id, channel, due time) for a lead enrolled at `start` in `tz`.

    Uses `schedule.next_due` exactly as the workflow does; it assumes every rep task is done
    the moment it is due (a task left open holds the cadence until it is done or expires).
    Holidays are resolved as at enrolment (`Cadence.with_holidays`), so the days match the workflow's.
    """
    holidays = cadence.with_holidays(start).holiday_set()
    out, anchor = [], start
    for number, step in enumerate(cadence.steps, 1):
        window = None if step.anytime else cadence.window()
        due = schedule.next_due(anchor, parse_duration(step.wait), tz=tz, window=window,
                                business_days=cadence.business_days, holidays=holidays)
        out.append((number, step.id, step.channel, due))
        anchor = due
    return out
