"""Payloads between the API, the workflow and its activities: small, typed, replay-stable."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.cadences import Cadence, Step
from domain.events import LeadEvent

__all__ = ["LeadEvent"]

# Error types an activity raises for what retrying cannot fix (activities/errors.py): bad content,
# values the database cannot store, a lead that does not exist. Retry policies name them too.
PERMANENT_ERROR_TYPES = ["LeadNotFound", "InvalidInput", "TemplateError", "DataTooLong"]


@dataclass
class NextTouch:
    step: int  # 1-based position in the cadence
    step_id: str
    channel: str
    due_at: datetime


@dataclass
class OpenTask:
    """A task step that holds the cadence until it is completed, skipped or expires."""

    task_id: str
    step: int
    expires_at: datetime
    step_id: str | None = None
    holds_position: bool = True  # False once a migration moved the lead past this step
    sla_at: datetime | None = None  # past this, the task escalates to the owner's backup
    escalated: bool = False  # escalation happens once: the backup is never escalated from


@dataclass
class LeadState:
    """Everything the workflow decides with; also what continue-as-new carries."""

    lead_id: str
    cadence: Cadence
    timezone: str
    has_phone: bool = False
    owner: str | None = None
    stage: str = "new"
    stage_reason: str | None = None
    stage_changed_at: datetime | None = None
    level: str = "mql"
    status: str = "active"
    phase: str = "cadence"  # "cadence", then "nurture" once the cadence ran out
    cycle: int = 0  # passes through a cadence; part of touch ids so repeats stay distinct
    step_index: int = 0  # next step to perform, 0-based
    anchor: datetime | None = None  # the next step's wait counts from here
    paused: bool = False  # by a person
    hold_for_rep: bool = False  # a conversation is going on: a person answers next
    ooo_until: datetime | None = None
    blocked_channels: list[str] = field(default_factory=list)
    seen_event_ids: list[str] = field(default_factory=list)
    done_step_ids: list[str] = field(default_factory=list)  # steps had before a migration; never repeated
    last_contact_at: datetime | None = None
    next_touch: NextTouch | None = None
    open_task: OpenTask | None = None
    revision: int = 0
    deferred_until: datetime | None = None  # the current email waits for its mailbox's capacity


@dataclass
class LeadCadenceInput:
    lead_id: str
    cadence: Cadence  # a snapshot of the version the lead started with
    nurture: Cadence
    timezone: str
    has_phone: bool = False
    owner: str | None = None
    quiet_days: int = 30
    ooo_default_days: int = 7
    state: LeadState | None = None  # set when continuing as new
    # Continue as new past this many history events even before Temporal suggests it (10,240
    # warns); small in tests, so a test can show history stays bounded.
    max_history_events: int = 10_000
    # Signals received but not yet applied when the run continued as new: the next run applies them.
    pending_events: list[LeadEvent] = field(default_factory=list)
    # The read model's write the previous run had not made when it continued as new: made first.
    pending_record: RecordStateInput | None = None


@dataclass
class MigrateRequest:
    """Move the lead to another version of its cadence (an Update: the caller gets the plan)."""

    cadence: Cadence
    request_id: str
    reengage: bool = False  # a new inquiry: start `cadence` afresh rather than move within versions
    source: str | None = None  # the inquiry's source, for the timeline
    rank: str | None = None  # re-engagement: the new inquiry's rank (a search attribute)


@dataclass
class PauseAccountInput:
    lead_id: str
    event_id: str  # the reply that pauses the account


@dataclass
class SendEmailInput:
    lead_id: str
    touch_id: str
    step: int
    step_def: Step
    cadence_name: str
    due_at: datetime
    state: RecordStateInput | None = None  # the read model's write that goes with the touch


@dataclass
class TouchResult:
    touch_id: str
    status: str  # sent, outboxed, failed, unknown, suppressed, deferred, task_open
    detail: str | None = None
    retry_at: datetime | None = None  # deferred: the mailbox has room again from then


@dataclass
class CreateTaskInput:
    lead_id: str
    task_id: str
    kind: str  # "step", "follow_up", "hand_off"
    channel: str
    due_at: datetime
    owner: str | None = None
    step: int | None = None
    step_def: Step | None = None
    instructions: str | None = None  # for tasks that are not steps
    expires_at: datetime | None = None
    state: RecordStateInput | None = None  # the read model's write that goes with the task


@dataclass
class EventRecord:
    event_id: str
    type: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class TouchRecord:
    """A touch the workflow decided without I/O of its own: skipped or missed."""

    touch_id: str
    step: int
    step_id: str
    channel: str
    status: str
    at: datetime
    detail: str | None = None


@dataclass
class TaskChange:
    task_id: str
    status: str  # done, skipped, missed
    at: datetime
    outcome: str | None = None
    notes: str | None = None


@dataclass
class RecordStateInput:
    """The lead's state as the workflow sees it, and what happened since the last write."""

    lead_id: str
    revision: int
    stage: str
    stage_reason: str | None
    stage_changed_at: datetime | None
    level: str
    status: str
    owner: str | None
    next_touch: NextTouch | None
    last_contact_at: datetime | None
    suppress_email: str | None = None  # reason, when the address must never be emailed again
    cadence_version: int | None = None  # set when a migration moved the lead to this version
    cadence_name: str | None = None  # set when a re-engagement moved the lead to another cadence
    events: list[EventRecord] = field(default_factory=list)
    touches: list[TouchRecord] = field(default_factory=list)
    tasks: list[TaskChange] = field(default_factory=list)


@dataclass
class EscalateTaskInput:
    """A task whose SLA passed: to the owner's backup, once."""

    lead_id: str
    task_id: str
    at: datetime


@dataclass
class ReassignTasksInput:
    """The `reassign` signal: the lead's open tasks go to the new owner."""

    lead_id: str
    owner: str
    event_id: str
