"""The web UI: leads, a lead's timeline and the inbox render from the real API; a task completes from a form."""
from __future__ import annotations

import pytest

from tests.support.harness import eventually
from tests.test_api_e2e import FAST, dev_server, lead_body, live  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]


async def test_the_inbox_lists_work_and_a_task_completes_from_its_form(live):
    assert (await live.post("/cadences", json=FAST)).status_code == 201
    lead = (await live.post("/leads", json=lead_body(cadence="fast-test", first_name="<b>Grace</b>"))).json()

    async def open_task():
        tasks = (await live.get("/tasks", params={"lead_id": lead["id"], "status": "open"})).json()["data"]
        return tasks or None
    task = (await eventually(open_task, timeout=10))[0]
    home = await live.get("/", follow_redirects=True)
    assert home.status_code == 200 and "Inbox" in home.text and "MQL 1" in home.text
    assert "&lt;b&gt;Grace&lt;/b&gt;" in home.text and "<b>Grace</b>" not in home.text  # escaped
    assert f'/ui/tasks/{task["id"]}/complete' in home.text and "Call &lt;b&gt;Grace&lt;/b&gt;" in home.text
    r = await live.post(f"/ui/tasks/{task['id']}/complete", data={"outcome": "no_answer", "notes": "rang",
                                                                  "back": f"/ui/leads/{lead['id']}"})
    assert r.status_code == 303 and r.headers["location"] == f"/ui/leads/{lead['id']}"
    done = (await live.get("/tasks", params={"lead_id": lead["id"]})).json()["data"][0]
    assert (done["status"], done["outcome"], done["notes"]) == ("done", "no_answer", "rang")
    bad = await live.post(f"/ui/tasks/{task['id']}/complete", data={"outcome": "shrug"})
    assert bad.status_code == 422


async def test_a_lead_page_shows_its_timeline(live):
    lead = (await live.post("/leads", json=lead_body())).json()

    async def emailed():
        return (await live.get(f"/leads/{lead['id']}")).json()["touches"] or None
    [first, *_] = await eventually(emailed, timeout=10)
    await live.post(f"/leads/{lead['id']}/signals/reply", json={"intent": "neutral", "text": "What does it cost?"})

    async def page_with_reply():
        page = await live.get(f"/ui/leads/{lead['id']}")
        return page if "What does it cost?" in page.text else None
    page = await eventually(page_with_reply, timeout=10)
    assert first["subject"] in page.text and "in process" in page.text
    assert (await live.get("/ui/leads/nobody")).status_code == 404
    assert (await live.get("/ui", params={"stage": "in_process"})).status_code == 200
