"""Mailboxes through HTTP: caps defer a touch visibly, and the use and forecast are shown."""
from __future__ import annotations

import pytest

from tests.support.harness import eventually
from tests.test_api_e2e import dev_server, lead_body, live  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]


async def test_a_touch_over_the_cap_is_deferred_with_its_reason_and_the_use_is_shown(live):
    r = await live.post("/mailboxes", json={"email": "Sales@Cadence.local", "name": "Sales", "daily_cap": 1,
                                            "ramp": [1, 5]})
    assert r.status_code == 201, r.text
    assert r.json()["today"] == {"cap": 1, "sent": 0, "sent_this_hour": 0}
    first = (await live.post("/leads", json=lead_body())).json()
    second = (await live.post("/leads", json=lead_body())).json()

    async def first_touch(lead_id):
        touches = (await live.get(f"/leads/{lead_id}")).json()["touches"]
        return touches[0] if touches and touches[0]["status"] in ("outboxed", "deferred") else None
    statuses = sorted([(await eventually(lambda: first_touch(first["id"]), timeout=10))["status"],
                       (await eventually(lambda: first_touch(second["id"]), timeout=10))["status"]])
    assert statuses == ["deferred", "outboxed"]
    deferred = [t for t in [await first_touch(first["id"]), await first_touch(second["id"])]
                if t["status"] == "deferred"][0]
    assert "daily cap of 1 reached on sales@cadence.local" in deferred["detail"]
    [mailbox] = (await live.get("/mailboxes")).json()
    assert mailbox["today"]["sent"] == 1 and mailbox["forecast"][0]["cap"] == 1
    outbox = (await live.get("/outbox")).json()
    assert [o["request"]["from"]["email"] for o in outbox] == ["sales@cadence.local"]


async def test_bad_mailbox_requests(live):
    r = await live.post("/mailboxes", json={"email": "x@example.com", "daily_cap": 0, "ramp": [5, -1]})
    assert r.status_code == 422
    assert {tuple(e["loc"][1:]) for e in r.json()["detail"]} == {("daily_cap",), ("ramp", 1)}
    assert (await live.post("/mailboxes", json={"email": "not-an-address"})).status_code == 422
    assert (await live.post("/mailboxes", json={"email": "x@example.com"})).status_code == 201
    assert (await live.post("/mailboxes", json={"email": "x@example.com"})).status_code == 409
    assert (await live.get("/mailboxes/nobody@example.com")).status_code == 404
    r = await live.patch("/mailboxes/x@example.com", json={"hourly_cap": 10, "ramp": []})
    assert r.status_code == 200 and r.json()["hourly_cap"] == 10


async def test_a_rep_owned_lead_is_emailed_from_the_reps_mailbox(live):
    assert (await live.post("/reps", json={"id": "sam", "name": "Sam Seller", "email": "sam@example.com"})
            ).status_code == 201
    assert (await live.post("/mailboxes", json={"email": "sam@example.com", "name": "Sam Seller",
                                                "daily_cap": 50})).status_code == 201
    lead = (await live.post("/leads", json=lead_body(owner="sam"))).json()

    async def sent():
        outbox = (await live.get("/outbox", params={"lead_id": lead["id"]})).json()
        return outbox or None
    [email] = await eventually(sent, timeout=10)
    assert email["request"]["from"] == {"email": "sam@example.com", "name": "Sam Seller"}
    assert "Sam Seller" in email["request"]["content"][0]["value"]  # signed by the sender it comes from
    assert (await live.get("/mailboxes/sam@example.com")).json()["today"]["sent"] == 1
