"""Outbound webhooks as rules, no I/O: the events Cadence emits, what a receiver URL may be, and
when a failed delivery is tried again.

What each event carries is decided here too (`EVENT_FIELDS`): a lead's id everywhere, its email
address only where a receiver must recognise or suppress the person (`lead.created`,
`lead.unsubscribed`), and a reply's text only for endpoints that opt in (`include_reply_text`).
"""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 500

# event type -> the fields of its `data` (README "Webhooks" documents them)
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "lead.created": ("lead_id", "email", "source", "rank", "cadence", "owner", "created_at"),
    "lead.stage_changed": ("lead_id", "from", "to", "reason", "level"),
    "touch.sent": ("lead_id", "touch_id", "step", "step_id", "channel", "status"),
    "touch.failed": ("lead_id", "touch_id", "step", "step_id", "channel"),
    "reply.received": ("lead_id", "event_id", "intent", "channel"),  # + "text" where the endpoint opts in
    "task.created": ("lead_id", "task_id", "kind", "channel", "owner", "step", "due_at"),
    "task.completed": ("lead_id", "task_id", "kind", "channel", "owner", "status", "outcome"),
    "lead.unsubscribed": ("lead_id", "email", "reason"),
}
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_FIELDS)

# A delivery's life: pending (never tried) -> retrying -> succeeded | failed (gave up);
# held while its endpoint is paused or failing, until the endpoint is resumed.
IN_FLIGHT = frozenset({"pending", "retrying"})
DELIVERY_STATUSES = ("pending", "retrying", "succeeded", "failed", "held")
ENDPOINT_STATUSES = ("active", "paused", "failing")  # failing: paused by Cadence after a day of failures


def url_problem(url: str) -> str | None:
    """Why `url` cannot receive webhooks, or None."""
    if len(url) > MAX_URL_LENGTH:
        return f"at most {MAX_URL_LENGTH} characters"
    if any(c.isspace() or ord(c) < 32 for c in url):
        return "no spaces or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises on a port that is not a number or out of range)
    except ValueError as exc:
        return f"not a URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return "must start with https:// (or http://)"
    if not parts.hostname:
        return "needs a host, e.g. https://crm.example.com/hooks/cadence"
    if parts.fragment:
        return "a fragment (#...) is never sent; remove it"
    return None


def events_problem(events: list[str]) -> str | None:
    unknown = [e for e in events if e not in EVENT_FIELDS]
    if unknown:
        return f"unknown event {unknown[0]!r}; use some of {', '.join(EVENT_TYPES)}"
    if not events:
        return f"subscribe to at least one of {', '.join(EVENT_TYPES)}"
    if len(set(events)) != len(events):
        return "names an event twice"
    return None


def retry_delay(attempt: int, initial: timedelta, maximum: timedelta, coefficient: float = 2.0) -> timedelta:
    """How long Temporal waits after failed attempt `attempt` (1-based) before the next one: the
    activity retry policy's exponential back-off, so the API can show when the next try comes."""
    seconds = initial.total_seconds() * coefficient ** max(attempt - 1, 0)
    return timedelta(seconds=min(seconds, maximum.total_seconds()))
