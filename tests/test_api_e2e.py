"""End to end through HTTP: the API, the worker and a real Temporal dev server."""
from __future__ import annotations

import uuid

import pytest

from tests.support.harness import eventually
from tests.support.live import (
    api_client, add_unstarted_lead, free_port, prepare_database, running_worker, serving_api, settings_for, start_dev_server,
)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]

FAST = {  # anytime steps seconds apart, so a real server runs the whole cadence in a test
    "name": "fast-test", "ranks": ["A"], "send_window": None, "business_days": False,
    "steps": [{"id": "call-1", "channel": "call", "wait": "PT0S", "instructions": "Call {{ first_name }}"}] + [
        {"id": f"mail-{i}", "channel": "email", "wait": "PT1S", "subject": f"Note {i} for {{{{ first_name }}}}",
         "body": "Hello {{ first_name }}"} for i in range(2, 7)],
}


@pytest.fixture(scope="module")
async def dev_server(tmp_path_factory):
    env = await start_dev_server(tmp_path_factory.mktemp("temporal") / "temporal.db", free_port())
    yield env
    await env.shutdown()


@pytest.fixture
async def live(dev_server, any_db):
    prepare_database(any_db)
    settings = settings_for(any_db, int(dev_server.client.service_client.config.target_host.rsplit(":", 1)[1]),
                            free_port(), f"e2e-{uuid.uuid4().hex[:8]}")
    async with running_worker(dev_server.client, settings, any_db):
        with serving_api(settings, any_db) as base_url:
            async with api_client(base_url) as http:
                yield http


def lead_body(**over):
    return {"email": f"{uuid.uuid4().hex[:10]}@example.com", "source": "form_fill", "first_name": "Grace",
            "last_name": "Hopper", "company": "Navy", "timezone": "America/New_York", "phone": "+14155550100",
            **over}


async def test_rank_a_lead_gets_its_first_email_within_seconds(live):
    r = await live.post("/leads", json=lead_body())
    assert r.status_code == 201, r.text
    lead = r.json()
    assert (lead["rank"], lead["stage"], lead["cadence"]["name"]) == ("A", "new", "rank-a")
    assert lead["workflow_id"] == f"lead-{lead['id']}"

    async def first_email():
        outbox = (await live.get("/outbox", params={"lead_id": lead["id"]})).json()
        return outbox or None
    outbox = await eventually(first_email, timeout=10)
    request = outbox[0]["request"]
    assert request["personalizations"][0]["to"][0]["email"] == lead["email"]
    assert request["custom_args"]["lead_id"] == lead["id"]
    assert "List-Unsubscribe" in request["headers"]
    detail = (await live.get(f"/leads/{lead['id']}")).json()
    assert detail["touches"][0]["status"] == "outboxed" and detail["touches"][0]["channel"] == "email"
    assert detail["touches"][0]["id"] == request["custom_args"]["touch_id"]
    async def second_step():
        nxt = (await live.get(f"/leads/{lead['id']}")).json()["next_touch"]
        return nxt if nxt and nxt["step"] == 2 else None
    nxt = await eventually(second_step, timeout=10)
    assert nxt["channel"] == "call" and nxt["step_id"] == "a-first-call"

    again = await live.post("/leads", json=lead_body(email=lead["email"].upper()))
    assert again.status_code == 200 and again.json()["id"] == lead["id"]


async def test_a_signal_changes_the_stage_and_an_ended_cadence_refuses_more(live):
    lead = (await live.post("/leads", json=lead_body(source="target_list"))).json()
    r = await live.post(f"/leads/{lead['id']}/signals/reply", json={"event_id": "m-1", "intent": "positive"})
    assert r.status_code == 202, r.text

    async def qualified():
        body = (await live.get(f"/leads/{lead['id']}")).json()
        return body if body["stage"] == "qualified" else None
    body = await eventually(qualified, timeout=10)
    assert (body["stage_reason"], body["level"], body["status"]) == ("positive_reply", "sql", "completed")
    assert [e["event_id"] for e in body["events"]] == ["m-1"] and body["events"][0]["intent"] == "positive"
    again = await live.post(f"/leads/{lead['id']}/signals/reply", json={"intent": "neutral"})
    assert again.status_code == 409 and again.json()["detail"]["stage"] == "qualified"


