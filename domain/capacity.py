"""Sending capacity of a mailbox (SPEC 2.7): daily and hourly caps and a warm-up ramp.

Caps count sends per UTC day and UTC hour, the way mailbox providers meter them. A send that
does not fit is never dropped: `next_slot` says when the mailbox has room again, and the
workflow waits for that moment and then for the lead's own send window.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

# What a mailbox's caps may be set to: providers meter one mailbox far below these.
MAX_DAILY_CAP = 50_000
MAX_HOURLY_CAP = 10_000


def hourly_cap_problem(daily: int | None, hourly: int | None) -> str | None:
    """Why an hourly cap does not go with a daily one, or None."""
    if daily is not None and hourly is not None and hourly > daily:
        return f"{hourly} per hour is more than the daily cap of {daily}"
    return None


@dataclass(frozen=True)
class Caps:
    daily: int | None = None
    hourly: int | None = None
    ramp: tuple[int, ...] = field(default_factory=tuple)  # daily caps for week 1, 2, ... of a new mailbox
    started: date | None = None  # when the ramp began

    def daily_on(self, day: date) -> int | None:
        """The day's cap: the lower of the steady cap and the ramp's, while the ramp lasts."""
        caps = [self.daily] if self.daily is not None else []
        if self.ramp and self.started is not None:
            week = (day - self.started).days // 7
            if 0 <= week < len(self.ramp):
                caps.append(self.ramp[week])
        return min(caps) if caps else None


@dataclass(frozen=True)
class Slot:
    """Why a send must wait, and until when."""

    at: datetime
    reason: str


def day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def hour_start(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def next_slot(now: datetime, caps: Caps, sent_today: int, sent_this_hour: int) -> Slot | None:
    """None when one more send fits at `now` (UTC); else the first moment it may."""
    day_cap = caps.daily_on(now.date())
    if day_cap is not None and sent_today >= day_cap:
        return Slot(day_start(now) + timedelta(days=1), f"daily cap of {day_cap} reached")
    if caps.hourly is not None and sent_this_hour >= caps.hourly:
        return Slot(hour_start(now) + timedelta(hours=1), f"hourly cap of {caps.hourly} reached")
    return None


def forecast(caps: Caps, first_day: date, days: int, planned: dict[date, int], sent_first_day: int) -> list[dict]:
    """Per day: the cap, the emails planned, and what spills over to the next day."""
    out, carried = [], 0
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        cap = caps.daily_on(day)
        demand = planned.get(day, 0) + carried + (sent_first_day if offset == 0 else 0)
        fits = demand if cap is None else min(demand, cap)
        carried = demand - fits
        out.append({"day": day.isoformat(), "cap": cap, "planned": demand, "sent_or_sendable": fits,
                    "deferred_to_later": carried})
    return out
