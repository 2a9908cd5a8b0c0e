"""Sending capacity end to end on the time-skipping server: caps defer touches, never drop them."""
from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from persistence.models import Mailbox, MailboxSend, OutboxEmail, Touch
from tests.support.harness import DAY, SENDER, eventually, make_cadence, running_worker

WINDOW = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "09:00", "end": "17:00"}


def one_email_then_a_month() -> dict:
    return make_cadence("capped", steps=[
        {"id": "first", "channel": "email", "wait": "PT0S", "subject": "Hi", "body": "Hello"}] + [
        {"id": f"later-{i}", "channel": "sms" if i == 5 else "email", "wait": "P30D", "subject": "Hi",
         "body": "Hello"} for i in range(1, 6)], send_window=WINDOW)


@pytest.mark.slow
async def test_300_leads_on_a_mailbox_capped_at_100_a_day_go_out_over_three_days(time_env, sqlite_db):
    with sqlite_db.session() as s:
        s.add(Mailbox(email=SENDER.email, name=SENDER.name, daily_cap=100, ramp=[]))
    async with running_worker(time_env.client, sqlite_db) as h:
        cadence = one_email_then_a_month()
        handles = await asyncio.gather(*(h.start(cadence) for _ in range(300)))
        lead_ids = {h.lead_id(x) for x in handles}
        for _ in range(16):  # in steps: one long skip over 300 busy workflows outlasts the RPC deadline
            await time_env.sleep(DAY / 4)

        def firsts() -> list[Touch]:
            with sqlite_db.session() as s:
                return [t for t in s.scalars(select(Touch).where(Touch.step_id == "first"))
                        if t.lead_id in lead_ids]
        touches = await eventually(lambda: (lambda ts: ts if sum(t.status == "outboxed" for t in ts) == 300
                                            else None)(firsts()), timeout=60)
        per_day = Counter(t.at.date() for t in touches)
        assert sorted(per_day.values()) == [100, 100, 100], per_day
        assert all(9 <= t.at.hour < 17 for t in touches)  # every one inside the lead's window
        deferred = [t for t in touches if t.detail and "daily cap of 100 reached" in t.detail]
        assert len(deferred) == 200  # the rest say why they waited
        with sqlite_db.session() as s:
            outbox = s.scalars(select(OutboxEmail.touch_id).where(OutboxEmail.lead_id.in_(lead_ids))).all()
            assert len(outbox) == len(set(outbox)) == 300  # none lost, none twice
            assert s.scalar(select(func.count()).select_from(MailboxSend)) == 300
