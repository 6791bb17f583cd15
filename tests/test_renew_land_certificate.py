"""Land-use certificate renewal (1.012783): conditional site verification, assessed fee, return to an earlier step."""

from __future__ import annotations

from tests.support import (
    active,
    attachment,
    decide,
    pay,
    portal_statuses,
    submit_land_renewal,
    wait_for_status,
    wait_for_step,
    wait_until,
)

COUNTER = "H29.50.05.13"
LAND_OFFICE = "H29.22"


def _submit(api, reason: str, **extra) -> str:
    return submit_land_renewal(api, reason, **extra)["dossier_code"]


def test_remeasured_parcel_is_verified_on_site_and_pays_its_assessed_obligation(api, simulator, shipped):
    dossier = _submit(api, "remeasured", old_certificate=attachment("gcn-cu.pdf"))
    decide(api, dossier, "reception", COUNTER)
    decide(api, dossier, "records_check", LAND_OFFICE)
    decide(api, dossier, "site_verification", LAND_OFFICE)

    # The tax authority assesses 250,000 VND; the definition adds the 50,000 VND certificate fee.
    wait_until(lambda: api.get(f"/dossiers/{dossier}").json()["fee_request"], what="the fee request")
    wrong = api.post(
        f"/dossiers/{dossier}/payments", json={"step_id": "payment", "amount_vnd": 1000, "receipt_reference": "X"}
    )
    assert wrong.status_code == 409 and "300000" in wrong.json()["detail"]
    assert pay(api, dossier, "payment") == 300_000

    # The leader returns the dossier to the records check; it comes back without paying twice.
    decide(api, dossier, "leader_approval", LAND_OFFICE, "return", reason="Sai số tờ bản đồ")
    decide(api, dossier, "records_check", LAND_OFFICE)
    decide(api, dossier, "site_verification", LAND_OFFICE)
    decide(api, dossier, "leader_approval", LAND_OFFICE)
    view = wait_for_status(api, dossier, 10, finished=True)
    assert 6 in portal_statuses(simulator, dossier, 10)  # financial obligation requested
    assert view["fees_paid_vnd"] == 300_000
    assert any(e["summary"].endswith("already paid") for e in view["timeline"])
    assert [r["id"] for r in view["results"]] == ["certificate"]


def test_damaged_certificate_skips_site_verification(api, shipped):
    dossier = _submit(api, "damaged", old_certificate=attachment("gcn-rach.pdf"))
    decide(api, dossier, "reception", COUNTER)
    decide(api, dossier, "records_check", LAND_OFFICE)
    pay(api, dossier, "payment")
    view = wait_for_step(api, dossier, "leader_approval")
    assert active(view) == {"leader_approval": "officer"}
    skipped = [e["step_id"] for e in view["timeline"] if e["kind"] == "step_skipped"]
    assert skipped == ["site_verification"]
    decide(api, dossier, "leader_approval", LAND_OFFICE)
    wait_for_status(api, dossier, 10, finished=True)


def test_conditional_fields_follow_the_reason(api, shipped):
    base = {
        "applicant_id": "079080000123",
        "applicant_name": "Phạm Văn Đất",
        "certificate_number": "CS 123456",
        "parcel_number": "152",
        "map_sheet": "18",
        "parcel_address": {"province_code": "79", "ward_code": "26740", "detail": "45 Hai Bà Trưng"},
        "application_form": attachment("mau-15.pdf"),
    }

    def problems(form: dict) -> list:
        response = api.post(
            "/dossiers", json={"procedure_code": "1.012783", "applicant": {"full_name": "Phạm Văn Đất"}, "form": form}
        )
        assert response.status_code == 422, response.text
        return [(e["loc"][-1], e["type"]) for e in response.json()["detail"]]

    # A lost certificate needs the police loss report; a damaged one needs the scan and takes no report.
    assert problems({**base, "reason": "lost"}) == [("loss_report", "missing")]
    assert problems({**base, "reason": "damaged"}) == [("old_certificate", "missing")]
    assert problems({**base, "reason": "damaged", "old_certificate": attachment(), "loss_report": "CA-1"}) == [
        ("loss_report", "not_applicable")
    ]
    assert _submit(api, "lost", loss_report="CA-2026-0042")
