"""Cadence pages in a real browser (Chromium through Playwright) against the live stack: the
editor's errors next to their fields and a saved version, the timeline of `simulate`, previews of
`preview`, the diff of two versions and moving leads with the migration's own dry run."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.support.browser import (  # noqa: F401  (fixture)
    DESKTOP, PHONE, SCREENSHOTS, browser, logged_in_page, screenshot,
)
from tests.support.harness import eventually
from tests.support.live import make_user
from tests.test_api_e2e import dev_server, lead_body, live  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]
BAD_BODY = "{% for x in [1, 2] %}again{% endfor %}"
NEW_BODY = "Hi {{ first_name or 'there' }}, one more note about {{ company or 'your team' }}."
TEXT = "Hi {{ first_name }}, {{ sender_name }} here: is this a good week to talk?"


async def no_sideways_scroll(page) -> bool:
    width = await page.evaluate("document.documentElement.scrollWidth")
    return width <= page.viewport_size["width"]


UNLABELLED = """[...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
    .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                 && !(e.tagName === 'BUTTON' && e.textContent.trim()))
    .map(e => e.outerHTML.slice(0, 80))"""


async def unlabelled(page) -> list[str]:
    """Controls a screen reader could not name: none may be on a page."""
    return await page.evaluate(UNLABELLED)


async def view(page, name: str, at: str | None = None, block: str = "center") -> None:
    """What the screen shows (not the whole page) as docs/screenshots/<name>.png, scrolled to `at`."""
    if at:
        await page.locator(at).evaluate(f"e => {{ e.scrollIntoView({{block: '{block}'}}); scrollBy(0, -70) }}"
                                        if block == "start" else f"e => e.scrollIntoView({{block: '{block}'}})")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


async def htmx_idle(page) -> None:
    """Once htmx has no request in flight and nothing left to swap or settle: a field filled before then
    can be overwritten by the part still being settled."""
    await page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')", timeout=10000)


async def focused(page, expected: str) -> str:
    """The focused field's id, or the focused button's words, once it is `expected` (htmx moves the
    focus when it settles the swapped part, a moment after the swap); what it is after 5 s if not."""
    script = "document.activeElement && (document.activeElement.id || document.activeElement.textContent.trim())"
    try:
        await page.wait_for_function(f"({script}) === {expected!r}", timeout=5000)
    except Exception:
        pass
    return await page.evaluate(script)


@pytest.mark.parametrize("any_db", ["sqlite"], indirect=True)
async def test_ops_edit_a_cadence_read_its_timeline_preview_diff_and_move_leads(live, browser, any_db):  # noqa: F811
    leads = [(await live.post("/leads", json=lead_body(source="event", first_name=name, company=company))).json()
             for name, company in (("Grace", "Navy"), ("Katherine", "NASA"))]
    assert all(lead["cadence"] == {"name": "rank-b", "version": 1} for lead in leads)
    page = await logged_in_page(browser, str(live.base_url), *await make_user(live, "ops"))

    await page.goto("/ui/cadences")
    card = page.locator("li.cadence-card", has=page.get_by_role("link", name="rank-b"))
    assert "7 steps" in await card.inner_text()
    assert await no_sideways_scroll(page) and await unlabelled(page) == []
    await screenshot(page, "cadences")

    # ---- the editor: an invalid edit names its field, a valid one is version 2
    await page.goto("/ui/cadences/rank-b/edit")
    assert await page.input_value("#steps-2-id") == "b-follow-up-email"
    await page.fill("#steps-2-body", BAD_BODY)
    await page.fill("#steps-4-wait", "soon")
    await page.get_by_role("button", name="Save as version 2").first.click()
    error = page.locator("#err-steps-2-body")
    await error.wait_for()
    assert "a loop" in await error.inner_text()  # the API's message for loc ["body", "steps", "2", "body"]
    assert await page.get_attribute("#steps-2-body", "aria-invalid") == "true"
    assert "err-steps-2-body" in await page.get_attribute("#steps-2-body", "aria-describedby")
    assert "invalid duration" in await page.inner_text("#err-steps-4-wait")
    summary = await page.get_by_role("alert").inner_text()
    assert "Not saved: 2 problems" in summary and "Step 3, body" in summary
    assert await page.input_value("#steps-2-body") == BAD_BODY  # what was typed stays
    assert await unlabelled(page) == []
    await view(page, "cadence-editor-errors", at="#steps-2-body")
    assert (await live.get("/cadences/rank-b")).json()["version"] == 1  # nothing saved

    await page.fill("#steps-2-body", NEW_BODY)
    await page.fill("#steps-4-wait", "P3D")
    await page.fill("#holidays-country", "US")
    await page.get_by_role("button", name="Add a step").click()  # a new step, made a text message
    await page.locator("#steps-7-id").wait_for()
    assert await focused(page, "steps-7-id") == "steps-7-id" and await page.input_value("#steps-7-id") == "step-8"
    await page.select_option("#steps-7-channel", "sms")
    await page.locator("#steps-7-subject").wait_for(state="detached")  # a text message has no subject
    assert await page.locator("#steps-7-body").count() == 1
    assert await focused(page, "steps-7-channel") == "steps-7-channel"  # the select keeps the focus
    await page.fill("#steps-7-id", "b-text")
    await page.fill("#steps-7-body", TEXT)
    await page.get_by_role("button", name="Remove step 6").click()  # b-case-study-email
    await page.locator("#steps-7-id").wait_for(state="detached")
    assert [await page.input_value(f"#steps-{i}-id") for i in (5, 6)] == ["b-last-call", "b-text"]
    await page.get_by_role("button", name="Move step 4 down").click()  # b-linkedin after b-second-call
    await page.wait_for_function("document.querySelector('#steps-3-id').value === 'b-second-call'")
    assert await focused(page, "↓ Move step 5 down") == "↓ Move step 5 down"  # the moved step's: move on
    for _ in range(2):
        await page.get_by_role("button", name="Add an A/B variant to step 3").click()
    await page.locator("#steps-2-variants-1-id").wait_for()
    await htmx_idle(page)
    await page.fill("#steps-2-variants-0-subject", "A shorter note, {{ first_name }}")
    await page.get_by_role("button", name="Remove variant b of step 3").click()
    await page.locator("#steps-2-variants-1-id").wait_for(state="detached")
    await htmx_idle(page)
    assert await page.input_value("#steps-2-variants-0-subject") == "A shorter note, {{ first_name }}"
    await view(page, "cadence-editor", at="#steps-2", block="start")
    await page.get_by_role("button", name="Save as version 2").first.click()
    await page.wait_for_url("**/ui/cadences/rank-b?saved=2")
    assert "Saved as version 2" in await page.get_by_role("status").first.inner_text()
    saved = (await live.get("/cadences/rank-b")).json()
    assert saved["version"] == 2 and len(saved["versions"]) == 2
    steps = saved["definition"]["steps"]
    assert [s["id"] for s in steps] == ["b-intro-email", "b-first-call", "b-follow-up-email", "b-second-call",
                                        "b-linkedin", "b-last-call", "b-text"]
    assert steps[2]["body"] == NEW_BODY and steps[2]["variants"] == [
        {"id": "a", "subject": "A shorter note, {{ first_name }}", "body": None}]
    assert (steps[6]["channel"], steps[6]["wait"], steps[6]["body"], steps[6]["subject"]) == ("sms", "P1D", TEXT, None)
    assert saved["definition"]["holidays"] == {"country": "US"}

    # ---- the timeline: simulate's times for a start and timezone chosen on the page
    await page.fill("#start", "2026-01-16T16:00")  # a Friday; Monday 19 January is a US holiday
    await page.fill("#tz", "America/New_York")
    await page.get_by_role("button", name="Draw timeline").click()
    await page.wait_for_function("document.querySelector('#timeline-summary').textContent.includes('America/New_York')")
    simulated = (await live.post("/cadences/rank-b/simulate", json={
        "start": "2026-01-16T16:00:00-05:00", "timezone": "America/New_York"})).json()["steps"]
    table = await page.locator("#timeline table").text_content()
    for step in simulated:
        local = datetime.fromisoformat(step["local"]).strftime("%a %d %b %Y %H:%M")
        assert local in table, (step, table)
    days = page.locator("#timeline ol.days > li")
    saturday = days.filter(has_text="Sat 17 Jan")
    assert "weekend" in await saturday.inner_text() and "off" in await saturday.get_attribute("class")
    assert "Martin Luther King" in await days.filter(has_text="Mon 19 Jan").inner_text()
    third = datetime.fromisoformat(simulated[2]["local"])
    assert third.astimezone(ZoneInfo("America/New_York")).strftime("%a %d") == "Wed 21"  # past the weekend and holiday
    assert "the weekend, Martin Luther King" in await days.filter(has_text="Wed 21 Jan").inner_text()
    assert "tz=America%2FNew_York" in page.url  # the chosen start is in the address, to share
    assert await unlabelled(page) == []
    await page.evaluate("window.scrollTo(0, 0)")
    await view(page, "cadence")
    await page.locator("#timeline").screenshot(path=str(SCREENSHOTS / "cadence-timeline.png"))

    # ---- the preview: the same render as POST /cadences/{name}/preview, for a real lead
    await page.select_option("#lead", leads[0]["id"])
    await page.get_by_role("button", name="Preview").click()
    await page.wait_for_function(f"location.search.includes('lead={leads[0]['id']}')")
    rendered = (await live.post("/cadences/rank-b/preview", json={"lead_id": leads[0]["id"]})).json()["steps"]
    previews = page.locator("#preview li.preview")
    assert await previews.count() == len(rendered)
    for n, step in enumerate(rendered):
        text = await previews.nth(n).inner_text()
        for key in ("subject", "instructions"):
            if step.get(key):
                assert step[key] in text
    assert "Grace" in await previews.nth(0).inner_text() and "Navy" in await previews.nth(2).inner_text()
    assert "Grace, Your name here" in await previews.nth(6).inner_text()  # the text message
    await page.locator("#preview").screenshot(path=str(SCREENSHOTS / "cadence-preview.png"))

    # ---- the diff between versions 1 and 2
    await page.get_by_role("link", name="changes from 1").click()
    await page.wait_for_url("**/diff?from=1&to=2")
    diff = page.locator("ol.diff-steps > li")
    follow_up = diff.filter(has_text="b-follow-up-email")
    assert "changed" in await follow_up.inner_text()
    assert "one more note about" in await follow_up.locator(".textdiff .ins").first.inner_text()
    assert "step 4 → 5" in await diff.filter(has_text="b-linkedin").inner_text()
    assert "removed" in await diff.filter(has_text="b-case-study-email").inner_text()
    assert "added" in await diff.filter(has_text="b-text").inner_text()
    assert "holidays" in await page.locator("#settings-h + ul").inner_text()
    assert await no_sideways_scroll(page)
    await screenshot(page, "cadence-diff")

    # ---- moving the leads: the dry run as a table per lead, then the confirm button
    await page.goto("/ui/cadences/rank-b/migrate")
    rows = page.locator("table.migration tbody tr")
    await rows.first.wait_for()
    assert await rows.count() == 2
    for lead in leads:
        row = rows.filter(has_text=lead["email"])
        text = await row.inner_text()
        assert "planned" in text and "1 → 2" in text and "b-case-study-email" in text and "b-text" in text
    assert await unlabelled(page) == []
    await screenshot(page, "cadence-migration")
    await page.get_by_role("button", name="Move 2 leads to version 2").click()
    await page.wait_for_selector("text=Moved to version 2")
    statuses = await page.locator("table.migration tbody tr .tag").all_inner_texts()
    assert sorted(statuses) in (["migrated", "migrated"], ["migrated", "pending"], ["pending", "pending"])

    async def moved():
        versions = [(await live.get(f"/leads/{lead['id']}")).json()["cadence"]["version"] for lead in leads]
        return versions if versions == [2, 2] else None
    assert await eventually(moved, timeout=15) == [2, 2]
    audit = (await live.get("/audit", params={"target_type": "cadence"})).json()["data"]
    assert {"cadence.version_created", "migration.started"} <= {e["action"] for e in audit}
    await page.context.close()


@pytest.mark.parametrize("any_db", ["sqlite"], indirect=True)
async def test_saving_the_editor_with_nothing_changed_makes_no_version(live, browser, any_db):  # noqa: F811
    before = (await live.get("/cadences/rank-c")).json()["version"]
    page = await logged_in_page(browser, str(live.base_url), *await make_user(live, "ops"))
    await page.goto("/ui/cadences/rank-c/edit")
    await page.get_by_role("button", name=f"Save as version {before + 1}").first.click()
    await page.get_by_text(f"Nothing changed: version {before} already is this cadence.").wait_for()
    assert (await live.get("/cadences/rank-c")).json()["version"] == before


async def test_a_rep_reads_cadences_without_the_editor_and_pages_fit_a_phone(live, browser, any_db):  # noqa: F811
    rep = await make_user(live, "rep", "ana")
    await make_user(live, "rep", "ben")
    mine = (await live.post("/leads", json=lead_body(owner="ana", first_name="Mine"))).json()
    theirs = (await live.post("/leads", json=lead_body(owner="ben", first_name="Theirs"))).json()
    page = await logged_in_page(browser, str(live.base_url), *rep, viewport=PHONE)
    await page.goto("/ui/cadences/rank-a")
    assert await page.locator("#steps li.step-card").count() == 8
    assert await page.locator("a[href$='/edit'], a[href$='/migrate']").count() == 0  # no editor for a rep
    nav = await page.locator("header nav").inner_text()
    assert "Cadences" in nav and "Reports" not in nav
    options = await page.locator("#lead option").all_inner_texts()
    assert any("Mine" in o for o in options) and not any("Theirs" in o for o in options)
    refused = await page.goto(f"/ui/cadences/rank-a?lead={theirs['id']}")  # another rep's lead: the sample
    assert refused.status == 200 and "Theirs" not in await page.locator("#preview").inner_text()
    assert (await page.goto("/ui/cadences/rank-a/edit")).status == 403
    assert (await page.goto("/ui/cadences/rank-a/migrate")).status == 403
    await page.goto(f"/ui/cadences/rank-a?lead={mine['id']}#preview")
    assert "Mine" in await page.locator("#preview").inner_text()
    for path in ("/ui/cadences", "/ui/cadences/rank-a", "/ui/cadences/nurture", "/ui/cadences/rank-d"):
        await page.goto(path)
        assert await no_sideways_scroll(page), path
    await page.goto("/ui/cadences/rank-a#timeline")
    await view(page, "cadence-phone", at="#timeline ol.days")
    await page.context.close()

    ops = await logged_in_page(browser, str(live.base_url), *await make_user(live, "ops"), viewport=PHONE)
    for path in ("/ui/cadences/rank-a/edit", "/ui/cadences/rank-a/migrate", "/ui/cadences/rank-a/diff"):
        await ops.goto(path)
        assert await no_sideways_scroll(ops), path
    await ops.goto("/ui/cadences/rank-a/edit")
    await view(ops, "cadence-editor-phone", at="#steps-0")
    await ops.set_viewport_size(DESKTOP)
    for path in ("/ui/cadences", "/ui/cadences/rank-a", "/ui/cadences/rank-a/edit"):
        await ops.goto(path)
        assert await no_sideways_scroll(ops), path
    await ops.context.close()

