"""The web UI's pages in a real browser (Debian's Chromium through Playwright) against the live stack:
a rep's day worked in place, a lead's timeline and actions, the leads list with filters, search and
cursor pages, and the settings pages; each page at 1280×800 and at a phone's 390px without sideways
scrolling. Screenshots of each page go to docs/screenshots/ for the README."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from api.routes.webhooks import sign_body
from persistence.models import Task
from tests.support.browser import DESKTOP, PHONE, browser, logged_in_page, screenshot  # noqa: F401  (fixture)
from tests.support.harness import eventually
from tests.support.live import DIALER_SECRET, api_client, make_user
from tests.test_api_e2e import dev_server, live  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio, pytest.mark.parametrize("any_db", ["sqlite"], indirect=True)]

DEMO = {  # an email at once, then a call task that waits for the rep; later touches days away
    "name": "ui-demo", "ranks": ["A", "B", "C", "D"], "send_window": None, "business_days": False,
    "steps": [
        {"id": "intro", "channel": "email", "wait": "PT0S", "variants": [
            {"id": "a", "subject": "{{ first_name }}, a quick question",
             "body": "Hi {{ first_name }},\n\nTeams like {{ company }} use Cadence to follow up on every lead.\n"
                     "Would a 15-minute call next week help?\n\nBest,\nSam"},
            {"id": "b", "subject": "{{ first_name }}, a quick question about {{ company }}",
             "body": "Hi {{ first_name }},\n\nTeams like {{ company }} use Cadence to follow up on every lead.\n"
                     "What would make a call worth your time?\n\nSam"}]},
        {"id": "call-1", "channel": "call", "wait": "PT0S",
         "instructions": "Call {{ first_name }} at {{ company }}: ask how they follow up on inbound leads today."},
        {"id": "follow-up", "channel": "email", "wait": "P3D", "subject": "Following up",
         "body": "Hi {{ first_name }}, following up on my note."},
        {"id": "linkedin-1", "channel": "linkedin", "wait": "P2D", "instructions": "Connect with {{ first_name }}."},
        {"id": "call-2", "channel": "call", "wait": "P2D", "instructions": "Call {{ first_name }} again."},
        {"id": "breakup", "channel": "email", "wait": "P4D", "subject": "Closing the loop",
         "body": "Hi {{ first_name }}, I will stop writing for now."},
    ],
}
PEOPLE = [  # first, last, company, source (its rank), owner
    ("Grace", "Hopper", "US Navy", "form_fill", "ana"),
    ("Ada", "Lovelace", "Analytical Engines", "content_download", "ana"),
    ("Katherine", "Johnson", "NASA Langley", "referral", "ana"),
    ("Margaret", "Hamilton", "MIT Instrumentation Lab", "email_click", "ana"),
    ("Alan", "Turing", "Bletchley Park", "target_list", "ben"),
]


def phone_for(i: int) -> str:
    return f"+1415555{uuid.uuid4().int % 1000:03d}{i}"


async def open_tasks(http, **params):
    return (await http.get("/tasks", params={"status": "open", **params})).json()["data"]


async def seed(live, any_db) -> dict[str, dict]:
    """Reps Ana (backup Ben) and Ben, their leads on the demo cadence, a reply of each kind, a
    missed call (a call-back due tomorrow or later) and a task left from yesterday (overdue)."""
    for rep_id, name, backup in (("ben", "Ben Okafor", None), ("ana", "Ana Lima", "ben")):
        if (await live.get(f"/reps/{rep_id}")).status_code == 404:
            body = {"id": rep_id, "name": name, "email": f"{rep_id}@example.com", "backup_id": backup}
            assert (await live.post("/reps", json=body)).status_code == 201
    if (await live.get("/cadences/ui-demo")).status_code == 404:
        assert (await live.post("/cadences", json=DEMO)).status_code == 201
    leads = {}
    for i, (first, last, company, source, owner) in enumerate(PEOPLE):
        body = {"email": f"{first.lower()}.{uuid.uuid4().hex[:6]}@{company.split()[0].lower()}.example",
                "source": source, "first_name": first, "last_name": last, "company": company,
                "timezone": "America/New_York", "phone": phone_for(i), "owner": owner, "cadence": "ui-demo"}
        r = await live.post("/leads", json=body)
        assert r.status_code == 201, r.text
        leads[first] = r.json()
    for first in leads:  # each has had its email and waits on its call
        await eventually(lambda lead=leads[first]: open_tasks(live, lead_id=lead["id"]), timeout=15)
    await live.post(f"/leads/{leads['Ada']['id']}/signals/reply",
                    json={"text": "Interesting. What does it cost for a team of 20?"})
    await live.post(f"/leads/{leads['Katherine']['id']}/signals/reply",
                    json={"text": "Yes, let's talk. Tuesday at 10 works for me."})
    raw = json.dumps({"event_id": f"m-{uuid.uuid4().hex}", "type": "missed_call",
                      "phone": leads["Margaret"]["phone"]}).encode()
    r = await live.post("/webhooks/calls", content=raw, headers={
        "X-Cadence-Signature": sign_body(raw, DIALER_SECRET), "content-type": "application/json"})
    assert r.status_code == 202, r.text

    async def settled():
        tasks = await open_tasks(live, owner="ana")
        kinds = {t["kind"] for t in tasks}
        return tasks if {"follow_up", "hand_off", "callback"} <= kinds else None
    tasks = await eventually(settled, timeout=15)
    # Margaret's call task was opened yesterday and nobody did it: it is overdue now.
    margaret_call = next(t for t in tasks if t["lead_id"] == leads["Margaret"]["id"] and t["kind"] == "step")
    with any_db.session() as s:
        s.execute(update(Task).where(Task.id == margaret_call["id"])
                  .values(due_at=datetime.now(timezone.utc) - timedelta(days=1, hours=2)))
    return leads


async def fits(page, width: int) -> None:
    scroll = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll}px wide at a {width}px viewport"


async def every_control_is_labelled(page) -> None:
    unlabelled = await page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
        .filter(el => el.type !== 'hidden' && !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
        .map(el => el.outerHTML)""")
    assert not unlabelled, unlabelled


