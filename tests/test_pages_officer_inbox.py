"""The officer's inbox page: steps of the officer's roles and units, and of those they act for by delegation
(said as such), earliest deadline first; urgency in words and in colours with enough contrast."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from api.dossier_service.inbox import InboxFilter, InboxItem
from api.pages import i18n
from api.pages.rendering import _environment
from tests.browser import click_and_load, sign_in_as_officer
from tests.support import deploy, officer, submit, three_step_procedure, unique_codes, wait_for_step

SITE_CSS = Path(i18n.__file__).parent / "static" / "site.css"


def test_the_inbox_lists_my_steps_and_my_delegators_steps_earliest_first(api, new_page):
    code, unit = unique_codes()
    quick_code, _ = unique_codes()
    slow = three_step_procedure(code, unit)
    slow["steps"][0]["budget_working_days"] = 2
    quick = three_step_procedure(quick_code, unit)
    quick["steps"][0]["budget_working_days"] = 0
    deploy(api, slow)
    deploy(api, quick)
    later = submit(api, code)["dossier_code"]
    sooner = submit(api, quick_code)["dossier_code"]
    for dossier in (later, sooner):
        wait_for_step(api, dossier, "reception")

    # The unit's reception officer is away; a colleague of another unit acts for them.
    absent, stand_in = f"absent@{unit}", f"stand-in@{unit}"
    officer("reception", unit, absent)
    officer("specialist", "T9997.00.00", stand_in)
    today = date.today()
    delegated = api.post(
        f"/officers/{absent}/delegations",
        json={"delegate_id": stand_in, "valid_from": str(today - timedelta(days=1)),
              "valid_until": str(today + timedelta(days=2)), "reason": "Nghỉ phép"},
    )  # fmt: skip
    assert delegated.status_code == 201, delegated.text

    page = new_page()
    sign_in_as_officer(page, stand_in)
    rows = page.locator("#inbox tbody tr")
    assert [rows.nth(i).get_attribute("data-dossier") for i in range(rows.count())] == [sooner, later]
    assert f"Thay cho {absent}" in rows.first.inner_text()
    assert all(rows.nth(i).locator(".urgency").inner_text().strip() for i in range(rows.count()))
    click_and_load(page, rows.first.get_by_role("link", name=sooner))
    assert page.locator('form.decision[data-step="reception"][data-decision="approve"]').count() == 1  # may decide


def _contrast(foreground: str, background: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_urgency_is_said_in_words_and_its_colours_have_contrast():
    def item(urgency: str) -> InboxItem:
        now = datetime.now(UTC)
        return InboxItem(dossier_code=f"X-{urgency}", procedure_code="9.000001", procedure_name="P", step_id="s",
                         step_name="S", role="reception", unit_code="U", step_due_date=now.date(), step_due_at=now,
                         urgency=urgency, appointment_date=now.date(), received_at=now, status=2)  # fmt: skip

    html = _environment.get_template("inbox.html").render(
        t=i18n.translator("vi"), listed=[(item(u), None) for u in ("overdue", "warning", "normal")],
        local_time=str, local_date=str, language_url=lambda _: "", request=None, csrf_token="", csrf_field="",
        chosen=InboxFilter(), waiting=3, procedures=[], steps=[], role_names={},
    )  # fmt: skip
    for urgency, words in (("overdue", "Quá hạn"), ("warning", "Sắp đến hạn"), ("normal", "Trong hạn")):
        row = re.search(rf'<tr class="row-{urgency}".*?</tr>', html, re.S).group(0)
        assert words in row, urgency

    colours = dict(re.findall(r"--([a-z-]+): (#[0-9a-f]{6})", SITE_CSS.read_text()))
    pairs = [("ink", "#ffffff"), ("link", "#ffffff"), ("muted", "#ffffff"), ("bad", "bad-bg"), ("warn", "warn-bg"),
             ("ok", "ok-bg"), ("ok", "#ffffff"), ("bad", "#ffffff"), ("#ffffff", "brand")]  # fmt: skip
    for foreground, background in pairs:
        fg, bg = (c if c.startswith("#") else colours[c] for c in (foreground, background))
        assert _contrast(fg, bg) >= 4.5, (foreground, background, _contrast(fg, bg))
