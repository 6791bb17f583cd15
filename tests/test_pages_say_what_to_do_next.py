"""The pages lead with what their reader must do. A citizen's dossier page says what they must do and by when, then
what happens next and where the dossier is among its steps (the supplement form near the top on a phone, the clock
stop explained, interconnected dossiers linked). An officer's page shows the dossier's data before the decisions,
each decision a form of its own with its own fields, and the inbox names the applicant and is searched and filtered."""

from __future__ import annotations

from typing import Any

import httpx

from tests.browser import PHONE, click_and_load, sign_in_as_citizen, sign_in_as_officer
from tests.support import (
    APPLICANT,
    BIRTH_WARD,
    child_dossiers,
    decide,
    deploy,
    officer,
    submit,
    submit_birth,
    three_step_procedure,
    unique_codes,
    wait_for_step,
    wait_until,
)


def _open_as_holder(api: httpx.Client, page: Any, dossier: str) -> None:
    secret = api.get(f"/dossiers/{dossier}").json()["lookup_secret"]
    page.goto("/citizen/lookup")
    page.fill("#f-code", dossier)
    page.fill("#f-secret", secret)
    click_and_load(page, page.get_by_role("button", name="Tra cứu"))
    assert page.url.endswith(f"/citizen/dossiers/{dossier}"), page.url


def test_a_citizen_asked_to_supplement_sees_it_first_even_on_a_phone(api: httpx.Client, new_page) -> None:
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossier = submit(api, code)["dossier_code"]
    decide(api, dossier, "reception", unit, "request_supplement", missing=["Bản sao giấy khai sinh"], reason="Thiếu")
    wait_until(lambda: api.get(f"/dossiers/{dossier}").json()["supplement_request"], what="the supplement request")

    page = new_page(viewport=PHONE)
    _open_as_holder(api, page, dossier)
    block = page.locator("#next-step")
    assert block.get_attribute("data-task") == "supplement"
    assert "Bổ sung hồ sơ" in block.locator(".task").inner_text()
    assert page.locator("#missing li").all_inner_texts() == ["Bản sao giấy khai sinh"]
    assert "tạm dừng" in block.locator(".clock-stopped").inner_text()  # the legal clock stops meanwhile
    # The form to answer sits within the first screens, before the receipt, facts and timeline.
    form_top = page.locator("#supplement-heading").bounding_box()["y"]
    timeline_top = page.locator("#timeline-heading").bounding_box()["y"]
    assert form_top < 2 * PHONE["height"] and form_top < timeline_top, (form_top, timeline_top)
    states = dict(zip(page.locator("#progress li span[lang]").all_inner_texts(),
                      page.locator("#progress li").evaluate_all("items => items.map(i => i.dataset.state)"),
                      strict=True))  # fmt: skip
    assert states == {"Tiếp nhận": "current", "Tra cứu sổ hộ tịch": "pending", "Lãnh đạo phê duyệt": "pending",
                      "Trả kết quả": "pending"}  # fmt: skip

    page.goto(f"/citizen/dossiers/{dossier}?lang=en")
    assert "What you need to do" in page.locator("#next-step h2").inner_text()
    assert "time limit" in page.locator("#next-step .clock-stopped").inner_text()


def test_a_citizen_waiting_is_told_nothing_is_needed_and_by_when(api: httpx.Client, new_page) -> None:
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    receipt = submit(api, code)
    dossier = receipt["dossier_code"]
    decide(api, dossier, "reception", unit)
    wait_for_step(api, dossier, "approval")
    page = new_page()
    _open_as_holder(api, page, dossier)
    block = page.locator("#next-step")
    assert block.get_attribute("data-task") == "wait"
    year, month, day = receipt["appointment_date"].split("-")
    assert f"{day}/{month}/{year}" in block.inner_text()
    assert "Lãnh đạo phê duyệt" in page.locator("#what-next").inner_text()
    states = page.locator("#progress li").evaluate_all("items => items.map(i => i.dataset.state)")
    assert states == ["done", "done", "current", "pending"]
    assert page.locator("#supplement").count() == 0


