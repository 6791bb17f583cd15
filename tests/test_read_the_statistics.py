"""The service-quality statistics read by people: units and procedures by their names (the codes beside), a chart
whose text stays legible on a 390×844 phone, measured in a real Chromium, and a CSV that Excel opens with the
Vietnamese right (UTF-8 with a byte-order mark, Vietnamese headers, a Vietnamese file name)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from urllib.parse import quote

from domain.working_calendar import VIETNAM
from tests.browser import PHONE, reload_until, screenshot, sign_in_as_officer
from tests.support import ADMINISTRATOR, deploy, identities, submit, three_step_procedure, unique_codes, wait_for_step

HEADERS = [
    "Nhóm theo", "Mã đơn vị", "Tên đơn vị", "Cấp", "Mã thủ tục", "Tên thủ tục", "Tiếp nhận", "Đang giải quyết",
    "Quá hạn đang giải quyết", "Giải quyết đúng hạn", "Giải quyết trễ hạn", "Rút hồ sơ", "Từ chối", "Giải quyết một phần",
    "Tỷ lệ đúng hạn",
    "Số ngày làm việc xử lý trung bình", "Tỷ lệ trực tuyến", "Tỷ lệ kết quả điện tử", "Tỷ lệ tái sử dụng dữ liệu",
]  # fmt: skip
UNIT_NAME = "Ủy ban nhân dân phường Thử Nghiệm Biểu Đồ"
PROCEDURE_NAME = "Cấp bản sao trích lục hộ tịch từ sổ hộ tịch điện tử cho người dân ở xa"


def named_procedure_with_dossiers(api, count: int = 2) -> tuple[str, str]:
    code, unit = unique_codes()
    identities().put(f"/units/{unit}", {"name": UNIT_NAME, "kind": "department", "parent_code": "VN"})
    deploy(api, three_step_procedure(code, unit, name=PROCEDURE_NAME))
    dossiers = [submit(api, code)["dossier_code"] for _ in range(count)]
    wait_for_step(api, dossiers[-1], "reception")
    return code, unit


def test_the_csv_opens_in_excel_with_vietnamese_names_and_headers(api):
    code, unit = named_procedure_with_dossiers(api)
    today = VIETNAM.local_date(datetime.now(VIETNAM.zone)).isoformat()
    answer = api.get("/statistics.csv", params={"start": today, "end": today, "agency": unit})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.content.startswith(b"\xef\xbb\xbf")  # the byte-order mark: Excel then reads UTF-8
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith("attachment;") and 'filename="chi-so-chat-luong-phuc-vu-' in disposition
    assert f"filename*=UTF-8''{quote('Chỉ số chất lượng phục vụ')}" in disposition

    reader = csv.reader(io.StringIO(answer.content.decode("utf-8-sig"), newline=""))
    header, *rows = list(reader)
    assert header == HEADERS
    lines = [dict(zip(header, row, strict=True)) for row in rows]
    assert [(r["Mã đơn vị"], r["Tên đơn vị"], r["Mã thủ tục"], r["Tên thủ tục"]) for r in lines[:-1]] == [
        (unit, UNIT_NAME, code, PROCEDURE_NAME)
    ]
    assert lines[0]["Tiếp nhận"] == "2" and float(lines[0]["Tỷ lệ trực tuyến"]) == 1.0
    assert {r["Nhóm theo"] for r in lines} == {"Đơn vị tiếp nhận"}  # by the receiving counter, unless asked otherwise
    assert lines[0]["Cấp"] == "Trung ương"  # a department of the nation: national level
    assert lines[-1]["Tên đơn vị"] == "Tổng cộng" and lines[-1]["Tiếp nhận"] == "2"
    # The JSON names them too.
    group = api.get("/statistics", params={"start": today, "end": today, "agency": unit}).json()["groups"][0]
    assert (group["agency_name"], group["procedure_name"]) == (UNIT_NAME, PROCEDURE_NAME)


def test_the_dashboard_names_units_and_procedures_and_reads_on_a_phone(api, new_page):
    code, unit = named_procedure_with_dossiers(api)
    page = new_page(viewport=PHONE)
    sign_in_as_officer(page, ADMINISTRATOR)
    page.goto(f"/admin/statistics?agency={unit}")
    chart = reload_until(page, "svg#chart-received", what="the chart of dossiers received")

    # Names first, codes beside them, in the table and in the chart.
    first = page.locator("#indicators tbody tr").first
    assert UNIT_NAME in first.inner_text() and PROCEDURE_NAME in first.inner_text()
    assert first.locator(".code").all_inner_texts() == [unit, code]
    said = " ".join(chart.locator("text").all_text_contents())
    assert all(word in said for word in (UNIT_NAME + " " + PROCEDURE_NAME).split()), said
    assert f"{unit} · {code}" in said
    assert f"{UNIT_NAME} · {PROCEDURE_NAME} (Mã: {unit} · {code}): 2" in chart.locator("desc").text_content()

    # Every word of every chart, measured as drawn: at least 12 px, and inside the 390 px screen.
    measured = page.evaluate(
        """() => [...document.querySelectorAll('svg.chart text')].map(t => {
            const box = t.getBoundingClientRect();
            return {text: t.textContent, size: parseFloat(getComputedStyle(t).fontSize), height: box.height,
                    left: box.left, right: box.right};
        })"""
    )
    assert len(measured) > 6
    small = [m for m in measured if m["size"] < 12 or m["height"] < 12]
    assert small == [], small
    outside = [m for m in measured if m["left"] < 0 or m["right"] > PHONE["width"]]
    assert outside == [], outside
    bar = chart.locator("rect.bar")
    assert bar.count() == 1 and bar.get_attribute("data-value") == "2" and bar.bounding_box()["width"] > 100
    screenshot(page, "administrator-statistics-phone")
