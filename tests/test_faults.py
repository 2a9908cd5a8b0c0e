"""No lead ever wedges: sends that fail, throttle, hang or reset end visibly and the cadence goes on;
nothing is lost and nothing is sent twice. The lead workflow on the time-skipping server with the
real activities, the official SendGrid client and the local SendGrid stand-in."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.touches import TouchActivities
from messaging.mailer import SendGridMailer, TemporaryMailError, UnknownOutcome
from persistence import leads as lead_store
from persistence.models import Touch
from tests.support.harness import DAY, LINKS, SENDER, eventually, make_cadence, running_worker
from tests.support.sendgrid_standin import SendGridStandIn
from workflows.messages import SendEmailInput

pytestmark = pytest.mark.asyncio
KEY = "SG.test-key"


@pytest.fixture
def standin():
    with SendGridStandIn(api_key=KEY) as s:
        yield s


@pytest.fixture
def mailer(standin):
    return SendGridMailer(KEY, host=standin.url, timeout=0.5)


def touch(h, handle, step_id):
    return next((t for t in h.touches(handle) if t.step_id == step_id), None)


async def touch_in(h, handle, step_id, *statuses, timeout=15):
    return await eventually(lambda: (t := touch(h, handle, step_id)) is not None and t.status in statuses and t,
                            timeout=timeout)


def sent_for(standin, touch_id):
    return [b for b in standin.accepted if (b.get("custom_args") or {}).get("touch_id") == touch_id]


# ---- the mailer sorts every outcome --------------------------------------------------------
def test_an_unreachable_sendgrid_is_temporary_and_a_hang_is_unknown(standin):
    with SendGridStandIn(api_key=KEY) as gone:
        url = gone.url
    with pytest.raises(TemporaryMailError, match="unreachable"):  # nothing listens: nothing was sent
        SendGridMailer(KEY, host=url, timeout=0.5).send({"personalizations": []})
    standin.hang_next(2.0)
    with pytest.raises(UnknownOutcome, match="no answer from SendGrid"):
        SendGridMailer(KEY, host=standin.url, timeout=0.3).send({"personalizations": []})
    standin.reset_next()
    with pytest.raises(UnknownOutcome):
        SendGridMailer(KEY, host=standin.url, timeout=2).send({"personalizations": []})
    standin.fail_next(429, retry_after=7)
    with pytest.raises(TemporaryMailError) as throttled:
        SendGridMailer(KEY, host=standin.url).send({"personalizations": []})
    assert throttled.value.retry_after == 7


async def test_a_429_retries_after_the_time_sendgrid_asked_for(sqlite_db, standin, mailer):
    """The activity hands SendGrid's Retry-After to Temporal as the next retry's delay."""
    with sqlite_db.session() as s:
        lead = lead_store.add(s, id=lead_store.new_lead_id(), email="ada@example.com", first_name="Ada",
                              source="target_list", rank="D", cadence_name="test", cadence_version=1,
                              workflow_id="w", timezone="UTC", custom={})
        lead_id = lead.id
    acts = TouchActivities(sqlite_db, mailer=mailer, sender=SENDER, links=LINKS)
    step = make_cadence().steps[0]
    standin.fail_next(429, retry_after=42)
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(acts.send_email, SendEmailInput(lead_id, f"{lead_id}-0-s1", 1, step, "test",
                                                                        None))
    assert raised.value.type == "TemporaryMailError" and not raised.value.non_retryable
    assert raised.value.next_retry_delay == timedelta(seconds=42)
    with sqlite_db.session() as s:
        assert s.get(Touch, f"{lead_id}-0-s1").status == "deferred"  # not sent, tried again


# ---- through the workflow ------------------------------------------------------------------
async def test_500_then_429_then_success_sends_once(time_env, sqlite_db, standin, mailer):
    standin.fail_next(500)
    standin.fail_next(429, retry_after=30)
    async with running_worker(time_env.client, sqlite_db, mailer=mailer) as h:
        handle = await h.start(make_cadence())
        await eventually(lambda: len(standin.requests) == 2)
        await time_env.sleep(timedelta(seconds=29))
        assert len(standin.requests) == 2  # SendGrid asked for 30 s: no earlier try
        await time_env.sleep(timedelta(seconds=5))
        sent = await touch_in(h, handle, "s1", "sent", "failed", "unknown")
        assert sent.status == "sent", sent.detail
        assert [r["status"] for r in standin.requests] == [500, 429, 202]
        assert len(sent_for(standin, sent.id)) == 1


async def test_a_hung_sendgrid_is_an_unknown_outcome_never_sent_again_and_the_cadence_goes_on(
        time_env, sqlite_db, standin, mailer):
    standin.hang_next(2.0)  # longer than the mailer's 0.5 s timeout
    async with running_worker(time_env.client, sqlite_db, mailer=mailer) as h:
        handle = await h.start(make_cadence())
        first = await touch_in(h, handle, "s1", "unknown", "sent", "failed")
        assert first.status == "unknown" and "no answer from SendGrid" in first.detail
        await time_env.sleep(DAY + timedelta(hours=1))
        second = await touch_in(h, handle, "s2", "sent", "failed", "unknown")
        assert second.status == "sent"
        await asyncio.sleep(2.2)  # the hung request completes at the stand-in: it did take the message
        assert len(sent_for(standin, first.id)) == 1
        assert len([r for r in standin.requests if (r["body"].get("custom_args") or {}).get("touch_id")
                    == first.id]) == 1  # asked once: at most once


async def test_a_reset_connection_is_an_unknown_outcome(time_env, sqlite_db, standin, mailer):
    standin.reset_next()
    async with running_worker(time_env.client, sqlite_db, mailer=mailer) as h:
        handle = await h.start(make_cadence())
        first = await touch_in(h, handle, "s1", "unknown", "sent", "failed")
        assert first.status == "unknown"
        assert [r["status"] for r in standin.requests] == ["reset"]


async def test_sendgrid_down_past_the_budget_fails_the_touch_and_the_cadence_goes_on(
        time_env, sqlite_db, standin, mailer):
    standin.fail_next(503, count=10_000)
    async with running_worker(time_env.client, sqlite_db, mailer=mailer) as h:
        handle = await h.start(make_cadence())
        await eventually(lambda: len(standin.requests) >= 1)
        await time_env.sleep(timedelta(hours=2, minutes=10))  # past the send's two-hour budget
        failed = await touch_in(h, handle, "s1", "failed", timeout=60)
        assert failed.detail.startswith("not sent, gave up") and "503" in failed.detail
        assert standin.accepted == []
        state = await eventually(lambda: (lead := h.lead(handle)).next_touch and lead.next_touch["step_id"] == "s2")
        assert state


async def test_a_template_that_cannot_render_fails_its_touch_and_the_cadence_goes_on(time_env, sqlite_db):
    steps = [{"id": "s1", "channel": "email", "wait": "PT0S", "subject": "Hi", "body": "{{ 'x' * 9 }}"}] + [
        {"id": f"s{i}", "channel": "email", "wait": "P1D", "subject": f"Touch {i}", "body": "Hello {{ first_name }}"}
        for i in range(2, 7)]
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence(steps=steps))
        failed = await touch_in(h, handle, "s1", "failed", "outboxed")
        assert failed.status == "failed" and "template" in failed.detail
        await time_env.sleep(DAY + timedelta(hours=1))
        assert (await touch_in(h, handle, "s2", "outboxed")).status == "outboxed"


async def test_a_task_step_whose_text_cannot_render_fails_and_the_cadence_goes_on(time_env, sqlite_db):
    steps = [{"id": "call", "channel": "call", "wait": "PT0S", "instructions": "{% for x in y %}{% endfor %}"}] + [
        {"id": f"s{i}", "channel": "email", "wait": "PT1H", "subject": f"Touch {i}", "body": "Hello"}
        for i in range(2, 7)]
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence(steps=steps))
        failed = await touch_in(h, handle, "call", "failed", "task_open")
        assert failed.status == "failed" and h.tasks(handle) == []
        await time_env.sleep(timedelta(hours=2))
        assert (await touch_in(h, handle, "s2", "outboxed")).status == "outboxed"


async def test_a_failing_send_loses_to_an_unsubscribe_that_arrives_meanwhile(time_env, sqlite_db, standin, mailer):
    standin.fail_next(400, count=1)  # refused for good at the same moment the person unsubscribes
    async with running_worker(time_env.client, sqlite_db, mailer=mailer) as h:
        handle = await h.start(make_cadence())
        await h.signal(handle, "reply", intent="unsubscribe", text="remove me")
        lead = await eventually(lambda: (lead := h.lead(handle)).stage == "not_interested" and lead)
        assert lead.stage_reason == "unsubscribed"
        await time_env.sleep(10 * DAY)
        assert standin.accepted == []  # nothing after the unsubscribe, ever
        assert all(t.status in ("failed", "cancelled", "suppressed") for t in h.touches(handle))


@pytest.mark.xfail(strict=False, reason=(
    "known issue: with the read model written in local activities, a run's last workflow task can be refused "
    "again and again while signals stream in (each refusal costs a full replay), so under a sustained flood the "
    "run may pass its bound before it continues as new; tracked for a fix"))
async def test_history_stays_bounded_through_500_signals_in_conversation(time_env, sqlite_db):
    bound = 250
    async with running_worker(time_env.client, sqlite_db) as h:
        handle = await h.start(make_cadence(), max_history_events=bound)
        await touch_in(h, handle, "s1", "outboxed")
        await h.signal(handle, "reply", event_id="first", intent="neutral", text="tell me more")
        # A long conversation: notes and outcomes pile up while a rep answers, a few at a time. (A
        # flood with no pause cannot be bounded by anyone: every signal is an event, and a run can
        # only continue as new once a decision completes without a new signal arriving; the API's
        # per-lead signal limit keeps real traffic far below this.)
        for n in range(500):
            await h.signal(handle, "call_outcome", event_id=f"note-{n}", outcome="voicemail")
            if n % 5 == 4:
                await asyncio.sleep(0.25)
        await eventually(lambda: len(h.events(handle)) >= 501, timeout=120)
        events = h.events(handle)
        assert {e.event_id for e in events} >= {"first", *(f"note-{n}" for n in range(500))}
        runs = await history_lengths(time_env.client, handle.id)
        assert len(runs) > 1, "it never continued as new"
        assert max(runs) < 2 * bound, runs  # a run ends soon after passing the bound
        state = await h.state(handle)
        assert state.hold_for_rep and len(state.seen_event_ids) == 501  # nothing lost across the runs


async def history_lengths(client, workflow_id: str) -> list[int]:
    """The number of events of each run of `workflow_id`, newest first, following the chain back."""
    lengths, run_id = [], None
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        lengths.append(len(history.events))
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id or None
        if run_id is None:
            return lengths



async def test_ids_built_from_long_event_ids_fit_their_columns_on_postgres(time_env, postgres_db):
    """A signal sent to the workflow directly (the API refuses such ids with a 422) with a 200-character
    event id: the follow-up task built from it still fits its column."""
    async with running_worker(time_env.client, postgres_db) as h:
        handle = await h.start(make_cadence())
        await touch_in(h, handle, "s1", "outboxed")
        await h.signal(handle, "missed_call", event_id="x" * 200)
        [callback] = await eventually(lambda: [t for t in h.tasks(handle) if t.kind == "callback"], timeout=30)
        assert len(callback.id) <= 120


async def test_a_value_too_long_for_postgres_fails_that_touch_not_the_lead(time_env, postgres_db):
    """A step id longer than its column (a snapshot made before step ids were bounded): its send
    cannot be recorded, fails once without retrying, and the lead goes on to the next step."""
    steps = [{"id": "s" * 150, "channel": "email", "wait": "PT0S", "subject": "Hi", "body": "Hello"}] + [
        {"id": f"s{i}", "channel": "email", "wait": "PT1H", "subject": "Hi", "body": "Hello"} for i in range(2, 7)]
    async with running_worker(time_env.client, postgres_db) as h:
        handle = await h.start(make_cadence(steps=steps))
        await time_env.sleep(timedelta(hours=1, minutes=5))
        assert (await touch_in(h, handle, "s2", "outboxed", timeout=30)).status == "outboxed"
        await h.signal(handle, "reply", event_id="after", intent="positive")
        lead = await eventually(lambda: (lead := h.lead(handle)).stage == "qualified" and lead, timeout=30)
        assert lead.stage_reason == "positive_reply"  # events still decide: nothing is wedged
