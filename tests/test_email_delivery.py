"""Email delivery end to end: the lead workflow on the time-skipping server, the real TouchActivities,
the real SendGridMailer (official client) pointed at the local SendGrid stand-in, and SQLite."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from messaging import tokens
from messaging.mailer import SendGridMailer
from persistence import touches as touch_store
from persistence.models import OutboxEmail
from tests.support.harness import DAY, eventually, make_cadence, running_worker
from tests.support.sendgrid_standin import SendGridStandIn

pytestmark = pytest.mark.asyncio

KEY = "SG.test-key"
SECRET = "test-secret"
RETRY_WINDOW = timedelta(seconds=30)  # covers the activity's 2 s, 4 s, ... retry backoff


@pytest.fixture
def standin():
    with SendGridStandIn(api_key=KEY) as s:
        yield s


@pytest.fixture
def mailer(standin):
    return SendGridMailer(KEY, host=standin.url)


def touch(h, handle, step_id):
    return next((t for t in h.touches(handle) if t.step_id == step_id), None)


async def touch_with_status(h, handle, step_id, *statuses):
    return await eventually(lambda: (t := touch(h, handle, step_id)) is not None and t.status in statuses and t)


def outbox_rows(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(OutboxEmail))


def for_touch(bodies, touch_id):
    return [b for b in bodies if isinstance(b, dict) and (b.get("custom_args") or {}).get("touch_id") == touch_id]


def assert_request_shape(body: dict, *, lead_id: str, touch_id: str, email: str, subject: str) -> None:
    """What every cadence email must carry (SPEC 3.3), sent or outboxed."""
    assert body["personalizations"][0]["to"][0]["email"] == email
    assert body["subject"] == subject
    assert body["from"]["email"] == "sales@example.com"
    assert body["custom_args"] == {"lead_id": lead_id, "touch_id": touch_id}

    reply_to = body["reply_to"]["email"]
    assert reply_to.startswith("reply+") and reply_to.endswith("@reply.cadence.test"), reply_to
    token = reply_to.removeprefix("reply+").removesuffix("@reply.cadence.test")
    assert tokens.verify("reply", token, SECRET) == lead_id

    headers = body["headers"]
    unsubscribe = headers["List-Unsubscribe"]
    assert unsubscribe.startswith("<http://cadence.test/unsubscribe/") and unsubscribe.endswith(">"), unsubscribe
    url = unsubscribe[1:-1]
    assert tokens.verify("unsubscribe", url.rsplit("/", 1)[1], SECRET) == lead_id
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    content = {c["type"]: c["value"] for c in body["content"]}
    assert body["content"][0]["type"] == "text/plain"
    assert set(content) == {"text/plain", "text/html"}
    assert url in content["text/plain"]
    assert f'href="{url}"' in content["text/html"]
    assert "Hello Ada, touch 1." in content["text/plain"]
    assert "Hello Ada, touch 1." in content["text/html"]


async def test_sent_request_carries_everything_and_the_touch_records_the_message_id(
        time_env, sqlite_db, standin, mailer):
    async with running_worker(time_env.client, sqlite_db, mailer=mailer) as h:
        handle = await h.start(make_cadence())
        lead_id = h.lead_id(handle)
        lead_email = h.lead(handle).email
        sent = await touch_with_status(h, handle, "s1", "sent", "failed")
        assert sent.status == "sent", sent.detail

        assert len(standin.requests) == 1 and len(standin.accepted) == 1
        request = standin.requests[0]
        assert request["path"] == "/v3/mail/send" and request["status"] == 202
        assert request["headers"]["Authorization"] == f"Bearer {KEY}"
        body = standin.accepted[0]
        assert_request_shape(body, lead_id=lead_id, touch_id=sent.id, email=lead_email, subject="Touch 1 for Ada")
        assert body["personalizations"][0]["to"][0].get("name") == "Ada Lovelace"

        assert sent.subject == "Touch 1 for Ada" and sent.channel == "email" and sent.step == 1
        assert sent.message_id  # the exact X-Message-Id: see the next test
        assert sent.at is not None
        assert outbox_rows(sqlite_db) == 0


async def test_sent_message_id_is_the_x_message_id_sendgrid_answered(time_env, sqlite_db, standin):
    """The stand-in makes up a fresh X-Message-Id per request; capture what the client got back."""
    answered: list[str | None] = []
    real = SendGridMailer(KEY, host=standin.url)

    class Recording:
        def send(self, request):
            message_id = real.send(request)
            answered.append(message_id)
            return message_id

    async with running_worker(time_env.client, sqlite_db, mailer=Recording()) as h:
        handle = await h.start(make_cadence())
        sent = await touch_with_status(h, handle, "s1", "sent", "failed")
        assert sent.status == "sent"
        assert len(answered) == 1 and answered[0]
        assert sent.message_id == answered[0]


@pytest.mark.parametrize("status,count", [(429, 1), (500, 2)])
async def test_temporary_errors_are_retried_until_sent_once(time_env, sqlite_db, standin, mailer, status, count):
    standin.fail_next(status, count)
    async with running_worker(time_env.client, sqlite_db, mailer=mailer) as h:
        handle = await h.start(make_cadence())
        await eventually(lambda: len(standin.requests) >= 1)
        deferred = await touch_with_status(h, handle, "s1", "deferred", "sent")
        assert deferred.status == "deferred" and str(status) in deferred.detail
        await time_env.sleep(RETRY_WINDOW)
        sent = await touch_with_status(h, handle, "s1", "sent", "failed")
        assert sent.status == "sent", sent.detail
        assert [r["status"] for r in standin.requests] == [status] * count + [202]
        assert len(standin.accepted) == 1
        assert len(for_touch(standin.accepted, sent.id)) == 1
        assert sent.message_id
        assert outbox_rows(sqlite_db) == 0


async def test_rejected_email_fails_the_touch_and_the_cadence_goes_on(time_env, sqlite_db, standin, mailer):
    standin.fail_next(400)
    async with running_worker(time_env.client, sqlite_db, mailer=mailer) as h:
        handle = await h.start(make_cadence())
        failed = await touch_with_status(h, handle, "s1", "failed", "sent")
        assert failed.status == "failed"
        assert "400" in failed.detail and "Bad Request" in failed.detail, failed.detail
        assert len(standin.requests) == 1 and standin.accepted == []

        await time_env.sleep(DAY + timedelta(hours=1))
        second = await touch_with_status(h, handle, "s2", "sent", "failed")
        assert second.status == "sent", second.detail
        assert len(standin.accepted) == 1
        assert standin.accepted[0]["custom_args"]["touch_id"] == second.id
        assert standin.accepted[0]["subject"] == "Touch 2 for Ada"
        assert touch(h, handle, "s1").status == "failed"  # not retried into a second attempt
        assert len(standin.requests) == 2


async def test_worker_dying_after_sendgrid_accepted_does_not_send_twice_and_shows_the_outcome_unknown(time_env, sqlite_db, standin, mailer):
    calls: list[dict] = []

    class DiesAfterFirstAccept:
        def send(self, request):
            message_id = mailer.send(request)
            calls.append(request)
            if len(calls) == 1:
                raise RuntimeError("worker died after SendGrid accepted")
            return message_id

    async with running_worker(time_env.client, sqlite_db, mailer=DiesAfterFirstAccept()) as h:
        handle = await h.start(make_cadence())
        await eventually(lambda: len(standin.accepted) >= 1)
        await time_env.sleep(RETRY_WINDOW)
        # The retry finds the send recorded but not its answer: not sent again, and not guessed
        # either (at most once, with the unknown outcome visible).
        sent = await touch_with_status(h, handle, "s1", "unknown", "sent", "failed")
        assert sent.status == "unknown" and "may have been sent" in sent.detail, sent.detail
        assert len(for_touch(standin.accepted, sent.id)) == 1
        assert len(standin.accepted) == 1 and len(standin.requests) == 1
        assert len(calls) == 1  # the retry never called the mailer again
        # The workflow moved on past step 1 (one activity completion, not a stuck retry loop).
        state = await eventually(lambda: h.lead(handle).next_touch and h.lead(handle))
        assert state.next_touch["step_id"] == "s2"


async def test_without_a_mailer_the_email_goes_to_the_outbox(time_env, sqlite_db, standin):
    async with running_worker(time_env.client, sqlite_db, mailer=None) as h:
        handle = await h.start(make_cadence())
        lead_id = h.lead_id(handle)
        lead_email = h.lead(handle).email
        outboxed = await touch_with_status(h, handle, "s1", "outboxed", "sent", "failed")
        assert outboxed.status == "outboxed"
        rows = h.outbox(handle)
        assert len(rows) == 1
        row = rows[0]
        assert (row.touch_id, row.lead_id, row.to_email, row.subject) == \
            (outboxed.id, lead_id, lead_email, "Touch 1 for Ada")
        assert_request_shape(row.request, lead_id=lead_id, touch_id=outboxed.id, email=lead_email,
                             subject="Touch 1 for Ada")
        assert outboxed.message_id is None
        assert standin.requests == []


async def test_suppressed_address_gets_no_request(time_env, sqlite_db, standin, mailer):
    email = "Blocked@Example.com"
    with sqlite_db.session() as s:
        touch_store.suppress(s, email, "unsubscribed")
    async with running_worker(time_env.client, sqlite_db, mailer=mailer) as h:
        handle = await h.start(make_cadence(), email=email)
        suppressed = await touch_with_status(h, handle, "s1", "suppressed", "sent", "failed")
        assert suppressed.status == "suppressed"
        assert suppressed.subject == "Touch 1 for Ada"
        await time_env.sleep(2 * DAY)
        # Later email steps are skipped: the workflow blocked the email channel.
        later = await eventually(lambda: (t := touch(h, handle, "s2")) is not None and t)
        assert later.status in {"skipped", "suppressed"}
        assert standin.requests == []
        assert outbox_rows(sqlite_db) == 0


async def test_an_unsubscribe_between_two_attempts_stops_the_retried_send(time_env, sqlite_db, standin, mailer):
    standin.fail_next(429, 1)
    async with running_worker(time_env.client, sqlite_db, mailer=mailer) as h:
        handle = await h.start(make_cadence(), email="leaving@example.com")
        await touch_with_status(h, handle, "s1", "deferred")  # SendGrid said 429: a retry is scheduled
        with sqlite_db.session() as s:  # the one-click unsubscribe lands before the retry
            touch_store.suppress(s, "leaving@example.com", "unsubscribed")
        await time_env.sleep(RETRY_WINDOW)
        retried = await touch_with_status(h, handle, "s1", "suppressed", "sent")
        assert retried.status == "suppressed"
        assert [r["status"] for r in standin.requests] == [429]  # the retry never reached SendGrid
        assert standin.accepted == []
