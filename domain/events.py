"""What each event does to a lead (SPEC 2.3, 2.8), as a pure decision the workflow carries out."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from domain.cadences import EMAIL_CHANNELS, PHONE_CHANNELS
from domain.stages import FINAL_STAGES, Level, Reason, Stage

SIGNALS = ("reply", "call_outcome", "meeting_booked", "qualify", "disqualify",
           "pause", "resume", "stop", "reassign", "contact_updated", "accept")
INTENTS = ("positive", "neutral", "negative", "out_of_office", "unsubscribe")
CALL_OUTCOMES = ("connected_positive", "connected_neutral", "connected_negative",
                 "voicemail", "no_answer", "wrong_number")
TASK_OUTCOMES = ("done", "skipped") + CALL_OUTCOMES
QUALIFICATION_QUESTIONS = ("need", "budget", "authority", "timeline")
# Event ids name rows and tasks of bounded width (a follow-up task is `<lead id>-<event id>`, at
# most 120 characters): ids from outside (Message-IDs, a dialer's ids) longer than this are hashed.
MAX_EXTERNAL_ID = 64


def bounded_id(raw: str) -> str:
    """`raw` itself when short enough, else a stable hash of it of fixed length."""
    if len(raw) <= MAX_EXTERNAL_ID:
        return raw
    return "sha256-" + hashlib.sha256(raw.encode()).hexdigest()[:40]


@dataclass
class LeadEvent:
    """One thing that happened to a lead. `event_id` makes redelivery harmless."""

    # a name of SIGNALS, or "task_completed", "missed_call", "bounce", "spam_report", "unsubscribe",
    # "unverified_reply" (an email reply from a sender who is neither the lead nor its company)
    type: str
    event_id: str
    at: str | None = None
    channel: str | None = None
    intent: str | None = None
    outcome: str | None = None
    text: str | None = None
    return_date: str | None = None  # YYYY-MM-DD, out-of-office
    task_id: str | None = None
    answers: dict[str, bool | None] = field(default_factory=dict)
    notes: str | None = None
    owner: str | None = None
    changed: list[str] = field(default_factory=list)  # contact fields that changed


@dataclass
class Decision:
    stage: Stage | None = None  # None: the stage does not change
    reason: str | None = None
    level: Level | None = None
    two_way_contact: bool = False
    hold_for_rep: bool = False  # automated touches wait until a rep resumes
    out_of_office: bool = False  # pause until the return date
    rep_task: str | None = None  # instructions for a task the owner must do
    rep_task_by_next_business_day: bool = False  # due by the next business day, not now
    block_channels: frozenset[str] = frozenset()
    unblock_channels: frozenset[str] = frozenset()
    suppress_email: bool = False
    control: str | None = None  # "pause", "resume", "stop"
    owner: str | None = None

    @property
    def ends_cadence(self) -> bool:
        return self.stage in FINAL_STAGES

    @property
    def halts_touches(self) -> bool:
        """Automated touches stop or wait for it: an email being sent is cancelled in its favour."""
        return (self.ends_cadence or self.hold_for_rep or self.out_of_office or self.suppress_email
                or self.control in ("pause", "stop") or bool(self.block_channels & EMAIL_CHANNELS))


def _qualified(reason: Reason, task: str) -> Decision:
    return Decision(Stage.QUALIFIED, reason, Level.SQL, two_way_contact=True, rep_task=task)


def _not_interested(reason: Reason, **kw) -> Decision:
    return Decision(Stage.NOT_INTERESTED, reason, two_way_contact=reason != Reason.SPAM_REPORT, **kw)


def _conversation(stage: Stage, reason: Reason, task: str) -> Decision:
    """A neutral two-way contact: the lead is in process and a person answers next."""
    new_reason = Reason.REPLIED_IN_NURTURE if stage == Stage.NURTURE else reason
    return Decision(Stage.IN_PROCESS, new_reason, two_way_contact=True, hold_for_rep=True, rep_task=task)


def decide(stage: Stage, event: LeadEvent) -> Decision:
    """The effect of `event` on a lead in `stage`. Final stages take no more automated effect."""
    kind = event.type
    if kind == "reply":
        return _reply(stage, event.intent)
    if kind == "unverified_reply":  # on the timeline for a person to review; it moves nothing
        return Decision()
    if kind == "meeting_booked":
        return _qualified(Reason.MEETING_BOOKED, "Meeting booked: prepare and hand off.")
    if kind in ("call_outcome", "task_completed"):
        return _call(stage, event.outcome)
    if kind == "qualify":
        return _qualify(event.answers)
    if kind == "missed_call":  # seed 004: every missed call is called back the next business day
        return Decision(rep_task="Call back: the lead called and nobody answered.",
                        rep_task_by_next_business_day=True)
    if kind == "disqualify":
        return _not_interested(Reason.REP_DISQUALIFIED)
    if kind == "unsubscribe":  # from the email provider's own unsubscribe handling
        return _not_interested(Reason.UNSUBSCRIBED, suppress_email=True)
    if kind == "spam_report":
        return _not_interested(Reason.SPAM_REPORT, suppress_email=True)
    if kind == "bounce":
        return Decision(block_channels=EMAIL_CHANNELS)
    if kind == "contact_updated":
        unblock = set()
        if "email" in event.changed:
            unblock |= EMAIL_CHANNELS
        if "phone" in event.changed:
            unblock |= PHONE_CHANNELS
        return Decision(unblock_channels=frozenset(unblock))
    if kind in ("pause", "resume", "stop"):
        return Decision(control=kind)
    if kind == "accept":  # a rep takes the lead on: sales-accepted, unless it is further along already
        return Decision(level=None if stage in FINAL_STAGES else Level.SAL, owner=event.owner)
    if kind == "reassign":
        return Decision(owner=event.owner)
    raise ValueError(f"unknown event type {kind!r}")


def halts_touches(stage: Stage, event: LeadEvent) -> bool:
    """Whether `event` stops or pauses the cadence (see Decision.halts_touches); a bad event does not."""
    try:
        return decide(stage, event).halts_touches
    except ValueError:
        return False


def _reply(stage: Stage, intent: str | None) -> Decision:
    if intent == "positive":
        return _qualified(Reason.POSITIVE_REPLY, "Positive reply: book the meeting and hand off.")
    if intent == "neutral":
        return _conversation(stage, Reason.NEUTRAL_REPLY, "The lead replied: answer their question.")
    if intent == "negative":
        return _not_interested(Reason.NEGATIVE_REPLY)
    if intent == "unsubscribe":
        return _not_interested(Reason.UNSUBSCRIBED, suppress_email=True)
    if intent == "out_of_office":
        return Decision(out_of_office=True)
    raise ValueError(f"unknown reply intent {intent!r}")


def _call(stage: Stage, outcome: str | None) -> Decision:
    if outcome == "connected_positive":
        return _qualified(Reason.POSITIVE_REPLY, "Positive call: book the meeting and hand off.")
    if outcome == "connected_neutral":
        return _conversation(stage, Reason.CONNECTED_CALL, "Connected call: follow up on what was discussed.")
    if outcome == "connected_negative":
        return _not_interested(Reason.NEGATIVE_REPLY)
    if outcome == "wrong_number":
        return Decision(block_channels=PHONE_CHANNELS)
    if outcome in ("voicemail", "no_answer", "done", "skipped", None):
        return Decision()  # recorded; the cadence goes on
    raise ValueError(f"unknown call outcome {outcome!r}")


def _qualify(answers: dict[str, bool | None]) -> Decision:
    values = [answers.get(q) for q in QUALIFICATION_QUESTIONS]
    if all(v is True for v in values):
        return _qualified(Reason.QUALIFIED_BY_REP, "Qualified on need, budget, authority and timeline: hand off.")
    if any(v is False for v in values) or any(v is not None for v in values):
        return Decision(Stage.IN_PROCESS, Reason.PARTIALLY_QUALIFIED, two_way_contact=True, hold_for_rep=True)
    return Decision()
