"""Headless Chromium for the browser tests: Debian's binary, driven by Playwright.

Playwright only drives it, so `playwright install` is never needed. Create database
rows before entering: the sync API keeps an asyncio loop running in this thread,
and Django then refuses ORM calls (SynchronousOnlyOperation).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import BrowserContext, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


# A wait for what the page must show, not a measure of speed: long enough for a 2-core machine running
# the suite beside other CPU-bound work (page loads took over 5 s there).
TIMEOUT_MS = 30_000


@contextmanager
def browser_context(base_url: str, timeout_ms: int) -> Iterator[BrowserContext]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=base_url)
            context.set_default_timeout(timeout_ms)
            expect.set_options(timeout=timeout_ms)
            yield context
        finally:
            browser.close()
