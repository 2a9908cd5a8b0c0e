"""Reports over the read model: the MQL → SAL → SQL funnel, A/B variants by replies, each step of a
cadence, time to the first touch per rank, and rep tasks done on time."""
from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import datetime, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.cadences import DEFAULT_SLA
from domain.durations import parse_duration
from persistence.models import CadenceVersion, Lead, LeadEventRecord, Task, TaskEscalation, Touch

SENT = ("sent", "outboxed")
CONVERSATION_INTENTS = ("positive", "neutral", "negative")  # a person answered (not an auto-reply)


def funnel(session: Session, *, cadence: str | None = None, rank: str | None = None,
           since: datetime | None = None, until: datetime | None = None) -> dict:
    """Leads created in the period (`since` inclusive, `until` exclusive), by level and stage."""
    query = _period(select(Lead.level, Lead.stage, func.count()).group_by(Lead.level, Lead.stage),
                    Lead.created_at, since, until)
    if cadence:
        query = query.where(Lead.cadence_name == cadence)
    if rank:
        query = query.where(Lead.rank == rank)
    levels: dict[str, int] = defaultdict(int)
    stages: dict[str, int] = defaultdict(int)
    for level, stage, n in session.execute(query):
        levels[level] += n
        stages[stage] += n
    total = sum(levels.values())
    sal = levels["sal"] + levels["sql"]  # a lead qualified at once passed acceptance too
    sql = levels["sql"]
    return {
        "leads": total, "mql": total, "sal": sal, "sql": sql,
        "mql_to_sal": round(sal / total, 4) if total else None,
        "sal_to_sql": round(sql / sal, 4) if sal else None,
        "stages": dict(stages),
    }


def variants(session: Session, cadence: str, *, since: datetime | None = None,
             until: datetime | None = None) -> list[dict]:
    """Per step and variant: leads emailed (in the period), and how many of them replied afterwards
    (by a person)."""
    touches = session.execute(_period(
        select(Touch.step_id, Touch.variant, Touch.lead_id, Touch.at)
        .join(Lead, Lead.id == Touch.lead_id)
        .where(Lead.cadence_name == cadence, Touch.variant.is_not(None), Touch.status.in_(SENT)),
        Touch.at, since, until)).all()
    replies: dict[str, list] = defaultdict(list)
    for lead_id, at, data in session.execute(
            select(LeadEventRecord.lead_id, LeadEventRecord.at, LeadEventRecord.data)
            .where(LeadEventRecord.type == "reply",
                   LeadEventRecord.lead_id.in_({t.lead_id for t in touches}))):
        if (data or {}).get("intent") in CONVERSATION_INTENTS:
            replies[lead_id].append(at)
    rows: dict[tuple[str, str], dict] = {}
    for step_id, variant, lead_id, at in touches:
        row = rows.setdefault((step_id, variant), {"step_id": step_id, "variant": variant, "sent": 0, "replied": 0})
        row["sent"] += 1
        if any(at is None or r >= at for r in replies.get(lead_id, [])):
            row["replied"] += 1
    for row in rows.values():
        row["reply_rate"] = round(row["replied"] / row["sent"], 4) if row["sent"] else None
    return sorted(rows.values(), key=lambda r: (r["step_id"], r["variant"]))


# ---- reports for the web UI (and their JSON routes) ------------------------------------------
PERFORMED = SENT + ("done",)  # a touch that reached the lead: an email sent, a rep task done
BOUNCED = ("bounced", "dropped")
UNSUBSCRIBE_EVENTS = ("unsubscribe", "spam_report")  # from SendGrid; a reply may also ask to unsubscribe
METRICS = ("delivered", "replied", "positive", "unsubscribed", "bounced")