async def test_reply_text_is_classified_when_no_intent_is_given(live):
    lead = (await live.post("/leads", json=lead_body(source="event"))).json()
    r = await live.post(f"/leads/{lead['id']}/signals/reply", json={"text": "Please remove me from your list"})
    assert r.status_code == 202

    async def stage():
        body = (await live.get(f"/leads/{lead['id']}")).json()
        return body if body["stage"] != "new" else None
    body = await eventually(stage, timeout=10)
    assert (body["stage"], body["stage_reason"]) == ("not_interested", "unsubscribed")


@pytest.mark.parametrize("override, field", [
    ({"source": "carrier_pigeon"}, "source"),
    ({"email": "not-an-email"}, "email"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"cadence": "no-such-cadence"}, "cadence"),
    ({"phone": "12345"}, "phone"),
    ({"rank": "E"}, "rank"),
])
async def test_bad_input_is_a_422_naming_the_field(live, override, field):
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    r = await live.post("/leads", json=lead_body(email=email, **override) if "email" not in override
                        else lead_body(**override))
    assert r.status_code == 422, r.text
    assert any(err["loc"][-1] == field for err in r.json()["detail"]), r.json()
    listed = (await live.get("/leads")).json()
    assert all(row["email"] != email for row in listed["data"])  # nothing half-written


