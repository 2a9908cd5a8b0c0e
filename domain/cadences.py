"""Cadence definitions and their validation (SPEC 2.4).

A cadence is data owned by sales ops. Validation lists every problem at once, each with
the path of the offending field, so an editor can fix a definition in one pass.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Callable

from domain import holidays as calendars
from domain.durations import parse_duration
from domain.payloads import json_size_over
from domain.ranks import RANKS
from domain.schedule import SendWindow

CHANNELS = ("email", "call", "linkedin", "sms", "manual_email", "task")
AUTOMATED_CHANNELS = frozenset({"email"})
EMAIL_CHANNELS = frozenset({"email", "manual_email"})
PHONE_CHANNELS = frozenset({"call", "sms"})
MIN_STEPS = 6
MIN_CHANNELS = 2
ON_COMPLETE = ("nurture", "not_interested", "none")

# Bounds: a definition travels in every lead's workflow input, and its ids end up in keys of
# the read model, so each has a limit that keeps both within what they can hold.
MAX_STEPS = 50
MAX_VARIANTS = 10  # per step
MAX_DURATION = timedelta(days=365)  # any wait, SLA or expiry
MAX_DEFINITION_BYTES = 128 * 1024  # the whole definition as JSON, about
MAX_NAME = 100  # cadence_versions.name, leads.cadence_name
MAX_DESCRIPTION = 2_000
# Touch and task ids are `<lead id>-<cycle>-<step id>` in String(120) columns, with 12-character
# lead ids: a 64-character step id leaves room for a cycle number of 40 digits. They are also
# path segments (`/tasks/{id}/complete`), hence the plain characters.
MAX_STEP_ID = 64
STEP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MAX_VARIANT_ID = 40  # touches.variant
MAX_TEXT = {"subject": 1_000, "body": 20_000, "instructions": 20_000}  # characters of a content field

# How long a rep task may stay open before it escalates, and at all (SPEC 2.4).
DEFAULT_SLA = {"call": "PT4H", "linkedin": "P1D", "sms": "PT4H", "manual_email": "P1D", "task": "P1D"}
DEFAULT_EXPIRES = {"call": "P2D", "linkedin": "P3D", "sms": "P1D", "manual_email": "P3D", "task": "P3D"}

# Which content fields each channel uses.
CONTENT_FIELDS = {
    "email": ("subject", "body"),
    "manual_email": ("subject", "body"),
    "sms": ("body",),
    "call": ("instructions",),
    "linkedin": ("instructions",),
    "task": ("instructions",),
}


@dataclass
class Variant:
    id: str
    subject: str | None = None
    body: str | None = None


@dataclass
class Step:
    id: str
    channel: str
    wait: str
    subject: str | None = None
    body: str | None = None
    instructions: str | None = None
    variants: list[Variant] = field(default_factory=list)
    sla: str | None = None
    expires: str | None = None
    anytime: bool = False  # ignores the send window: the instant answer to an inquiry

    @property
    def is_task(self) -> bool:
        return self.channel not in AUTOMATED_CHANNELS

    def sla_or_default(self) -> str:
        return self.sla or DEFAULT_SLA.get(self.channel, "P1D")

    def expires_or_default(self) -> str:
        return self.expires or DEFAULT_EXPIRES.get(self.channel, "P3D")


@dataclass
class Cadence:
    name: str
    steps: list[Step]
    version: int = 1
    ranks: list[str] = field(default_factory=list)
    description: str = ""
    send_window: dict | None = field(default_factory=lambda: SendWindow().to_dict())
    business_days: bool = True
    pause_account: bool = True  # account pauses (SPEC 2.7): false = its leads neither pause colleagues nor are paused
    on_complete: str = "nurture"
    repeat: bool = False  # the nurture cadence loops without end
    # {"country": "US", "subdivision": "CA", "dates": ["2026-12-24"]}: no touch on those days.
    holidays: dict | None = None
    # The calendar resolved to ISO dates when a lead is enrolled (see `with_holidays`). The
    # workflow uses only these, never the holidays package, so replays stay deterministic.
    # Defaults keep snapshots recorded before holidays existed readable.
    holiday_dates: list[str] = field(default_factory=list)

    def window(self) -> SendWindow | None:
        return SendWindow.from_dict(self.send_window)

    def holiday_set(self) -> frozenset[date]:
        return frozenset(date.fromisoformat(d) for d in self.holiday_dates)

    def with_holidays(self, enrolled_at: datetime) -> "Cadence":
        """A snapshot carrying the calendar's dates for a lead enrolled at `enrolled_at`."""
        days = calendars.resolve(self.holidays, calendars.years_from(enrolled_at))
        return replace(self, holiday_dates=sorted(d.isoformat() for d in days))

    def to_dict(self) -> dict[str, Any]:
        """The definition: resolved dates belong to a snapshot, and an absent calendar stays absent
        so definitions stored before holidays existed compare equal."""
        out = asdict(self)
        del out["holiday_dates"]
        if out["holidays"] is None:
            del out["holidays"]
        if out["pause_account"]:  # the default, left out like an absent calendar
            del out["pause_account"]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Cadence":
        """Build from already validated data (see `validate_cadence`)."""
        steps = [
            Step(**{**s, "variants": [Variant(**v) for v in s.get("variants") or []]})
            for s in data["steps"]
        ]
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data and k != "steps"}
        if known.get("holidays") is not None:
            known["holidays"] = calendars.normalized(known["holidays"])
        return cls(steps=steps, **known)


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


