"""Debian's Chromium driven by Playwright (never `playwright install`)."""
import os

import pytest

from tests.conftest import CHROMIUM

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page_factory(browser):
    contexts = []

    def make(javascript=True):
        context = browser.new_context(java_script_enabled=javascript, viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.console_errors = []
        def on_console(message):
            if message.type == "error":  # keep where it came from: a CSP refusal names no culprit otherwise
                where = message.location
                page.console_errors.append(f"{message.text} @ {where.get('url')}:{where.get('lineNumber')}")

        page.on("console", on_console)
        page.on("pageerror", lambda e: page.console_errors.append(str(e)))  # CSP eval refusals land here
        return page
    yield make
    for context in contexts:
        context.close()
