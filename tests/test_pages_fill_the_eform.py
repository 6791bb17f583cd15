"""In a real browser, the citizen's eForm: the API's own validation messages next to the fields (linked for
screen readers), data reused from the population database shown as such, an English switch, keyboard use
from the first Tab to the submit button, and a layout that fits a phone."""

from __future__ import annotations

import hashlib
import re

from forms.field_messages import field_message
from tests.browser import PDF, PHONE, click_and_load, screenshot, sign_in_as_citizen
from tests.support import APPLICANT

BIRTH = "3.000722"


def test_the_eform_shows_the_apis_own_messages_next_to_the_fields(api, shipped, new_page):
    page = new_page()
    page.goto(f"/citizen/procedures/{BIRTH}")
    page.fill("#f-applicant-full_name", "Lê Thị Hoa")
    page.fill("#f-mother_id", "12345")
    page.fill("#f-residence_address-detail", "12 Lê Lợi")  # no province or ward chosen
    click_and_load(page, page.locator("#submit-dossier"))

    # What the API answers for the same form is what the page says, field by field.
    answer = api.post("/dossiers", json={
        "procedure_code": BIRTH, "applicant": {"full_name": "Lê Thị Hoa"},
        "form": {"mother_id": "12345", "residence_address": {"detail": "12 Lê Lợi"}, "register_residence": False},
    })  # fmt: skip
    assert answer.status_code == 422
    # The page says it for a person, in Vietnamese: the API's error type in plain words (forms/field_messages.py).
    expected = {".".join(str(p) for p in e["loc"][2:]): str(field_message(e)) for e in answer.json()["detail"]}
    assert expected["mother_id"] == "Số định danh cá nhân gồm 12 chữ số."
    assert expected["child_name"] == "Mục này là bắt buộc."
    for path in ("mother_id", "child_name", "residence_address.ward_code", "residence_address.province_code"):
        control = page.locator(f"#f-{path.replace('.', '-')}")
        assert control.get_attribute("aria-invalid") == "true", path
        error_id = control.get_attribute("aria-describedby").split()[-1]
        assert page.locator(f"#{error_id}").text_content() == expected[path], path
    # The summary lists every problem with the field's label, and takes the focus.
    summary = page.locator("#error-summary")
    assert summary.get_attribute("role") == "alert"
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert summary.get_by_role("link", name="Số định danh của mẹ").count() == 1
    assert summary.get_by_role("link", name="Nơi đăng ký thường trú › Mã xã/phường").count() == 1
    # What was typed stays; nothing was registered.
    assert page.locator("#f-mother_id").input_value() == "12345"
    assert page.locator("#f-applicant-full_name").input_value() == "Lê Thị Hoa"
    screenshot(page, "citizen-eform-errors")


def test_data_from_the_population_database_is_shown_as_prefilled(shipped, new_page):
    mother = "079190000001"  # in the simulator's population database
    page = new_page()
    sign_in_as_citizen(page, mother)
    page.goto(f"/citizen/procedures/{BIRTH}")
    assert page.locator("#f-applicant-citizen_id").input_value() == mother
    page.fill("#f-mother_id", mother)
    click_and_load(page, page.get_by_role("button", name="Điền sẵn từ CSDL quốc gia"))
    name = page.locator("#f-mother_name")
    assert name.input_value()  # the mother's name, from the national database
    assert name.get_attribute("readonly") is not None
    assert (
        page.locator("#f-mother_name-prefilled")
        .inner_text()
        .endswith("Đã điền sẵn từ Cơ sở dữ liệu quốc gia về dân cư")
    )
    assert page.locator('input[name="prefilled_fields"][value="mother_name"]').count() == 1
    # Someone else's data is not a citizen's to reuse: the API's refusal is shown.
    page.fill("#f-father_id", "079188000002")
    click_and_load(page, page.get_by_role("button", name="Điền sẵn từ CSDL quốc gia"))
    assert "only their own data" in page.locator("#error-summary").inner_text()


