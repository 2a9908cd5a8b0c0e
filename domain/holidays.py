"""Holiday calendars of a cadence: a country (and subdivision) from the `holidays` package, plus custom dates.

Only the API side calls the package, when a lead is enrolled or a cadence simulated: `resolve`
turns the calendar into concrete dates that travel in the cadence snapshot. The workflow reads
those dates alone, so a package upgrade with changed holiday rules cannot alter a replay.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any, Iterable

import holidays as holidays_package

# Dates are resolved for the enrolment year and the next two: enough for any cadence
# and for years of nurture cycles, while keeping the workflow's snapshot small.
YEARS_AHEAD = 2
CALENDAR_KEYS = ("country", "subdivision", "dates")
MAX_DATES = 366  # custom dates of one calendar
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def problems(calendar: Any) -> list[tuple[str, str]]:
    """(field path below `holidays`, message) for every problem; empty when the calendar is valid."""
    if calendar is None:
        return []
    if not isinstance(calendar, dict):
        return [("", "must be an object with country, subdivision and/or dates")]
    out: list[tuple[str, str]] = []
    for key in sorted(set(calendar) - set(CALENDAR_KEYS), key=str):
        out.append((f".{key}", f"unknown key; use {', '.join(CALENDAR_KEYS)}"))
    supported = holidays_package.list_supported_countries()
    country, subdivision = calendar.get("country"), calendar.get("subdivision")
    if country is not None and (not isinstance(country, str) or country not in supported):
        out.append((".country", f"unknown country code {country!r}; use an ISO 3166-1 code such as US or DE"))
        country = None
    if subdivision is not None:
        if calendar.get("country") is None:
            out.append((".subdivision", "needs a country"))
        elif country is not None and subdivision not in supported[country]:
            known = ", ".join(supported[country][:12]) or "none"
            out.append((".subdivision", f"{country} has no subdivision {subdivision!r}; known: {known}"))
    dates = calendar.get("dates", [])
    if not isinstance(dates, list):
        out.append((".dates", "must be a list of dates such as 2026-12-24"))
        dates = []
    if len(dates) > MAX_DATES:  # they travel in every lead's snapshot
        out.append((".dates", f"has {len(dates)} dates; at most {MAX_DATES}"))
        dates = []
    for i, value in enumerate(dates):
        if _to_date(value) is None:
            out.append((f".dates[{i}]", f"{value!r} is not a date such as 2026-12-24"))
    return out


def normalized(calendar: dict | None) -> dict | None:
    """The calendar with custom dates as sorted ISO strings (YAML reads bare dates as `date`)."""
    if calendar is None:
        return None
    out = {k: v for k, v in calendar.items() if v is not None}
    if "dates" in out:
        out["dates"] = sorted({_to_date(d).isoformat() for d in out["dates"]})
    return out


def resolve(calendar: dict | None, years: Iterable[int]) -> frozenset[date]:
    """Every holiday of a validated calendar in `years`, plus all of its custom dates."""
    if not calendar:
        return frozenset()
    days: set[date] = {_to_date(d) for d in calendar.get("dates") or []}
    if calendar.get("country"):
        national = holidays_package.country_holidays(calendar["country"], subdiv=calendar.get("subdivision"),
                                                     years=list(years))
        days.update(national.keys())
    return frozenset(days)


def years_from(enrolled_at: datetime) -> range:
    """The years resolved for a lead enrolled at `enrolled_at` (its UTC year, so API and tests agree)."""
    year = enrolled_at.astimezone(timezone.utc).year
    return range(year, year + YEARS_AHEAD + 1)


def _to_date(value: Any) -> date | None:
    if isinstance(value, datetime):  # a datetime is a date subclass, but a time of day makes no sense here
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None
