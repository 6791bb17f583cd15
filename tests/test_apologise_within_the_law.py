"""An apology letter (form 04) promises a new appointment after the current promise, and no further than the
procedure's time limit again: a date far off (9999-12-31) would switch the "missed without an apology" flag off for
good. Extensions take the date the law gives, none of their own."""

from __future__ import annotations

from datetime import date, datetime

from temporalio.client import Client, WorkflowUpdateFailedError

from domain.definition import Role
from domain.dossier import ApologySubmission, Capacity, ExtensionSubmission, OfficerRef
from domain.working_calendar import VIETNAM
from tests.support import (
    decide,
    deploy,
    officer,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_step,
    with_temporal,
)
from workflows.contract import DossierUpdate


def test_an_apology_promises_a_new_appointment_within_the_procedures_time_limit(api):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit, time_limit_working_days=3))
    receipt = submit(api, code)
    dossier = receipt["dossier_code"]
    decide(api, dossier, "reception", unit)
    appointment = datetime.fromisoformat(receipt["appointment_date"]).date()
    leader = officer("leader", unit)

    def apologise(new_date: date):
        return api.post(
            f"/dossiers/{dossier}/apologies",
            json={"reason": "Chờ ý kiến liên ngành", "new_appointment_date": new_date.isoformat()},
            headers=leader,
        )

    furthest = VIETNAM.add_working_days(appointment, 3)  # the procedure's time limit again
    for too_far in (date(9999, 12, 31), VIETNAM.next_working_day(furthest)):
        refused = apologise(too_far)
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"] == ["body", "new_appointment_date"]
    for not_after in (appointment, date(2000, 1, 3)):
        refused = apologise(not_after)
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"] == ["body", "new_appointment_date"]
    assert api.get(f"/dossiers/{dossier}").json()["apology"] is None  # nothing changed

    assert apologise(furthest).status_code == 200
    # A dossier apologises once (Decision 766): a second letter is refused, whatever its date.
    assert apologise(furthest).status_code == 409
    assert api.get(f"/dossiers/{dossier}").json()["apology"]["new_appointment_date"] == furthest.isoformat()

    # An extension takes the date the law gives; it names none of its own.
    named = api.post(
        f"/dossiers/{dossier}/extensions",
        json={"reason": "x", "new_appointment_date": "9999-12-31"},
        headers=leader,
    )
    assert named.status_code == 422 and named.json()["detail"][0]["loc"] == ["body", "new_appointment_date"]


def test_an_apology_or_extension_sent_straight_to_temporal_is_bounded_too(api, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit, time_limit_working_days=3, extended_time_limit_working_days=5))
    receipt = submit(api, code)
    dossier = receipt["dossier_code"]
    wait_for_step(api, dossier, "reception")
    officer("leader", unit)
    leader = OfficerRef(
        officer_id=f"leader@{unit}", role=Role.leader, unit_code=unit,
        capacities=[Capacity(role=Role.leader, unit_code=unit)],
    )  # fmt: skip

    far = date(9999, 12, 31)
    messages = {
        DossierUpdate.apologize: ApologySubmission(reason="x", new_appointment_date=far, officer=leader),
        DossierUpdate.extend: ExtensionSubmission(reason="x", new_appointment_date=far, officer=leader),
    }

    async def send(client: Client) -> list[str]:
        answers = []
        for update, message in messages.items():
            try:
                await client.get_workflow_handle(dossier).execute_update(update.value, message)
                answers.append("applied")
            except WorkflowUpdateFailedError as failed:
                answers.append(str(failed.cause))
        return answers

    assert all("too far" in answer for answer in with_temporal(stack, send))
    view = api.get(f"/dossiers/{dossier}").json()
    assert view["apology"] is None and not view["extended"] and view["appointment_date"] == receipt["appointment_date"]
