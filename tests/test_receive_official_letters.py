"""Official letters (forms 02–05 of Circular 01/2018/TT-VPCP) are issued by the dossier when their event happens:
signed as PAdES PDFs by the acting unit like results, listed on the dossier at once, downloadable by its applicant and
its officers (nobody else), verified by /results/verify as results are, and never mixed with the results."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from typing import Any

import httpx
import pytest

from domain.letters import LETTER_NAMES, LETTER_TEMPLATES
from domain.working_calendar import VIETNAM
from results.render import _environment
from tests.support import (
    decide,
    deploy,
    officer,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_status,
    wait_until,
)


def _letters(api: httpx.Client, dossier: str, count: int) -> list[dict[str, Any]]:
    """The dossier view's letters, once there are `count` of them."""
    return wait_until(
        lambda: (letters := api.get(f"/dossiers/{dossier}").json()["letters"]) and len(letters) >= count and letters,
        what=f"{count} letter(s) on {dossier}",
    )


def _verify(api: httpx.Client, content: bytes) -> dict[str, Any]:
    answer = api.post("/results/verify", files={"file": ("letter.pdf", content)})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_supplement_request_and_a_refusal_at_reception_are_signed_letters(api, tmp_path):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    receipt = submit(api, code)
    dossier, applicant = receipt["dossier_code"], {"X-Lookup-Secret": receipt["lookup_secret"]}
    decide(api, dossier, "reception", unit, "request_supplement", missing=["Bản sao giấy khai sinh"], reason="Thiếu")

    [letter] = _letters(api, dossier, 1)
    assert (letter["form"], letter["letter_id"]) == ("02", "letter-02-1")
    assert letter["name"] == "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ"

    # The applicant lists and downloads it; it is not a result (the dossier has none returned).
    [listed] = api.get(f"/dossiers/{dossier}/letters", headers=applicant).json()
    assert listed["result_id"] == letter["result_id"] and listed["issuer_unit_code"] == unit
    assert listed["signer"] == f"reception@{unit}"
    pdf = api.get(listed["pdf_url"], headers=applicant)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    html = api.get(listed["html_url"], headers=applicant).text
    assert "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ" in html and "Bản sao giấy khai sinh" in html
    assert "Mẫu số 02" in html and dossier in html
    assert api.get(f"/dossiers/{dossier}/results", headers=applicant).status_code == 404
    # An officer of another unit does not learn the dossier exists, nor its letters.
    stranger = officer("reception", unique_codes()[1])
    assert api.get(f"/dossiers/{dossier}/letters", headers=stranger).status_code == 404
    assert api.get(listed["pdf_url"], headers=stranger).status_code == 404
    assert api.get(f"/dossiers/{dossier}/letters/letter-03-1.pdf", headers=applicant).status_code == 404

    # Anyone verifies it with the file in hand, as a result; a byte changed is tampered.
    verdict = _verify(api, pdf.content)
    assert (verdict["verdict"], verdict["result_id"]) == ("valid", letter["result_id"]), verdict
    assert verdict["pdf_signature"]["valid"] and verdict["pdf_signature"]["covers_whole_file"]
    middle = len(pdf.content) // 2
    altered = pdf.content[:middle] + bytes([pdf.content[middle] ^ 1]) + pdf.content[middle + 1 :]
    assert _verify(api, altered)["verdict"] == "tampered"
    pdfsig = shutil.which("pdfsig")
    if pdfsig is not None:  # any PDF reader's check
        (tmp_path / "letter.pdf").write_bytes(pdf.content)
        report = subprocess.run([pdfsig, str(tmp_path / "letter.pdf")], capture_output=True, text=True, timeout=60)
        assert "Signature Validation: Signature is Valid." in report.stdout, report.stdout
        assert f"OU={unit}" in report.stdout

    # Supplemented, then refused at reception: form 03 says the dossier is not received, and no form 05 follows.
    answer = api.post(f"/dossiers/{dossier}/supplements", json={"form": {"copies": 3}}, headers=applicant)
    assert answer.status_code == 200, answer.text
    decide(api, dossier, "reception", unit, "reject", reason="Không thuộc thẩm quyền")
    view = wait_for_status(api, dossier, 3, finished=True)
    assert [entry["letter_id"] for entry in view["letters"]] == ["letter-02-1", "letter-03-1"]
    refusal = api.get(view["letters"][1]["html_url"], headers=applicant).text
    assert "PHIẾU TỪ CHỐI TIẾP NHẬN, GIẢI QUYẾT HỒ SƠ" in refusal and "không tiếp nhận hồ sơ" in refusal
    assert "Không thuộc thẩm quyền" in refusal
    assert [e["kind"] for e in view["timeline"]].count("letter_issued") == 2