def test_interconnected_dossiers_are_links(api: httpx.Client, shipped, new_page) -> None:
    parent = submit_birth(api)
    decide(api, parent, "reception", BIRTH_WARD)
    decide(api, parent, "register_birth", BIRTH_WARD)  # registered: the other agencies' branches start
    children = child_dossiers(api, parent, 2)
    page = new_page()
    sign_in_as_citizen(page, APPLICANT["citizen_id"])
    page.goto(f"/citizen/dossiers/{parent}")
    links = page.locator("#child-dossiers a")
    assert sorted(links.all_inner_texts()) == sorted(children.values())
    first = links.first.inner_text()
    click_and_load(page, links.first)
    assert page.locator("h1").inner_text().endswith(first)
    assert page.locator("dd a", has_text=parent).count() == 1  # and back to the dossier that started it


def test_an_officer_reads_the_data_first_and_each_decision_has_its_own_form(api: httpx.Client, new_page) -> None:
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossier = submit(api, code)["dossier_code"]
    wait_for_step(api, dossier, "reception")
    officer("reception", unit)
    page = new_page()
    sign_in_as_officer(page, f"reception@{unit}")
    page.goto(f"/officer/dossiers/{dossier}")
    order = page.evaluate(
        "ids => ids.map(id => document.getElementById(id).getBoundingClientRect().top + window.scrollY)",
        ["form-heading", "attachments-heading", "decision-heading", "timeline-heading"],
    )
    assert order == sorted(order), order
    forms = page.locator('form.decision[data-step="reception"]')
    decisions = forms.evaluate_all("forms => forms.map(f => f.dataset.decision)")
    assert set(decisions) == {"approve", "reject", "request_supplement"}, decisions

    def fields(decision: str) -> list[str]:
        form = page.locator(f'form.decision[data-step="reception"][data-decision="{decision}"]')
        return form.locator("textarea").evaluate_all("boxes => boxes.map(b => b.name)")

    assert fields("approve") == []
    assert fields("reject") == ["reason"]
    assert fields("request_supplement") == ["missing", "reason"]
    # A refusal without its reason is sent back to that form alone, said in the reader's language.
    click_and_load(page, page.locator('form[data-decision="reject"]').get_by_role("button", name="Từ chối"))
    assert page.locator("#f-reception-reason").get_attribute("aria-invalid") == "true"
    assert "Hãy ghi lý do" in page.locator("#f-reception-reason-error").inner_text()
    assert page.locator("#f-reception-missing").get_attribute("aria-invalid") != "true"


def test_the_inbox_names_the_applicant_and_is_searched_and_filtered(api: httpx.Client, new_page) -> None:
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    mine = submit(api, code, applicant={"full_name": "Đặng Thị Hoà", "citizen_id": "079123456781"})["dossier_code"]
    other = submit(api, code)["dossier_code"]
    for dossier in (mine, other):
        wait_for_step(api, dossier, "reception")
    officer("reception", unit)
    page = new_page()
    sign_in_as_officer(page, f"reception@{unit}")

    def listed() -> list[str]:
        return page.locator("#inbox tbody tr").evaluate_all("rows => rows.map(r => r.dataset.dossier)")

    page.goto("/officer/inbox")
    assert {mine, other} <= set(listed())
    assert page.locator(f'tr[data-dossier="{mine}"] .applicant').inner_text() == "Đặng Thị Hoà"
    page.fill("#f-q", "dang thi hoa")  # typed without diacritics
    click_and_load(page, page.get_by_role("button", name="Lọc"))
    assert listed() == [mine]
    page.goto(f"/officer/inbox?q={other}")
    assert listed() == [other]
    page.goto(f"/officer/inbox?procedure={code}&step=reception&urgency=normal")
    assert set(listed()) == {mine, other}
    page.goto(f"/officer/inbox?procedure={code}&urgency=overdue")
    assert listed() == [] and page.locator("#inbox-empty").count() == 1
    assert page.goto("/officer/inbox?urgency=soon").status == 422
