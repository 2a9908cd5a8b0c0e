"""Reports over the read model: the MQL → SAL → SQL funnel and A/B variants by replies."""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from persistence.models import Lead, LeadEventRecord, Touch

SENT = ("sent", "outboxed")
CONVERSATION_INTENTS = ("positive", "neutral", "negative")  # a person answered (not an auto-reply)


def funnel(session: Session, *, cadence: str | None = None, rank: str | None = None) -> dict:
    query = select(Lead.level, Lead.stage, func.count()).group_by(Lead.level, Lead.stage)
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


def variants(session: Session, cadence: str) -> list[dict]:
    """Per step and variant: leads emailed, and how many of them replied afterwards (by a person)."""
    touches = session.execute(
        select(Touch.step_id, Touch.variant, Touch.lead_id, Touch.at)
        .join(Lead, Lead.id == Touch.lead_id)
        .where(Lead.cadence_name == cadence, Touch.variant.is_not(None), Touch.status.in_(SENT))
    ).all()
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
