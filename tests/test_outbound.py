"""The outbox of outbound webhooks on both databases: an event exists exactly when the change it
reports was committed, once, for the endpoints that take it, and its deliveries are handed to the
process's starter after the commit (never before, never for a rollback)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from persistence import leads as lead_store
from persistence import outbound
from persistence import touches as store
from persistence.models import Task, WebhookDelivery, WebhookEndpoint, WebhookEvent, utcnow
from privacy.keys import KeyRing

RING = KeyRing({"k1": b"k" * 32})


def endpoint(session, events, status="active", **extra) -> WebhookEndpoint:
    row = WebhookEndpoint(id=outbound.new_id("ep"), url="https://crm.example.com/hooks", events=events,
                          status=status, include_reply_text=False, **extra)
    outbound.seal_secret(RING, row, "whsec_" + "A" * 43)
    session.add(row)
    return row


def lead(session, email="ada@example.com"):
    return lead_store.add(session, id=lead_store.new_lead_id(), workflow_id="lead-x", email=email,
                          source="form_fill", rank="A", cadence_name="rank-a", cadence_version=1, timezone="UTC",
                          custom={})


def events(db, type_=None) -> list[WebhookEvent]:
    with db.session() as s:
        query = select(WebhookEvent).order_by(WebhookEvent.created_at)
        return list(s.scalars(query.where(WebhookEvent.type == type_) if type_ else query))


def deliveries(db) -> list[WebhookDelivery]:
    with db.session() as s:
        return list(s.scalars(select(WebhookDelivery)))


@pytest.fixture
def started(any_db):
    """What the starter of this process was handed, commit by commit."""
    handed: list[list[str]] = []
    detach = outbound.start_after_commit(any_db, handed.append)
    yield handed
    detach()


def test_nobody_listening_writes_nothing(any_db, started):
    with any_db.session() as s:
        row = lead(s)
        store.record_event_once(s, row.id, "m-1", "reply", utcnow(), {"intent": "positive"})
    assert events(any_db) == [] and started == []


def test_an_event_commits_with_its_change_and_its_deliveries_start_after(any_db, started):
    with any_db.session() as s:
        crm = endpoint(s, ["lead.created", "reply.received"])
        endpoint(s, ["touch.sent"])  # takes neither
    with any_db.session() as s:
        row = lead(s)
        assert started == []  # nothing before the commit
    (created,) = events(any_db, "lead.created")
    assert created.data["email"] == "ada@example.com" and created.data["lead_id"] == row.id
    assert [d.endpoint_id for d in deliveries(any_db)] == [crm.id]
    assert started == [[deliveries(any_db)[0].id]]

    with pytest.raises(RuntimeError), any_db.session() as s:  # the change is rolled back: no event
        store.record_event_once(s, row.id, "m-1", "reply", utcnow(), {"intent": "positive", "text": "yes"})
        raise RuntimeError("the activity failed after writing")
    assert events(any_db, "reply.received") == [] and len(started) == 1

    for _ in range(2):  # a retried activity: the reply is recorded once, so reported once
        with any_db.session() as s:
            store.record_event_once(s, row.id, "m-1", "reply", utcnow(), {"intent": "positive", "text": "yes"})
    (reply,) = events(any_db, "reply.received")
    assert reply.data == {"lead_id": row.id, "event_id": "m-1", "intent": "positive", "channel": None}
    assert "text" not in reply.data  # the text stays on the timeline; it is read only for endpoints that opt in


def test_stage_changes_are_reported_once_and_never_from_a_stale_write(any_db, started):
    with any_db.session() as s:
        endpoint(s, ["lead.stage_changed"])
        lead_id = lead(s).id
    at = utcnow()
    for revision, stage in ((1, "new"), (2, "in_process"), (2, "in_process"), (1, "qualified"), (3, "qualified")):
        with any_db.session() as s:
            s.get(store.Lead, lead_id)  # as record_state reads it
            store.write_lead_state(s, lead_id, revision, {"stage": stage, "stage_reason": "r", "level": "mql",
                                                          "stage_changed_at": at})
    changes = [(e.data["from"], e.data["to"]) for e in events(any_db, "lead.stage_changed")]
    assert changes == [("new", "in_process"), ("in_process", "qualified")]


def test_touches_and_tasks(any_db, started):
    with any_db.session() as s:
        endpoint(s, ["touch.sent", "touch.failed", "task.created", "task.completed"])
        lead_id = lead(s).id
    now = utcnow()
    values = dict(lead_id=lead_id, step=1, step_id="e1", channel="email")
    with any_db.session() as s:
        store.upsert_touch(s, "t-1", status="deferred", at=None, **values)
    with any_db.session() as s:
        store.upsert_touch(s, "t-1", status="sending", at=None, **values)
    with any_db.session() as s:
        store.upsert_touch(s, "t-1", status="sent", at=now)
        store.upsert_touch(s, "t-1", status="sent", at=now)  # written twice: one event
        store.upsert_touch(s, "t-2", status="failed", at=now, **{**values, "step": 2, "step_id": "e2"})
    sent, failed = events(any_db, "touch.sent"), events(any_db, "touch.failed")
    assert [(e.data["touch_id"], e.data["status"], e.data["step"]) for e in sent] == [("t-1", "sent", 1)]
    assert [e.data["touch_id"] for e in failed] == ["t-2"] and "detail" not in failed[0].data

    with any_db.session() as s:
        store.add_task_once(s, Task(id="k-1", lead_id=lead_id, channel="call", kind="step", owner="ana",
                            status="open", due_at=now, created_at=now))
        store.add_task_once(s, Task(id="k-1", lead_id=lead_id, channel="call", kind="step", status="open", due_at=now))
    with any_db.session() as s:
        store.close_task(s, "k-1", "done", now, "no_answer", None)
        store.close_task(s, "k-1", "done", now, "no_answer", None)  # a retry
    (created,) = events(any_db, "task.created")
    (completed,) = events(any_db, "task.completed")
    assert created.data["owner"] == "ana" and created.data["due_at"] == now.isoformat()
    assert (completed.data["status"], completed.data["outcome"]) == ("done", "no_answer")


def test_a_paused_endpoint_holds_its_deliveries_and_resuming_starts_them(any_db, started):
    with any_db.session() as s:
        paused = endpoint(s, ["lead.unsubscribed"], status="paused")
        lead(s, "grace@example.com")
    with any_db.session() as s:
        store.suppress(s, "grace@example.com", "unsubscribed")
        store.suppress(s, "grace@example.com", "unsubscribed")  # suppressed already: nothing new
    (unsubscribed,) = events(any_db, "lead.unsubscribed")
    assert unsubscribed.data["email"] == "grace@example.com" and unsubscribed.data["reason"] == "unsubscribed"
    assert [d.status for d in deliveries(any_db)] == ["held"] and started == []
    with any_db.session() as s:
        assert outbound.release_held(s, paused.id) == 1
    assert [d.status for d in deliveries(any_db)] == ["pending"] and started == [[deliveries(any_db)[0].id]]


def test_a_withdrawn_event_and_an_erased_lead_leave_nothing(any_db, started):
    with any_db.session() as s:
        endpoint(s, ["lead.created", "task.completed"])
        row = lead(s)
        task = store.add_task_once(s, Task(id="k-9", lead_id=row.id, channel="task", kind="follow_up",
                                           status="done", due_at=utcnow(), completed_at=utcnow()))
        withdrawn = outbound.task_closed(s, task)
    with any_db.session() as s:
        outbound.withdraw(s, withdrawn)
    assert [e.type for e in events(any_db)] == ["lead.created"]
    with any_db.session() as s:
        assert outbound.forget_lead(s, row.id) == 1
    assert events(any_db) == [] and deliveries(any_db) == []


def test_the_sweep_finds_what_was_never_started_and_retention_removes_the_old(any_db):
    with any_db.session() as s:
        endpoint(s, ["lead.created"])
        lead(s)  # no starter in this process: its delivery waits for the sweep
    soon = datetime.now(timezone.utc) + timedelta(seconds=1)
    with any_db.session() as s:
        assert outbound.unstarted(s, soon) == [deliveries(any_db)[0].id]
        assert outbound.expire(s, soon) == 0  # pending: still to be delivered
        s.get(WebhookDelivery, deliveries(any_db)[0].id).status = "succeeded"
    with any_db.session() as s:
        assert outbound.expire(s, soon) == 1
        assert s.scalar(select(func.count()).select_from(WebhookEvent)) == 0


def test_the_signing_secret_is_sealed(any_db):
    with any_db.session() as s:
        row = endpoint(s, ["lead.created"])
    with any_db.session() as s:
        stored = s.get(WebhookEndpoint, row.id)
        assert "whsec_" not in stored.secret_sealed and stored.secret_key_id == "k1"
        assert outbound.open_secret(RING, stored) == "whsec_" + "A" * 43
