"""Citizens submit dossiers: validation, receipts, dossier codes and idempotent resubmission."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
import pytest
from sqlalchemy import text
from temporalio.client import Client

from devstack.stack import free_port
from domain.working_calendar import VIETNAM
from readmodel.db import engine_for
from tests.support import APPLICANT, VALID_FORM, deploy, submit, three_step_procedure, unique_codes, with_temporal

# Also runs in the cluster suite, on Temporal's separate services and the read model on PostgreSQL.
pytestmark = pytest.mark.cluster


def test_receipt_carries_code_status_and_appointment(api):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit, time_limit_working_days=3))
    receipt = submit(api, code)

    received_at = datetime.fromisoformat(receipt["received_at"])
    assert re.fullmatch(
        rf"{re.escape(unit)}-{received_at.astimezone(VIETNAM.zone):%y%m%d}-0001", receipt["dossier_code"]
    )
    assert receipt["status"] == 1 and receipt["status_name"] == "registered"
    assert receipt["procedure_version"] == 1
    assert receipt["appointment_date"] == VIETNAM.appointment_date(received_at, 3).isoformat()
    assert submit(api, code)["dossier_code"].endswith("-0002")


def test_same_idempotency_key_returns_the_same_dossier(api):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    body = {"procedure_code": code, "applicant": APPLICANT, "form": VALID_FORM}
    first = api.post("/dossiers", json=body, headers={"Idempotency-Key": f"retry-{code}"})
    again = api.post("/dossiers", json=body, headers={"Idempotency-Key": f"retry-{code}"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json()

    changed = api.post(
        "/dossiers", json={**body, "form": {**VALID_FORM, "copies": 9}}, headers={"Idempotency-Key": f"retry-{code}"}
    )
    assert changed.status_code == 409
    # No second dossier was registered behind the scenes.
    assert submit(api, code)["dossier_code"].endswith("-0002")


def test_invalid_form_lists_every_bad_field_and_starts_nothing(api, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    response = api.post(
        "/dossiers",
        json={
            "procedure_code": code,
            "applicant": APPLICANT,
            "form": {"requester_id": "12345", "event_type": "divorce", "copies": 11, "email": "not-an-email", "x": 1},
        },
    )
    assert response.status_code == 422
    errors = {tuple(e["loc"]): e["type"] for e in response.json()["detail"]}
    assert errors == {
        ("body", "form", "requester_id"): "string_pattern_mismatch",
        ("body", "form", "subject_name"): "missing",
        ("body", "form", "event_type"): "literal_error",
        ("body", "form", "copies"): "less_than_equal",
        ("body", "form", "email"): "value_error",
        ("body", "form", "x"): "extra_forbidden",
    }

    async def started(client: Client) -> int:
        return len([w async for w in client.list_workflows(f"ProcedureCode = '{code}'")])

    assert with_temporal(stack, started) == 0
    assert submit(api, code)["dossier_code"].endswith("-0001")  # no serial was spent either


def test_bad_submissions_are_refused_with_their_path(api):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    unknown = api.post("/dossiers", json={"procedure_code": "9.999999", "applicant": APPLICANT, "form": VALID_FORM})
    assert unknown.status_code == 404

    wrong_unit = api.post(
        "/dossiers",
        json={"procedure_code": code, "applicant": APPLICANT, "form": VALID_FORM, "receiving_unit": "X99"},
    )
    assert wrong_unit.status_code == 422
    assert wrong_unit.json()["detail"][0]["loc"] == ["body", "receiving_unit"]

    bad_applicant = api.post(
        "/dossiers", json={"procedure_code": code, "applicant": {"full_name": ""}, "form": VALID_FORM}
    )
    assert bad_applicant.status_code == 422
    assert bad_applicant.json()["detail"][0]["loc"] == ["body", "applicant", "full_name"]

    not_json = api.post("/dossiers", content=b"{oops", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422


def test_two_api_processes_never_hand_out_the_same_code(api, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    second_url = stack.start_api("api-second", free_port())
    try:
        urls = [stack.config.api_url, second_url] * 20

        def post(url: str) -> str:
            response = httpx.post(
                f"{url}/dossiers",
                json={"procedure_code": code, "applicant": APPLICANT, "form": VALID_FORM},
                timeout=60,
            )
            assert response.status_code == 201, response.text
            return response.json()["dossier_code"]

        with ThreadPoolExecutor(max_workers=16) as pool:
            codes = list(pool.map(post, urls))
    finally:
        stack.kill("api-second")
    serials = sorted(int(c.rsplit("-", 1)[1]) for c in codes)
    assert serials == list(range(1, 41))


def test_a_counter_past_9999_dossiers_in_a_day_goes_on_with_a_longer_serial(api, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    first = submit(api, code)["dossier_code"]
    day = first.split("-")[-2]
    with engine_for(stack.config.sqlalchemy_url).begin() as connection:
        connection.execute(
            text("UPDATE dossier_serial SET last = 9999 WHERE agency_code = :unit AND day = :day"),
            {"unit": unit, "day": day},
        )
    response = api.post("/dossiers", json={"procedure_code": code, "applicant": APPLICANT, "form": VALID_FORM})
    assert response.status_code == 201, response.text
    assert response.json()["dossier_code"] == f"{unit}-{day}-10000"