async def shoot_both(page, url: str, name: str, prepare=None) -> None:
    """The page at 1280×800 and at 390px: nothing wider than the screen; a screenshot of each."""
    for viewport, suffix in ((DESKTOP, ""), (PHONE, "-phone")):
        await page.set_viewport_size(viewport)
        response = await page.goto(url)
        assert response.status == 200, url
        if prepare:
            await prepare()
        await fits(page, viewport["width"])
        await every_control_is_labelled(page)
        await screenshot(page, name + suffix)
    await page.set_viewport_size(DESKTOP)


async def test_a_rep_works_its_day_in_place(live, browser, any_db):  # noqa: F811
    leads = await seed(live, any_db)
    email, password = await make_user(live, "rep", "ana")
    page = await logged_in_page(browser, str(live.base_url), email, password)
    assert page.url.endswith("/ui/inbox")  # a rep lands on its day
    assert "1 overdue" in await page.locator("#overdue-count").inner_text()

    # The tasks are in the order of GET /tasks, each with its lead's context.
    api_order = [t["id"] for t in await open_tasks(live, owner="ana")]
    assert await page.locator("[data-task]").evaluate_all("els => els.map(e => e.dataset.task)") == api_order
    overdue = page.locator("section[aria-labelledby=overdue] [data-task]")
    assert await overdue.count() == 1 and "Margaret Hamilton" in await overdue.inner_text()
    upcoming = await page.locator("section[aria-labelledby=upcoming]").inner_text()
    assert "Call back" in upcoming and "Margaret" in upcoming
    grace = page.locator("article.task", has_text="Grace Hopper")
    text = await grace.inner_text()
    assert "Call Grace at US Navy: ask how they follow up" in text  # the step's instructions, rendered
    assert "Grace, a quick question" in text and "no reply yet" in text and "New" in text
    assert await grace.locator(".rank").text_content() == "Rank A"
    assert await grace.locator("a.tel").get_attribute("href") == f"tel:{leads['Grace']['phone']}"
    ada = await page.locator("article.task", has_text="Ada Lovelace").first.inner_text()
    assert "neutral" in ada and "What does it cost for a team of 20?" in ada
    await shoot_both(page, "/ui/inbox", "inbox")

    # Log a call in place: no page load (the marker survives), the card says what happened.
    await page.evaluate("window.stillTheSamePage = true")
    grace_call = next(t for t in await open_tasks(live, lead_id=leads["Grace"]["id"]))
    await grace.get_by_label("Call outcome", exact=True).select_option("no_answer")
    await grace.get_by_label("Notes", exact=True).fill("Rang twice, no voicemail box")
    await grace.get_by_role("button", name="Log call").click()
    await page.locator(f"[data-task='{grace_call['id']}'] .done-note").wait_for()
    assert "No answer." in await page.locator(f"[data-task='{grace_call['id']}']").inner_text()
    assert await page.evaluate("window.stillTheSamePage") is True
    done = (await live.get("/tasks", params={"lead_id": leads["Grace"]["id"], "status": "done"})).json()["data"]
    assert (done[0]["outcome"], done[0]["notes"]) == ("no_answer", "Rang twice, no voicemail box")

    # Skipping the overdue one empties the header's count, in place too.
    margaret = page.locator("section[aria-labelledby=overdue] article.task")
    await margaret.get_by_role("button", name="Skip this call").click()
    await page.locator("#overdue-count", has_text="Nothing overdue").wait_for()
    assert await page.evaluate("window.stillTheSamePage") is True

    # With the keyboard alone: Tab reaches Katherine's Done button, Enter completes the hand-off.
    katherine = page.locator("article.task", has_text="Katherine Johnson")
    done_button = katherine.get_by_role("button", name="Done")
    await page.evaluate("document.activeElement && document.activeElement.blur()")
    for _ in range(120):
        await page.keyboard.press("Tab")
        if await done_button.evaluate("button => button === document.activeElement"):
            break
    else:
        raise AssertionError("Tab never reaches the Done button")
    await page.keyboard.press("Enter")
    await katherine.locator(".done-note").wait_for()
    assert await page.evaluate("window.stillTheSamePage") is True

    # The lead's timeline has the call, once the cadence has taken it.
    await page.goto(f"/ui/leads/{leads['Grace']['id']}")

    async def call_on_timeline():
        await page.reload()
        timeline = await page.locator(".timeline").inner_text()
        return "Task completed · No answer" in timeline and "Rang twice" in timeline
    await eventually(call_on_timeline, timeout=15, interval=0.5)

    # Another rep's lead does not exist for Ana.
    hidden = await page.goto(f"/ui/leads/{leads['Alan']['id']}")
    assert hidden.status == 404 and "Not found" in await page.locator("main").inner_text()
    await screenshot(page, "not-found")
    mine = (await page.goto("/ui/leads")).status
    names = await page.locator("#results tbody").inner_text()
    assert mine == 200 and "Grace Hopper" in names and "Alan Turing" not in names
    await page.context.close()


