"""Activities: the workflow's hands. Each is idempotent per touch id, so retries and replays
never send an email twice nor create a second task."""
from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import datetime, timedelta, timezone

from temporalio import activity
from temporalio.exceptions import ApplicationError, CancelledError

from activities.errors import classified
from domain.cadences import Step, Variant
from messaging.email_message import Links, Sender, build_request
from messaging.mailer import RejectedMail, TemporaryMailError, UnknownOutcome
from messaging.rendering import TemplateError, render, template_context
from persistence import mailboxes as mailbox_store
from persistence import reps as rep_store
from persistence import touches as store
from persistence.db import Database
from persistence.models import Lead, Task
from workflows.messages import (
    CreateTaskInput, EscalateTaskInput, ReassignTasksInput, RecordStateInput, SendEmailInput, TouchResult,
)

FINISHED = frozenset({"sent", "outboxed", "failed", "suppressed", "unknown"})


def choose_variant(lead_id: str, step: Step) -> Variant | None:
    """The same lead always gets the same variant of a step, spread evenly over leads."""
    if not step.variants:
        return None
    digest = hashlib.sha256(f"{lead_id}:{step.id}".encode()).digest()
    return step.variants[int.from_bytes(digest[:8], "big") % len(step.variants)]


def _now() -> datetime:
    """Temporal's clock, not the host's: the two agree in production and tests can skip time."""
    try:
        return activity.info().current_attempt_scheduled_time
    except RuntimeError:  # not inside an activity
        return datetime.now(timezone.utc)


