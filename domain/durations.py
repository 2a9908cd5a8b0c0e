"""ISO-8601 durations for cadence steps (weeks, days, hours, minutes, seconds).

Years and months are rejected: their length depends on the calendar position,
so a step like ``P1M`` cannot be turned into one fixed ``timedelta``.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["parse_duration", "format_duration"]

_DURATION = re.compile(
    r"P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d{1,6})?)S)?)?"
)
# Any Y, or an M before the T, means years/months: worth a specific message.
_CALENDAR_UNITS = re.compile(r"-?P[^T]*[YM]")


def parse_duration(text: str) -> timedelta:
    """Parse e.g. ``P2D``, ``PT4H``, ``P1DT2H30M``, ``P1W`` into a timedelta."""
    if not isinstance(text, str):
        raise ValueError(f"invalid duration {text!r}: expected a string")
    m = _DURATION.fullmatch(text)
    # "P", "PT" and a trailing "T" match the regex but carry no value.
    if m is None or text.endswith("T") or not any(m.groupdict().values()):
        if text.startswith("-"):
            reason = "negative durations are not allowed"
        elif _CALENDAR_UNITS.match(text):
            reason = "years and months have ambiguous lengths; use days or weeks"
        else:
            reason = "expected an ISO-8601 duration such as P2D, PT4H or P1DT2H30M"
        raise ValueError(f"invalid duration {text!r}: {reason}")
    parts = {k: float(v) if k == "seconds" else int(v) for k, v in m.groupdict().items() if v}
    try:
        return timedelta(**parts)
    except OverflowError:
        raise ValueError(f"invalid duration {text!r}: too large") from None


def format_duration(td: timedelta) -> str:
    """Canonical ISO form: days (never weeks), then H/M/S; zero is ``PT0S``."""
    if td < timedelta(0):
        raise ValueError(f"cannot format negative duration {td!r}")
    hours, rest = divmod(td.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    date_part = f"{td.days}D" if td.days else ""
    time_part = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if td.microseconds:
        time_part += f"{seconds}.{td.microseconds:06d}".rstrip("0") + "S"
    elif seconds:
        time_part += f"{seconds}S"
    if not date_part and not time_part:
        return "PT0S"
    return "P" + date_part + ("T" + time_part if time_part else "")
