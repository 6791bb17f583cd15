"""Tests in a real browser: Playwright drives Debian's Chromium (`/usr/bin/chromium`, installed by
`make browser`; Playwright's own browser download is never used) against the session's stack.

Each page test module gets its own browser (module scope), and each test opens fresh browser contexts, so
cookies of one person (a citizen, an officer) never leak into another's. Screenshots of the main pages are
kept in test-artifacts/screenshots/."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.stack import Stack
from infrastructure.settings import PROJECT_ROOT

CHROMIUM = Path(os.environ.get("MOTCUA_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
# Headless, as root in a sandboxed machine, with no network beyond loopback: nothing phones home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

# A small, real PDF: what a scanned document looks like to the upload service.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Any, stack: Stack) -> Iterator[Callable[..., Any]]:
    """Opens a page in a fresh browser context (its own cookies): `new_page()`, `new_page(viewport=PHONE)`,
    or `new_page(javascript=False)` for a browser that runs no script."""
    contexts: list[Any] = []

    def open_page(viewport: dict[str, int] | None = None, javascript: bool = True) -> Any:
        context = browser.new_context(
            base_url=stack.config.api_url,
            viewport=viewport or DESKTOP,
            accept_downloads=True,
            locale="vi-VN",
            java_script_enabled=javascript,
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    # After a full-page picture Chromium's view is left scrolled in a state where clicks near the bottom of
    # the viewport go nowhere; back to the top, Playwright scrolls each element into view again.
    page.evaluate("window.scrollTo(0, 0)")
    return path


def click_and_load(page: Any, target: Any) -> None:
    """Click a link or a form's button and wait for the page it leads to. The pages post their forms without
    script and answer with a new page, often at the same address with the same fields (now marked invalid):
    read at once after a plain click, a locator may still find the page before, and counts never wait."""
    with page.expect_navigation():
        target.click()


def sign_in_as_officer(page: Any, officer_id: str) -> None:
    page.goto("/sign-in")
    page.fill("#f-officer_id", officer_id)
    click_and_load(page, page.get_by_role("button", name="Đăng nhập là cán bộ"))


def sign_in_as_citizen(page: Any, citizen_id: str) -> None:
    page.goto("/sign-in")
    page.fill("#f-citizen_id", citizen_id)
    click_and_load(page, page.get_by_role("button", name="Đăng nhập là công dân"))


def reload_until(page: Any, selector: str, *, timeout: float = 30, what: str | None = None) -> Any:
    """Reload the page until `selector` is on it (the read model follows the workflow within moments)."""
    deadline = time.monotonic() + timeout
    while True:
        if page.locator(selector).count():
            return page.locator(selector)
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or selector} on {page.url}")
        time.sleep(0.3)
        page.reload()