TemplateCheck = Callable[[str], "str | None"]


def validate_cadence(data: Any, check_template: TemplateCheck | None = None) -> list[Problem]:
    """Every problem of a cadence definition; an empty list means it is valid."""
    if not isinstance(data, dict):
        return [Problem("", "a cadence must be a JSON object")]
    if json_size_over(data, MAX_DEFINITION_BYTES):
        return [Problem("", f"the definition is larger than {MAX_DEFINITION_BYTES // 1024} KB as JSON")]
    problems: list[Problem] = []
    add = lambda where, msg: problems.append(Problem(where, msg))  # noqa: E731

    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        add("name", "is required")
    elif not all(c.isalnum() or c in "-_" for c in name):
        add("name", "may contain only letters, digits, '-' and '_'")
    elif len(name) > MAX_NAME:
        add("name", f"is {len(name)} characters long; at most {MAX_NAME}")
    description = data.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        add("description", f"must be text of at most {MAX_DESCRIPTION} characters")
    ranks = data.get("ranks", [])
    if not isinstance(ranks, list) or any(r not in RANKS for r in ranks):
        add("ranks", f"must be a list of {', '.join(RANKS)}")
    if data.get("on_complete", "nurture") not in ON_COMPLETE:
        add("on_complete", f"must be one of {', '.join(ON_COMPLETE)}")
    if not isinstance(data.get("business_days", True), bool):
        add("business_days", "must be true or false")
    if not isinstance(data.get("pause_account", True), bool):
        add("pause_account", "must be true or false")
    try:
        SendWindow.from_dict(data.get("send_window", SendWindow().to_dict()))
    except (ValueError, TypeError, AttributeError) as exc:
        add("send_window", str(exc))
    for where, message in calendars.problems(data.get("holidays")):
        add(f"holidays{where}", message)

    steps = data.get("steps")
    if not isinstance(steps, list):
        add("steps", "must be a list of steps")
        return problems
    if len(steps) < MIN_STEPS:
        add("steps", f"has {len(steps)} steps; a cadence needs at least {MIN_STEPS}")
    if len(steps) > MAX_STEPS:  # each step is not looked at: the count is the problem
        add("steps", f"has {len(steps)} steps; a cadence may have at most {MAX_STEPS}")
        return problems
    channels = {s.get("channel") for s in steps if isinstance(s, dict)} & set(CHANNELS)
    if len(channels) < MIN_CHANNELS:
        add("steps", f"uses {len(channels)} channel(s); a cadence needs at least {MIN_CHANNELS}")
    seen_ids: set[str] = set()
    for i, step in enumerate(steps):
        problems.extend(_step_problems(f"steps[{i}]", step, seen_ids, check_template))
    return problems