def test_the_pages_switch_to_english_and_back(shipped, new_page):
    page = new_page(viewport=PHONE)
    page.goto(f"/citizen/procedures/{BIRTH}")
    assert page.locator("html").get_attribute("lang") == "vi"
    click_and_load(page, page.get_by_role("link", name="English"))
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#submit-dossier").inner_text() == "Submit a dossier"
    assert page.locator('label[for="f-applicant-full_name"]').inner_text().startswith("Full name")
    assert page.locator('label[for="f-residence_address-ward_code"]').inner_text() == "Commune/ward"
    # Addresses pick their province and ward by name, not by code.
    assert page.locator("#f-residence_address-province_code option", has_text="Thành phố Hồ Chí Minh").count() == 1
    # What the definition says stays as the administrators wrote it.
    assert page.locator('label[for="f-child_name"]').inner_text().startswith("Họ, chữ đệm và tên của trẻ")
    screenshot(page, "citizen-eform-english-phone")
    # The choice is remembered from page to page.
    page.goto("/citizen/lookup")
    assert page.locator("h1").inner_text() == "Look up a dossier"
    click_and_load(page, page.get_by_role("link", name="Tiếng Việt"))
    assert page.locator("h1").inner_text() == "Tra cứu hồ sơ"


def test_the_eform_is_used_with_the_keyboard_alone(shipped, new_page):
    page = new_page()
    page.goto(f"/citizen/procedures/{BIRTH}")
    # Every control has a label (or is a button with its own text).
    unlabelled = page.evaluate(
        """[...document.querySelectorAll('main input:not([type=hidden]), main select, main textarea')]
             .filter(e => !e.labels || e.labels.length === 0).map(e => e.id || e.name)"""
    )
    assert unlabelled == []
    # Tab by Tab: the skip link first, then the applicant's fields, the eForm in its order, then submit.
    visited: list[str] = []
    for _ in range(80):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "document.activeElement.id || document.activeElement.className || document.activeElement.tagName"
        )
        visited.append(focused)
        if focused == "submit-dossier":
            break
    assert visited[0] == "skip-link", visited
    assert visited[-1] == "submit-dossier", visited
    order = [v for v in visited if v.startswith("f-")]
    assert order.index("f-applicant-full_name") < order.index("f-child_name") < order.index("f-mother_id")
    assert (
        order.index("f-mother_id")
        < order.index("f-residence_address-province_code")
        < order.index("f-birth_certificate")
    )
    # Enter on the focused submit button sends the form; the answer's problems take the focus.
    page.keyboard.press("Enter")
    page.wait_for_selector("#error-summary")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    # The skip link leads past the navigation.
    page.goto(f"/citizen/procedures/{BIRTH}")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"


def test_the_eform_fits_a_phone(shipped, new_page):
    page = new_page(viewport=PHONE)
    page.goto(f"/citizen/procedures/{BIRTH}")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator('meta[name="viewport"]').get_attribute("content").startswith("width=device-width")
    page.fill("#f-applicant-full_name", APPLICANT["full_name"])
    screenshot(page, "citizen-eform-birth-phone")


def test_repeating_groups_and_multiple_choices_keep_what_was_entered(shipped, new_page):
    page = new_page()
    page.goto("/citizen/procedures/1.001612")
    page.fill("#f-members-0-full_name", "Ngô Văn Giáp")
    page.select_option("#f-business_lines", ["4711", "5610"])
    click_and_load(page, page.get_by_role("button", name="Thêm mục"))  # one more member, without any script
    assert page.locator("#f-members .eform-group-item").count() == 2
    assert page.locator("#f-members-0-full_name").input_value() == "Ngô Văn Giáp"
    assert page.locator("#f-business_lines option:checked").evaluate_all("o => o.map(x => x.value)") == ["4711", "5610"]
    assert page.locator("#f-business_lines option:checked").first.inner_text().startswith("4711 — Bán lẻ")
    page.fill("#f-members-1-full_name", "Ngô Thị Hạnh")
    page.fill("#f-members-1-citizen_id", "12")
    click_and_load(page, page.locator("#submit-dossier"))
    # The second member's messages sit at the second member's fields.
    assert page.locator("#f-members-1-citizen_id").get_attribute("aria-invalid") == "true"
    assert page.locator("#f-members-0-citizen_id").get_attribute("aria-invalid") == "true"  # required there too
    assert page.locator("#f-members-1-full_name").get_attribute("aria-invalid") is None
    assert page.locator("#f-members .eform-group-item").count() == 2


