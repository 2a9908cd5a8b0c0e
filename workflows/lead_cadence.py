"""One durable workflow per lead: it decides every touch, wait and stage change.

All I/O happens in activities (see `activities/`); this module only decides. The loop
re-evaluates the lead after every timer or signal, so a reply that arrives during a wait
takes effect at once and nothing is decided twice.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from domain import priority, schedule
    from domain.cadences import EMAIL_CHANNELS, PHONE_CHANNELS, Cadence, Step
    from domain.accounts import ACCOUNT_REPLY_INTENTS
    from domain.durations import parse_duration
    from domain.events import Decision, LeadEvent, bounded_id, decide, halts_touches
    from domain.migration import MigrationPlan, plan_migration
    from domain.stages import ENDED_STATUSES, FINAL_STAGES, Reason, Stage, Status
    from workflows import search_attributes as attrs
    from workflows.messages import (
        PERMANENT_ERROR_TYPES, CreateTaskInput, EscalateTaskInput, EventRecord, LeadCadenceInput, LeadState,
        MigrateRequest, NextTouch, OpenTask, PauseAccountInput, ReassignTasksInput, RecordStateInput, SendEmailInput,
        TaskChange, TouchRecord, TouchResult,
    )

# Retried with back-off what can recover (a database restarting, SendGrid 5xx/429, the network),
# never what cannot (PERMANENT_ERROR_TYPES). Touches and side effects retry within a budget and
# then fail visibly, and the cadence goes on; only the read model's writes retry for as long as it
# takes, since they are idempotent and the database comes back.
ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=PERMANENT_ERROR_TYPES,
)
STATE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                          maximum_interval=timedelta(minutes=1), non_retryable_error_types=PERMANENT_ERROR_TYPES)
SEND_BUDGET = timedelta(hours=2)  # SendGrid down longer than this: the touch fails, the cadence goes on
TASK_BUDGET = timedelta(hours=6)
SIDE_EFFECT_BUDGET = timedelta(hours=1)  # escalations, account pauses, task moves
SEEN_EVENTS_KEPT = 2000  # dedup window for at-least-once signals, bounded to keep state small


@workflow.defn
class LeadCadenceWorkflow:
    @workflow.init
    def __init__(self, input: LeadCadenceInput) -> None:
        self._input = input
        self._state = input.state or LeadState(
            lead_id=input.lead_id, cadence=input.cadence, timezone=input.timezone,
            has_phone=input.has_phone, owner=input.owner,
        )
        self._inbox: list[LeadEvent] = list(input.pending_events)  # received by the previous run
        # What happened since the last write of the read model.
        self._events: list[EventRecord] = []
        self._touches: list[TouchRecord] = []
        self._tasks: list[TaskChange] = []
        self._suppress: str | None = None
        self._follow_ups: list[CreateTaskInput] = []
        self._written: tuple[Any, ...] | None = None
        self._migrations: list[MigrateRequest] = []
        self._migrated: dict[str, MigrationPlan] = {}
        self._migrated_version: int | None = None
        self._migrated_name: str | None = None  # set when a re-engagement changed the cadence
        self._account_replies: list[str] = []  # replies that pause the lead's colleagues
        self._reassigned: list[tuple[str, str]] = []  # (event id, new owner): open tasks to move
        # Set at the start of the run: the read model is written once per decision, in a local
        # activity or with the touch it records, and the search attributes follow it (see _flush).
        self._lean = False
        self._searchable: dict[str, Any] = {}  # the search attributes as last upserted

    # ---- signals: queue the event; the run loop applies it ------------------------------
    def _receive(self, event: LeadEvent) -> None:
        if event.event_id in self._state.seen_event_ids or any(e.event_id == event.event_id for e in self._inbox):
            return  # signals are delivered at least once
        self._inbox.append(event)

    @workflow.signal
    def reply(self, event: LeadEvent) -> None:
        self._receive(event)

    @workflow.signal
    def call_outcome(self, event: LeadEvent) -> None:
        self._receive(event)

    @workflow.signal
    def meeting_booked(self, event: LeadEvent) -> None:
        self._receive(event)

    @workflow.signal
    def qualify(self, event: LeadEvent) -> None:
        self._receive(event)

    @workflow.signal
    def disqualify(self, event: LeadEvent) -> None:
        self._receive(event)

    @workflow.signal
    def pause(self, event: LeadEvent) -> None:
        self._receive(event)

    @workflow.signal
    def resume(self, event: LeadEvent) -> None:
        self._receive(event)

    @workflow.signal
    def stop(self, event: LeadEvent) -> None:
        self._receive(event)

    @workflow.signal
    def reassign(self, event: LeadEvent) -> None:
        self._receive(event)

    @workflow.signal
    def accept(self, event: LeadEvent) -> None:
        """A rep accepted the lead (level `sal`)."""
        self._receive(event)

    @workflow.signal
    def contact_updated(self, event: LeadEvent) -> None:
        self._receive(event)

    @workflow.signal
    def task_completed(self, event: LeadEvent) -> None:
        self._receive(event)

    @workflow.signal
    def missed_call(self, event: LeadEvent) -> None:
        """The lead called in and nobody answered (from the dialer)."""
        self._receive(event)

    @workflow.signal
    def email_event(self, event: LeadEvent) -> None:
        """Bounces and spam reports from the email provider."""
        self._receive(event)

    @workflow.query
    def state(self) -> LeadState:
        return self._state

    # ---- migration to another cadence version: applied by the loop at a safe point --------
    @workflow.update
    async def migrate(self, request: MigrateRequest) -> MigrationPlan:
        self._migrations.append(request)
        await workflow.wait_condition(lambda: request.request_id in self._migrated)
        return self._migrated.pop(request.request_id)

    @migrate.validator
    def _migrate_allowed(self, request: MigrateRequest) -> None:
        refusal = self._migration_refusal(request)
        if refusal:
            raise ValueError(refusal)

    def _migration_refusal(self, request: MigrateRequest) -> str | None:
        s = self._state
        if s.status in ENDED_STATUSES or s.stage in FINAL_STAGES:
            return f"the cadence has ended (stage {s.stage})"
        if request.reengage:
            return None
        if s.phase != "cadence":
            return "the lead is in nurture: its cadence is over"
        if request.cadence.name != s.cadence.name:
            return f"the lead runs {s.cadence.name!r}, not {request.cadence.name!r}"
        return None

    def _apply_migrations(self) -> None:
        s = self._state
        while self._migrations:
            request = self._migrations.pop(0)
            new = request.cadence
            refusal = self._migration_refusal(request)
            if refusal:  # the lead moved on between the request and now
                self._migrated[request.request_id] = MigrationPlan(s.cadence.version, new.version, note=refusal)
                continue
            if request.reengage:
                self._migrated[request.request_id] = self._reengage(request)
                continue
            plan = migration_plan(s, new)
            s.cadence, s.step_index, s.done_step_ids, s.next_touch = new, plan.step_index, plan.done, None
            s.deferred_until = None
            if s.open_task:
                s.open_task.holds_position = False
            self._migrated_version = new.version
            self._events.append(EventRecord(
                f"migrate-{request.request_id}", "migrated", workflow.now(),
                {"from_version": plan.from_version, "to_version": plan.to_version, "dropped": plan.dropped,
                 "added": plan.added, "next_step": plan.next_step},
            ))
            self._migrated[request.request_id] = plan

    def _reengage(self, request: MigrateRequest) -> MigrationPlan:
        """A new inquiry on a better cadence (SPEC 2.7): it starts from its first step, in a new cycle
        so no touch id repeats; a lead in nurture re-enters the active cadence."""
        s, new, now = self._state, request.cadence, workflow.now()
        old = s.cadence
        had, left = [x.id for x in old.steps[:s.step_index]], [x.id for x in old.steps[s.step_index:]]
        self._close_open_task("skipped", f"re-engaged on {new.name}")
        if s.phase == "nurture":
            s.phase, s.paused = "cadence", False
            self._set_stage(Stage.IN_PROCESS, Reason.RE_ENGAGED)
        s.hold_for_rep = False  # a new inquiry: the better cadence runs, whoever was waiting for whom
        s.cadence, s.cycle, s.step_index, s.done_step_ids = new, s.cycle + 1, 0, []
        s.anchor, s.next_touch, s.deferred_until = now, None, None
        self._migrated_name = new.name
        self._migrated_version = new.version
        if request.rank:  # the new inquiry's rank; the other attributes follow the state
            self._searchable[attrs.RANK.name] = request.rank
            if self._lean:
                workflow.upsert_search_attributes([attrs.RANK.value_set(request.rank)])
        plan = MigrationPlan(old.version, new.version, done=had, dropped=left, added=[x.id for x in new.steps],
                             next_step=new.steps[0].id if new.steps else None)
        self._events.append(EventRecord(
            f"reengage-{request.request_id}", "re_engaged", now,
            {"from_cadence": old.name, "to_cadence": new.name, "to_version": new.version, "source": request.source},
        ))
        return plan

    def _has_work(self) -> bool:
        return bool(self._inbox or self._migrations)

    async def _settle_handlers(self) -> None:
        """Wait for handlers to finish; a migration waiting on the loop is answered first."""
        while True:
            await workflow.wait_condition(lambda: workflow.all_handlers_finished() or bool(self._migrations))
            if not self._migrations:
                return
            self._apply_migrations()

    # ---- the loop --------------------------------------------------------------------
    @workflow.run
    async def run(self, input: LeadCadenceInput) -> LeadState:
        s = self._state
        if s.anchor is None:
            s.anchor = workflow.now()
        # Recorded histories wrote the read model before and after every step, in activities.
        self._lean = workflow.patched("lean-read-model")
        if self._lean:
            # What the API wrote at enrolment (or the previous run before continuing): not written again.
            self._written = self._view()
            self._searchable = {key.name: workflow.info().typed_search_attributes.get(key) for key in attrs.ALL}
            self._restore(input.pending_record)  # the previous run's last write, not made yet
        while True:
            if self._lean and self._history_too_long():  # first, so the task that ends the run is short
                await self._continue_as_new(input, carry_inbox=True)
            await self._apply_inbox()
            if s.status in ENDED_STATUSES:
                break
            # A waiting lead (paused, away, in conversation, on a task) is checked too, so no history
            # grows without bound; recorded histories did not check here.
            if self._history_too_long() and workflow.patched("continue-as-new-while-waiting"):
                await self._continue_as_new(input, carry_inbox=True)
                continue
            if await self._waiting():
                continue
            if self._should_continue_as_new():
                await self._continue_as_new(input, carry_inbox=workflow.patched("continue-as-new-while-waiting"))
                continue
            await self._advance()
        s.next_touch = None
        await self._flush()
        await self._settle_handlers()
        await self._flush()  # a migration refused at the very end still leaves its answer only
        return s

    def _history_too_long(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > self._input.max_history_events

    async def _continue_as_new(self, input: LeadCadenceInput, carry_inbox: bool) -> None:
        """Write the read model, answer waiting migrations, then start afresh with the state. Signals
        that arrive meanwhile go with it (`carry_inbox`), so a stream of them cannot hold it off;
        returns only when it could not continue (older runs waited for a quiet moment)."""
        s = self._state
        if self._lean:
            # Nothing is written here: the next run writes it first. A task that ends the run must
            # be short, or the signals of a busy conversation keep arriving during it and the
            # server refuses to end the run, again and again.
            await self._settle_handlers()
            pending = self._take_record()
        else:
            await self._flush()
            await self._settle_handlers()
            await self._flush()  # what a migration answered while settling is written first
            pending = None
        if self._migrations or (self._inbox and not carry_inbox):
            self._restore(pending)
            return
        workflow.continue_as_new(LeadCadenceInput(
            lead_id=input.lead_id, cadence=input.cadence, nurture=input.nurture,
            timezone=input.timezone, has_phone=s.has_phone, owner=s.owner,
            quiet_days=input.quiet_days, ooo_default_days=input.ooo_default_days, state=s,
            max_history_events=input.max_history_events, pending_events=list(self._inbox), pending_record=pending,
        ))

    async def _waiting(self) -> bool:
        """Hold the cadence while paused, out of office, in conversation or on an open task."""
        s, now = self._state, workflow.now()
        if s.paused:
            await self._flush()
            await workflow.wait_condition(self._has_work)
            return True
        if s.ooo_until and now < s.ooo_until:
            await self._sleep_until(s.ooo_until)
            return True
        s.ooo_until = None
        if s.hold_for_rep:
            quiet_at = (s.last_contact_at or now) + timedelta(days=self._input.quiet_days)
            if now >= quiet_at:  # in process but no two-way contact for too long (seed 004)
                s.hold_for_rep = False
                self._enter_nurture(Reason.WENT_QUIET)
                return True
            await self._sleep_until(quiet_at)
            return True
        if s.open_task:
            task = s.open_task
            if now >= task.expires_at:
                self._tasks.append(TaskChange(task.task_id, "missed", now))
                self._step_done()
                return True
            # SLA first (once), then expiry; histories recorded before SLAs waited for expiry only.
            if task.sla_at and not task.escalated and workflow.patched("task-sla"):
                if now >= task.sla_at:
                    await self._side_effect(
                        "escalate_task", EscalateTaskInput(s.lead_id, task.task_id, task.sla_at), task.task_id)
                    task.escalated = True
                    return True
                await self._sleep_until(task.sla_at)
                return True
            await self._sleep_until(task.expires_at)
            return True
        return False

    async def _advance(self) -> None:
        """Perform the next step when it is due, or sleep until it is."""
        s = self._state
        steps = s.cadence.steps
        if s.step_index >= len(steps):
            self._cadence_ran_out()
            return
        step = steps[s.step_index]
        if step.id in s.done_step_ids:  # had before a migration: never again
            s.step_index += 1
            return
        if not self._reachable(step.channel):
            if not any(self._reachable(x.channel) for x in steps[s.step_index:]) and s.phase == "cadence":
                self._enter_nurture(Reason.UNREACHABLE)
                return
            if not any(self._reachable(x.channel) for x in steps):
                await self._flush()  # nurture with no channel left: wait for new contact data
                await workflow.wait_condition(self._has_work)
                return
            self._touches.append(TouchRecord(self._touch_id(step), s.step_index + 1, step.id, step.channel,
                                             "skipped", workflow.now(), f"{step.channel} is not reachable"))
            self._step_done()
            return
        due = self._due(step)
        s.next_touch = NextTouch(s.step_index + 1, step.id, step.channel, due)
        if workflow.now() < due:
            await self._sleep_until(due)
            return
        if not self._lean:
            await self._flush()  # lean: the pending write goes with the touch, in its transaction
        if self._has_work() and workflow.patched("events-before-touch"):
            return  # an event arrived during the write (an unsubscribe, say): it decides first
        await self._perform(step, due)

    async def _perform(self, step: Step, due: datetime) -> None:
        s = self._state
        touch_id = self._touch_id(step)
        if step.channel == "email":
            result = await self._send(SendEmailInput(s.lead_id, touch_id, s.step_index + 1, step, s.cadence.name, due,
                                                     state=self._carried_record()))
            if result is None:  # an event that stops or pauses the cadence came first: it decides now
                return
            if result.status == "deferred" and result.retry_at:  # over its mailbox's cap: try again then
                s.deferred_until, s.next_touch = result.retry_at, None
                return
            if result.status == "suppressed":
                self._block(EMAIL_CHANNELS)
            self._step_done()
            return
        now = workflow.now()
        expires = now + parse_duration(step.expires_or_default())
        created = await self._create_task(CreateTaskInput(
            s.lead_id, touch_id, "step", step.channel, due_at=now, owner=s.owner,
            step=s.step_index + 1, step_def=step, expires_at=expires, state=self._carried_record(),
        ))
        if created.status == "failed":  # no task a rep could work: the step fails, the cadence goes on
            self._step_done()
            return
        sla_at = now + parse_duration(step.sla_or_default())
        s.open_task = OpenTask(touch_id, s.step_index + 1, expires, step_id=step.id,
                               sla_at=sla_at if sla_at < expires else None)  # expiring first: no escalation

    # ---- events ------------------------------------------------------------------------
    async def _apply_inbox(self) -> None:
        s = self._state
        while True:
            applied = bool(self._inbox or self._migrations)
            while self._inbox:
                event = self._inbox.pop(0)
                s.seen_event_ids = (s.seen_event_ids + [event.event_id])[-SEEN_EVENTS_KEPT:]
                if s.status in ENDED_STATUSES or s.stage in FINAL_STAGES:
                    self._record_event(event, ignored=f"the lead is already {s.stage}")
                    continue
                try:
                    decision = decide(Stage(s.stage), event)
                except ValueError as exc:  # validated by the API; a bad event must not wedge the lead
                    self._record_event(event, ignored=str(exc))
                    continue
                self._record_event(event)
                self._apply(event, decision)
            self._apply_migrations()
            if self._lean and applied:
                await self._flush()  # the stage a rep sees first; hand-off tasks and pauses follow
            for task in self._follow_ups:
                await self._create_task(task)
            self._follow_ups.clear()
            for event_id in self._account_replies:
                if workflow.patched("account-pause"):
                    await self._side_effect("pause_account", PauseAccountInput(s.lead_id, event_id), event_id)
            self._account_replies.clear()
            await self._move_reassigned_tasks()
            if not self._lean or applied:  # lean: a touch's outcome is written with the next decision
                await self._flush()
            # Events that arrived during those activities are applied now, before any other decision;
            # unless history is long: the run continues as new first and takes them along.
            if not self._has_work() or not workflow.patched("apply-late-events"):
                return
            if self._history_too_long() and workflow.patched("continue-as-new-while-waiting"):
                return

    def _apply(self, event: LeadEvent, d: Decision) -> None:
        s, now = self._state, workflow.now()
        if event.type == "reply" and event.intent in ACCOUNT_REPLY_INTENTS and s.cadence.pause_account:
            self._account_replies.append(event.event_id)
        if d.two_way_contact:
            s.last_contact_at = now
        if d.stage and (d.stage != s.stage or d.reason != s.stage_reason):
            self._set_stage(d.stage, d.reason)
        if d.level:
            s.level = d.level
        if d.owner:
            s.owner = d.owner
            self._reassigned.append((event.event_id, d.owner))
        if d.hold_for_rep:
            s.hold_for_rep = True
        if d.out_of_office:
            s.ooo_until = self._return_time(event.return_date)
        self._block(d.block_channels)
        s.blocked_channels = [c for c in s.blocked_channels if c not in d.unblock_channels]
        if "phone" in event.changed:
            s.has_phone = True
        if d.suppress_email:
            self._suppress = str(d.reason)
            self._block(EMAIL_CHANNELS)
        if d.control == "pause":
            s.paused = True
        elif d.control == "resume":  # an out-of-office date still holds: the lead is away
            s.paused, s.hold_for_rep = False, False
        elif d.control == "stop":
            s.status = Status.STOPPED
            self._close_open_task("skipped", "the cadence was stopped")
        if event.type == "task_completed" and s.open_task and event.task_id == s.open_task.task_id:
            self._tasks.append(TaskChange(event.task_id, "skipped" if event.outcome == "skipped" else "done",
                                          now, event.outcome, event.notes))
            self._step_done()
        if d.rep_task:
            due = now
            if d.rep_task_by_next_business_day:
                due = schedule.next_business_day_start(now, tz=s.timezone, window=s.cadence.window(),
                                                       holidays=s.cadence.holiday_set())
            kind = "hand_off" if d.ends_cadence else ("callback" if d.rep_task_by_next_business_day else "follow_up")
            self._follow_ups.append(CreateTaskInput(
                s.lead_id, f"{s.lead_id}-{bounded_id(event.event_id)}", kind, "call" if kind == "callback" else "task",
                due_at=due, owner=s.owner, instructions=d.rep_task,
            ))
        if d.ends_cadence:
            s.status = Status.COMPLETED
            self._close_open_task("skipped", f"lead {s.stage}")  # moot once the lead has an answer

    def _record_event(self, event: LeadEvent, ignored: str | None = None) -> None:
        data = {k: v for k, v in {
            "channel": event.channel, "intent": event.intent, "outcome": event.outcome,
            "text": (event.text or "")[:2000] or None, "return_date": event.return_date,
            "task_id": event.task_id, "answers": event.answers or None, "notes": event.notes,
            "owner": event.owner, "changed": event.changed or None, "ignored": ignored,
        }.items() if v is not None}
        self._events.append(EventRecord(event.event_id, event.type, workflow.now(), data))

    # ---- transitions -------------------------------------------------------------------
    def _set_stage(self, stage: str, reason: str | None) -> None:
        s = self._state
        s.stage, s.stage_reason, s.stage_changed_at = stage, reason, workflow.now()

    def _step_done(self) -> None:
        s = self._state
        if s.open_task is None or s.open_task.holds_position:
            s.step_index += 1
        s.open_task = None
        s.anchor = workflow.now()
        s.next_touch, s.deferred_until = None, None

    def _cadence_ran_out(self) -> None:
        s = self._state
        if s.cadence.repeat or s.phase == "nurture":  # nurture goes round again, in a fresh run
            s.step_index, s.cycle, s.anchor = 0, s.cycle + 1, workflow.now()
            s.done_step_ids, s.deferred_until = [], None  # a new round: every step is due again
            self._new_run = True
        elif s.cadence.on_complete == "nurture":
            self._enter_nurture(Reason.NO_RESPONSE)
        elif s.cadence.on_complete == "not_interested":
            self._set_stage(Stage.NOT_INTERESTED, Reason.NO_RESPONSE)
            s.status = Status.COMPLETED
        else:
            s.status = Status.COMPLETED

    def _close_open_task(self, status: str, notes: str) -> None:
        s = self._state
        if s.open_task:
            self._tasks.append(TaskChange(s.open_task.task_id, status, workflow.now(), notes=notes))
            s.open_task = None

    def _enter_nurture(self, reason: str) -> None:
        s = self._state
        self._close_open_task("missed", f"the lead moved to nurture ({reason})")
        self._set_stage(Stage.NURTURE, reason)
        if s.phase != "nurture":
            s.phase, s.cadence, s.cycle = "nurture", self._input.nurture, s.cycle + 1
            s.step_index, s.anchor, s.next_touch = 0, workflow.now(), None
            s.done_step_ids, s.deferred_until = [], None
        self._new_run = True

    _new_run = False

    def _should_continue_as_new(self) -> bool:
        return self._new_run or workflow.info().is_continue_as_new_suggested()

    # ---- helpers -----------------------------------------------------------------------
    def _reachable(self, channel: str) -> bool:
        s = self._state
        if channel in s.blocked_channels:
            return False
        return s.has_phone or channel not in PHONE_CHANNELS

    def _block(self, channels) -> None:
        s = self._state
        s.blocked_channels = sorted(set(s.blocked_channels) | set(channels))

    def _touch_id(self, step: Step) -> str:
        return f"{self._state.lead_id}-{self._state.cycle}-{step.id}"

    def _due(self, step: Step) -> datetime:
        s = self._state
        cadence: Cadence = s.cadence
        window = None if step.anytime else cadence.window()
        holidays = cadence.holiday_set()  # resolved at enrolment: never the holidays package here
        due = schedule.next_due(s.anchor, parse_duration(step.wait), tz=s.timezone, window=window,
                                business_days=cadence.business_days, holidays=holidays)
        # Not before now (after a pause) nor before the mailbox has room (a deferred email): then
        # at the next moment the window allows.
        earliest = max(workflow.now(), s.deferred_until or workflow.now())
        if due < earliest:
            due = schedule.next_due(earliest, timedelta(0), tz=s.timezone, window=window,
                                    business_days=cadence.business_days, holidays=holidays)
        return due

    def _return_time(self, return_date: str | None) -> datetime:
        now = workflow.now()
        if return_date:
            try:
                day = datetime.fromisoformat(return_date).date()
                return schedule.local_midnight(day, self._state.timezone)
            except ValueError:
                pass
        return now + timedelta(days=self._input.ooo_default_days)

    async def _sleep_until(self, until: datetime) -> None:
        await self._flush()
        delay = until - workflow.now()
        if delay <= timedelta(0):
            return
        try:
            await workflow.wait_condition(self._has_work, timeout=delay)
        except TimeoutError:
            pass

    async def _create_task(self, task: CreateTaskInput) -> TouchResult:
        try:
            return await workflow.execute_activity(
                "create_task", task, result_type=TouchResult, start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=TASK_BUDGET, retry_policy=ACTIVITY_RETRY,
                priority=self._touch_priority() if task.step_def is not None else Priority.default,
            )
        except ActivityError as err:  # failed for good: visible on the timeline, never a wedged lead
            self._restore(task.state)
            detail = f"the task could not be created: {_reason(err)}"
            if task.step_def is not None:
                self._touches.append(TouchRecord(task.task_id, task.step or 0, task.step_def.id, task.channel,
                                                 "failed", workflow.now(), detail))
            else:
                self._events.append(EventRecord(f"failed-{bounded_id(task.task_id)}", "task_failed", workflow.now(),
                                                {"task_id": task.task_id, "kind": task.kind, "reason": detail}))
            return TouchResult(task.task_id, "failed", detail)

    async def _send(self, send: SendEmailInput) -> TouchResult | None:
        """Send the email while listening to the inbox: an event that stops or pauses the cadence
        (stop, unsubscribe, a reply, ...) cancels the send, even while it retries against a
        SendGrid that is down. None when it was cancelled before the email went out."""
        handle = workflow.start_activity(
            "send_email", send, result_type=TouchResult, start_to_close_timeout=timedelta(minutes=1),
            heartbeat_timeout=timedelta(seconds=40), schedule_to_close_timeout=SEND_BUDGET,
            retry_policy=ACTIVITY_RETRY, cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            priority=self._touch_priority(),
        )
        if workflow.patched("race-send-against-inbox"):  # recorded histories awaited the send alone
            await workflow.wait_condition(lambda: handle.done() or self._halting_event())
            if not handle.done():
                handle.cancel()
        try:
            return await handle
        except ActivityError as err:
            now, step = workflow.now(), send.step_def
            self._restore(send.state)
            if isinstance(err.cause, CancelledError):
                self._touches.append(TouchRecord(send.touch_id, send.step, step.id, "email", "cancelled", now,
                                                 "not sent: an event that stops or pauses the cadence came first"))
                return None
            detail = f"not sent, gave up: {_reason(err)}"
            self._touches.append(TouchRecord(send.touch_id, send.step, step.id, "email", "failed", now, detail))
            return TouchResult(send.touch_id, "failed", detail)

    def _touch_priority(self) -> Priority:
        """A hot lead's first touch goes with the priority it started with (domain/priority.py);
        its later ones, due on a schedule, queue with everyone else's, so the next new lead's first
        email is not held up behind them. Other activities (a hand-off after a reply) inherit."""
        s = self._state
        first = s.cycle == 0 and s.step_index == 0 and s.phase == "cadence"
        started = workflow.info().priority.priority_key or priority.SCHEDULED
        return Priority.default if first else Priority(priority_key=max(started, priority.SCHEDULED))

    def _halting_event(self) -> bool:
        stage = Stage(self._state.stage)
        return any(halts_touches(stage, event) for event in self._inbox)

    async def _side_effect(self, activity: str, arg: Any, key: str) -> None:
        """An activity whose failure must not stop the cadence: retried within its budget, then
        recorded on the timeline as failed."""
        try:
            await workflow.execute_activity(
                activity, arg, start_to_close_timeout=timedelta(minutes=1),
                schedule_to_close_timeout=SIDE_EFFECT_BUDGET, retry_policy=ACTIVITY_RETRY,
            )
        except ActivityError as err:
            self._events.append(EventRecord(f"failed-{activity}-{bounded_id(key)}", "action_failed", workflow.now(),
                                            {"action": activity, "reason": _reason(err)}))

    async def _move_reassigned_tasks(self) -> None:
        """After follow-ups are created, so tasks made with the old owner move too."""
        while self._reassigned:
            event_id, owner = self._reassigned.pop(0)
            if workflow.patched("reassign-open-tasks"):  # recorded histories did not move tasks
                await self._side_effect("reassign_tasks", ReassignTasksInput(self._state.lead_id, owner, event_id),
                                        event_id)

    def _view(self) -> tuple[Any, ...]:
        """What the read model shows of the lead, apart from its timeline."""
        s = self._state
        if s.status not in ENDED_STATUSES:
            s.status = Status.PAUSED if (s.paused or s.hold_for_rep or s.ooo_until) else Status.ACTIVE
        return (s.stage, s.stage_reason, s.level, s.status, s.owner, s.next_touch, s.last_contact_at)

    def _take_record(self) -> RecordStateInput | None:
        """The read model's next write, when something changed since the last one; taken, so it is
        written once."""
        s = self._state
        view = self._view()
        if view == self._written and not (self._events or self._touches or self._tasks or self._suppress):
            return None
        s.revision += 1
        record = RecordStateInput(
            lead_id=s.lead_id, revision=s.revision, stage=s.stage, stage_reason=s.stage_reason,
            stage_changed_at=s.stage_changed_at, level=s.level, status=s.status, owner=s.owner,
            next_touch=s.next_touch, last_contact_at=s.last_contact_at, suppress_email=self._suppress,
            events=self._events, touches=self._touches, tasks=self._tasks, cadence_version=self._migrated_version,
            cadence_name=self._migrated_name,
        )
        self._events, self._touches, self._tasks, self._suppress = [], [], [], None
        self._migrated_version, self._migrated_name = None, None
        self._written = view
        return record

    def _carried_record(self) -> RecordStateInput | None:
        """The write that goes with a touch, in the touch's own transaction (lean runs only)."""
        return self._take_record() if self._lean else None

    def _restore(self, record: RecordStateInput | None) -> None:
        """A touch carrying `record` did not run to its end: its write may be missing, so the next
        write carries it again (every part of it is idempotent)."""
        if record is None:
            return
        self._events[:0], self._touches[:0], self._tasks[:0] = record.events, record.touches, record.tasks
        self._suppress = self._suppress or record.suppress_email
        self._migrated_version = self._migrated_version or record.cadence_version
        self._migrated_name = self._migrated_name or record.cadence_name
        self._written = None

    async def _flush(self) -> None:
        """Write the read model when something changed since the last write, then the search
        attributes. Lean runs write it in a local activity: no task queue round trip, one
        marker in the history."""
        record = self._take_record()
        if record is not None:
            try:
                if self._lean:
                    await workflow.execute_local_activity(
                        "record_state", record, start_to_close_timeout=timedelta(seconds=30),
                        retry_policy=STATE_RETRY)
                else:
                    await workflow.execute_activity(
                        "record_state", record, start_to_close_timeout=timedelta(seconds=30),
                        retry_policy=STATE_RETRY)
            # Permanent (a value the database cannot take): the lead goes on. A local activity's
            # failure arrives as the error it raised, not wrapped in an ActivityError.
            except (ActivityError, ApplicationError) as err:
                workflow.logger.error("lead %s: revision %d of the read model was not written: %s",
                                      record.lead_id, record.revision, _reason(err))
        if self._lean:
            self._upsert_search_attributes()

    def _upsert_search_attributes(self) -> None:
        """The attributes that changed since the last upsert (none of them personal data). None is
        never written: a lead with no touch scheduled keeps the time of its last one."""
        s = self._state
        now = {attrs.STAGE: str(s.stage), attrs.OWNER: s.owner, attrs.NAME: s.cadence.name,
               attrs.VERSION: s.cadence.version, attrs.NEXT_TOUCH_AT: s.next_touch.due_at if s.next_touch else None}
        updates = []
        for key, value in now.items():
            if value is not None and self._searchable.get(key.name) != value:
                updates.append(key.value_set(value))
                self._searchable[key.name] = value
        if updates:
            workflow.upsert_search_attributes(updates)


def migration_plan(state: LeadState, new: Cadence) -> MigrationPlan:
    """What moving this lead to `new` does; the API's dry run calls it on the queried state."""
    in_progress = None
    if state.open_task and state.open_task.holds_position:  # its step is under way: counts as had
        in_progress = state.open_task.step_id or state.cadence.steps[state.open_task.step - 1].id
    return plan_migration(state.cadence, state.step_index, state.done_step_ids, new, in_progress)


def _reason(err: BaseException) -> str:
    """The innermost message of an activity failure, short enough for the timeline."""
    while getattr(err, "cause", None) is not None:
        err = err.cause
    return (getattr(err, "message", None) or str(err))[:500]


def workflow_id_for(lead_id: str) -> str:
    return f"lead-{lead_id}"

