"""Copy of a civil-status extract (2.000635): a fee computed from the number of copies, same-day result."""

from __future__ import annotations

from datetime import datetime

from domain.working_calendar import VIETNAM
from tests.support import decide, pay, wait_for_status

WARD = "H15.50.05.13"


def test_copies_are_paid_per_copy_and_issued_electronically(api, shipped):
    response = api.post(
        "/dossiers",
        json={
            "procedure_code": "2.000635",
            "receiving_unit": WARD,
            "applicant": {"full_name": "Võ Thị Yêu Cầu", "citizen_id": "079200000321"},
            "form": {"requester_id": "079200000321", "subject_name": "Võ Văn Sinh", "event_type": "birth", "copies": 3},
        },
    )
    assert response.status_code == 201, response.text
    receipt = response.json()
    # Same working day, or the next one after the 15:00 cut-off.
    received = datetime.fromisoformat(receipt["received_at"])
    assert receipt["appointment_date"] == VIETNAM.effective_receipt_day(received).isoformat()

    dossier = receipt["dossier_code"]
    decide(api, dossier, "reception", WARD)
    assert pay(api, dossier, "payment") == 24_000
    decide(api, dossier, "leader_signs", WARD)
    view = wait_for_status(api, dossier, 10, finished=True)
    assert view["fees_paid_vnd"] == 24_000
    assert view["results"][0]["document"] == "Bản sao trích lục hộ tịch (điện tử)"
