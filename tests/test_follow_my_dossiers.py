"""A signed-in citizen follows every dossier of theirs (GET /me/dossiers and the page /citizen/dossiers): newest
first, each with its status and what they must do now and by when; nobody else's, and only their own account's
(a citizen ID typed into an anonymous submission joins no account)."""

from __future__ import annotations

import itertools
import re
import time
from datetime import date, datetime

import httpx
import pytest

from tests.browser import click_and_load, screenshot, sign_in_as_citizen
from tests.support import (
    APPLICANT,
    VALID_FORM,
    citizen,
    decide,
    deploy,
    officer,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_status,
    wait_for_step,
)

MISSING = ["Bản sao giấy khai sinh", "Tờ khai có chữ ký"]
_ids = itertools.count(int(time.time() * 1000) % 10**6)


def fresh_citizen() -> str:
    """A citizen ID no other test uses (counter receptions join the account of the suite's usual applicant)."""
    return f"0991{next(_ids):08d}"


def _submit_as(api: httpx.Client, code: str, citizen_id: str) -> str:
    applicant = {**APPLICANT, "citizen_id": citizen_id}
    return submit(api, code, headers=citizen(citizen_id), applicant=applicant)["dossier_code"]


def _three_dossiers(api: httpx.Client, owner: str) -> tuple[str, str, str, str]:
    """The owner's dossiers, oldest first: one finished (result returned), one awaiting a supplement, one waiting at
    reception; and the procedure's receiving unit."""
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    finished = _submit_as(api, code, owner)
    decide(api, finished, "reception", unit)
    decide(api, finished, "approval", unit)
    wait_for_status(api, finished, 10, finished=True)
    supplement = _submit_as(api, code, owner)
    decide(api, supplement, "reception", unit, "request_supplement", missing=MISSING, reason="Thiếu giấy tờ")
    wait_for_status(api, supplement, 5)
    waiting = _submit_as(api, code, owner)
    wait_for_step(api, waiting, "reception")
    return finished, supplement, waiting, unit


@pytest.fixture(scope="module")
def owned(api: httpx.Client) -> dict[str, str]:
    owner = fresh_citizen()
    finished, supplement, waiting, unit = _three_dossiers(api, owner)
    return {"owner": owner, "finished": finished, "supplement": supplement, "waiting": waiting, "unit": unit}


def test_a_citizen_sees_exactly_their_dossiers_with_what_to_do(api, owned):
    owner = owned["owner"]
    response = api.get("/me/dossiers", headers=citizen(owner))
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["limit"] == 20 and page["offset"] == 0 and page["next_offset"] is None
    items = {item["dossier_code"]: item for item in page["items"]}
    # Newest first: exactly the three, in the reverse order of submission.
    assert [item["dossier_code"] for item in page["items"]] == [
        owned["waiting"],
        owned["supplement"],
        owned["finished"],
    ]

    for item in items.values():
        assert item["procedure_name"] == "Cấp bản sao trích lục hộ tịch (test)"
        assert item["receiving_unit"] == owned["unit"]
        date.fromisoformat(item["appointment_date"])

    waiting = items[owned["waiting"]]
    assert waiting["status"] in (1, 2, 4)
    assert waiting["todo"]["kind"] == "wait" and waiting["todo"]["label"] == "Chờ cơ quan xử lý"
    assert waiting["todo"]["due_date"] == waiting["appointment_date"]

    asked = items[owned["supplement"]]
    assert (asked["status"], asked["status_name"], asked["status_label"]) == (
        5, "supplement_requested", "Yêu cầu bổ sung",
    )  # fmt: skip
    todo = asked["todo"]
    assert todo["kind"] == "supplement" and todo["label"] == "Bổ sung hồ sơ"
    assert todo["missing"] == MISSING and todo["reason"] == "Thiếu giấy tờ" and todo["step_id"] == "reception"
    view = api.get(f"/dossiers/{owned['supplement']}").json()
    assert datetime.fromisoformat(todo["requested_at"]) == datetime.fromisoformat(
        view["supplement_request"]["requested_at"]
    )

    done = items[owned["finished"]]
    assert (done["status"], done["status_label"]) == (10, "Đã trả kết quả")
    assert done["todo"]["kind"] == "done" and done["todo"]["outcome"] == "completed"
    assert done["completed_at"] is not None
    results_url = done["todo"]["results_url"]
    assert results_url == f"/dossiers/{owned['finished']}/results"
    results = api.get(results_url, headers=citizen(owner))
    assert results.status_code == 200 and results.json(), results.text


