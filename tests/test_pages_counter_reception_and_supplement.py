"""In a real browser: a reception officer receives a dossier brought to the counter and prints its receipt,
asks for a supplement with the list of what is missing, and the applicant answers it from the pages."""

from __future__ import annotations

import re

from tests.browser import PHONE, click_and_load, reload_until, screenshot, sign_in_as_officer
from tests.support import deploy, officer, three_step_procedure, unique_codes, wait_until


def test_the_counter_receives_in_person_and_the_applicant_answers_a_supplement_request(api, new_page):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    counter_officer = f"quay-1@{unit}"
    officer("reception", unit, counter_officer)

    desk = new_page()
    sign_in_as_officer(desk, counter_officer)
    click_and_load(desk, desk.get_by_role("link", name="Tiếp nhận tại quầy"))
    click_and_load(desk, desk.locator(f'a[href="/officer/reception/{code}"]'))
    assert desk.locator("#f-channel").input_value() == "1"  # in person, at the officer's own counter
    assert desk.locator("#f-receiving_unit").input_value() == unit
    desk.fill("#f-applicant-full_name", "Phạm Văn Đức")
    desk.fill("#f-applicant-phone", "0912345678")
    desk.fill("#f-requester_id", "079123456789")
    desk.fill("#f-subject_name", "Phạm Thị Em")
    desk.select_option("#f-event_type", "marriage")
    desk.fill("#f-copies", "1")
    screenshot(desk, "officer-counter-reception")
    desk.get_by_role("button", name="Tiếp nhận hồ sơ").click()
    desk.wait_for_url(re.compile(r"/officer/dossiers/[^/?]+\?received=1$"))
    dossier = desk.locator("#dossier-code").inner_text()
    assert "Hồ sơ đã được tiếp nhận." in desk.locator(".notice").inner_text()

    # The printable receipt (form 01) opens from the dossier page, with the lookup secret for the applicant.
    receipt = desk.request.get(desk.locator("#print-receipt").get_attribute("href"))
    assert receipt.status == 200
    text = receipt.text()
    assert "Trực tiếp tại bộ phận một cửa" in text and counter_officer in text
    secret = re.search(r"mã tra cứu\s*<strong>([A-Z2-7]{10})</strong>", text).group(1)
    # Once: a reprint by an officer does not carry it, nor does the dossier page.
    reprint = desk.request.get(desk.locator("#print-receipt").get_attribute("href"))
    assert reprint.status == 200 and dossier in reprint.text() and secret not in reprint.text()
    assert secret not in desk.content()

    # The reception finds a document missing: a supplement request lists it (one complete list).
    reload_until(desk, 'form.decision[data-step="reception"]', what="the reception step to await a decision")
    decision = desk.locator('form.decision[data-step="reception"]')
    click_and_load(desk, decision.get_by_role("button", name="Yêu cầu bổ sung"))  # without the list: refused, said so
    missing = desk.locator("#f-reception-missing")
    assert missing.get_attribute("aria-invalid") == "true"
    assert "Hãy liệt kê đủ" in desk.locator("#f-reception-missing-error").inner_text()
    missing.fill("Bản sao giấy chứng nhận kết hôn\nSố bản sao cần cấp: 3")
    desk.locator('form.decision[data-step="reception"]').get_by_role("button", name="Yêu cầu bổ sung").click()
    desk.wait_for_url(re.compile(r"/officer/inbox\?decided="))

    # The applicant looks the dossier up with the receipt and answers the request.
    applicant = new_page(viewport=PHONE)
    applicant.goto(f"/citizen/dossiers/{dossier}")  # without the secret: asked for it
    applicant.wait_for_url(re.compile(r"/citizen/lookup\?code="))
    assert applicant.locator("#f-code").input_value() == dossier
    applicant.fill("#f-secret", secret)
    click_and_load(applicant, applicant.get_by_role("button", name="Tra cứu"))
    reload_until(applicant, "#missing", what="the supplement request")
    assert "Bản sao giấy chứng nhận kết hôn" in applicant.locator("#missing").inner_text()
    assert applicant.locator("#f-copies").input_value() == "1"  # the dossier's values, to correct
    applicant.fill("#f-copies", "30")
    click_and_load(applicant, applicant.get_by_role("button", name="Gửi bổ sung"))
    copies = applicant.locator("#f-copies")
    assert copies.get_attribute("aria-invalid") == "true"  # more than the form allows: the API's message
    assert "Không được quá 10." in applicant.locator("#f-copies-error").inner_text()
    applicant.fill("#f-copies", "3")
    applicant.fill("#f-note", "Đã bổ sung số bản sao")
    applicant.get_by_role("button", name="Gửi bổ sung").click()
    applicant.wait_for_url(re.compile(r"\?supplemented=1$"))
    screenshot(applicant, "citizen-supplement-sent-phone")
    wait_until(
        lambda: any(
            "supplemented" in entry["summary"]
            for entry in api.get(f"/dossiers/{dossier}", headers={"X-Lookup-Secret": secret}).json()["timeline"]
        ),
        what="the supplement in the dossier's timeline",
    )
    assert "Đã bổ sung hồ sơ" in applicant.locator("#timeline").inner_text() or reload_until(
        applicant, "#timeline >> text=Đã bổ sung hồ sơ"
    )

    # An officer of another unit does not learn the dossier exists.
    officer("reception", "T9999.00.00", "quay-1@T9999.00.00")
    stranger = new_page()
    sign_in_as_officer(stranger, "quay-1@T9999.00.00")
    response = stranger.goto(f"/officer/dossiers/{dossier}")
    assert response.status == 404
