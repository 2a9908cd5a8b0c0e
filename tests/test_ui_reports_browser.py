"""The reports page in a real browser against the live stack: leads run a real cadence, reply, are
accepted, and a rep works (or lets slip) their call tasks; the page draws each report as SVG with
the numbers the JSON reports give, and every CSV download parses to the same numbers."""
from __future__ import annotations

import csv

import pytest

from tests.support.browser import PHONE, browser, logged_in_page, screenshot  # noqa: F401  (fixture)
from tests.support.harness import eventually
from tests.support.live import make_user
from tests.test_api_e2e import dev_server, lead_body, live  # noqa: F401  (fixtures)
from tests.test_ui_cadences_browser import unlabelled

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]

REPORT = {  # anytime steps, so everything happens within the test; the call task escalates after 6 s
    "name": "report-test", "ranks": ["A"], "send_window": None, "business_days": False,
    "pause_account": False,  # the leads share a company: one's reply must not pause the others
    "steps": [
        {"id": "r-intro", "channel": "email", "wait": "PT0S", "variants": [
            {"id": "a", "subject": "Hello {{ first_name }}", "body": "A short hello."},
            {"id": "b", "subject": "A question, {{ first_name }}", "body": "A longer question."}]},
        {"id": "r-call", "channel": "call", "wait": "PT1S", "instructions": "Call {{ first_name }}", "sla": "PT6S",
         "expires": "P1D"},
    ] + [{"id": f"r-mail-{i}", "channel": "email", "wait": "P1D", "subject": f"Note {i}", "body": "Hi"}
         for i in range(3, 7)],
}


async def open_call_task(live, lead_id: str) -> dict:
    async def found():
        tasks = (await live.get("/tasks", params={"lead_id": lead_id, "status": "open"})).json()["data"]
        return tasks[0] if tasks else None
    return await eventually(found, timeout=15)


