"""In a real browser: a citizen submits through the pages (with an attachment uploaded with a progress bar),
the officer approves through the pages (inbox → dossier page → decision), and the citizen looks the dossier
up by its code and lookup secret, follows its timeline and downloads the signed result."""

from __future__ import annotations

import re
from typing import Any

from tests.browser import PDF, PHONE, click_and_load, reload_until, screenshot, sign_in_as_officer
from tests.support import deploy, officer, three_step_procedure, unique_codes, wait_until

APPLICANT_NAME = "Trần Thị Bình"


def procedure_with_a_request_letter(code: str, unit: str) -> dict[str, Any]:
    definition = three_step_procedure(code, unit)
    definition["components"] = [
        {"id": "request_letter", "name": "Tờ khai đề nghị", "accepted_types": ["application/pdf"], "max_size_mb": 1}
    ]
    definition["form"]["fields"].append(
        {
            "name": "request_letter",
            "label": "Tờ khai đề nghị (PDF)",
            "type": "attachment",
            "component": "request_letter",
        }
    )
    return definition


def fill_the_eform(page: Any) -> None:
    page.fill("#f-applicant-full_name", APPLICANT_NAME)
    page.fill("#f-applicant-citizen_id", "079123456789")
    page.fill("#f-requester_id", "079123456789")
    page.fill("#f-subject_name", "Trần Văn Cường")
    page.select_option("#f-event_type", "birth")
    page.fill("#f-copies", "2")