class TouchActivities:
    """Activities with their dependencies handed in: tests pass stand-ins, the worker real ones."""

    def __init__(self, db: Database, *, mailer=None, sender: Sender, links: Links):
        self.db = db
        self.mailer = mailer  # None: write to the outbox instead of sending
        self.sender = sender
        self.links = links

    def _lead(self, session, lead_id: str) -> Lead:
        lead = session.get(Lead, lead_id)
        if lead is None:
            raise ApplicationError(f"lead {lead_id} does not exist", type="LeadNotFound", non_retryable=True)
        return lead

    @activity.defn(name="send_email")
    def send_email(self, input: SendEmailInput) -> TouchResult:
        """Render, check, and hand the email to SendGrid (or the outbox) at most once.

        Until the `sending` row is committed a cancellation (the lead was stopped) ends the
        attempt with nothing sent; from there on it is shielded, so what SendGrid answered is
        always recorded."""
        activity.heartbeat()  # a cancellation requested while this attempt waited reaches it now
        prepared = self._with_state(input.state, lambda state: self._prepare_email(input, state),
                                    f"touch {input.touch_id}")
        if isinstance(prepared, TouchResult):
            return prepared
        activity.heartbeat()
        result = None
        try:
            with activity.shield_thread_cancel_exception():
                result = self._deliver(input.touch_id, prepared)
        except CancelledError:  # raised as the shield ends: what SendGrid answered still stands
            if result is None:
                raise
        return result

    def _with_state(self, state: RecordStateInput | None, work, what: str):
        """`work(state)`: the touch and the read model's write it carries, in one transaction. A
        write the database refuses for good (a value too long, say) must not fail the touch: the
        touch is then done without it, and the workflow's next write shows the lead's state."""
        try:
            with classified(what):
                return work(state)
        except ApplicationError as exc:
            if state is None or not exc.non_retryable:
                raise
            activity.logger.error("lead %s: revision %d of the read model was not written: %s",
                                  state.lead_id, state.revision, exc)
        with classified(what):
            return work(None)

    def _prepare_email(self, input: SendEmailInput, state: RecordStateInput | None) -> TouchResult | dict:
        """The touch's outcome when it needs no sending, else the request to send."""
        touch_values = dict(lead_id=input.lead_id, step=input.step, step_id=input.step_def.id, channel="email",
                            due_at=input.due_at)
        with self.db.session() as session:
            if state is not None:
                _write_state(session, self._lead(session, input.lead_id), state)
            touch = session.get(store.Touch, input.touch_id)
            if touch is not None and touch.status in FINISHED:
                return TouchResult(touch.id, touch.status, touch.detail)
            if touch is not None and touch.status == "sending":
                # An earlier attempt recorded the send and ended before hearing back: the email may
                # or may not have gone out. Sending again could deliver it twice; at most once is
                # the promise, so the outcome is shown as unknown rather than guessed.
                touch.status, touch.at = "unknown", touch.at or _now()
                touch.detail = "an earlier attempt ended before SendGrid's answer was recorded; it may have been sent"
                return TouchResult(touch.id, touch.status, touch.detail)
            lead = self._lead(session, input.lead_id)
            variant = choose_variant(lead.id, input.step_def)
            mailbox = mailbox_store.sending_mailbox(session, lead.owner, self.sender.email)
            sender = Sender(mailbox.email, mailbox.name or self.sender.name) if mailbox is not None else self.sender
            context = template_context(store.lead_fields(lead), sender_name=sender.name,
                                       unsubscribe_url=self.links.unsubscribe_url(lead.id))
            try:
                subject = render((variant and variant.subject) or input.step_def.subject, context) or ""
                body = render((variant and variant.body) or input.step_def.body, context) or ""
            except TemplateError as exc:  # the same text fails every time: the touch fails, the cadence goes on
                store.upsert_touch(session, input.touch_id, status="failed", at=_now(),
                                   detail=f"the template cannot be rendered: {exc}", **touch_values)
                return TouchResult(input.touch_id, "failed", f"the template cannot be rendered: {exc}")
            touch_values.update(subject=subject.strip(), variant=variant.id if variant else None)
            if store.is_suppressed(session, lead.email, self.links.secret):
                store.upsert_touch(session, input.touch_id, status="suppressed", at=_now(),
                                   detail="address is on the suppression list", **touch_values)
                return TouchResult(input.touch_id, "suppressed", "address is on the suppression list")
            # Capacity (SPEC 2.7): over its mailbox's cap, the touch waits; it is never dropped.
            if mailbox is not None:
                slot = mailbox_store.reserve(session, mailbox, input.touch_id, _now())
                if slot is not None:
                    detail = f"deferred: {slot.reason} on {mailbox.email}; next try from {slot.at:%Y-%m-%d %H:%M} UTC"
                    store.upsert_touch(session, input.touch_id, status="deferred", at=None, detail=detail,
                                       **touch_values)
                    return TouchResult(input.touch_id, "deferred", detail, retry_at=slot.at)
            was_deferred = touch.detail if touch is not None and touch.status == "deferred" else None
            request = build_request(lead_id=lead.id, touch_id=input.touch_id, to_email=lead.email,
                                    to_name=" ".join(p for p in (lead.first_name, lead.last_name) if p) or None,
                                    sender=sender, subject=subject.strip(), body_text=body, links=self.links)
            if self.mailer is None:
                store.write_outbox(session, touch_id=input.touch_id, lead_id=lead.id, to_email=lead.email,
                                   subject=subject.strip(), request=request)
                store.upsert_touch(session, input.touch_id, status="outboxed", at=_now(),
                                   detail=f"was {was_deferred}" if was_deferred else None, **touch_values)
                return TouchResult(input.touch_id, "outboxed")
            store.upsert_touch(session, input.touch_id, status="sending", at=None,
                               detail=f"was {was_deferred}" if was_deferred else None, **touch_values)
        return request

    def _deliver(self, touch_id: str, request: dict) -> TouchResult:
        try:
            message_id = self.mailer.send(request)
        except TemporaryMailError as exc:
            with self.db.session() as session:  # nothing was accepted: the retry may send
                store.upsert_touch(session, touch_id, status="deferred", detail=f"{exc}; retrying")
            delay = timedelta(seconds=exc.retry_after) if exc.retry_after is not None else None
            raise ApplicationError(str(exc), type="TemporaryMailError", next_retry_delay=delay) from exc
        except RejectedMail as exc:
            with self.db.session() as session:
                store.upsert_touch(session, touch_id, status="failed", at=_now(), detail=str(exc))
            return TouchResult(touch_id, "failed", str(exc))
        except UnknownOutcome as exc:  # it may have gone out: never sent again, shown as unknown
            with self.db.session() as session:
                store.upsert_touch(session, touch_id, status="unknown", at=_now(), detail=str(exc))
            return TouchResult(touch_id, "unknown", str(exc))
        with self.db.session() as session:
            store.upsert_touch(session, touch_id, status="sent", at=_now(), message_id=message_id)
        return TouchResult(touch_id, "sent")

    @activity.defn(name="create_task")
    def create_task(self, input: CreateTaskInput) -> TouchResult:
        return self._with_state(input.state, lambda state: self._create_task(input, state), f"task {input.task_id}")

    def _create_task(self, input: CreateTaskInput, state: RecordStateInput | None) -> TouchResult:
        with self.db.session() as session:
            lead = self._lead(session, input.lead_id)
            if state is not None:
                _write_state(session, lead, state)
            context = template_context(store.lead_fields(lead), sender_name=self.sender.name,
                                       unsubscribe_url=self.links.unsubscribe_url(lead.id))
            step = input.step_def
            try:
                instructions = input.instructions or _task_text(step, context)
                subject = render(step.subject, context) if step is not None else None
            except TemplateError as exc:  # no task a rep could act on: the step fails, the cadence goes on
                detail = f"the template cannot be rendered: {exc}"
                if step is not None:
                    store.upsert_touch(session, input.task_id, lead_id=lead.id, step=input.step, step_id=step.id,
                                       channel=step.channel, status="failed", due_at=input.due_at, at=_now(),
                                       detail=detail)
                return TouchResult(input.task_id, "failed", detail)
            owner = input.owner or lead.owner
            # An away owner's new work goes to their stand-in, with the move on the timeline.
            assignee = owner if session.get(Task, input.task_id) else rep_store.stand_in(session, owner, lock=True)
            task = store.add_task_once(session, Task(
                id=input.task_id, lead_id=lead.id, touch_id=input.task_id if step else None, step=input.step,
                channel=input.channel, kind=input.kind, owner=assignee, instructions=instructions,
                status="open", due_at=input.due_at, expires_at=input.expires_at, created_at=_now(),
            ))
            if assignee != owner:
                store.record_event_once(session, lead.id, f"away-{task.id}", "task_reassigned", _now(), {
                    "task_id": task.id, "from_owner": owner, "to_owner": assignee, "reason": "owner_away"})
            if step is not None:
                touch = session.get(store.Touch, input.task_id)
                if touch is None:
                    store.upsert_touch(session, input.task_id, lead_id=lead.id, step=input.step, step_id=step.id,
                                       channel=step.channel, status="task_open", due_at=input.due_at,
                                       at=_now(), subject=subject)
        return TouchResult(input.task_id, "task_open")

    @activity.defn(name="record_state")
    def record_state(self, input: RecordStateInput) -> bool:
        with classified(f"the read model of lead {input.lead_id}"), self.db.session() as session:
            return _write_state(session, self._lead(session, input.lead_id), input)

    @activity.defn(name="escalate_task")
    def escalate_task(self, input: EscalateTaskInput) -> str | None:
        with classified(f"escalating task {input.task_id}"), self.db.session() as session:
            return rep_store.escalate(session, input.task_id, input.at)

    @activity.defn(name="reassign_tasks")
    def reassign_tasks(self, input: ReassignTasksInput) -> list[str]:
        with classified(f"moving the tasks of lead {input.lead_id}"), self.db.session() as session:
            return rep_store.reassign_lead_tasks(session, input.lead_id, input.owner, _now(), input.event_id)

    def all(self) -> list:
        return [self.send_email, self.create_task, self.record_state, self.escalate_task, self.reassign_tasks]