def read_csv(path: str) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("any_db", ["sqlite"], indirect=True)
async def test_the_reports_page_draws_each_report_and_its_csv_parses(live, browser, any_db):  # noqa: F811
    assert (await live.post("/cadences", json=REPORT)).status_code == 201
    assert (await live.post("/reps", json={"id": "ana", "name": "Ana", "email": "ana@example.com"})).status_code == 201
    leads = [(await live.post("/leads", json=lead_body(owner="ana", cadence="report-test",
                                                       first_name=f"Lead{n}"))).json() for n in range(6)]
    (await live.post("/leads", json=lead_body(source="event"))).json()  # a rank B lead on rank-b
    tasks = [await open_call_task(live, lead["id"]) for lead in leads]
    for lead, intent in zip(leads, ("positive", "neutral", "unsubscribe")):
        r = await live.post(f"/leads/{lead['id']}/signals/reply", json={"intent": intent, "text": f"{intent}!"})
        assert r.status_code == 202, r.text
    r = await live.post(f"/tasks/{tasks[3]['id']}/complete", json={"outcome": "no_answer"})  # on time
    assert r.status_code == 200, r.text
    assert (await live.post(f"/leads/{leads[5]['id']}/signals/accept", json={})).status_code == 202

    async def breached():
        events = (await live.get(f"/leads/{leads[4]['id']}")).json()["events"]
        return any(e["type"] == "sla_breached" for e in events) or None
    await eventually(breached, timeout=20)  # the SLA passed while the task was open: late
    assert (await live.post(f"/tasks/{tasks[4]['id']}/complete", json={"outcome": "voicemail"})).status_code == 200

    async def settled():
        funnel = (await live.get("/reports/funnel")).json()
        steps = (await live.get("/reports/steps", params={"cadence": "report-test"})).json()["steps"]
        reps = {r["owner"]: r for r in (await live.get("/reports/tasks")).json()["reps"]}
        done = funnel["sql"] == 1 and funnel["sal"] == 2 and steps[0]["replied"] == 2 and steps[1]["sent"] == 2 \
            and reps.get("ana", {}).get("late") == 1
        return (funnel, steps, reps) if done else None
    funnel, steps, reps = await eventually(settled, timeout=15)
    assert steps[0] | {"step": 1, "step_id": "r-intro", "sent": 6, "positive": 1, "unsubscribed": 1} == steps[0]
    variants = (await live.get("/reports/variants", params={"cadence": "report-test"})).json()["variants"]
    first = {r["rank"]: r for r in (await live.get("/reports/first-touch")).json()["ranks"]}
    assert first["A"]["touched"] == 6 and first["A"]["median_seconds"] < 15 and "B" in first

    page = await logged_in_page(browser, str(live.base_url), *await make_user(live, "ops"))
    await page.goto("/ui/reports?cadence=report-test")
    charts = page.locator("svg.chart[role=img]")
    assert await charts.count() >= 6  # funnel, stages, steps, a variants chart, first touch, tasks
    funnel_svg = await page.locator("#funnel svg.chart").first.text_content()
    assert "SAL: accepted by a rep" in funnel_svg and f"{funnel['mql']}" in funnel_svg
    assert f"{funnel['mql_to_sal'] * 100:.1f}% of MQL accepted" in funnel_svg
    steps_svg = await page.locator("#steps svg.chart").text_content()
    assert "1. Email · r-intro" in steps_svg and "2. Call · r-call" in steps_svg
    assert f"{steps[0]['replied_rate'] * 100:.1f}%" in steps_svg
    variants_svg = " ".join(await page.locator("#variants svg.chart").all_text_contents())
    for v in variants:
        assert f"{v['replied']} repl{'y' if v['replied'] == 1 else 'ies'} of {v['sent']} sent" in variants_svg
    first_svg = await page.locator("#first-touch svg.chart").text_content()
    assert "Rank A · 6 leads" in first_svg and "median" in first_svg
    tasks_svg = await page.locator("#tasks svg.chart").text_content()
    ana = reps["ana"]
    assert "ana" in tasks_svg and f"{ana['on_time_rate'] * 100:.0f}% on time" in tasks_svg
    assert "done late" in tasks_svg  # the legend names every pattern
    assert "Funnel, MQL to SAL to SQL" in await page.locator("#funnel svg.chart title").first.text_content()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 1280
    assert await unlabelled(page) == []
    await screenshot(page, "reports")

    downloads = {}
    for name in ("funnel", "steps", "variants", "first-touch", "tasks"):
        async with page.expect_download() as info:
            await page.locator(f"a.download[href^='/ui/reports/{name}.csv']").click()
        download = await info.value
        assert download.suggested_filename.startswith(f"cadence-{name}-")
        downloads[name] = read_csv(await download.path())
    levels = {r["name"]: r for r in downloads["funnel"]}
    assert (int(levels["MQL"]["leads"]), int(levels["SAL"]["leads"]), int(levels["SQL"]["leads"])) == (
        funnel["mql"], funnel["sal"], funnel["sql"])
    assert int(levels["qualified"]["leads"]) == funnel["stages"]["qualified"]
    assert [(r["step_id"], int(r["sent"]), int(r["replied"])) for r in downloads["steps"]] == [
        (s["step_id"], s["sent"], s["replied"]) for s in steps]
    assert sorted((r["variant"], int(r["sent"])) for r in downloads["variants"]) == sorted(
        (v["variant"], v["sent"]) for v in variants)
    assert {r["rank"]: int(r["touched"]) for r in downloads["first-touch"]}["A"] == 6
    ana_csv = next(r for r in downloads["tasks"] if r["owner"] == "ana")
    assert (int(ana_csv["on_time"]), int(ana_csv["late"])) == (ana["on_time"], ana["late"])

    await page.set_viewport_size(PHONE)
    await page.goto("/ui/reports?cadence=report-test")
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await screenshot(page, "reports-phone")
    await page.context.close()

    rep = await logged_in_page(browser, str(live.base_url), *await make_user(live, "rep", "ana"))
    assert (await rep.goto("/ui/reports")).status == 403
    assert (await rep.goto("/ui/reports/funnel.csv")).status == 403
    await rep.context.close()


@pytest.mark.parametrize("any_db", ["sqlite"], indirect=True)
async def test_report_json_routes_name_their_problems(live, any_db):  # noqa: F811
    assert (await live.get("/reports/steps", params={"cadence": "nope"})).status_code == 404
    assert (await live.get("/reports/steps")).status_code == 422
    assert (await live.get("/reports/tasks", params={"since": "yesterday"})).status_code == 422
    empty = (await live.get("/reports/first-touch", params={"since": "2001-01-01", "until": "2001-01-31"})).json()
    assert empty == {"ranks": []}