def _step_problems(where: str, step: Any, seen_ids: set[str], check: TemplateCheck | None) -> list[Problem]:
    if not isinstance(step, dict):
        return [Problem(where, "must be an object")]
    out: list[Problem] = []
    step_id = step.get("id")
    if not isinstance(step_id, str) or not step_id:
        out.append(Problem(f"{where}.id", "is required (a stable id lets new versions keep steps)"))
    elif len(step_id) > MAX_STEP_ID or not STEP_ID.fullmatch(step_id):
        out.append(Problem(f"{where}.id", f"must be at most {MAX_STEP_ID} letters, digits, '.', '_' or '-', "
                                          "starting with a letter or digit"))
    elif step_id in seen_ids:
        out.append(Problem(f"{where}.id", f"duplicate step id {step_id!r}"))
    else:
        seen_ids.add(step_id)
    channel = step.get("channel")
    if channel not in CHANNELS:
        out.append(Problem(f"{where}.channel", f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}"))
    for key in ("wait", "sla", "expires"):
        value = step.get(key)
        if value is None and key != "wait":
            continue
        if not isinstance(value, str):
            out.append(Problem(f"{where}.{key}", "must be an ISO-8601 duration such as P2D or PT4H"))
            continue
        if value.lstrip().startswith("-"):
            out.append(Problem(f"{where}.{key}", f"{value!r} is negative; waits must be zero or more"))
            continue
        try:
            length = parse_duration(value)
        except ValueError as exc:
            out.append(Problem(f"{where}.{key}", str(exc)))
            continue
        if length > MAX_DURATION:
            out.append(Problem(f"{where}.{key}", f"{value!r} is longer than P{MAX_DURATION.days}D"))
    if not isinstance(step.get("anytime", False), bool):
        out.append(Problem(f"{where}.anytime", "must be true or false"))
    if channel in CONTENT_FIELDS:
        out.extend(_content_problems(where, channel, step, check))
    return out


def _content_problems(where: str, channel: str, step: dict, check: TemplateCheck | None) -> list[Problem]:
    out: list[Problem] = []
    needed = CONTENT_FIELDS[channel]
    variants = step.get("variants") or []
    if not isinstance(variants, list):
        return [Problem(f"{where}.variants", "must be a list of {id, subject, body}")]
    checked = variants
    if len(variants) > MAX_VARIANTS:
        out.append(Problem(f"{where}.variants", f"has {len(variants)} variants; at most {MAX_VARIANTS}"))
        checked = []  # each is not looked at: the count is the problem
    sources = [(where, step)] + [(f"{where}.variants[{j}]", v) for j, v in enumerate(checked)]
    for j, v in enumerate(checked):
        if not isinstance(v, dict) or not v.get("id"):
            out.append(Problem(f"{where}.variants[{j}].id", "is required"))
        elif not isinstance(v["id"], str) or len(v["id"]) > MAX_VARIANT_ID:
            out.append(Problem(f"{where}.variants[{j}].id", f"must be text of at most {MAX_VARIANT_ID} characters"))
    for path, holder in sources:
        if not isinstance(holder, dict):
            continue
        for key in needed:
            text = holder.get(key)
            is_variant = path != where
            if text is None:
                # A variant inherits the step's text; without variants the step must have it.
                missing = (is_variant and step.get(key) is None) or (not is_variant and not variants)
                if missing:
                    out.append(Problem(f"{path}.{key}", f"is required for a {channel} step"))
                continue
            if not isinstance(text, str):
                out.append(Problem(f"{path}.{key}", "must be text"))
                continue
            if len(text) > MAX_TEXT[key]:
                out.append(Problem(f"{path}.{key}", f"is {len(text)} characters long; at most {MAX_TEXT[key]}"))
                continue
            problem = check(text) if check else None
            if problem:
                out.append(Problem(f"{path}.{key}", problem))
    return out

