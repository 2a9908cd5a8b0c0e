"""What the cadence pages show, as plain data: a step's wait in words, the days of a simulated
timeline, the differences between two versions, and the editor's draft (form fields ↔ definition).

No I/O here: the page routes read the database and call the API's own functions, then hand these
helpers the results.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

import holidays as holidays_package

from domain import schedule
from domain.cadences import CHANNELS, CONTENT_FIELDS, DEFAULT_EXPIRES, DEFAULT_SLA, ON_COMPLETE, Cadence
from domain.durations import parse_duration
from domain.ranks import RANKS

CHANNEL_NAMES = {"email": "Email", "call": "Call", "linkedin": "LinkedIn", "sms": "SMS",
                 "manual_email": "Manual email", "task": "Task"}
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
STEP_FIELDS = ("id", "channel", "wait", "anytime", "sla", "expires", "subject", "body", "instructions")
TEXT_FIELDS = ("subject", "body", "instructions")
QUIET_RUN = 5  # this many days or more without a step are drawn as one row


# ---- words ----------------------------------------------------------------------------------
def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def span(td: timedelta, business_days: bool = False) -> str:
    """`P2DT4H` as "2 business days 4 hours"; zero as "at once"."""
    parts = []
    if td.days:
        parts.append(_plural(td.days, "business day" if business_days else "day"))
    hours, rest = divmod(td.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts += [_plural(n, w) for n, w in ((hours, "hour"), (minutes, "minute"), (seconds, "second")) if n]
    return " ".join(parts) or "at once"


def describe_wait(wait: str, business_days: bool) -> str:
    try:
        td = parse_duration(wait)
    except ValueError:
        return wait
    return "at once" if not td else f"{span(td, business_days)} after the previous step"


def task_times(step: dict) -> tuple[str, str]:
    """When a rep task escalates and when it expires, in words."""
    channel = step.get("channel", "task")
    return tuple(span(parse_duration(step.get(key) or default.get(channel, fallback)))
                 for key, default, fallback in (("sla", DEFAULT_SLA, "P1D"), ("expires", DEFAULT_EXPIRES, "P3D")))


def days(n: int) -> timedelta:
    return timedelta(days=n)


def describe_window(window: dict | None) -> str:
    if not window:
        return "any day, any hour"
    days = window.get("days") or list(DAY_NAMES[:5])
    indexes = sorted(DAY_NAMES.index(d) for d in days)
    if indexes == list(range(indexes[0], indexes[-1] + 1)) and len(indexes) > 2:
        named = f"{days_title(indexes[0])}–{days_title(indexes[-1])}"
    else:
        named = ", ".join(days_title(i) for i in indexes)
    return f"{named} {window.get('start', '08:00')}–{window.get('end', '18:00')}"


def days_title(index: int) -> str:
    return DAY_NAMES[index].title()


# ---- the timeline of a simulated lead ---------------------------------------------------------
@dataclass
class TimelineStep:
    number: int
    id: str
    channel: str
    local: datetime
    utc: datetime
    moved: str | None = None  # why the step is later than its wait alone would make it


@dataclass
class TimelineDay:
    day: date
    off: str | None = None  # "weekend" or the holiday's name: no touch that day
    steps: list[TimelineStep] = field(default_factory=list)
    quiet: int = 0  # a collapsed run of this many days without a step (then `day` is its first)
    quiet_off: int = 0  # of which weekend days and holidays


def holiday_names(calendar: dict | None, years: Iterable[int]) -> dict[date, str]:
    """Names of a cadence's holidays, for people (the schedule itself only needs the dates)."""
    names: dict[date, str] = {}
    if calendar and calendar.get("country"):
        names.update(holidays_package.country_holidays(calendar["country"], subdiv=calendar.get("subdivision"),
                                                       years=list(years)))
    for text in (calendar or {}).get("dates") or []:
        names.setdefault(date.fromisoformat(str(text)), "custom holiday")
    return names


