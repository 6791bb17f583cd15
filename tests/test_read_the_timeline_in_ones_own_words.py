"""The timeline speaks to each reader in their language: the workflow records what happened as a message and its
values, and the API (`Accept-Language`) and the pages (their language switch) render it at read time, in plain words
for the applicant (unit names, no codes or internals) and with the detail officers need."""

from __future__ import annotations

import re
from typing import Any

import httpx

from api.timeline_text import timeline_text
from tests.support import (
    decide,
    deploy,
    officer,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_step,
    wait_until,
)

VIETNAMESE = re.compile(r"[ạảãáàâầấậẩẫăằắặẳẵđêềếệểễơờớợởỡưừứựửữôồốộổỗ]", re.IGNORECASE)


def _view(api: httpx.Client, dossier: str, language: str, headers: dict[str, str] | None = None) -> httpx.Response:
    answer = api.get(f"/dossiers/{dossier}", headers={"Accept-Language": language, **(headers or {})})
    assert answer.status_code == 200, answer.text
    return answer


def _texts(answer: httpx.Response) -> list[str]:
    return [entry["text"] for entry in answer.json()["timeline"]]


def _approved_at_reception(api: httpx.Client) -> tuple[str, str]:
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossier = submit(api, code)["dossier_code"]
    wait_for_step(api, dossier, "reception")
    decide(api, dossier, "reception", unit)
    wait_for_step(api, dossier, "approval")
    return dossier, unit


def test_the_applicant_reads_plain_vietnamese_and_english(api: httpx.Client) -> None:
    dossier, unit = _approved_at_reception(api)
    unit_name = f"Đơn vị {unit}"  # as tests/support.py registers it

    def named() -> httpx.Response | None:
        answer = _view(api, dossier, "vi")
        return answer if unit_name in _texts(answer)[0] else None

    vietnamese = wait_until(named, what="the receiving unit named in the timeline")
    assert vietnamese.headers["content-language"] == "vi"
    assert "accept-language" in vietnamese.headers["vary"].lower()
    texts = _texts(vietnamese)
    assert texts[0] == f"Hồ sơ đã được tiếp nhận tại {unit_name}."
    assert any(t.endswith(": đồng ý") for t in texts), texts
    for text in texts:
        assert unit not in text.replace(unit_name, ""), text  # the unit by name, never its code
        assert "received" not in text and "waiting for" not in text, text

    english = _view(api, dossier, "en-GB,en;q=0.9,vi;q=0.5")
    assert english.headers["content-language"] == "en"
    texts = _texts(english)
    assert texts[0] == f"Your dossier was received at {unit_name}."
    assert any(t.endswith(": approved") for t in texts), texts
    # Only what the definition and the registry wrote (step, result and unit names) is still Vietnamese.
    written = [
        unit_name,
        *(step["name"] for step in three_step_procedure("x", unit)["steps"]),
        "Bản sao trích lục hộ tịch",
    ]
    for text in texts:
        for name in written:
            text = text.replace(name, "")
        assert not VIETNAMESE.search(text), text


def test_officers_read_the_detail_they_need(api: httpx.Client) -> None:
    dossier, unit = _approved_at_reception(api)
    leader = officer("leader", unit)

    def named() -> list[str] | None:  # a unit registered a moment ago is named within seconds
        texts = _texts(_view(api, dossier, "vi", leader))
        return texts if f"Đơn vị {unit}" in texts[0] else None

    texts = wait_until(named, what="the receiving unit named in the timeline")
    assert texts[0] == f"Tiếp nhận hồ sơ tại Đơn vị {unit} ({unit}) (kênh trực tuyến)"
    assert any(re.fullmatch(rf".+: chờ cán bộ tiếp nhận của Đơn vị {unit} \({unit}\)", t) for t in texts), texts
    english = _texts(_view(api, dossier, "en", leader))
    assert english[0] == f"Dossier received at Đơn vị {unit} ({unit}) (online)"
    assert any(re.fullmatch(rf".+: waiting for a leader officer of Đơn vị {unit} \({unit}\)", t) for t in english)
    # The workflow's own record stays as it was written, for logs and the portal.
    assert _view(api, dossier, "en", leader).json()["timeline"][0]["summary"].startswith("Dossier received by")


def test_an_event_recorded_before_messages_shows_its_summary() -> None:
    def name(code: str) -> str | None:
        return {"H01": "UBND Thành phố Hà Nội"}.get(code)

    old: dict[str, Any] = {"summary": "Dossier received by H01 (channel 2)", "message": None, "params": None}
    assert timeline_text(old, language="vi", applicant=True, unit_name=name) == old["summary"]
    unknown = {**old, "message": "no-such-message", "params": {}}
    assert timeline_text(unknown, language="en", applicant=False, unit_name=name) == old["summary"]
    # A message whose values no longer fit its wording falls back too, rather than failing the whole view.
    wrong = {**old, "message": "received", "params": {"unit": "H01"}}
    assert timeline_text(wrong, language="vi", applicant=False, unit_name=name) == old["summary"]
    fee = {"summary": "x", "message": "fee_requested", "params": {"step": "Nộp phí", "amount": 1250000}}
    assert timeline_text(fee, language="vi", applicant=True, unit_name=name) == "Cần nộp 1.250.000 đồng phí, lệ phí."
    assert timeline_text(fee, language="en", applicant=False, unit_name=name) == "Nộp phí: 1,250,000 VND to pay"


def test_the_dossier_page_shows_the_timeline_in_the_chosen_language(api: httpx.Client, new_page) -> None:
    dossier, unit = _approved_at_reception(api)
    secret = api.get(f"/dossiers/{dossier}").json()["lookup_secret"]
    wait_until(  # a unit registered a moment ago is named within seconds
        lambda: f"Đơn vị {unit}" in _texts(_view(api, dossier, "vi"))[0], what="the receiving unit named"
    )
    page = new_page()
    page.goto("/citizen/lookup")
    page.fill("#f-code", dossier)
    page.fill("#f-secret", secret)
    page.get_by_role("button", name="Tra cứu").click()
    page.wait_for_url(re.compile(rf"/citizen/dossiers/{re.escape(dossier)}"))
    timeline = page.locator("#timeline")
    assert f"Hồ sơ đã được tiếp nhận tại Đơn vị {unit}." in timeline.inner_text()
    page.goto(f"/citizen/dossiers/{dossier}?lang=en")
    assert f"Your dossier was received at Đơn vị {unit}." in page.locator("#timeline").inner_text()


def test_the_applicant_sees_the_office_that_acted_never_an_officer(api: httpx.Client) -> None:
    dossier, unit = _approved_at_reception(api)
    wait_until(lambda: f"Đơn vị {unit}" in _texts(_view(api, dossier, "vi"))[0], what="the receiving unit named")
    decided = [e for e in _view(api, dossier, "vi").json()["timeline"] if e["kind"] == "decision"]
    assert decided and decided[0]["who"] == f"Đơn vị {unit}"
    said = [e["text"] + " " + e["who"] for e in _view(api, dossier, "vi").json()["timeline"]]
    assert not [line for line in said if f"reception@{unit}" in line], said
    officers = [
        e for e in _view(api, dossier, "vi", officer("leader", unit)).json()["timeline"] if e["kind"] == "decision"
    ]
    assert officers[0]["who"] == officers[0]["actor"] and f"reception@{unit}" in officers[0]["actor"]