def _write_state(session, lead: Lead, input: RecordStateInput) -> bool:
    """The workflow's view of the lead and what happened since its last write; idempotent, so a
    retried or repeated write changes nothing."""
    for e in input.events:
        store.record_event_once(session, lead.id, e.event_id, e.type, e.at, e.data)
    for t in input.touches:
        known = session.get(store.Touch, t.touch_id)
        if t.status == "cancelled" and known is not None and known.status in FINISHED:
            continue  # the send finished before its cancellation arrived: that outcome stands
        store.upsert_touch(session, t.touch_id, lead_id=lead.id, step=t.step, step_id=t.step_id,
                           channel=t.channel, status=t.status, at=t.at, detail=t.detail)
    for c in input.tasks:
        store.close_task(session, c.task_id, c.status, c.at, c.outcome, c.notes)
    if input.suppress_email:
        store.suppress(session, lead.email, input.suppress_email)
    next_touch = asdict(input.next_touch) if input.next_touch else None
    if next_touch:
        next_touch["due_at"] = input.next_touch.due_at.isoformat()
    return store.write_lead_state(session, lead.id, input.revision, dict(
        stage=str(input.stage), stage_reason=input.stage_reason, stage_changed_at=input.stage_changed_at,
        level=str(input.level), status=str(input.status), owner=input.owner, next_touch=next_touch,
        last_contact_at=input.last_contact_at,
        **({"cadence_version": input.cadence_version} if input.cadence_version else {}),
        **({"cadence_name": input.cadence_name} if input.cadence_name else {}),
    ))


def _task_text(step: Step | None, context: dict) -> str | None:
    if step is None:
        return None
    if step.channel == "sms":
        return f"Send this SMS: {render(step.body, context)}"
    if step.channel == "manual_email":
        return f"Write this email. Subject: {render(step.subject, context)}\n\n{render(step.body, context)}"
    return render(step.instructions, context)
