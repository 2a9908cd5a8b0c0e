"""The report queries over a read model written row by row, on both databases: per step, first touch, tasks on time."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from persistence import reports
from persistence.models import CadenceVersion, Lead, LeadEventRecord, Task, TaskEscalation, Touch

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
STEPS = [{"id": "intro", "channel": "email"}, {"id": "call", "channel": "call"}, {"id": "bump", "channel": "email"}]


def lead(s, n: int, rank: str = "A", created: datetime = T0, cadence: str = "c") -> str:
    s.add(Lead(id=f"L{n}", email=f"l{n}@example.com", timezone="UTC", source="form_fill", rank=rank,
               cadence_name=cadence, cadence_version=1, workflow_id=f"lead-L{n}", created_at=created, custom={}))
    return f"L{n}"


def touch(s, lead_id: str, step_id: str, at: datetime | None, status: str = "outboxed", delivery=None,
          channel: str = "email", variant=None) -> None:
    s.add(Touch(id=f"{lead_id}-0-{step_id}", lead_id=lead_id, step=1, step_id=step_id, channel=channel,
                status=status, at=at, delivery=delivery, variant=variant))


def event(s, lead_id: str, at: datetime, type_: str = "reply", **data) -> None:
    s.add(LeadEventRecord(lead_id=lead_id, event_id=f"{lead_id}-{type_}-{at.timestamp()}", type=type_, at=at,
                          data=data))


def test_each_step_counts_its_touches_and_the_answers_after_it(any_db):
    with any_db.session() as s:
        s.add(CadenceVersion(name="c", version=1, definition={"steps": [*STEPS, {"id": "gone", "channel": "sms"}]}))
        s.add(CadenceVersion(name="c", version=2, definition={"steps": STEPS}))
        a, b, c, d = (lead(s, n) for n in range(4))
        s.flush()
        for n, who in enumerate((a, b, c, d)):
            touch(s, who, "intro", T0, delivery="bounced" if who == d else "delivered")
        touch(s, a, "call", T0 + timedelta(hours=1), status="done", channel="call")
        touch(s, b, "call", T0 + timedelta(hours=1), status="missed", channel="call")  # not performed
        touch(s, a, "bump", T0 + timedelta(days=2))
        event(s, a, T0 + timedelta(days=3), intent="positive")  # after "bump": credited to it only
        event(s, b, T0 + timedelta(minutes=5), intent="neutral")
        event(s, b, T0 + timedelta(minutes=6), intent="negative")  # the same touch replied once
        event(s, c, T0 + timedelta(minutes=9), intent="out_of_office")  # not a person
        event(s, c, T0 + timedelta(minutes=10), "unsubscribe")
        event(s, d, T0 - timedelta(minutes=1), intent="positive")  # before any touch: nobody's
    with any_db.session() as s:
        rows = reports.cadence_steps(s, "c")
    assert [(r["step"], r["step_id"], r["channel"]) for r in rows] == [
        (1, "intro", "email"), (2, "call", "call"), (3, "bump", "email"), (4, "gone", "sms")]
    intro, call, bump, gone = rows
    assert {k: intro[k] for k in ("sent", "delivered", "bounced", "replied", "positive", "unsubscribed")} == {
        "sent": 4, "delivered": 3, "bounced": 1, "replied": 1, "positive": 0, "unsubscribed": 1}
    assert (intro["delivered_rate"], intro["replied_rate"], intro["bounced_rate"]) == (0.75, 0.25, 0.25)
    assert (call["sent"], call["replied"]) == (1, 0)
    assert (bump["sent"], bump["replied"], bump["positive"], bump["positive_rate"]) == (1, 1, 1, 1.0)
    assert gone["sent"] == 0 and gone["replied_rate"] is None
    with any_db.session() as s:
        later = reports.cadence_steps(s, "c", since=T0 + timedelta(days=1))
    assert [r["sent"] for r in later] == [0, 0, 1, 0]


def test_first_touch_per_rank_median_and_p90(any_db):
    with any_db.session() as s:
        for n, minutes in enumerate([1, 2, 3, 4, 5, 6, 7, 8, 9, 100]):
            who = lead(s, n, "A")
            s.flush()
            touch(s, who, "intro", T0 + timedelta(minutes=minutes))
            touch(s, who, "call", T0 + timedelta(minutes=minutes + 1), status="done", channel="call")
        waiting = lead(s, 20, "B")
        s.flush()
        touch(s, waiting, "intro", None, status="deferred")
        old = lead(s, 21, "B", created=T0 - timedelta(days=40))
        s.flush()
        touch(s, old, "intro", T0 - timedelta(days=39))
    with any_db.session() as s:
        ranks = {r["rank"]: r for r in reports.first_touch(s)}
        recent = {r["rank"]: r for r in reports.first_touch(s, since=T0 - timedelta(days=1))}
    assert ranks["A"] == {"rank": "A", "leads": 10, "touched": 10, "waiting": 0, "median_seconds": 330.0,
                          "p90_seconds": 540.0}
    assert (ranks["B"]["leads"], ranks["B"]["waiting"], ranks["B"]["median_seconds"]) == (2, 1, 86400.0)
    assert (recent["B"]["leads"], recent["B"]["waiting"], recent["B"]["median_seconds"]) == (1, 1, None)


def test_tasks_on_time_late_missed_and_open_per_rep(any_db):
    now = T0 + timedelta(days=5)
    with any_db.session() as s:
        who = lead(s, 1)
        s.flush()

        def task(n, owner, status, *, kind="step", channel="call", due=T0, done=None):
            s.add(Task(id=f"t{n}", lead_id=who, channel=channel, kind=kind, owner=owner, status=status,
                       due_at=due, completed_at=done))
        task(1, "ana", "done", done=T0 + timedelta(minutes=30))
        task(2, "ben", "done", done=T0 + timedelta(hours=9))  # escalated from ana to ben: late for ana
        task(3, "ana", "missed")
        task(4, "ana", "open")
        task(5, "ben", "open")  # escalated from ana, still open
        task(6, "ben", "done", kind="follow_up", channel="task", done=T0 + timedelta(days=2))  # past P1D
        task(7, "ben", "skipped", kind="hand_off", channel="task", done=T0 + timedelta(hours=2))
        task(8, None, "open", kind="follow_up", channel="task", due=now - timedelta(hours=1))  # not yet late
        task(9, "ana", "done", due=T0 - timedelta(days=30), done=T0 - timedelta(days=30))
        s.flush()
        s.add(TaskEscalation(task_id="t2", from_owner="ana", to_owner="ben", at=T0 + timedelta(hours=4)))
        s.add(TaskEscalation(task_id="t5", from_owner="ana", to_owner="ben", at=T0 + timedelta(hours=4)))
    with any_db.session() as s:
        reps = {r["owner"]: r for r in reports.task_timeliness(s, since=T0 - timedelta(days=1), now=now)}
    assert reps["ana"] == {"owner": "ana", "on_time": 1, "late": 1, "missed": 1, "open": 2, "open_overdue": 1,
                           "total": 5, "on_time_rate": round(1 / 3, 4)}
    assert {k: reps["ben"][k] for k in ("on_time", "late", "open", "total")} == {
        "on_time": 1, "late": 1, "open": 0, "total": 2}
    assert (reps[None]["open"], reps[None]["open_overdue"], reps[None]["on_time_rate"]) == (1, 0, None)


def test_the_funnel_of_a_period(any_db):
    with any_db.session() as s:
        lead(s, 1, created=T0)
        lead(s, 2, created=T0 - timedelta(days=10))
    with any_db.session() as s:
        assert reports.funnel(s)["leads"] == 2
        assert reports.funnel(s, since=T0 - timedelta(days=1))["leads"] == 1
        assert reports.funnel(s, until=T0)["leads"] == 1
