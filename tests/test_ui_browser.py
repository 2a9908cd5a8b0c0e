"""The web UI in a real browser (Debian's Chromium through Playwright): logging in and out."""
from __future__ import annotations

import pytest

from tests.support.browser import PHONE, browser, logged_in_page, screenshot  # noqa: F401  (fixture)
from tests.support.live import make_user
from tests.test_api_e2e import dev_server, live  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]


@pytest.mark.parametrize("any_db", ["sqlite"], indirect=True)
async def test_a_person_logs_in_through_the_form_and_out_again(live, browser, any_db):  # noqa: F811
    email, password = await make_user(live, "ops")
    context = await browser.new_context(base_url=str(live.base_url))
    page = await context.new_page()
    await page.goto("/ui")
    assert "/ui/login" in page.url  # pages need a login
    await screenshot(page, "login")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", "not the password")
    await page.click("button[type=submit]")
    assert await page.get_by_role("alert").inner_text() == "Wrong email or password."
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/ui")
    assert email in await page.locator("header").inner_text()
    await page.get_by_role("button", name="Log out").click()
    await page.wait_for_url("**/ui/login")
    await page.goto("/ui")
    assert "/ui/login" in page.url
    await context.close()


@pytest.mark.parametrize("any_db", ["sqlite"], indirect=True)
async def test_the_login_form_fits_a_phone(live, browser, any_db):  # noqa: F811
    context = await browser.new_context(base_url=str(live.base_url), viewport=PHONE)
    page = await context.new_page()
    await page.goto("/ui/login")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]  # nothing wider than the screen
    await context.close()
