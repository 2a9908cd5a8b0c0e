"""Lead stages, qualification levels and the reasons recorded with every change (seed 000, 002)."""
from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    NEW = "new"
    IN_PROCESS = "in_process"
    QUALIFIED = "qualified"
    NURTURE = "nurture"
    NOT_INTERESTED = "not_interested"


# Automated touches end for good in these stages.
FINAL_STAGES = frozenset({Stage.QUALIFIED, Stage.NOT_INTERESTED})


class Level(StrEnum):
    MQL = "mql"  # marketing created the lead
    SAL = "sal"  # a rep accepted it
    SQL = "sql"  # qualified


class Status(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"  # reached a final stage
    STOPPED = "stopped"  # stopped by a person


ENDED_STATUSES = frozenset({Status.COMPLETED, Status.STOPPED})


class Reason(StrEnum):
    POSITIVE_REPLY = "positive_reply"
    MEETING_BOOKED = "meeting_booked"
    QUALIFIED_BY_REP = "qualification_answers"
    NEUTRAL_REPLY = "neutral_reply"
    CONNECTED_CALL = "connected_call"
    PARTIALLY_QUALIFIED = "partially_qualified"
    REPLIED_IN_NURTURE = "replied_in_nurture"
    NO_RESPONSE = "no_response"
    WENT_QUIET = "went_quiet"
    RE_ENGAGED = "re_engaged"  # a nurture lead made a new inquiry
    UNREACHABLE = "unreachable"
    UNSUBSCRIBED = "unsubscribed"
    SPAM_REPORT = "spam_report"
    NEGATIVE_REPLY = "negative_reply"
    REP_DISQUALIFIED = "rep_disqualified"