def test_nobody_else_sees_them(api, owned, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    other = fresh_citizen()
    theirs = _submit_as(api, code, other)
    with httpx.Client(base_url=stack.config.api_url, timeout=30) as anyone:
        # An anonymous submission naming the owner's citizen ID joins no account (issue 23).
        applicant = {**APPLICANT, "citizen_id": owned["owner"]}
        typed = anyone.post("/dossiers", json={"procedure_code": code, "applicant": applicant, "form": VALID_FORM})
        assert typed.status_code == 201, typed.text
        listed = anyone.get("/me/dossiers", headers=citizen(other)).json()["items"]
        assert [item["dossier_code"] for item in listed] == [theirs]
        mine = [
            item["dossier_code"] for item in anyone.get("/me/dossiers", headers=citizen(owned["owner"])).json()["items"]
        ]
        assert theirs not in mine
        assert typed.json()["dossier_code"] not in mine
        assert anyone.get("/me/dossiers", headers=citizen(fresh_citizen())).json()["items"] == []

        anonymous = anyone.get("/me/dossiers")
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
        assert anyone.get("/me/dossiers", headers=officer("reception", owned["unit"])).status_code == 403


def test_pages_of_the_list(api, owned):
    mine = citizen(owned["owner"])
    first = api.get("/me/dossiers", params={"limit": 2}, headers=mine).json()
    assert [i["dossier_code"] for i in first["items"]] == [owned["waiting"], owned["supplement"]]
    assert first["next_offset"] == 2
    rest = api.get("/me/dossiers", params={"limit": 2, "offset": 2}, headers=mine).json()
    assert [i["dossier_code"] for i in rest["items"]] == [owned["finished"]] and rest["next_offset"] is None
    assert api.get("/me/dossiers", params={"offset": 3}, headers=mine).json()["items"] == []


@pytest.mark.parametrize(
    "params, field",
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 1_000_001}, "offset"),
        ({"offset": "1.5"}, "offset"),
    ],
)
def test_bad_paging_values_are_refused_with_their_field(api, owned, params, field):
    response = api.get("/me/dossiers", params=params, headers=citizen(owned["owner"]))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", field]


def test_the_page_lists_them_for_the_signed_in_citizen(owned, new_page):
    page = new_page()
    page.goto("/citizen/dossiers")
    assert "/sign-in" in page.url  # anonymous: sent to sign in
    sign_in_as_citizen(page, owned["owner"])
    click_and_load(page, page.locator('nav a[href="/citizen/dossiers"]'))
    assert page.locator("h1").inner_text() == "Hồ sơ của tôi"
    rows = page.locator("#my-dossiers tbody tr")
    assert [rows.nth(i).get_attribute("data-dossier") for i in range(rows.count())] == [
        owned["waiting"], owned["supplement"], owned["finished"],
    ]  # fmt: skip
    asked = page.locator(f'tr[data-dossier="{owned["supplement"]}"]')
    assert asked.get_attribute("data-todo") == "supplement"
    assert "Bổ sung hồ sơ" in asked.inner_text() and all(item in asked.inner_text() for item in MISSING)
    assert "Yêu cầu bổ sung" in asked.inner_text()
    waiting = page.locator(f'tr[data-dossier="{owned["waiting"]}"]')
    assert "Chờ cơ quan xử lý" in waiting.inner_text()
    assert re.search(r"\d{2}/\d{2}/\d{4}", waiting.inner_text())
    done = page.locator(f'tr[data-dossier="{owned["finished"]}"]')
    assert done.get_attribute("data-todo") == "done" and done.locator("a.result-link").count() == 1
    screenshot(page, "citizen-my-dossiers")
    click_and_load(page, asked.locator(f'a[href="/citizen/dossiers/{owned["supplement"]}"]').first)
    assert owned["supplement"] in page.content()
