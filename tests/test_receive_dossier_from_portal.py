"""The national public-service portal pushes a dossier submitted there; it is registered and processed like an
online submission, idempotently on the portal's reference, and the portal hears its statuses back."""

from __future__ import annotations

import itertools

from tests.support import (
    APPLICANT,
    VALID_FORM,
    decide,
    deploy,
    three_step_procedure,
    unique_codes,
    wait_for_status,
    wait_until,
)

_references = itertools.count(1)
PORTAL_KEY = "dev-portal-key"  # the development stack's shared key (StackConfig.portal_api_key)


def _reference() -> str:
    return f"G22.99-DVCQG-{next(_references):06d}"


def _push(simulator, stack, code: str, reference: str, **extra) -> dict:  # type: ignore[no-untyped-def]
    response = simulator.post(
        "/_sim/portal/push",
        json={
            "target_url": f"{stack.config.api_url}/portal/dossiers",
            "portal_reference": reference,
            "procedure_code": code,
            "applicant": APPLICANT,
            "form": VALID_FORM,
            **extra,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_dossier_pushed_by_the_portal_is_processed_and_its_statuses_go_back(api, simulator, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    reference = _reference()
    first = _push(simulator, stack, code, reference)
    assert first["status_code"] == 201, first
    dossier = first["answer"]["dossier_code"]
    assert first["answer"]["portal_reference"] == reference and dossier.startswith(f"{unit}-")
    # The portal pushes again (its answer was lost): the same dossier, not a second one.
    again = _push(simulator, stack, code, reference)
    assert (again["status_code"], again["answer"]["dossier_code"]) == (200, dossier)

    decide(api, dossier, "reception", unit)
    decide(api, dossier, "approval", unit)
    wait_for_status(api, dossier, 10, finished=True)

    def heard() -> list[int] | None:
        statuses = simulator.get(f"/_sim/portal/pushed/{reference}").json()["statuses"]
        return statuses if statuses[-1:] == [10] else None

    assert wait_until(heard, what="the portal to hear status 10") == [1, 2, 4, 9, 10]
    # The portal looks its dossier up by its own reference.
    looked_up = api.get(f"/portal/dossiers/{reference}", headers={"X-Portal-Key": PORTAL_KEY})
    assert looked_up.status_code == 200 and looked_up.json()["dossier_code"] == dossier
    assert looked_up.json()["status"] == 10


def test_the_same_portal_reference_with_other_content_is_a_conflict(api, simulator, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    reference = _reference()
    assert _push(simulator, stack, code, reference)["status_code"] == 201
    other = _push(simulator, stack, code, reference, form={**VALID_FORM, "copies": 5})
    assert other["status_code"] == 409


def test_only_the_portal_holding_the_key_pushes(api, simulator, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    assert _push(simulator, stack, code, _reference(), api_key="not-the-key")["status_code"] == 401
    body = {"portal_reference": _reference(), "procedure_code": code, "applicant": APPLICANT, "form": VALID_FORM}
    missing = api.post("/portal/dossiers", json=body)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "X-Portal-Key"
    assert api.get(f"/portal/dossiers/{body['portal_reference']}").status_code == 401
    # With the key, bad input is a 422 naming the field.
    bad = api.post(
        "/portal/dossiers", json={**body, "portal_reference": "no spaces"}, headers={"X-Portal-Key": PORTAL_KEY}
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "portal_reference"]
    rejected = [
        c for c in simulator.get("/_sim/calls", params={"system": "portal"}).json() if c["operation"] == "push_dossier"
    ]
    assert rejected[-1]["outcome"] == "refused"


def test_citizens_cannot_take_a_portal_reference_as_their_idempotency_key(api):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    response = api.post(
        "/dossiers",
        json={"procedure_code": code, "applicant": APPLICANT, "form": VALID_FORM},
        headers={"Idempotency-Key": f"portal:{_reference()}"},
    )
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