def test_a_citizen_submits_online_and_an_officer_approves_through_the_pages(api, new_page):
    code, unit = unique_codes()
    definition = procedure_with_a_request_letter(code, unit)
    deploy(api, definition)
    officer_id = f"mot-cua@{unit}"
    officer("reception", unit, officer_id)
    officer("leader", unit, officer_id)  # the same officer also approves as the unit's leader

    # The citizen, on a phone: chooses the procedure, fills the eForm and uploads the request letter.
    citizen = new_page(viewport=PHONE)
    citizen.goto("/citizen/procedures")
    click_and_load(citizen, citizen.locator(f'a[href="/citizen/procedures/{code}"]'))
    assert citizen.locator("h1").inner_text() == definition["name"]
    fill_the_eform(citizen)
    citizen.set_input_files(
        "#f-request_letter", files=[{"name": "to-khai.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    status = citizen.locator("#f-request_letter-status")
    # Polled from the test, not with wait_for_function: the page's CSP forbids the eval Playwright polls with.
    wait_until(
        lambda: citizen.evaluate("document.getElementById('f-request_letter-progress').value") == 100,
        what="the upload's progress bar at 100",
    )
    # The bar reaches 100 when the bytes are sent; the status says "uploaded" once the server has answered.
    wait_until(lambda: re.search(r"Đã tải lên: to-khai\.pdf", status.inner_text()), what="the upload's answer")
    descriptor = citizen.locator('input[data-descriptor-for="f-request_letter"]').input_value()
    assert '"sha256"' in descriptor and '"media_type": "application/pdf"' in descriptor.replace('":"', '": "')
    screenshot(citizen, "citizen-eform-phone")
    citizen.locator("#submit-dossier").click()

    # The receipt: dossier code, appointment date and lookup secret, and the printable form 01.
    citizen.wait_for_url(re.compile(r"/citizen/dossiers/[^/?]+\?received=1$"))
    dossier = citizen.locator("#receipt-code").inner_text()
    secret = citizen.locator("#receipt-secret").inner_text()
    assert dossier.startswith(f"{unit}-") and re.fullmatch(r"[A-Z2-7]{10}", secret)
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", citizen.locator("#receipt-appointment").inner_text())
    assert "Hồ sơ đã được tiếp nhận." in citizen.locator(".notice").inner_text()
    screenshot(citizen, "citizen-receipt-phone")
    receipt = citizen.request.get(f"/dossiers/{dossier}/receipt.html")  # the browser's lookup cookie opens it
    assert receipt.status == 200 and secret in receipt.text() and "Mẫu số 01" in receipt.text()

    # The officer signs in, finds the dossier in the inbox, opens it and approves the reception.
    desk = new_page()
    sign_in_as_officer(desk, officer_id)
    assert desk.url.endswith("/officer/inbox")
    row = reload_until(desk, f'tr[data-dossier="{dossier}"][data-step="reception"]', what="the reception step")
    assert row.locator(".urgency").inner_text().strip() in ("Trong hạn", "◔ Sắp đến hạn", "⚠ Quá hạn")
    screenshot(desk, "officer-inbox")
    click_and_load(desk, row.get_by_role("link", name=dossier))
    assert desk.locator("h1").inner_text().endswith(dossier)
    form_data = desk.locator("table.form-data").inner_text()
    assert "Trần Văn Cường" in form_data and "079123456789" in form_data
    # The attachment opens from the dossier page, authorized like the dossier.
    link = desk.locator("#attachments a", has_text="to-khai.pdf")
    opened = desk.request.get(link.get_attribute("href"))
    assert opened.status == 200 and opened.body() == PDF and opened.headers["content-type"] == "application/pdf"
    assert citizen.request.get(link.get_attribute("href")).status == 200  # the applicant too
    # The step graph marks the current step (a thick outline), and says it in words as well.
    reception_box = desk.locator("#step-graph svg g#step_reception polygon")
    assert reception_box.get_attribute("stroke-width") == "3"
    assert "Tiếp nhận" in desk.locator("#graph-heading + p strong").first.inner_text()
    screenshot(desk, "officer-dossier")
    decision = desk.locator('form.decision[data-step="reception"]')
    decision.get_by_role("button", name="Đồng ý, chuyển bước tiếp theo").click()
    desk.wait_for_url(re.compile(r"/officer/inbox\?decided="))
    assert "Đã ghi nhận quyết định." in desk.locator(".notice").inner_text()

    # After the registry lookup the leader's approval waits in the same inbox; a reject needs a reason.
    row = reload_until(desk, f'tr[data-dossier="{dossier}"][data-step="approval"]', what="the approval step")
    click_and_load(desk, row.get_by_role("link", name=dossier))
    decision = desk.locator('form.decision[data-step="approval"]')
    click_and_load(desk, decision.get_by_role("button", name="Từ chối"))
    reason = desk.locator("#f-approval-reason")
    assert reason.get_attribute("aria-invalid") == "true"
    error = desk.locator("#" + reason.get_attribute("aria-describedby"))
    assert "Hãy ghi lý do" in error.inner_text()
    desk.locator('form.decision[data-step="approval"]').get_by_role(
        "button", name="Đồng ý, chuyển bước tiếp theo"
    ).click()
    desk.wait_for_url(re.compile(r"/officer/inbox\?decided="))

    # Anyone holding the receipt looks the dossier up, sees its timeline and downloads the signed result.
    holder = new_page(viewport=PHONE)
    holder.goto("/citizen/lookup")
    holder.fill("#f-code", dossier)
    holder.fill("#f-secret", "WRONGSECRT")
    click_and_load(holder, holder.get_by_role("button", name="Tra cứu"))
    assert "Không tìm thấy hồ sơ" in holder.locator("#f-secret-error").inner_text()
    holder.fill("#f-code", dossier)
    holder.fill("#f-secret", secret.lower())  # typed from paper, case does not matter
    holder.get_by_role("button", name="Tra cứu").click()
    holder.wait_for_url(re.compile(rf"/citizen/dossiers/{re.escape(dossier)}$"))
    reload_until(holder, '#dossier-status[data-status="10"]', what="the result to be returned")
    assert holder.locator("#dossier-status").inner_text() == "Đã trả kết quả"
    timeline = holder.locator("#timeline").inner_text()
    assert "Hồ sơ đã được tiếp nhận tại" in timeline and "Lãnh đạo phê duyệt" in timeline
    screenshot(holder, "citizen-dossier-with-result-phone")
    with holder.expect_download() as download:
        holder.locator("a.result-pdf").first.click()
    assert download.value.suggested_filename.endswith(".pdf")
    assert open(download.value.path(), "rb").read().startswith(b"%PDF")
