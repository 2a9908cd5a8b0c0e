"""Deterministic cadence scheduling, shared by the Temporal workflow and the API.

Pure: no clock reads and no I/O besides the tz database behind ``zoneinfo``.

Semantics of ``next_due(after, wait, ...)``:

* ``after`` must be timezone-aware; the result is timezone-aware UTC.
* The whole-day part of ``wait`` is counted in the lead's local calendar (``tz``):
  P1D from Mon 09:00 local is Tue 09:00 local even across DST (a 23 or 25 h gap).
  With ``business_days`` only Mon-Fri dates not in ``holidays`` are counted.
* The sub-day part (PT4H, PT30S, ...) is then added as real elapsed time.
* A candidate outside ``window`` moves to the window opening on the same local
  day (if it is an allowed day and before the opening), else to the opening of
  the next allowed day (weekday in ``window.days`` and not a holiday).
  With ``window=None`` any time is fine, except that a holiday moves to 00:00
  local of the next non-holiday day.
* Non-existent local times (spring-forward gap) resolve forward to the first
  valid instant; ambiguous ones (fall-back) use the first occurrence (fold=0).
* A zero wait inside the window returns ``after`` unchanged (in UTC).
* Searches look at most ``MAX_SEARCH_DAYS`` ahead, then raise ValueError.

``plan(start, waits, ...)`` chains ``next_due``: step i is due ``waits[i]`` after
step i-1, the first counted from ``start``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["SendWindow", "next_due", "plan", "local_midnight", "MAX_SEARCH_DAYS"]

MAX_SEARCH_DAYS = 400
_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WINDOW_KEYS = frozenset({"days", "start", "end"})


@dataclass(frozen=True)
class SendWindow:
    days: tuple[int, ...] = (0, 1, 2, 3, 4)  # weekday numbers, 0 = Monday
    start: time = time(8, 0)  # local wall clock, inclusive
    end: time = time(18, 0)  # local wall clock, exclusive

    def __post_init__(self) -> None:
        # An empty window would make every "next allowed day" search spin forever.
        if not self.days:
            raise ValueError("send window 'days' must not be empty")
        if any(not isinstance(d, int) or not 0 <= d <= 6 for d in self.days):
            raise ValueError(f"send window 'days' must be weekday numbers 0-6, got {self.days!r}")
        if not self.start < self.end:  # overnight windows are not supported
            raise ValueError(f"send window 'start' ({self.start}) must be before 'end' ({self.end})")
        object.__setattr__(self, "days", tuple(sorted(set(self.days))))  # canonical order keeps equality/to_dict stable

    @classmethod
    def from_dict(cls, d: dict | None) -> SendWindow | None:
        """Build from ``{"days": ["mon", ...], "start": "08:00", "end": "18:00"}``."""
        if d is None:
            return None
        if not isinstance(d, dict):
            raise ValueError(f"send window must be a mapping, got {type(d).__name__}")
        unknown = sorted(set(d) - _WINDOW_KEYS, key=str)
        if unknown:
            raise ValueError(f"send window has unknown key {unknown[0]!r}")
        kwargs: dict = {}
        if "days" in d:
            names = d["days"]
            if isinstance(names, str) or not isinstance(names, (list, tuple)):
                raise ValueError(f"send window 'days' must be a list of day names, got {names!r}")
            bad = [n for n in names if not isinstance(n, str) or n.lower() not in _DAY_NAMES]
            if bad:
                raise ValueError(f"send window 'days' has unknown day name {bad[0]!r}; use mon..sun")
            kwargs["days"] = tuple(_DAY_NAMES.index(n.lower()) for n in names)
        for key in ("start", "end"):
            if key in d:
                try:
                    kwargs[key] = time.fromisoformat(d[key])
                except (TypeError, ValueError):
                    raise ValueError(f"send window {key!r} must be 'HH:MM', got {d[key]!r}") from None
        return cls(**kwargs)

    def to_dict(self) -> dict:
        return {"days": [_DAY_NAMES[i] for i in self.days], "start": _fmt_time(self.start), "end": _fmt_time(self.end)}

    def contains(self, local: datetime) -> bool:
        """Whether the local wall-clock ``local`` falls in the window (holidays not considered)."""
        return local.weekday() in self.days and self.start <= local.time() < self.end


def next_due(
    after: datetime,
    wait: timedelta,
    *,
    tz: str,
    window: SendWindow | None,
    business_days: bool,
    holidays: frozenset[date] = frozenset(),
) -> datetime:
    """When a step waiting ``wait`` after ``after`` is due (UTC); see module docstring."""
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError(f"'after' must be timezone-aware, got naive {after!r}")
    if wait < timedelta(0):
        raise ValueError(f"wait must not be negative, got {wait!r}")
    zone = _zone(tz)
    local = after.astimezone(zone)
    whole_days, sub_day = wait.days, wait - timedelta(days=wait.days)

    cand = local
    if whole_days:
        day = local.date()
        if business_days:
            for _ in range(whole_days):
                day = _next_date(day, lambda x: x.weekday() < 5 and x not in holidays)
        else:
            day += timedelta(days=whole_days)
        # Keep the local wall clock, not the UTC offset, across DST changes.
        cand = _localize(datetime.combine(day, local.time()), zone)
    # Sub-day waits are real elapsed time, so add them in UTC.
    cand = cand.astimezone(timezone.utc) + sub_day
    loc = cand.astimezone(zone)

    if window is None:
        if loc.date() in holidays:
            day = _next_date(loc.date(), lambda x: x not in holidays)
            cand = _localize(datetime.combine(day, time(0)), zone)
    elif loc.date() in holidays or not window.contains(loc):
        allowed: Callable[[date], bool] = lambda x: x.weekday() in window.days and x not in holidays
        day = loc.date()
        if not (allowed(day) and loc.time() < window.start):
            day = _next_date(day, allowed)
        cand = _localize(datetime.combine(day, window.start), zone)
    return cand.astimezone(timezone.utc)


def plan(
    start: datetime,
    waits: Sequence[timedelta],
    *,
    tz: str,
    window: SendWindow | None,
    business_days: bool,
    holidays: frozenset[date] = frozenset(),
) -> list[datetime]:
    """Due times (UTC) for each step; step i waits ``waits[i]`` after step i-1."""
    due, out = start, []
    for wait in waits:
        due = next_due(due, wait, tz=tz, window=window, business_days=business_days, holidays=holidays)
        out.append(due)
    return out


def next_business_day_start(
    now: datetime, *, tz: str, window: SendWindow | None, holidays: frozenset[date] = frozenset(),
) -> datetime:
    """The first window moment of the next business day after ``now``'s local date (seed 004: a
    missed call is called back the next business day, however late in the day it was missed)."""
    today = now.astimezone(_zone(tz)).date()
    day = _next_date(today, lambda x: x.weekday() < 5 and x not in holidays)
    return next_due(local_midnight(day, tz), timedelta(0), tz=tz, window=window, business_days=True,
                    holidays=holidays)


def local_midnight(day: date, tz: str) -> datetime:
    """Start of ``day`` in the lead's calendar, in UTC (e.g. an out-of-office return date)."""
    return _localize(datetime.combine(day, time(0)), _zone(tz)).astimezone(timezone.utc)


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {tz!r}") from None


def _next_date(day: date, ok: Callable[[date], bool]) -> date:
    """First date after ``day`` satisfying ``ok``; bounded so bad input cannot hang a workflow."""
    for n in range(1, MAX_SEARCH_DAYS + 1):
        cand = day + timedelta(days=n)
        if ok(cand):
            return cand
    raise ValueError(f"no allowed send day within {MAX_SEARCH_DAYS} days after {day}")


def _localize(naive: datetime, zone: ZoneInfo) -> datetime:
    """Attach ``zone`` to a wall-clock time: gaps resolve forward, folds to the first occurrence."""
    aware = naive.replace(tzinfo=zone, fold=0)
    if aware.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) == naive:
        return aware
    # In a gap, fold=1 applies the post-transition offset (earlier instant) and fold=0
    # the pre-transition one (later instant); the transition lies between: bisect for it.
    lo = int(naive.replace(tzinfo=zone, fold=1).timestamp())
    hi = int(aware.timestamp()) + 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).replace(tzinfo=None) < naive:
            lo = mid
        else:
            hi = mid
    return datetime.fromtimestamp(hi, zone)


def _fmt_time(t: time) -> str:
    return t.isoformat(timespec="minutes" if not (t.second or t.microsecond) else "auto")
