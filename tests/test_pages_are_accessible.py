"""Every page the product serves, checked by axe-core in a real browser at a desktop's size (1280×800) and a
phone's (390×844): no serious or critical violation of the rules axe runs by default (WCAG 2.x A and AA and the
best practices). The violations found are printed (rule, impact, the elements' selectors) to be fixed; a picture
of each page at each size is kept in test-artifacts/screenshots/accessibility/.

One browser context per size, signed in as whoever the page is for, and one set of data for all the pages: the
tour of tests/page_tour.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from devstack.stack import Stack
from tests.browser import SCREENSHOTS
from tests.page_tour import PAGES, Data, Page, Visitor, tour_data  # noqa: F401  (the fixture `data`)

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
FAILING = ("serious", "critical")
PICTURES = SCREENSHOTS / "accessibility"


@pytest.fixture(scope="module", params=list(SIZES))
def visitor(request: pytest.FixtureRequest, browser: Any, stack: Stack) -> Iterator[tuple[str, Visitor]]:
    context = browser.new_context(base_url=stack.config.api_url, viewport=SIZES[request.param], locale="vi-VN")
    yield request.param, Visitor(context, stack.config.api_url)
    context.close()


def summary(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"  {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"]:
            target = " ".join(json.dumps(t, ensure_ascii=False) for t in node["target"])
            lines.append(f"      {target}  {node['html'][:120]}")
    return "\n".join(lines)


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_the_page_has_no_serious_or_critical_violation(page: Page, visitor: tuple[str, Visitor], data: Data):
    size, person = visitor
    person.become(page.who, data)
    page.open(person.page, data)
    PICTURES.mkdir(parents=True, exist_ok=True)
    person.page.screenshot(path=str(PICTURES / f"{page.name}-{size}.png"), full_page=True)
    person.page.evaluate("window.scrollTo(0, 0)")

    violations = Axe().run(person.page).response["violations"]
    failing = [v for v in violations if v["impact"] in FAILING]
    if violations:
        print(f"{page.name} at {size} ({person.page.url}):\n{summary(violations)}")
    assert not failing, f"{page.name} at {size}: serious or critical violations\n{summary(failing)}"
