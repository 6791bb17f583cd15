"""Decision 766/QĐ-TTg in the officers' hands: an action that counts the dossier as late (a second supplement request,
acting after the appointment was missed without apology) is warned of and taken only when confirmed; the apology
letter and the extension belong to the role the definition names (the leader by default), once per dossier, whether
asked through the API or sent straight to Temporal; form 06 shows every supplement cycle."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session
from temporalio.client import Client, WorkflowUpdateFailedError

from domain.working_calendar import VIETNAM
from readmodel.db import engine_for
from readmodel.tables import DossierRow
from tests.browser import click_and_load, sign_in_as_officer
from tests.support import (
    deploy,
    officer,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_step,
    wait_until,
    with_temporal,
)


def _officer(role: str, unit: str) -> dict[str, Any]:
    return {"officer_id": f"{role}@{unit}", "role": role, "unit_code": unit}


def _update(stack, dossier: str, name: str, message: dict[str, Any]) -> str:
    async def send(client: Client) -> str:
        try:
            await client.get_workflow_handle(dossier).execute_update(name, message)
            return "applied"
        except WorkflowUpdateFailedError as failed:
            return str(failed.cause)

    return with_temporal(stack, send)


def _supplement_request(api, dossier: str, unit: str, missing: str, **extra: Any):
    return api.post(
        f"/dossiers/{dossier}/decisions",
        json={"step_id": "reception", "decision": "request_supplement", "missing": [missing], **extra},
        headers=officer("reception", unit),
    )


def test_a_second_supplement_request_is_warned_of_and_form_06_shows_every_cycle(api):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossier = submit(api, code)["dossier_code"]
    wait_for_step(api, dossier, "reception")
    # The first request counts nothing as late: no confirmation asked.
    assert _supplement_request(api, dossier, unit, "Bản sao giấy khai sinh").status_code == 200
    assert api.post(f"/dossiers/{dossier}/supplements", json={"form": {"copies": 3}}).status_code == 200
    wait_for_step(api, dossier, "reception")

    unconfirmed = _supplement_request(api, dossier, unit, "Tờ khai có chữ ký")
    assert unconfirmed.status_code == 409, unconfirmed.text
    [said] = unconfirmed.json()["detail"]
    assert said["loc"] == ["body", "confirm_late"] and "counts this dossier as late" in said["msg"]
    view = api.get(f"/dossiers/{dossier}").json()
    assert view["supplement_count"] == 1 and view["supplement_request"] is None  # nothing was sent

    confirmed = _supplement_request(api, dossier, unit, "Tờ khai có chữ ký", confirm_late=True)
    assert confirmed.status_code == 200, confirmed.text
    wait_until(lambda: api.get(f"/dossiers/{dossier}").json()["supplement_count"] == 2, what="the second request")

    cycles = api.get(f"/dossiers/{dossier}/process-control/supplements", headers=officer("reception", unit)).json()
    assert [(c["number"], c["missing"], c["requested_by"] is not None) for c in cycles] == [
        (1, ["Bản sao giấy khai sinh"], True),
        (2, ["Tờ khai có chữ ký"], True),
    ]
    assert cycles[0]["supplied_at"] is not None and cycles[1]["supplied_at"] is None
    assert cycles[0]["step_name"] == "Tiếp nhận"
    slip = api.get(f"/dossiers/{dossier}/process-control.html", headers=officer("reception", unit)).text
    assert 'id="supplement-cycles"' in slip and "Bản sao giấy khai sinh" in slip and "Tờ khai có chữ ký" in slip
    assert "chưa bổ sung" in slip and "Quyết định 766" in slip


def test_acting_after_the_appointment_was_missed_without_apology_is_confirmed_first(api, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossier = submit(api, code)["dossier_code"]
    wait_for_step(api, dossier, "reception")
    # The appointment passes on the working calendar; the read model shows the flag the workflow raises then.
    engine = engine_for(stack.config.sqlalchemy_url)
    with Session(engine) as session:
        session.execute(update(DossierRow).where(DossierRow.code == dossier).values(overdue_without_apology=True))
        session.commit()
    approve = {"step_id": "reception", "decision": "approve"}
    refused = api.post(f"/dossiers/{dossier}/decisions", json=approve, headers=officer("reception", unit))
    assert refused.status_code == 409 and "missed without an apology letter" in refused.text, refused.text
    assert wait_for_step(api, dossier, "reception")  # still awaiting: nothing was decided
    taken = api.post(
        f"/dossiers/{dossier}/decisions", json={**approve, "confirm_late": True}, headers=officer("reception", unit)
    )
    assert taken.status_code == 200, taken.text


def test_the_leader_apologises_once_by_default_through_the_api_and_straight_to_temporal(api, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit, time_limit_working_days=3))
    receipt = submit(api, code)
    dossier = receipt["dossier_code"]
    wait_for_step(api, dossier, "reception")
    new_date = VIETNAM.add_working_days(date.fromisoformat(receipt["appointment_date"]), 2).isoformat()
    body = {"reason": "Chờ xác minh", "new_appointment_date": new_date}

    by_reception = api.post(f"/dossiers/{dossier}/apologies", json=body, headers=officer("reception", unit))
    assert by_reception.status_code == 403 and "leader" in by_reception.text, by_reception.text
    # Straight to Temporal, the workflow's validator holds the same rule.
    sent = _update(stack, dossier, "apologize", {**body, "officer": _officer("reception", unit)})
    assert "only leader officers" in sent, sent
    assert api.get(f"/dossiers/{dossier}").json()["apology"] is None

    assert api.post(f"/dossiers/{dossier}/apologies", json=body, headers=officer("leader", unit)).status_code == 200
    later = VIETNAM.add_working_days(date.fromisoformat(new_date), 1).isoformat()
    again = api.post(
        f"/dossiers/{dossier}/apologies", json={**body, "new_appointment_date": later}, headers=officer("leader", unit)
    )
    assert again.status_code == 409 and "apologises once" in again.text, again.text
    sent = _update(
        stack, dossier, "apologize", {**body, "new_appointment_date": later, "officer": _officer("leader", unit)}
    )
    assert "apologises once" in sent, sent
    view = api.get(f"/dossiers/{dossier}").json()
    assert view["apology"]["new_appointment_date"] == new_date
    assert [e["kind"] for e in view["timeline"]].count("apology") == 1
    assert [letter["form"] for letter in view["letters"]] == ["04"]


@pytest.mark.parametrize("via", ["api", "temporal"])
def test_the_definition_says_who_apologises_and_who_extends(api, stack, via):
    code, unit = unique_codes()
    deploy(
        api,
        three_step_procedure(
            code, unit, time_limit_working_days=3, extended_time_limit_working_days=5,
            apology_role="reception", extension_role="specialist",
        ),
    )  # fmt: skip
    receipt = submit(api, code)
    dossier = receipt["dossier_code"]
    wait_for_step(api, dossier, "reception")
    new_date = VIETNAM.add_working_days(date.fromisoformat(receipt["appointment_date"]), 1).isoformat()
    apology = {"reason": "Chờ xác minh", "new_appointment_date": new_date}
    extension = {"reason": "Xác minh thực địa"}

    def send(name: str, role: str, body: dict[str, Any]) -> str:
        if via == "api":
            path = {"apologize": "apologies", "extend": "extensions"}[name]
            answer = api.post(f"/dossiers/{dossier}/{path}", json=body, headers=officer(role, unit))
            return "applied" if answer.status_code == 200 else f"{answer.status_code} {answer.text}"
        officer(role, unit)  # registered, so that the registry knows them
        far = VIETNAM.add_working_days(date.fromisoformat(receipt["appointment_date"]), 2).isoformat()
        message = {"new_appointment_date": far, **body, "officer": _officer(role, unit)}
        return _update(stack, dossier, name, message)

    assert "applied" != send("apologize", "leader", apology)  # the leader is not the definition's choice here
    assert send("apologize", "reception", apology) == "applied"
    assert "applied" != send("extend", "leader", extension)
    assert "applied" != send("extend", "reception", extension)
    assert send("extend", "specialist", extension) == "applied"
    second = send("extend", "specialist", extension)
    assert "extended once" in second, second
    view = api.get(f"/dossiers/{dossier}").json()
    assert view["extended"] and view["apology"] is not None
    assert [e["kind"] for e in view["timeline"]].count("extension") == 1


def test_the_officers_page_warns_before_a_second_supplement_request_and_lists_the_letters(api, new_page):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossier = submit(api, code)["dossier_code"]
    wait_for_step(api, dossier, "reception")
    desk = f"quay-766@{unit}"
    officer("reception", unit, desk)
    assert _supplement_request(api, dossier, unit, "Bản sao giấy khai sinh").status_code == 200
    assert api.post(f"/dossiers/{dossier}/supplements", json={"form": {"copies": 3}}).status_code == 200
    wait_for_step(api, dossier, "reception")

    page = new_page()
    sign_in_as_officer(page, desk)
    page.goto(f"/officer/dossiers/{dossier}")
    assert page.locator("#letters li").count() == 1
    assert page.locator("#letters a.letter-pdf").count() == 1  # form 02, downloadable here too
    form = page.locator("form.decision-request_supplement")
    assert "Quyết định 766" in form.locator(".late-warning").inner_text()
    assert page.locator("form.decision-approve .late-warning").count() == 0  # approving counts nothing as late
    form.locator('textarea[name="missing"]').fill("Tờ khai có chữ ký")
    form.locator('input[name="confirm_late"]').check()
    click_and_load(page, form.get_by_role("button"))
    assert "/officer/inbox" in page.url
    wait_until(lambda: api.get(f"/dossiers/{dossier}").json()["supplement_count"] == 2, what="the second request")