def timeline(cadence: Cadence, simulated: list[tuple[int, str, str, datetime]], start: datetime,
             tz: str) -> tuple[list[TimelineStep], list[TimelineDay]]:
    """The steps of `simulate` in the lead's time, with why each moved, and every day from the start
    to the last step: weekends and holidays marked, long quiet runs collapsed."""
    zone = ZoneInfo(tz)
    snapshot = cadence.with_holidays(start)
    holidays = snapshot.holiday_set()
    names = holiday_names(cadence.holidays, range(start.year, start.year + 3))
    window = cadence.window()
    steps, anchor = [], start
    for (number, step_id, channel, due), step in zip(simulated, cadence.steps):
        # The wait alone, in calendar days at any hour: what the window, weekends and holidays change
        raw = schedule.next_due(anchor, parse_duration(step.wait), tz=tz, window=None, business_days=False)
        moved = None
        if due != raw:
            moved = _why_moved(anchor.astimezone(zone), raw.astimezone(zone), due.astimezone(zone),
                               None if step.anytime else window, holidays, names, cadence.business_days)
        steps.append(TimelineStep(number, step_id, channel, due.astimezone(zone), due, moved))
        anchor = due

    def off(day: date) -> str | None:
        if day in holidays:
            return names.get(day, "holiday")
        if window is not None and day.weekday() not in window.days:
            return "weekend" if day.weekday() >= 5 else f"no sending on {days_title(day.weekday())}"
        if window is None and cadence.business_days and day.weekday() >= 5:
            return "weekend"
        return None

    first = start.astimezone(zone).date()
    last = max([s.local.date() for s in steps] + [first])
    days: list[TimelineDay] = []
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        days.append(TimelineDay(day, off(day), [s for s in steps if s.local.date() == day]))
    return steps, _collapse(days)


def _why_moved(anchor: datetime, raw: datetime, due: datetime, window, holidays: frozenset[date],
               names: dict[date, str], business_days: bool) -> str:
    """Why a step is due at `due` rather than when its wait alone ends (`raw`)."""
    first = anchor.date() if business_days else raw.date() - timedelta(days=1)  # days not counted, or skipped
    skipped = [first + timedelta(days=n) for n in range(1, (due.date() - first).days)]
    reasons = list(dict.fromkeys(names.get(d, "a holiday") for d in skipped if d in holidays))
    if any(d.weekday() >= 5 and d not in holidays for d in skipped):
        reasons.insert(0, "the weekend")
    if window is not None:
        off_hours = not window.start <= raw.time() < window.end
        off_day = raw.weekday() not in window.days and raw.weekday() < 5 and raw.date() not in holidays
        if off_hours or off_day or not reasons:
            reasons.append(f"the send window ({describe_window(window.to_dict())})")
    counted = " in business days" if business_days and skipped else ""
    return (f"the wait alone ends {raw:%a %d %b %H:%M}; later{counted} because of "
            + (", ".join(reasons) or "the send window"))


def _collapse(days: list[TimelineDay]) -> list[TimelineDay]:
    out: list[TimelineDay] = []
    run: list[TimelineDay] = []

    def flush():
        if len(run) >= QUIET_RUN:
            out.append(TimelineDay(run[0].day, quiet=len(run), quiet_off=sum(1 for d in run if d.off)))
        else:
            out.extend(run)
        run.clear()
    for day in days:
        if day.steps:
            flush()
            out.append(day)
        else:
            run.append(day)
    flush()
    return out


# ---- differences between two versions --------------------------------------------------------
@dataclass
class Change:
    field: str
    before: Any = None
    after: Any = None
    lines: list[tuple[str, str]] | None = None  # for text: ("+"|"-"|" ", line)
    note: str | None = None  # instead of before and after: "added", "removed"


@dataclass
class StepDiff:
    id: str
    status: str  # added, removed, changed, moved, same
    channel: str
    position: int | None  # in the newer version
    old_position: int | None
    changes: list[Change] = field(default_factory=list)


def _value_change(name: str, before: Any, after: Any) -> Change:
    if isinstance(before, str) and isinstance(after, str) and ("\n" in before or "\n" in after or
                                                               len(before) + len(after) > 120):
        lines = [(line[0], line[2:]) for line in difflib.ndiff(before.splitlines(), after.splitlines())
                 if line[:1] in "+- "]
        return Change(name, before, after, _removed_first(lines))
    return Change(name, before, after)