def test_an_upload_refused_is_said_next_to_its_field(shipped, new_page):
    page = new_page()
    page.goto(f"/citizen/procedures/{BIRTH}")
    page.set_input_files(
        "#f-birth_certificate", files=[{"name": "ghi-chu.txt", "mimeType": "text/plain", "buffer": b"not a scan"}]
    )
    error = page.locator("#f-birth_certificate-error")
    error.wait_for()
    assert "text/plain is not accepted" in error.inner_text() and error.get_attribute("role") == "alert"
    field = page.locator("#f-birth_certificate")
    assert field.get_attribute("aria-invalid") == "true"
    assert "f-birth_certificate-error" in field.get_attribute("aria-describedby")
    assert page.locator('input[data-descriptor-for="f-birth_certificate"]').input_value() == ""
    assert page.locator("#submit-dossier").is_enabled()


def _fill_the_birth_form(page) -> None:
    page.fill("#f-applicant-full_name", "Lê Thị Hoa")
    page.fill("#f-child_name", "Lê Minh An")
    page.fill("#f-child_date_of_birth", "2026-11-01")
    page.fill("#f-child_place_of_birth", "Bệnh viện Từ Dũ")
    page.select_option("#f-child_sex", "male")
    page.fill("#f-child_ethnicity", "Kinh")
    page.fill("#f-child_nationality", "Việt Nam")
    page.fill("#f-mother_id", "079190000001")
    page.fill("#f-mother_name", "Lê Thị Hoa")
    page.select_option("#f-residence_address-province_code", label="Thành phố Hồ Chí Minh")
    page.select_option("#f-residence_address-ward_code", label="Phường Sài Gòn")
    page.fill("#f-residence_address-detail", "12 Nguyễn Trãi")
    page.select_option("#f-insurance_facility", "79-001")


def test_an_uploaded_file_stays_with_the_form_while_it_is_corrected(api, shipped, new_page):
    page = new_page()
    page.goto(f"/citizen/procedures/{BIRTH}")
    _fill_the_birth_form(page)
    page.fill("#f-child_ethnicity", "")  # one mistake to correct
    page.set_input_files(
        "#f-birth_certificate", files=[{"name": "giay-chung-sinh.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.locator('#f-birth_certificate-status:has-text("Đã tải lên")').wait_for()
    click_and_load(page, page.locator("#submit-dossier"))
    assert page.locator("#f-child_ethnicity").get_attribute("aria-invalid") == "true"
    # Shown again with the file already uploaded: no need to choose it again.
    assert "giay-chung-sinh.pdf" in page.locator("#f-birth_certificate-status").inner_text()
    assert page.locator("#f-birth_certificate").get_attribute("required") is None
    page.fill("#f-child_ethnicity", "Kinh")
    page.locator("#submit-dossier").click()
    page.wait_for_url(re.compile(r"/citizen/dossiers/[^/?]+\?received=1$"))
    dossier = page.locator("#receipt-code").inner_text()
    opened = page.request.get(f"/dossiers/{dossier}/attachments/{hashlib.sha256(PDF).hexdigest()}")
    assert opened.status == 200 and opened.body() == PDF


def test_without_any_script_the_form_carries_its_files_itself(api, shipped, new_page):
    page = new_page(javascript=False)
    page.goto(f"/citizen/procedures/{BIRTH}")
    _fill_the_birth_form(page)
    page.set_input_files(
        "#f-birth_certificate", files=[{"name": "scan.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.locator("#submit-dossier").click()
    page.wait_for_url(re.compile(r"/citizen/dossiers/[^/?]+\?received=1$"))
    dossier = page.locator("#receipt-code").inner_text()
    opened = page.request.get(f"/dossiers/{dossier}/attachments/{hashlib.sha256(PDF).hexdigest()}")
    assert opened.status == 200 and opened.body() == PDF


def test_a_fields_problem_is_said_in_the_pages_language(shipped, new_page):
    page = new_page()
    page.goto(f"/citizen/procedures/{BIRTH}?lang=en")
    page.fill("#f-mother_id", "12345")
    click_and_load(page, page.locator("#submit-dossier"))
    assert page.locator("#f-mother_id-error").inner_text() == "A personal identification number has 12 digits."
    assert page.locator("#f-child_name-error").inner_text() == "This field is required."
    page.goto(f"/citizen/procedures/{BIRTH}?lang=vi")
    page.fill("#f-mother_id", "12345")
    click_and_load(page, page.locator("#submit-dossier"))
    assert page.locator("#f-child_name-error").inner_text() == "Mục này là bắt buộc."