async def test_unknown_lead_and_unknown_signal(live):
    assert (await live.get("/leads/nope")).status_code == 404
    assert (await live.post("/leads/nope/signals/reply", json={"intent": "positive"})).status_code == 404
    lead = (await live.post("/leads", json=lead_body())).json()
    assert (await live.post(f"/leads/{lead['id']}/signals/dance", json={})).status_code == 404
    r = await live.post(f"/leads/{lead['id']}/signals/reply", json={"intent": "ecstatic"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "intent"


async def test_cadences_are_listed_and_invalid_ones_rejected_with_every_problem(live):
    names = {c["name"] for c in (await live.get("/cadences")).json()}
    assert {"rank-a", "rank-b", "rank-c", "rank-d", "nurture"} <= names
    bad = {"name": "bad", "steps": [{"id": "x", "channel": "fax", "wait": "-P1D"}]}
    r = await live.post("/cadences", json=bad)
    assert r.status_code == 422
    locs = {".".join(map(str, e["loc"][1:])) for e in r.json()["detail"]}
    assert {"steps", "steps.0.channel", "steps.0.wait"} <= locs


async def test_saving_a_cadence_unchanged_makes_no_new_version(live):
    """A retried PUT, or a save with nothing changed, answers the version it already is."""
    definition = {**FAST, "name": f"same-{uuid.uuid4().hex[:6]}"}
    created = await live.post("/cadences", json=definition)
    assert created.status_code == 201 and created.json()["version"] == 1, created.text
    again = await live.put(f"/cadences/{definition['name']}", json=definition)
    assert again.status_code == 200 and again.json()["version"] == 1
    audit = (await live.get("/audit", params={"target_id": definition["name"]})).json()["data"]
    assert [e["action"] for e in audit] == ["cadence.created"]
    changed = {**definition, "steps": [{**definition["steps"][0], "instructions": "Call"}, *definition["steps"][1:]]}
    assert (await live.put(f"/cadences/{definition['name']}", json=changed)).json()["version"] == 2


async def test_rep_completes_a_task_and_the_cadence_goes_on(live):
    assert (await live.post("/cadences", json=FAST)).status_code == 201
    lead = (await live.post("/leads", json=lead_body(cadence="fast-test"))).json()

    async def open_task():
        tasks = (await live.get("/tasks", params={"lead_id": lead["id"], "status": "open"})).json()["data"]
        return tasks or None
    task = (await eventually(open_task, timeout=10))[0]
    assert task["channel"] == "call" and task["instructions"] == "Call Grace"
    r = await live.post(f"/tasks/{task['id']}/complete", json={"outcome": "no_answer", "notes": "rang twice"})
    assert r.status_code == 200 and r.json()["status"] == "done"
    assert (await live.post(f"/tasks/{task['id']}/complete", json={"outcome": "done"})).status_code == 409
    bad = await live.post(f"/tasks/{task['id']}/complete", json={"outcome": "shrug"})
    assert bad.status_code == 422

    async def emails():
        outbox = (await live.get("/outbox", params={"lead_id": lead["id"]})).json()
        return outbox if len(outbox) >= 2 else None
    await eventually(emails, timeout=15)


async def test_a_hand_off_task_can_be_completed_after_the_cadence_ended(live):
    lead = (await live.post("/leads", json=lead_body())).json()
    r = await live.post(f"/leads/{lead['id']}/signals/meeting_booked", json={})
    assert r.status_code == 202

    async def hand_off():
        tasks = (await live.get("/tasks", params={"lead_id": lead["id"], "status": "open"})).json()["data"]
        return [t for t in tasks if t["kind"] == "hand_off"] or None
    task = (await eventually(hand_off, timeout=10))[0]

    async def ended():
        return (await live.get(f"/leads/{lead['id']}")).json()["status"] == "completed"
    await eventually(ended, timeout=10)
    r = await live.post(f"/tasks/{task['id']}/complete", json={"outcome": "done", "notes": "handed to AE"})
    assert r.status_code == 200 and r.json()["status"] == "done", r.text
    assert (await live.post(f"/tasks/{task['id']}/complete", json={"outcome": "done"})).status_code == 409


async def test_unsubscribe_link_one_click_stops_the_cadence_and_suppresses(live):
    lead = (await live.post("/leads", json=lead_body())).json()

    async def first_email():
        outbox = (await live.get("/outbox", params={"lead_id": lead["id"]})).json()
        return outbox or None
    request = (await eventually(first_email, timeout=10))[0]["request"]
    link = request["headers"]["List-Unsubscribe"].strip("<>")
    path = "/" + link.split("/", 3)[3]
    assert request["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    page = await live.get(path)
    assert page.status_code == 200 and lead["email"] in page.text
    assert (await live.get(path[:-3] + "xyz")).status_code == 404  # altered token
    done = await live.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200

    async def stage():
        body = (await live.get(f"/leads/{lead['id']}")).json()
        return body if body["stage"] == "not_interested" else None
    body = await eventually(stage, timeout=10)
    assert body["stage_reason"] == "unsubscribed"
    assert (await live.post(path)).status_code == 200  # a second click is harmless


async def test_simulate_matches_the_scheduler_across_a_weekend_and_dst(live):
    # Friday 2026-10-30 16:00 in New York; the US leaves DST on Sunday 2026-11-01.
    r = await live.post("/cadences/rank-d/simulate",
                        json={"start": "2026-10-30T20:00:00+00:00", "timezone": "America/New_York"})
    assert r.status_code == 200, r.text
    steps = r.json()["steps"]
    assert [s["id"] for s in steps][:2] == ["d-intro-email", "d-linkedin"]
    assert steps[0]["at"] == "2026-10-30T20:00:00+00:00"  # inside the window: at once
    assert steps[1]["local"] == "2026-11-04T16:00:00-05:00"  # P5D keeps the local wall clock across DST
    bad = await live.post("/cadences/rank-d/simulate", json={"start": "2026-10-30T20:00:00", "timezone": "X/Y"})
    assert bad.status_code == 422
    assert {e["loc"][-1] for e in bad.json()["detail"]} == {"start", "timezone"}


async def test_simulate_skips_a_national_and_a_custom_holiday(live):
    definition = {**FAST, "name": "holiday-test", "send_window": {"days": ["mon", "tue", "wed", "thu", "fri"]},
                  "business_days": True, "steps": [{**s, "wait": "PT0S" if i == 0 else "P1D"}
                                                   for i, s in enumerate(FAST["steps"])]}
    bad = await live.post("/cadences", json={**definition, "holidays": {"country": "XX", "dates": ["2026-11-31"]}})
    assert bad.status_code == 422
    assert [e["loc"] for e in bad.json()["detail"]] == [["body", "holidays", "country"],
                                                         ["body", "holidays", "dates", "0"]]
    calendar = {"country": "US", "dates": ["2026-11-24", "2026-11-25"]}
    assert (await live.post("/cadences", json={**definition, "holidays": calendar})).status_code == 201
    # Mon 2026-11-23 10:00 New York: 11-24 and 11-25 are custom, 11-26 is Thanksgiving.
    r = await live.post("/cadences/holiday-test/simulate",
                        json={"start": "2026-11-23T15:00:00+00:00", "timezone": "America/New_York"})
    assert r.status_code == 200, r.text
    days = [s["local"][:10] for s in r.json()["steps"]]
    assert days == ["2026-11-23", "2026-11-27", "2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03"]


async def test_preview_renders_every_step_for_a_given_lead(live):
    r = await live.post("/cadences/rank-a/preview", json={"lead": {"first_name": "Linus", "company": "Kernel"}})
    assert r.status_code == 200, r.text
    steps = r.json()["steps"]
    assert len(steps) == 8 and steps[0]["variant"] in ("a", "b") and "Linus" in steps[0]["body"]
    assert steps[1]["channel"] == "call" and "Linus" in steps[1]["instructions"]
    assert (await live.post("/cadences/nope/preview", json={})).status_code == 404


async def test_ranking_table_is_published(live):
    body = (await live.get("/ranking")).json()
    assert body["sources"]["form_fill"] == "A" and body["sources"]["target_list"] == "D"
    assert body["cadences"] == {"A": "rank-a", "B": "rank-b", "C": "rank-c", "D": "rank-d"}


async def test_an_event_before_the_workflow_runs_starts_it_and_is_not_lost(live, any_db):
    lead_id = add_unstarted_lead(any_db)
    r = await live.post(f"/leads/{lead_id}/signals/reply", json={"intent": "neutral", "event_id": "early"})
    assert r.status_code == 202, r.text

    async def in_process():
        body = (await live.get(f"/leads/{lead_id}")).json()
        return body if body["stage"] == "in_process" else None
    body = await eventually(in_process, timeout=10)
    assert [e["event_id"] for e in body["events"]] == ["early"]


async def test_a_rep_accepting_a_lead_makes_it_sales_accepted(live):
    lead = (await live.post("/leads", json=lead_body())).json()
    assert lead["level"] == "mql"
    r = await live.post(f"/leads/{lead['id']}/signals/accept", json={"owner": "sam@example.com"})
    assert r.status_code == 202, r.text

    async def accepted():
        body = (await live.get(f"/leads/{lead['id']}")).json()
        return body if body["level"] == "sal" else None
    body = await eventually(accepted, timeout=10)
    assert body["owner"] == "sam@example.com" and body["stage"] == "new"


async def test_qualification_answers_through_the_api(live):
    full = (await live.post("/leads", json=lead_body())).json()
    partial = (await live.post("/leads", json=lead_body())).json()
    all_yes = {"need": True, "budget": True, "authority": True, "timeline": True, "notes": "CFO signs"}
    assert (await live.post(f"/leads/{full['id']}/signals/qualify", json=all_yes)).status_code == 202
    assert (await live.post(f"/leads/{partial['id']}/signals/qualify", json={"need": True, "budget": False})
            ).status_code == 202

    async def stage_of(lead_id, stage):
        body = (await live.get(f"/leads/{lead_id}")).json()
        return body if body["stage"] == stage else None
    done = await eventually(lambda: stage_of(full["id"], "qualified"), timeout=10)
    assert (done["level"], done["stage_reason"]) == ("sql", "qualification_answers")
    half = await eventually(lambda: stage_of(partial["id"], "in_process"), timeout=10)
    assert (half["level"], half["stage_reason"]) == ("mql", "partially_qualified")
    bad = await live.post(f"/leads/{partial['id']}/signals/qualify", json={"need": "maybe"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "need"
    empty = await live.post(f"/leads/{partial['id']}/signals/qualify", json={"notes": "nothing asked"})
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"][-1] == "need"


async def test_an_out_of_office_reply_takes_its_return_date_from_the_text(live):
    from datetime import date, timedelta

    lead = (await live.post("/leads", json=lead_body(timezone="UTC"))).json()
    back = date.today() + timedelta(days=12)
    r = await live.post(f"/leads/{lead['id']}/signals/reply",
                        json={"intent": "out_of_office", "text": f"Away, back on {back.isoformat()}."})
    assert r.status_code == 202

    async def recorded():
        events = (await live.get(f"/leads/{lead['id']}")).json()["events"]
        return events or None
    [event] = await eventually(recorded, timeout=10)
    assert event["return_date"] == back.isoformat()
    r = await live.post("/leads", json=lead_body(source="somewhere", rank="A"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "source"  # a rank does not excuse it