async def test_the_inbox_works_without_javascript(live, browser, any_db):  # noqa: F811
    leads = await seed(live, any_db)
    email, password = await make_user(live, "rep", "ana")
    context = await browser.new_context(base_url=str(live.base_url), java_script_enabled=False, viewport=PHONE)
    page = await context.new_page()
    await page.goto("/ui/login")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/ui/inbox")
    card = page.locator("article.task", has_text="Grace Hopper")
    task_id = await card.get_attribute("data-task")
    await card.get_by_label("Call outcome", exact=True).select_option("voicemail")
    async with page.expect_navigation():
        await card.get_by_role("button", name="Log call").click()  # a plain form post, then back to the inbox
    assert page.url.endswith("/ui/inbox")
    assert await page.locator(f"[data-task='{task_id}']").count() == 0
    task = (await live.get("/tasks", params={"lead_id": leads["Grace"]["id"], "status": "done"})).json()["data"]
    assert task[0]["outcome"] == "voicemail"
    await fits(page, PHONE["width"])
    await context.close()


async def test_a_lead_page_shows_what_was_sent_and_replied_and_acts_like_the_api(live, browser, any_db):  # noqa: F811
    leads = await seed(live, any_db)
    email, password = await make_user(live, "ops")
    page = await logged_in_page(browser, str(live.base_url), email, password)
    assert page.url.endswith("/ui")  # ops land on the leads
    ada = leads["Ada"]

    async def timeline_has(lead, *words):
        await page.goto(f"/ui/leads/{lead['id']}")
        text = await page.locator(".timeline").inner_text()
        return all(w in text for w in words)
    await eventually(lambda: timeline_has(ada, "Reply", "What does it cost"), timeout=15, interval=0.5)
    timeline = page.locator(".timeline")
    text = await timeline.inner_text()
    assert "Ada, a quick question" in text and "in the outbox" in text  # the email, with its status
    variant = (await live.get(f"/leads/{ada['id']}")).json()["touches"][0]["variant"]
    assert variant in ("a", "b") and f"variant {variant}" in text
    assert "Reply · neutral" in text and "Stage: New → In process" in text and "neutral reply" in text
    await page.get_by_text("Show the email as sent").click()
    body = await page.locator(".email-body").inner_text()
    assert "Teams like Analytical Engines use Cadence" in body and "No more emails from us" in body
    await shoot_both(page, f"/ui/leads/{ada['id']}", "lead", prepare=page.get_by_text("Show the email as sent").click)

    # The classifier read "neutral"; a person says it was positive: a reply signal with a new event id.
    await page.get_by_text("Correct the intent").click()
    await page.get_by_label("The reply is", exact=True).select_option("positive")
    await page.get_by_role("button", name="Send to the cadence").click()
    assert "Intent corrected" in await page.locator(".notice.ok").inner_text()

    async def qualified():
        detail = (await live.get(f"/leads/{ada['id']}")).json()
        return detail if detail["stage"] == "qualified" else None
    detail = await eventually(qualified, timeout=15)
    corrected = [e for e in detail["events"] if e["event_id"].startswith("correct-")]
    assert len(corrected) == 1 and corrected[0]["type"] == "reply" and corrected[0]["intent"] == "positive"
    assert detail["stage_reason"] == "positive_reply"
    await eventually(lambda: timeline_has(ada, "Intent corrected to positive", "corrected to positive"), timeout=10)

    async def act(lead, action, fill=None):
        await page.goto(f"/ui/leads/{lead['id']}")
        if action not in ("pause", "resume"):
            summary = {"qualify": "Qualify", "reassign": "Reassign", "disqualify": "Disqualify",
                       "stop": "Stop the cadence"}[action]
            await page.locator("summary").get_by_text(summary, exact=True).click()
        if fill:
            await fill()
        form = page.locator(f"form[action='/ui/leads/{lead['id']}/signals/{action}']")
        await form.locator("button").click()
        await page.wait_for_url(f"**/ui/leads/{lead['id']}?sent={action}")

    async def lead_is(lead, **want):
        got = (await live.get(f"/leads/{lead['id']}")).json()
        return all(got[k] == v for k, v in want.items())

    grace, margaret, alan = leads["Grace"], leads["Margaret"], leads["Alan"]
    await act(grace, "pause")
    await eventually(lambda: lead_is(grace, status="paused"), timeout=10)
    await act(grace, "resume")
    await eventually(lambda: lead_is(grace, status="active"), timeout=10)

    async def four_yeses():
        for legend in ("Do they need it?", "Is there budget?", "Do they decide?", "Is there a timeline?"):
            await page.get_by_role("group", name=legend).get_by_label("Yes", exact=True).check()
    await act(grace, "qualify", four_yeses)
    await eventually(lambda: lead_is(grace, stage="qualified", level="sql"), timeout=10)

    async def to_ben():
        await page.get_by_label("New owner", exact=True).select_option("ben")
    await act(margaret, "reassign", to_ben)
    await eventually(lambda: lead_is(margaret, owner="ben"), timeout=10)

    async def why():
        await page.get_by_label("Why (optional)", exact=True).fill("Chose a competitor")
    await act(margaret, "disqualify", why)
    await eventually(lambda: lead_is(margaret, stage="not_interested", stage_reason="rep_disqualified"), timeout=10)
    await act(alan, "stop")
    await eventually(lambda: lead_is(alan, status="stopped"), timeout=10)
    await page.goto(f"/ui/leads/{alan['id']}")
    assert "has ended" in await page.locator("aside").inner_text()  # no actions on an ended cadence

    # An action the API refuses is shown as the API words it, on a page.
    refused = await page.request.post(f"/ui/leads/{alan['id']}/signals/pause", form={
        "csrf_token": await page.locator("input[name=csrf_token]").first.get_attribute("value")})
    assert refused.status == 409 and "has ended" in await refused.text()
    await page.context.close()