def _period(query, column, since: datetime | None, until: datetime | None):
    if since is not None:
        query = query.where(column >= since)
    if until is not None:
        query = query.where(column < until)
    return query


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def cadence_steps(session: Session, cadence: str, *, since: datetime | None = None,
                  until: datetime | None = None) -> list[dict]:
    """Per step of `cadence` (in the order of its latest version): touches performed in the period,
    and how many of them were delivered, bounced, and answered: replied (by a person), positive,
    unsubscribed. A reply or an unsubscribe counts for the lead's last touch before it, so each
    answer is credited to one step; every rate is of the touches performed."""
    versions = session.scalars(select(CadenceVersion.definition).where(CadenceVersion.name == cadence)
                               .order_by(CadenceVersion.version.desc())).all()
    order: dict[str, tuple[int, str]] = {}
    for definition in versions:  # the newest version's order first, then steps only older ones had
        for step in definition.get("steps") or []:
            order.setdefault(step["id"], (len(order), step.get("channel", "")))
    touches = session.execute(_period(
        select(Touch.id, Touch.lead_id, Touch.step_id, Touch.channel, Touch.at, Touch.delivery)
        .join(Lead, Lead.id == Touch.lead_id)
        .where(Lead.cadence_name == cadence, Touch.status.in_(PERFORMED), Touch.at.is_not(None),
               Touch.step_id.in_(list(order))), Touch.at, since, until)).all()
    by_lead: dict[str, list] = defaultdict(list)
    for touch in touches:
        by_lead[touch.lead_id].append(touch)
    answered: dict[str, set[str]] = defaultdict(set)  # touch id -> what the lead did after it
    for lead_id, at, type_, data in session.execute(
            select(LeadEventRecord.lead_id, LeadEventRecord.at, LeadEventRecord.type, LeadEventRecord.data)
            .where(LeadEventRecord.type.in_(("reply", *UNSUBSCRIBE_EVENTS)),
                   LeadEventRecord.lead_id.in_(list(by_lead)))):
        before = [t for t in by_lead[lead_id] if t.at <= at]
        if not before:
            continue
        last = max(before, key=lambda t: t.at)
        intent = (data or {}).get("intent")
        if type_ in UNSUBSCRIBE_EVENTS or intent == "unsubscribe":
            answered[last.id].add("unsubscribed")
        elif intent in CONVERSATION_INTENTS:
            answered[last.id].add("replied")
            if intent == "positive":
                answered[last.id].add("positive")
    rows: dict[str, dict] = {}
    for touch in touches:
        row = rows.setdefault(touch.step_id, {"step_id": touch.step_id, "channel": touch.channel, "sent": 0,
                                              **{m: 0 for m in METRICS}})
        row["sent"] += 1
        row["delivered"] += touch.delivery == "delivered"
        row["bounced"] += touch.delivery in BOUNCED
        for what in answered.get(touch.id, ()):
            row[what] += 1
    out = []
    for step_id, (position, channel) in sorted(order.items(), key=lambda item: item[1][0]):
        row = rows.get(step_id) or {"step_id": step_id, "channel": channel, "sent": 0, **{m: 0 for m in METRICS}}
        out.append({"step": position + 1, **row, **{f"{m}_rate": _rate(row[m], row["sent"]) for m in METRICS}})
    return out


def _quantile(values: list[float], q: float) -> float:
    """The nearest-rank quantile of sorted `values` (a value that occurred, never interpolated)."""
    return values[max(0, math.ceil(q * len(values)) - 1)]


def first_touch(session: Session, *, since: datetime | None = None, until: datetime | None = None,
                cadence: str | None = None) -> list[dict]:
    """Per rank, for leads created in the period: how long from the lead's creation to its first touch
    that reached it (an email sent, a rep task done), as the median and the 90th percentile in
    seconds; leads without such a touch yet are counted as waiting."""
    first = (select(Touch.lead_id, func.min(Touch.at).label("at"))
             .where(Touch.status.in_(PERFORMED), Touch.at.is_not(None)).group_by(Touch.lead_id).subquery())
    query = _period(select(Lead.rank, Lead.created_at, first.c.at).outerjoin(first, first.c.lead_id == Lead.id),
                    Lead.created_at, since, until)
    if cadence:
        query = query.where(Lead.cadence_name == cadence)
    delays: dict[str, list[float]] = defaultdict(list)
    waiting: dict[str, int] = defaultdict(int)
    for rank, created, touched in session.execute(query):
        if touched is None:
            waiting[rank] += 1
        else:
            delays[rank].append(max(0.0, (touched - created).total_seconds()))
    out = []
    for rank in sorted(set(delays) | set(waiting)):
        values = sorted(delays[rank])
        out.append({"rank": rank, "leads": len(values) + waiting[rank], "touched": len(values),
                    "waiting": waiting[rank],
                    "median_seconds": round(statistics.median(values), 1) if values else None,
                    "p90_seconds": round(_quantile(values, 0.9), 1) if values else None})
    return out


def task_timeliness(session: Session, *, since: datetime | None = None, until: datetime | None = None,
                    now: datetime | None = None) -> list[dict]:
    """Per rep, the tasks due in the period: done (or skipped) on time, done late, missed (expired),
    and open, of which overdue. A cadence step's task is late once its SLA passed while it was open
    (it was escalated; it counts for the rep who had it then); any other task once the default SLA
    of its channel passed."""
    now = now or datetime.now(timezone.utc)
    rows = session.execute(_period(
        select(Task.owner, Task.channel, Task.kind, Task.status, Task.due_at, Task.completed_at,
               TaskEscalation.from_owner, TaskEscalation.task_id.label("escalated"))
        .outerjoin(TaskEscalation, TaskEscalation.task_id == Task.id), Task.due_at, since, until)).all()
    reps: dict[str, dict] = {}
    for row in rows:
        if row.kind == "step" or row.escalated:
            late, owner = row.escalated is not None, (row.from_owner if row.escalated else row.owner)
        else:
            deadline = row.due_at + parse_duration(DEFAULT_SLA.get(row.channel, "P1D"))
            late, owner = (row.completed_at or now) > deadline, row.owner
        counts = reps.setdefault(owner or "", {"owner": owner, "on_time": 0, "late": 0, "missed": 0, "open": 0,
                                               "open_overdue": 0})
        if row.status == "open":
            counts["open"] += 1
            counts["open_overdue"] += late
        elif row.status == "missed":
            counts["missed"] += 1
        else:
            counts["late" if late else "on_time"] += 1
    out = []
    for counts in sorted(reps.values(), key=lambda r: (r["owner"] is None, r["owner"] or "")):
        closed = counts["on_time"] + counts["late"] + counts["missed"]
        out.append({**counts, "total": closed + counts["open"], "on_time_rate": _rate(counts["on_time"], closed)})
    return out
