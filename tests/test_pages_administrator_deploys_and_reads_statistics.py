"""In a real browser: an administrator validates and deploys a definition (its errors shown against the text,
with their paths and lines), sees the procedure's versions and step graph, manages a unit and the working
calendar, and reads the service-quality dashboard's charts."""

from __future__ import annotations

import re

import yaml

from tests.browser import click_and_load, reload_until, screenshot, sign_in_as_officer
from tests.support import ADMINISTRATOR, deploy, submit, three_step_procedure, unique_codes, wait_for_step, wait_until


def test_an_administrator_sees_definition_errors_against_their_paths_then_deploys(api, new_page):
    code, unit = unique_codes()
    definition = three_step_procedure(code, unit)
    definition["steps"][2]["next"] = "nowhere"  # the approval leads to a step that does not exist
    broken = yaml.safe_dump(definition, allow_unicode=True, sort_keys=False)
    wrong_line = broken.split("\n").index("  next: nowhere") + 1

    page = new_page()
    sign_in_as_officer(page, ADMINISTRATOR)
    assert page.url.endswith("/admin/procedures")
    click_and_load(page, page.get_by_role("link", name="Triển khai hoặc kiểm tra định nghĩa"))
    page.fill("#f-definition", broken)
    click_and_load(page, page.get_by_role("button", name="Triển khai"))

    errors = page.locator("#definition-errors tbody tr")
    assert errors.count() == 1
    assert errors.locator(".error-path").inner_text() == "steps[2].next"
    assert "bước không có 'nowhere'" in errors.locator(".error-message").inner_text()
    assert errors.get_by_role("link").inner_text() == str(wrong_line)
    marked = page.locator(f"#line-{wrong_line}")
    assert "has-error" in marked.get_attribute("class") and "next: nowhere" in marked.inner_text()
    assert page.locator("#definition-source .has-error").count() == 1
    assert page.locator("#f-definition").input_value() == broken  # the text stays, to be corrected
    screenshot(page, "administrator-definition-errors")
    assert api.get(f"/procedures/{code}").status_code == 404  # nothing was deployed

    # Corrected: validation says so without deploying, then the deployment makes version 1.
    page.fill("#f-definition", broken.replace("next: nowhere", "next: result"))
    click_and_load(page, page.get_by_role("button", name="Kiểm tra"))
    assert code in page.locator("#validation-ok").inner_text()
    assert api.get(f"/procedures/{code}").status_code == 404
    page.get_by_role("button", name="Triển khai").click()
    page.wait_for_url(re.compile(rf"/admin/procedures/{re.escape(code)}\?deployed=1$"))
    assert page.locator("#versions tbody tr").count() == 1
    graph = page.locator("#step-graph")
    graph.scroll_into_view_if_needed()
    # Polled from the test, not with wait_for_function: the page's CSP forbids the eval Playwright polls with.
    wait_until(lambda: graph.evaluate("image => image.naturalWidth") > 0, what="the step graph drawn")
    assert definition["name"] in graph.get_attribute("alt")
    screenshot(page, "administrator-procedure")

    # The same content again is the same version.
    page.goto("/admin/procedures/deploy")
    page.fill("#f-definition", broken.replace("next: nowhere", "next: result"))
    page.get_by_role("button", name="Triển khai").click()
    page.wait_for_url(re.compile(r"\?unchanged=1$"))
    assert api.get(f"/procedures/{code}/versions").json()[0]["version"] == 1


def test_an_administrator_manages_a_unit_and_the_calendar(api, new_page):
    _, unit = unique_codes()
    page = new_page()
    sign_in_as_officer(page, ADMINISTRATOR)
    page.goto("/admin/units")
    page.fill("#f-code", unit)
    page.fill("#f-name", "Trung tâm phục vụ hành chính công (thử)")
    page.select_option("#f-kind", "ward")  # a ward needs its area code
    page.fill("#f-parent_code", "VN")
    click_and_load(page, page.get_by_role("button", name="Lưu"))
    area = page.locator("#f-area_code")
    assert area.get_attribute("aria-invalid") == "true"
    assert (
        "needs its administrative-area code" in page.locator("#" + area.get_attribute("aria-describedby")).inner_text()
    )
    page.select_option("#f-kind", "department")
    page.get_by_role("button", name="Lưu").click()
    page.wait_for_url(re.compile(r"/admin/units\?saved="))
    assert api.get(f"/units/{unit}").json()["name"] == "Trung tâm phục vụ hành chính công (thử)"

    page.goto("/admin/calendars/VN?year=2030")
    page.fill("#f-day", "2030-03-15")
    page.fill("#f-reason", "Nghỉ bù (thử)")
    page.get_by_role("button", name="Lưu").click()
    page.wait_for_url(re.compile(r"/admin/calendars/VN\?year=2030&saved=1"))
    assert "Nghỉ bù (thử)" in page.locator("#calendar-changes").inner_text()
    assert any(
        c["reason"] == "Nghỉ bù (thử)" for c in api.get("/calendars/VN", params={"year": 2030}).json()["changes"]
    )
    screenshot(page, "administrator-calendar")
    page.get_by_role("button", name="Xóa 15/03/2030").click()
    page.wait_for_url(re.compile(r"saved=1"))
    assert "Nghỉ bù (thử)" not in page.locator("main").inner_text()


def test_the_statistics_dashboard_draws_the_indicators(api, new_page):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossiers = [submit(api, code)["dossier_code"] for _ in range(3)]
    wait_for_step(api, dossiers[-1], "reception")

    page = new_page()
    sign_in_as_officer(page, ADMINISTRATOR)
    page.goto(f"/admin/statistics?agency={unit}")
    chart = reload_until(page, "svg#chart-received", what="the chart of dossiers received")
    assert chart.get_attribute("role") == "img"
    bar = chart.locator("rect.bar")
    assert bar.count() == 1 and bar.get_attribute("data-value") == "3" and bar.bounding_box()["width"] > 0
    assert (
        f"(Mã: {unit} · {code}): 3" in chart.locator("desc").text_content()
    )  # the figure in words, beside the picture
    assert page.locator("svg#chart-on-time").count() == 1
    table = page.locator("#indicators tbody tr").first.inner_text()
    assert unit in table and code in table
    assert page.get_by_role("link", name="Tải CSV").get_attribute("href").startswith("/statistics.csv?")
    screenshot(page, "administrator-statistics")

    page.goto("/admin/statistics?start=2026-13-01")
    assert page.locator("#f-start").get_attribute("aria-invalid") == "true"