async def test_leads_filter_search_and_pages_that_survive_new_leads(live, browser, any_db):  # noqa: F811
    leads = await seed(live, any_db)
    email, password = await make_user(live, "ops")
    page = await logged_in_page(browser, str(live.base_url), email, password)

    async def names():
        return await page.locator("#results tbody a.lead-name").all_inner_texts()

    async def shows(url: str) -> list[str]:
        """The results once the page shows `url` (htmx swaps them in place)."""
        await page.wait_for_function("url => document.getElementById('results').dataset.here === url", arg=url)
        return await names()

    async def follow(link_name: str) -> list[str]:
        link = page.get_by_role("link", name=link_name)
        href = await link.get_attribute("href")
        await link.click()
        return await shows(href)

    await page.goto("/ui/leads")
    assert set(await names()) == {f"{p[0]} {p[1]}" for p in PEOPLE}
    await shoot_both(page, "/ui/leads", "leads")

    # Typing searches in place (name, email or company); the address follows, for a reload or a link.
    await page.evaluate("window.stillTheSamePage = true")
    await page.get_by_label("Search", exact=True).fill("nasa")
    assert await shows("/ui/leads?q=nasa") == ["Katherine Johnson"]
    await page.get_by_label("Search", exact=True).fill("grace hop")
    assert await shows("/ui/leads?q=grace+hop") == ["Grace Hopper"]
    assert "q=grace" in page.url
    await page.get_by_label("Search", exact=True).fill("")
    await page.get_by_label("Rank", exact=True).select_option("B")
    assert await shows("/ui/leads?rank=B") == ["Ada Lovelace"]
    await page.get_by_label("Rank", exact=True).select_option("")
    await page.get_by_label("Owner", exact=True).select_option("ben")
    assert await shows("/ui/leads?owner=ben") == ["Alan Turing"]
    assert await page.evaluate("window.stillTheSamePage") is True
    await page.goto("/ui/leads?stage=qualified")
    assert await names() == ["Katherine Johnson"]
    await page.goto("/ui/leads?cadence=rank-a")
    assert await names() == [] and "No leads match" in await page.locator("#results").inner_text()

    # Pages of two, newest first; a lead arriving meanwhile neither repeats nor hides one.
    await page.goto("/ui/leads?limit=2")
    first = await names()
    assert first == ["Alan Turing", "Margaret Hamilton"]
    newcomer = (await live.post("/leads", json={"email": f"new-{uuid.uuid4().hex[:6]}@example.com",
                                                "source": "event", "first_name": "Hedy", "last_name": "Lamarr",
                                                "cadence": "ui-demo"})).json()
    seen = list(first)
    while await page.get_by_role("link", name="Older →").count():
        seen += await follow("Older →")
    assert seen == [f"{p[0]} {p[1]}" for p in reversed(PEOPLE)]  # each once, in order, none skipped
    assert await follow("← Newer") == ["Katherine Johnson", "Ada Lovelace"]
    assert (await follow("Newest"))[0] == "Hedy Lamarr"

    # The JSON API pages the same way.
    got, cursor = [], None
    while True:
        r = (await live.get("/leads", params={"limit": 2, **({"cursor": cursor} if cursor else {})})).json()
        got += [lead["id"] for lead in r["data"]]
        cursor = r["next_cursor"]
        if not cursor:
            break
    assert got[0] == newcomer["id"] and len(got) == len(set(got)) == len(PEOPLE) + 1
    assert [x["first_name"] for x in (await live.get("/leads", params={"q": "langley"})).json()["data"]] == ["Katherine"]
    assert (await live.get("/leads", params={"cursor": "not-a-cursor"})).status_code == 422
    assert leads
    await page.context.close()