def test_an_apology_letter_and_a_withdrawal_notice(api):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit, time_limit_working_days=3))
    receipt = submit(api, code)
    dossier, applicant = receipt["dossier_code"], {"X-Lookup-Secret": receipt["lookup_secret"]}
    decide(api, dossier, "reception", unit)
    appointment = date.fromisoformat(receipt["appointment_date"])
    new_date = VIETNAM.add_working_days(appointment, 2)
    answer = api.post(
        f"/dossiers/{dossier}/apologies",
        json={"reason": "Chờ ý kiến liên ngành", "new_appointment_date": new_date.isoformat()},
        headers=officer("leader", unit),
    )
    assert answer.status_code == 200, answer.text
    # The Update answers once its letter is issued: the view lists it already.
    [apology] = api.get(f"/dossiers/{dossier}").json()["letters"]
    assert apology["form"] == "04"
    html = api.get(apology["html_url"], headers=applicant).text
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in html and f"{new_date:%d/%m/%Y}" in html
    assert f"{appointment:%d/%m/%Y}" in html and "Chờ ý kiến liên ngành" in html
    assert _verify(api, api.get(apology["pdf_url"], headers=applicant).content)["verdict"] == "valid"

    assert api.post(f"/dossiers/{dossier}/withdrawal", json={"reason": "Không còn nhu cầu"}).status_code == 200
    wait_for_status(api, dossier, 7, finished=True)
    letters = _letters(api, dossier, 2)
    assert [entry["form"] for entry in letters] == ["04", "05"]
    notice = api.get(letters[1]["html_url"], headers=applicant).text
    assert "THÔNG BÁO DỪNG GIẢI QUYẾT HỒ SƠ" in notice and "Không còn nhu cầu" in notice


def test_a_refusal_during_handling_and_letters_are_not_results(api):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    refused = submit(api, code)["dossier_code"]
    decide(api, refused, "reception", unit)
    decide(api, refused, "approval", unit, "reject", reason="Hồ sơ gốc không khớp")
    view = wait_for_status(api, refused, 8, finished=True)
    [letter] = view["letters"]  # form 03 tells the stop: no form 05 besides
    html = api.get(letter["html_url"]).text
    assert letter["form"] == "03" and "Trong quá trình giải quyết" in html and "Lãnh đạo phê duyệt" in html

    returned = submit(api, code)["dossier_code"]
    decide(api, returned, "reception", unit, "request_supplement", missing=["Tờ khai"])
    _letters(api, returned, 1)
    assert api.post(f"/dossiers/{returned}/supplements", json={"form": {}}).status_code == 200
    decide(api, returned, "reception", unit)
    decide(api, returned, "approval", unit)
    wait_for_status(api, returned, 10, finished=True)
    results = api.get(f"/dossiers/{returned}/results").json()
    assert [r["document_id"] for r in results] == ["extract_copy"]
    assert [entry["form"] for entry in api.get(f"/dossiers/{returned}/letters").json()] == ["02"]


@pytest.mark.parametrize("form", ["02", "03", "04", "05"])
def test_each_letter_template_renders_in_vietnamese(form):
    html = _environment.get_template(LETTER_TEMPLATES[form]).render(
        result_id="KQ-TEST", verify_url="v", lookup_url="l", document={"id": "x", "name": LETTER_NAMES[form]},
        unit={"code": "U", "name": "UBND phường"}, signer=None, issued_at=date(2026, 1, 2),
        dossier={"code": "D", "procedure_code": "P", "procedure_name": "N", "received_at": date(2026, 1, 1)},
        applicant={"full_name": "Nguyễn Văn A"},
        letter={"form": form, "missing": ["Giấy tờ"], "reason": "Lý do", "step_name": "Bước",
                "new_appointment_date": date(2026, 2, 3), "previous_appointment_date": date(2026, 1, 30)},
    )  # fmt: skip
    assert LETTER_NAMES[form].upper() in html and f"Mẫu số {form}" in html and "Nguyễn Văn A" in html
