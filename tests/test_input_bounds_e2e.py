"""Bad input through HTTP: a 422 naming the field, fast, and nothing written."""
from __future__ import annotations

import time

import pytest

from tests.support.harness import eventually
from tests.test_api_e2e import FAST, dev_server, lead_body, live  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]


def cadence(name: str, **step_over) -> dict:
    steps = [dict(s) for s in FAST["steps"]]
    steps[2].update(step_over)
    return {**FAST, "name": name, "steps": steps}


def locs(response) -> list[list]:
    return [e["loc"] for e in response.json()["detail"]]


@pytest.mark.parametrize("body", [
    "{{ 9**9**9 }}", "{{ 'x' * 50000000 }}", "{% for i in range(1000000000) %}x{% endfor %}",
    "{{ ''.__class__ }}", "{{ first_name | center(999999999) }}",
])
async def test_a_template_bomb_is_a_fast_422_on_its_field(live, body):
    started = time.monotonic()
    r = await live.post("/cadences", json=cadence("bomb", body=body))
    assert time.monotonic() - started < 1
    assert r.status_code == 422, r.text
    assert locs(r) == [["body", "steps", "2", "body"]]
    assert (await live.get("/cadences/bomb")).status_code == 404


async def test_every_bound_of_a_new_version_is_listed_with_its_field(live):
    definition = cadence("rank-a", wait="P400D", subject="{% set x = 1 %}", id="x" * 65)
    definition["steps"][1]["variants"] = [{"id": f"v{i}", "body": "b"} for i in range(11)]
    r = await live.put("/cadences/rank-a", json=definition)
    assert r.status_code == 422, r.text
    assert locs(r) == [["body", "steps", "1", "variants"], ["body", "steps", "2", "id"],
                       ["body", "steps", "2", "wait"], ["body", "steps", "2", "subject"]]
    assert (await live.get("/cadences/rank-a")).json()["version"] == 1
    r = await live.post("/cadences", json={**FAST, "name": "n" * 101})
    assert r.status_code == 422 and locs(r) == [["body", "name"]]


async def test_oversized_lead_and_signal_fields_are_a_422_naming_them(live):
    email = "bounds@example.com"
    r = await live.post("/leads", json=lead_body(email=email, custom={"notes": "n" * 20_000}))
    assert r.status_code == 422 and locs(r) == [["body", "custom"]]
    r = await live.post("/leads", json=lead_body(email=email, source="s" * 65))
    assert r.status_code == 422 and locs(r) == [["body", "source"]]
    assert all(row["email"] != email for row in (await live.get("/leads")).json()["data"])
    lead = (await live.post("/leads", json=lead_body(source="target_list"))).json()
    r = await live.post(f"/leads/{lead['id']}/signals/reply", json={"event_id": "e" * 101, "intent": "neutral"})
    assert r.status_code == 422 and locs(r) == [["body", "event_id"]]
    r = await live.post(f"/leads/{lead['id']}/signals/contact_updated", json={"phone": "1" * 30})
    assert r.status_code == 422 and locs(r) == [["body", "phone"]]


async def test_mailbox_caps_stay_sensible_through_create_and_update(live):
    r = await live.post("/mailboxes", json={"email": "cap@example.com", "daily_cap": 10, "hourly_cap": 20})
    assert r.status_code == 422 and locs(r) == [["body", "hourly_cap"]]
    r = await live.post("/mailboxes", json={"email": "cap@example.com", "daily_cap": 10_000_000})
    assert r.status_code == 422 and locs(r) == [["body", "daily_cap"]]
    assert (await live.post("/mailboxes", json={"email": "cap@example.com", "daily_cap": 100,
                                                "hourly_cap": 20})).status_code == 201
    r = await live.patch("/mailboxes/cap@example.com", json={"hourly_cap": 101})
    assert r.status_code == 422 and locs(r) == [["body", "hourly_cap"]]
    r = await live.patch("/mailboxes/cap@example.com", json={"daily_cap": 19})
    assert r.status_code == 422 and locs(r) == [["body", "daily_cap"]]
    mailbox = (await live.get("/mailboxes/cap@example.com")).json()
    assert (mailbox["daily_cap"], mailbox["hourly_cap"]) == (100, 20)
    assert (await live.patch("/mailboxes/cap@example.com", json={"daily_cap": 20})).status_code == 200


async def test_preview_shows_what_the_send_renders_with_custom_defaults(live):
    definition = cadence("custom-fields")
    call, first = definition["steps"][:2]  # the email first: a call task would hold the cadence
    definition["steps"][:2] = [dict(first, wait="PT0S"), call]
    definition["steps"][0].update(subject="For {{ custom.plan | default('your plan') }}{{ custom.missing }}",
                                  body="Seats: [{{ custom.seats }}]")
    assert (await live.post("/cadences", json=definition)).status_code == 201, definition
    lead = (await live.post("/leads", json=lead_body(cadence="custom-fields", custom={"seats": 12}))).json()

    async def sent():
        return (await live.get("/outbox", params={"lead_id": lead["id"]})).json() or None
    [email] = await eventually(sent, timeout=15)
    assert email["subject"] == "For your plan"
    assert "Seats: [12]" in email["request"]["content"][0]["value"]
    preview = (await live.post("/cadences/custom-fields/preview", json={"lead_id": lead["id"]})).json()
    step = preview["steps"][0]
    assert (step["subject"], step["body"], step["warnings"]) == ("For your plan", "Seats: [12]", [])
    sample = (await live.post("/cadences/custom-fields/preview", json={})).json()["steps"][0]
    assert (sample["subject"], sample["body"]) == ("For your plan", "Seats: []")
