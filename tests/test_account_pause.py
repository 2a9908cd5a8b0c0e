"""Accounts (SPEC 2.7): a reply from one lead pauses its colleagues' running cadences."""
from __future__ import annotations

import uuid


from domain.accounts import account_domain, sender_is_lead_or_company
from tests.support.harness import DAY, eventually, make_cadence, running_worker



def test_the_account_is_the_company_domain_not_a_mailbox_provider():
    assert account_domain("Ada@Engines.example") == "engines.example"
    assert account_domain("ada@gmail.com") is None


def test_a_reply_is_verified_when_it_comes_from_the_lead_or_its_company():
    assert sender_is_lead_or_company("Ada@Engines.example", "ada@engines.example")
    assert sender_is_lead_or_company("ada@engines.example", "Charles@ENGINES.example")  # a colleague
    assert not sender_is_lead_or_company("ada@engines.example", "ada@engines.example.evil")
    assert not sender_is_lead_or_company("ada@engines.example", "mallory@elsewhere.example")
    assert sender_is_lead_or_company("ada@gmail.com", "ada@gmail.com")
    assert not sender_is_lead_or_company("ada@gmail.com", "someone@gmail.com")  # a provider is no company
    assert not sender_is_lead_or_company("ada@engines.example", None)
    assert not sender_is_lead_or_company("ada@engines.example", "engines.example")


async def test_a_reply_from_one_of_three_leads_pauses_the_other_two(time_env, sqlite_db):
    company = f"acme-{uuid.uuid4().hex[:6]}.example"
    async with running_worker(time_env.client, sqlite_db) as h:
        leads = [await h.start(make_cadence(), email=f"{name}@{company}") for name in ("ann", "bob", "cy")]
        outsider = await h.start(make_cadence(), email=f"dee-{uuid.uuid4().hex[:6]}@gmail.com")
        for handle in leads + [outsider]:
            await eventually(lambda: h.touches(handle))
        await h.signal(leads[0], "reply", intent="neutral", text="Who else is on this?")
        for colleague in leads[1:]:
            lead = await eventually(lambda: h.lead(colleague).status == "paused" and h.lead(colleague))
            assert lead.stage == "new"
            pause = [e for e in h.events(colleague) if e.type == "pause"][0]
            assert company in pause.data["notes"]
        await time_env.sleep(5 * DAY)
        assert [len(h.touches(c)) for c in leads[1:]] == [1, 1]  # no touch after the pause
        assert len(h.touches(outsider)) > 1 and h.lead(outsider).status == "active"


async def test_a_cadence_can_opt_out_of_account_pauses(time_env, sqlite_db):
    company = f"solo-{uuid.uuid4().hex[:6]}.example"
    async with running_worker(time_env.client, sqlite_db) as h:
        first = await h.start(make_cadence(pause_account=False), email=f"ann@{company}")
        second = await h.start(make_cadence(), email=f"bob@{company}")
        await eventually(lambda: h.touches(first) and h.touches(second))
        await h.signal(first, "reply", intent="negative")
        await eventually(lambda: h.lead(first).stage == "not_interested")
        await time_env.sleep(2 * DAY)
        assert h.lead(second).status == "active" and len(h.touches(second)) > 1


async def test_a_lead_on_an_opted_out_cadence_is_not_paused_by_a_colleague(time_env, sqlite_db):
    from persistence import cadences as cadence_store

    company = f"calm-{uuid.uuid4().hex[:6]}.example"
    quiet = make_cadence("no-account-pause", pause_account=False)
    with sqlite_db.session() as s:
        cadence_store.save_version(s, quiet.to_dict())
    async with running_worker(time_env.client, sqlite_db) as h:
        replier = await h.start(make_cadence(), email=f"ann@{company}")
        untouched = await h.start(quiet, email=f"bob@{company}")
        await eventually(lambda: h.touches(replier) and h.touches(untouched))
        await h.signal(replier, "reply", intent="neutral")
        await eventually(lambda: h.lead(replier).stage == "in_process")
        await time_env.sleep(2 * DAY)
        assert h.lead(untouched).status == "active" and len(h.touches(untouched)) > 1