async def test_settings_change_reps_mailboxes_ranking_keys_and_users(live, browser, any_db):  # noqa: F811
    await seed(live, any_db)
    email, password = await make_user(live, "admin")
    page = await logged_in_page(browser, str(live.base_url), email, password)

    # Reps: Ana goes away, her open tasks go to Ben at once; she comes back.
    ana_tasks = {t["id"] for t in await open_tasks(live, owner="ana")}
    await page.goto("/ui/settings")
    assert page.url.endswith("/ui/settings/reps")
    await shoot_both(page, "/ui/settings/reps", "settings-reps")
    await page.evaluate("window.stillTheSamePage = true")
    ana = page.locator("#rep-ana")
    await ana.get_by_role("button", name="Mark as away").click()
    await page.locator("#rep-ana .tag", has_text="Away").wait_for()
    assert f"{len(ana_tasks)} open tasks moved" in await page.locator("#rep-ana").inner_text()
    assert (await live.get("/reps/ana")).json()["away"] is True
    assert {t["id"] for t in await open_tasks(live, owner="ben")} >= ana_tasks
    await page.locator("#rep-ana").get_by_role("button", name="Mark as back").click()
    await page.locator("#rep-ana .tag", has_text="Available").wait_for()
    assert (await live.get("/reps/ana")).json()["away"] is False
    assert await page.evaluate("window.stillTheSamePage") is True
    await page.locator("#rep-ben").get_by_label("Backup for Ben Okafor", exact=True).select_option("ana")
    await page.locator("#rep-ben").get_by_role("button", name="Save backup").click()
    await page.locator("#flash", has_text="backups would form a cycle").wait_for()  # the API's refusal
    assert (await live.get("/reps/ben")).json()["backup_id"] is None
    await page.locator("#rep-ana").get_by_label("Backup for Ana Lima", exact=True).select_option("")
    await page.locator("#rep-ana").get_by_role("button", name="Save backup").click()
    await page.locator("#rep-ana", has_text="Backup saved").wait_for()
    assert (await live.get("/reps/ana")).json()["backup_id"] is None

    # A new rep from the form; the same id again is the API's 409, shown with the form as it was filled.
    for attempt in range(2):
        await page.get_by_label("Name", exact=True).fill("Cy Young")
        await page.get_by_label("Email", exact=True).fill(f"cy{attempt}@example.com")
        await page.get_by_label("Rep id (optional)", exact=True).fill("cy")
        await page.get_by_label("Backup (optional)", exact=True).select_option("ben")
        await page.get_by_role("button", name="Add rep").click()
    assert "exists already" in await page.locator(".notice.error").inner_text()
    assert await page.get_by_label("Email", exact=True).input_value() == "cy1@example.com"
    cy = (await live.get("/reps/cy")).json()
    assert (cy["name"], cy["email"], cy["backup_id"]) == ("Cy Young", "cy0@example.com", "ben")

    # Mailboxes: today's use and the week ahead.
    await page.goto("/ui/settings/mailboxes")
    await page.get_by_label("Sender address", exact=True).fill("ana@example.com")
    await page.get_by_label("Sender name", exact=True).fill("Ana Lima")
    await page.get_by_label("Daily cap", exact=True).fill("40")
    await page.get_by_label("Hourly cap", exact=True).fill("10")
    await page.get_by_label("Warm-up (daily caps by week)", exact=True).fill("10, 20, 40")
    await page.get_by_role("button", name="Add mailbox").click()
    await page.wait_for_url("**/ui/settings/mailboxes")
    card = page.locator("li.panel", has_text="ana@example.com")
    assert "of 10 sent today" in await card.inner_text()  # week one of the warm-up
    assert await card.locator(".forecast tbody tr").count() == 7
    mailbox = (await live.get("/mailboxes/ana@example.com")).json()
    assert (mailbox["daily_cap"], mailbox["hourly_cap"], mailbox["ramp"]) == (40, 10, [10, 20, 40])
    await page.get_by_label("Sender address", exact=True).fill("ana@example.com")
    await page.get_by_role("button", name="Add mailbox").click()
    assert "a mailbox ana@example.com exists" in await page.locator(".notice.error").inner_text()  # the API's words
    await shoot_both(page, "/ui/settings/mailboxes", "settings-mailboxes")

    # Ranking: webinars become rank B.
    before = (await live.get("/ranking")).json()
    await page.goto("/ui/settings/ranking")
    await page.get_by_label("New source", exact=True).fill("webinar")
    await page.get_by_label("Rank of the new source", exact=True).select_option("B")
    await page.get_by_label("email open", exact=True).select_option("D")
    await page.get_by_role("button", name=f"Save as version {before['version'] + 1}").click()
    assert "Saved as version" in await page.locator(".notice.ok").inner_text()
    after = (await live.get("/ranking")).json()
    assert after["version"] == before["version"] + 1
    assert after["sources"]["webinar"] == "B" and after["sources"]["email_open"] == "D"
    await shoot_both(page, "/ui/settings/ranking", "settings-ranking")

    # API keys: made, shown once, works; revoked, stops working.
    await page.goto("/ui/settings/keys")
    await page.get_by_label("Name", exact=True).fill("website form")
    await page.get_by_label("Role", exact=True).select_option("integration")
    await page.get_by_role("button", name="Create key").click()
    key = await page.get_by_label("The new API key", exact=True).input_value()
    assert key.startswith("cad_")
    await screenshot(page, "settings-keys-created")
    async with api_client(str(live.base_url), key) as form:
        made = await form.post("/leads", json={"email": f"k-{uuid.uuid4().hex[:6]}@example.com",
                                                "source": "form_fill", "cadence": "ui-demo"})
        assert made.status_code == 201
        await page.goto("/ui/settings/keys")
        assert key not in await page.content()  # shown only once
        row = page.locator("tr", has_text="website form")
        await row.locator("summary", has_text="Revoke").click()
        await row.get_by_role("button", name="Revoke website form").click()
        await page.locator("tr", has_text="website form").locator(".tag", has_text="Revoked").wait_for()
        assert (await form.post("/leads", json={"email": "x@example.com", "source": "form_fill"})).status_code == 401
    await shoot_both(page, "/ui/settings/keys", "settings-keys")

    # Users: a new rep logs in; once disabled, cannot.
    await page.goto("/ui/settings/users")
    new_email = f"ben-{uuid.uuid4().hex[:6]}@example.com"
    await page.get_by_label("Email", exact=True).fill(new_email)
    await page.get_by_label("Name", exact=True).fill("Ben Okafor")
    await page.get_by_label("Password (at least 12 characters)", exact=True).fill("a long enough password")
    await page.get_by_label("Role", exact=True).select_option("rep")
    await page.get_by_label("Rep (for the rep role)", exact=True).select_option("ben")
    await page.get_by_role("button", name="Add user").click()
    assert "can log in now" in await page.locator(".notice.ok").inner_text()
    ben = await logged_in_page(browser, str(live.base_url), new_email, "a long enough password")
    assert ben.url.endswith("/ui/inbox")
    # Ana's tasks stayed with Ben after she came back: he sees them, not her leads (as in the API).
    covered = ben.locator("article.task", has_text="covering for ana")
    assert await covered.count() == len(ana_tasks)
    assert await covered.locator("a.lead-name, a.tel").count() == 0
    await ben.context.close()
    row = page.locator("tr", has_text=new_email)
    await row.locator("summary", has_text="Disable").click()
    await row.get_by_role("button", name=f"Disable {new_email}").click()
    await page.locator("tr", has_text=new_email).locator(".tag", has_text="Disabled").wait_for()
    users = {u["email"]: u for u in (await live.get("/users")).json()}
    assert users[new_email]["disabled_at"] is not None
    await shoot_both(page, "/ui/settings/users", "settings-users")
    await page.context.close()

    # Ops see the settings they may change, not keys or users.
    ops_email, ops_password = await make_user(live, "ops")
    ops = await logged_in_page(browser, str(live.base_url), ops_email, ops_password)
    await ops.goto("/ui/settings")
    tabs = await ops.locator("nav.subnav").inner_text()
    assert "Reps" in tabs and "Ranking" in tabs and "API keys" not in tabs and "Users" not in tabs
    assert (await ops.goto("/ui/settings/keys")).status == 403
    await ops.context.close()


