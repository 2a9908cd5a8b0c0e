"""A real browser for UI tests: Playwright for Python driving Debian's Chromium.

Playwright's own browser download does not work on these machines, so the tests launch the system
Chromium (`apt-get install chromium`; `.ci/run` installs it when missing). Tests that need it are
skipped with a message when it is absent. Screenshots go to docs/screenshots/ for the README.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Chromium as root in a container, without the background traffic a closed network refuses.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
async def browser():
    """Playwright's async API, so the worker and the API of the live stack (on the same event
    loop) keep running while a test drives the page."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        await chromium.close()


async def logged_in_page(browser, base_url: str, email: str, password: str, viewport=DESKTOP):
    """A new browser context logged in through the login form, as a person would."""
    context = await browser.new_context(viewport=viewport, base_url=base_url)
    page = await context.new_page()
    await page.goto("/ui/login")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/ui/login" not in url)
    return page


async def screenshot(page, name: str) -> Path:
    """Save what the page shows as docs/screenshots/<name>.png (kept in the repository for the README)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
