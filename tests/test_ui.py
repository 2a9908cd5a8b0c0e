"""The web UI: leads, a lead's timeline and the inbox render from the real API; a task completes from a form."""
from __future__ import annotations

import pytest

import re

from tests.support.harness import eventually
from tests.support.live import make_user, ui_login
from tests.test_api_e2e import FAST, dev_server, lead_body, live  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]


async def test_the_inbox_lists_work_and_a_task_completes_from_its_form(live):
    assert (await live.post("/cadences", json=FAST)).status_code == 201
    lead = (await live.post("/leads", json=lead_body(cadence="fast-test", first_name="<b>Grace</b>"))).json()

    async def open_task():
        tasks = (await live.get("/tasks", params={"lead_id": lead["id"], "status": "open"})).json()["data"]
        return tasks or None
    task = (await eventually(open_task, timeout=10))[0]
    browser = await ui_login(str(live.base_url), *await make_user(live, "ops"))
    home = await browser.get("/", follow_redirects=True)
    assert home.status_code == 200 and str(home.url).endswith("/ui") and "MQL 1" in home.text  # ops: the leads
    assert "&lt;b&gt;Grace&lt;/b&gt;" in home.text and "<b>Grace</b>" not in home.text  # escaped
    inbox = await browser.get("/ui/inbox")
    assert inbox.status_code == 200 and "Inbox" in inbox.text
    assert f'/ui/tasks/{task["id"]}/complete' in inbox.text and "Call &lt;b&gt;Grace&lt;/b&gt;" in inbox.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', inbox.text).group(1)
    forged = await browser.post(f"/ui/tasks/{task['id']}/complete", data={"outcome": "no_answer"})
    assert forged.status_code == 403 and "CSRF" in forged.text  # a form without the session's token
    r = await browser.post(f"/ui/tasks/{task['id']}/complete", data={"outcome": "no_answer", "notes": "rang",
                                                                     "back": f"/ui/leads/{lead['id']}",
                                                                     "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == f"/ui/leads/{lead['id']}"
    done = (await live.get("/tasks", params={"lead_id": lead["id"]})).json()["data"][0]
    assert (done["status"], done["outcome"], done["notes"]) == ("done", "no_answer", "rang")
    bad = await browser.post(f"/ui/tasks/{task['id']}/complete", data={"outcome": "shrug", "csrf_token": csrf})
    assert bad.status_code == 422


async def test_a_lead_page_shows_its_timeline(live):
    lead = (await live.post("/leads", json=lead_body())).json()

    async def emailed():
        return (await live.get(f"/leads/{lead['id']}")).json()["touches"] or None
    [first, *_] = await eventually(emailed, timeout=10)
    await live.post(f"/leads/{lead['id']}/signals/reply", json={"intent": "neutral", "text": "What does it cost?"})

    browser = await ui_login(str(live.base_url), *await make_user(live, "ops"))

    async def page_with_reply():
        page = await browser.get(f"/ui/leads/{lead['id']}")
        return page if "What does it cost?" in page.text else None
    page = await eventually(page_with_reply, timeout=10)
    assert first["subject"] in page.text and "in process" in page.text
    assert (await browser.get("/ui/leads/nobody")).status_code == 404
    assert (await browser.get("/ui", params={"stage": "in_process"})).status_code == 200


async def test_pages_need_a_login_and_a_rep_sees_only_its_own(live):
    assert (await live.post("/cadences", json=FAST)).status_code == 201
    anonymous = await live.get("/ui/leads/x")  # an API key is not a UI login
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/ui/login?next=/ui/leads/x"
    rep_email, rep_password = await make_user(live, "rep", "ana")
    await make_user(live, "rep", "ben")
    mine = (await live.post("/leads", json=lead_body(owner="ana", cadence="fast-test", first_name="Mine"))).json()
    theirs = (await live.post("/leads", json=lead_body(owner="ben", cadence="fast-test",
                                                       first_name="Theirs"))).json()
    wrong = await ui_login_fails(str(live.base_url), rep_email, "not the password")
    assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
    browser = await ui_login(str(live.base_url), rep_email, rep_password)
    assert browser.cookies["cadence_session"]
    landing = await browser.get("/ui")
    assert landing.status_code == 303 and landing.headers["location"] == "/ui/inbox"  # a rep starts with its day
    home = await browser.get("/ui/leads")
    assert "Mine" in home.text and "Theirs" not in home.text and "funnel" not in home.text
    assert "Theirs" not in (await browser.get("/ui/leads", params={"owner": "ben"})).text
    assert (await browser.get(f"/ui/leads/{mine['id']}")).status_code == 200
    assert (await browser.get(f"/ui/leads/{theirs['id']}")).status_code == 404
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)
    out = await browser.post("/ui/logout", data={"csrf_token": csrf})
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    assert (await browser.get("/ui")).status_code == 303  # the session ended on the server too


async def ui_login_fails(base_url, email, password):
    import httpx

    async with httpx.AsyncClient(base_url=base_url) as browser:
        form = await browser.get("/ui/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        return await browser.post("/ui/login", data={"email": email, "password": password, "csrf_token": token})


async def test_repeated_failed_logins_are_slowed_down_with_retry_after(live):
    email, password = await make_user(live, "ops")
    answers = [await ui_login_fails(str(live.base_url), email, "wrong password") for _ in range(6)]
    assert [a.status_code for a in answers] == [401] * 5 + [429]
    assert int(answers[-1].headers["retry-after"]) > 0
    refused = await ui_login_fails(str(live.base_url), email, password)  # even the right one, for a while
    assert refused.status_code == 429


async def test_login_form_refuses_a_cross_site_post(live):
    import httpx

    email, password = await make_user(live, "ops")
    async with httpx.AsyncClient(base_url=str(live.base_url)) as browser:
        r = await browser.post("/ui/login", data={"email": email, "password": password, "csrf_token": "guess"})
    assert r.status_code == 403 and "cadence_session" not in r.cookies