def _removed_first(lines: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Within each run of changed lines, the removed ones before the added ones (as diffs read)."""
    out, run = [], []
    for op, text in lines + [(" ", None)]:
        if op == " ":
            out += sorted(run, key=lambda line: line[0] != "-")
            run = []
            if text is not None:
                out.append((op, text))
        else:
            run.append((op, text))
    return out


def _step_changes(old: dict, new: dict) -> list[Change]:
    changes = [_value_change(k, old.get(k), new.get(k)) for k in STEP_FIELDS
               if k != "id" and (old.get(k) or None) != (new.get(k) or None)]
    old_variants = {v.get("id"): v for v in old.get("variants") or []}
    new_variants = {v.get("id"): v for v in new.get("variants") or []}
    for vid in dict.fromkeys([*old_variants, *new_variants]):
        before, after = old_variants.get(vid), new_variants.get(vid)
        if before is None or after is None:
            changes.append(Change(f"variant {vid}", note="added" if before is None else "removed"))
            continue
        changes += [_value_change(f"variant {vid} {k}", before.get(k), after.get(k)) for k in ("subject", "body")
                    if (before.get(k) or None) != (after.get(k) or None)]
    return changes


SETTING_NAMES = {"description": "description", "ranks": "ranks", "send_window": "send window",
                 "business_days": "business days", "pause_account": "pauses the account", "on_complete": "when done",
                 "repeat": "repeats", "holidays": "holidays"}
SETTING_DEFAULTS = {"pause_account": True, "holidays": None}


def diff_definitions(old: dict, new: dict) -> tuple[list[Change], list[StepDiff]]:
    """Cadence settings that changed, and every step of both versions matched by id."""
    settings = []
    for key, name in SETTING_NAMES.items():
        before, after = old.get(key, SETTING_DEFAULTS.get(key)), new.get(key, SETTING_DEFAULTS.get(key))
        if before != after:
            settings.append(_value_change(name, before, after))
    old_steps = {s["id"]: (n, s) for n, s in enumerate(old.get("steps") or [], 1)}
    new_steps = {s["id"]: (n, s) for n, s in enumerate(new.get("steps") or [], 1)}
    steps = []
    for sid, (position, step) in new_steps.items():
        if sid not in old_steps:
            steps.append(StepDiff(sid, "added", step["channel"], position, None,
                                  [Change(k, None, step.get(k)) for k in TEXT_FIELDS if step.get(k)]))
            continue
        old_position, old_step = old_steps[sid]
        changes = _step_changes(old_step, step)
        status = "changed" if changes else ("moved" if old_position != position else "same")
        steps.append(StepDiff(sid, status, step["channel"], position, old_position, changes))
    for sid, (old_position, step) in old_steps.items():
        if sid not in new_steps:
            steps.append(StepDiff(sid, "removed", step["channel"], None, old_position))
    return settings, steps


# ---- the editor's draft: form fields <-> a definition ---------------------------------------
_STEP_KEY = re.compile(r"^steps-(\d+)-id$")
_VARIANT_KEY = re.compile(r"^steps-(\d+)-variants-(\d+)-id$")


def draft_from_definition(definition: dict) -> dict:
    """What the editor's fields hold for a stored definition."""
    window = definition.get("send_window")
    holidays = definition.get("holidays") or {}
    return {
        "description": definition.get("description") or "",
        "ranks": list(definition.get("ranks") or []),
        "business_days": bool(definition.get("business_days", True)),
        "pause_account": bool(definition.get("pause_account", True)),
        "on_complete": definition.get("on_complete", "nurture"),
        "repeat": bool(definition.get("repeat", False)),
        "window": {"anytime": window is None, "days": list((window or {}).get("days") or DAY_NAMES[:5]),
                   "start": (window or {}).get("start", "08:00"), "end": (window or {}).get("end", "18:00")},
        "holidays": {"country": holidays.get("country") or "", "subdivision": holidays.get("subdivision") or "",
                     "dates": ", ".join(str(d) for d in holidays.get("dates") or [])},
        "steps": [{**{k: ("" if s.get(k) is None else s.get(k)) for k in STEP_FIELDS},
                   "anytime": bool(s.get("anytime")),
                   "variants": [{k: v.get(k) or "" for k in ("id", "subject", "body")}
                                for v in s.get("variants") or []]}
                  for s in definition.get("steps") or []],
    }


def draft_from_form(form: Mapping[str, Any], getlist) -> dict:
    """The draft the editor's form sent: fields named `steps-2-body`, `steps-2-variants-0-subject`."""
    text = lambda key: str(form.get(key) or "").replace("\r\n", "\n")  # noqa: E731
    step_numbers = sorted(int(m.group(1)) for k in form if (m := _STEP_KEY.match(k)))
    variants: dict[int, list[int]] = {}
    for k in form:
        if m := _VARIANT_KEY.match(k):
            variants.setdefault(int(m.group(1)), []).append(int(m.group(2)))
    steps = []
    for i in step_numbers:
        p = f"steps-{i}-"
        steps.append({**{k: text(p + k).strip() if k in ("id", "channel", "wait", "sla", "expires") else text(p + k)
                         for k in STEP_FIELDS}, "anytime": bool(form.get(p + "anytime")),
                      "variants": [{k: text(f"{p}variants-{j}-{k}").strip() if k == "id" else
                                    text(f"{p}variants-{j}-{k}") for k in ("id", "subject", "body")}
                                   for j in sorted(variants.get(i, []))]})
    return {
        "description": text("description").strip(),
        "ranks": [r for r in getlist("ranks") if r in RANKS],
        "business_days": bool(form.get("business_days")), "pause_account": bool(form.get("pause_account")),
        "on_complete": text("on_complete") or "nurture", "repeat": bool(form.get("repeat")),
        "window": {"anytime": bool(form.get("window-anytime")), "days": [d for d in getlist("window-days")
                                                                          if d in DAY_NAMES],
                   "start": text("window-start").strip(), "end": text("window-end").strip()},
        "holidays": {k: text(f"holidays-{k}").strip() for k in ("country", "subdivision", "dates")},
        "steps": steps,
    }


def definition_from_draft(draft: dict) -> dict:
    """The definition to validate and save: empty fields are absent, a channel keeps only its content."""
    steps = []
    for s in draft["steps"]:
        used = CONTENT_FIELDS.get(s["channel"], TEXT_FIELDS)
        step = {k: s[k] for k in ("id", "channel", "wait")}
        step.update({k: s[k] for k in ("sla", "expires") if s[k]})
        step.update({k: s[k] for k in used if s[k].strip()})
        if s["anytime"]:
            step["anytime"] = True
        if s["variants"] and takes_variants(s["channel"]):
            step["variants"] = [{"id": v["id"], **{k: v[k] for k in ("subject", "body") if k in used and v[k].strip()}}
                                for v in s["variants"]]
        steps.append(step)
    window = draft["window"]
    holidays = draft["holidays"]
    dates = [d for d in re.split(r"[\s,;]+", holidays["dates"]) if d]
    calendar = {k: v for k, v in (("country", holidays["country"].upper()),
                                  ("subdivision", holidays["subdivision"].upper()), ("dates", dates)) if v}
    definition = {
        "description": draft["description"], "ranks": draft["ranks"], "business_days": draft["business_days"],
        "on_complete": draft["on_complete"], "repeat": draft["repeat"],
        "send_window": None if window["anytime"] else {"days": window["days"], "start": window["start"],
                                                       "end": window["end"]},
        "steps": steps,
    }
    if not draft["pause_account"]:
        definition["pause_account"] = False
    if calendar:
        definition["holidays"] = calendar
    return definition


def takes_variants(channel: str) -> bool:
    """A/B variants vary a subject or a body: steps whose content is instructions have none."""
    return bool({"subject", "body"} & set(CONTENT_FIELDS.get(channel, ())))


def new_step(draft: dict) -> dict:
    taken = {s["id"] for s in draft["steps"]}
    n = len(draft["steps"]) + 1
    while f"step-{n}" in taken:
        n += 1
    return {"id": f"step-{n}", "channel": "email", "wait": "P1D", "anytime": False, "sla": "", "expires": "",
            "subject": "", "body": "", "instructions": "", "variants": []}


def apply_action(draft: dict, action: str) -> str | None:
    """Change the draft as a button of the editor asks (`add-step`, `remove:2`, `up:2`, `down:2`,
    `add-variant:2`, `remove-variant:2:0`); returns the id of the field to focus afterwards."""
    steps = draft["steps"]
    verb, _, rest = action.partition(":")
    args = [int(a) for a in rest.split(":") if a.isdigit()]
    if verb == "add-step":
        steps.append(new_step(draft))
        return f"steps-{len(steps) - 1}-id"
    if not args or not 0 <= args[0] < len(steps):
        return None
    i = args[0]
    if verb == "remove":
        steps.pop(i)
        return f"steps-{min(i, len(steps) - 1)}-id" if steps else "add-step"
    if verb in ("up", "down"):
        j = i - 1 if verb == "up" else i + 1
        if 0 <= j < len(steps):
            steps[i], steps[j] = steps[j], steps[i]
            i = j
        first, last = i == 0, i == len(steps) - 1
        return f"{verb}-{i}" if not ((verb == "up" and first) or (verb == "down" and last)) else f"steps-{i}-id"
    variants = steps[i]["variants"]
    if verb == "add-variant":
        taken = {v["id"] for v in variants}
        vid = next(c for c in "abcdefghijklmnopqrstuvwxyz" if c not in taken) if len(taken) < 26 else str(len(taken))
        variants.append({"id": vid, "subject": "", "body": ""})
        return f"steps-{i}-variants-{len(variants) - 1}-id"
    if verb == "remove-variant" and len(args) == 2 and 0 <= args[1] < len(variants):
        variants.pop(args[1])
        return f"add-variant-{i}"
    return None


def field_names(draft: dict) -> set[str]:
    """Every field and group of the editor an error can be shown next to."""
    names = {"description", "ranks", "business_days", "pause_account", "on_complete", "send_window", "holidays",
             "holidays-country", "holidays-subdivision", "holidays-dates", "steps"}
    for i, step in enumerate(draft["steps"]):
        names.update(f"steps-{i}-{k}" for k in (*STEP_FIELDS, "variants"))
        for j, _ in enumerate(step["variants"]):
            names.update(f"steps-{i}-variants-{j}-{k}" for k in ("id", "subject", "body"))
    return names


GROUP_TITLES = {"send_window": "Send window", "holidays": "Holidays", "steps": "Steps", "ranks": "Ranks",
                "on_complete": "When the last step is done", "description": "Description",
                "window-start": "Send window from", "window-end": "Send window until",
                "holidays-country": "Holiday country", "holidays-subdivision": "Holiday region",
                "holidays-dates": "Holiday dates"}
STEP_TITLES = {"id": "id", "sla": "escalation", "expires": "expiry", "anytime": "any hour",
               "instructions": "instructions", "variants": "variants"}


def field_title(name: str) -> str:
    """An editor field as people count: `steps-2-variants-0-subject` is "Step 3, variant 1, subject"."""
    parts = name.split("-")
    if parts[0] != "steps" or len(parts) < 2 or not parts[1].isdigit():
        return GROUP_TITLES.get(name, name.replace("-", " ").replace("_", " "))
    words = [f"Step {int(parts[1]) + 1}"]
    rest = parts[2:]
    if len(rest) >= 2 and rest[0] == "variants" and rest[1].isdigit():
        words.append(f"variant {int(rest[1]) + 1}")
        rest = rest[2:]
    words += [STEP_TITLES.get(r, r) for r in rest]
    return ", ".join(words)


def errors_by_field(detail: list[dict], names: set[str]) -> dict[str, list[str]]:
    """The API's 422 `detail` (`loc` such as ["body", "steps", "2", "body"]) by editor field name:
    `steps-2-body`; a location below any field (a holiday date) goes to the nearest one, the rest
    to "" (the whole cadence)."""
    out: dict[str, list[str]] = {}
    for problem in detail:
        loc = [str(part) for part in problem.get("loc", [])[1:]]
        target = ""
        while loc:
            if "-".join(loc) in names:
                target = "-".join(loc)
                break
            loc.pop()
        out.setdefault(target, []).append(problem.get("msg", "is not valid"))
    return out


CHOICES = {"channels": CHANNELS, "on_complete": ON_COMPLETE, "ranks": RANKS, "days": DAY_NAMES}
ON_COMPLETE_NAMES = {"nurture": "move to nurture", "not_interested": "mark not interested", "none": "nothing (stays)"}
FIELD_LABELS = {"subject": "Subject", "body": "Body", "instructions": "Instructions for the rep"}