async def test_webhook_endpoints_from_the_settings(live, browser, any_db):  # noqa: F811
    from tests.support.webhook_receiver import Receiver

    email, password = await make_user(live, "ops")
    page = await logged_in_page(browser, str(live.base_url), email, password)
    with Receiver() as crm:
        await page.goto("/ui/settings/webhooks")
        assert "No webhook endpoints" in await page.locator("main").inner_text()
        assert "integrations" in (await page.locator("nav.subnav").inner_text()).lower()
        await page.get_by_label("URL", exact=True).fill(crm.url)
        await page.get_by_label("Description", exact=True).fill("CRM sync")
        await page.get_by_label("lead.created", exact=True).check()
        await page.get_by_label("reply.received", exact=True).check()
        await page.get_by_role("button", name="Add endpoint").click()
        secret = await page.get_by_label("The signing secret", exact=True).input_value()
        assert secret.startswith("whsec_")
        crm.secret = secret  # from now on the receiver checks every signature with it
        [endpoint] = (await live.get("/webhook-endpoints")).json()
        assert (endpoint["url"], endpoint["events"]) == (crm.url, ["lead.created", "reply.received"])
        await page.goto("/ui/settings/webhooks")
        assert secret not in await page.content()  # shown once

        lead = (await live.post("/leads", json={"email": f"hook-{uuid.uuid4().hex[:6]}@example.com",
                                                "source": "form_fill", "first_name": "Hedy"})).json()
        await eventually(lambda: [r for r in crm.requests if r.verified and r.payload["type"] == "lead.created"],
                         timeout=15)

        async def delivered():
            await page.goto(f"/ui/settings/webhooks/{endpoint['id']}")
            return "succeeded" in await page.locator("main").inner_text()
        await eventually(delivered, timeout=15, interval=0.5)
        assert "lead.created" in await page.locator("table").inner_text()
        await shoot_both(page, f"/ui/settings/webhooks/{endpoint['id']}", "settings-webhook-deliveries")
        assert lead["id"]

        await page.goto("/ui/settings/webhooks")
        await page.get_by_role("button", name="Pause").click()
        assert "paused" in await page.locator(".notice.ok").inner_text()
        assert (await live.get(f"/webhook-endpoints/{endpoint['id']}")).json()["status"] == "paused"
        await shoot_both(page, "/ui/settings/webhooks", "settings-webhooks")
        await page.get_by_role("button", name="Resume").click()
        assert (await live.get(f"/webhook-endpoints/{endpoint['id']}")).json()["status"] == "active"
        await page.locator("summary", has_text="Delete").click()
        await page.get_by_role("button", name="Delete").click()
        assert "Deleted" in await page.locator(".notice.ok").inner_text()
        assert (await live.get("/webhook-endpoints")).json() == []
    await page.context.close()
