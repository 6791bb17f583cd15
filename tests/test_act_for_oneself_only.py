"""People's things stay theirs: an officer who may see a dossier never sees its lookup secret, so cannot act as
its applicant; the applicant acts with their own citizen token or the secret printed on their receipt (a counter
officer helping them types it from the receipt); and only a submission made with a citizen's own token (or
received for them at a counter, where their identity paper is checked) joins that citizen's account."""

from __future__ import annotations

import httpx

from tests.support import (
    APPLICANT,
    VALID_FORM,
    citizen,
    deploy,
    officer,
    three_step_procedure,
    unique_codes,
    wait_for_step,
)

OWNER = APPLICANT["citizen_id"]


def _client(stack) -> httpx.Client:
    return httpx.Client(base_url=stack.config.api_url, timeout=30)


def _submit(client: httpx.Client, code: str, headers: dict[str, str] | None = None, **extra) -> dict:
    body = {"procedure_code": code, "applicant": APPLICANT, "form": VALID_FORM, **extra}
    response = client.post("/dossiers", json=body, headers=headers or {})
    assert response.status_code == 201, response.text
    return response.json()


def test_an_officer_who_sees_a_dossier_neither_sees_its_secret_nor_acts_as_the_applicant(api, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    with _client(stack) as anyone:
        receipt = _submit(anyone, code, citizen(OWNER))
        dossier, secret = receipt["dossier_code"], receipt["lookup_secret"]
        holder = {"X-Lookup-Secret": secret}
        wait_for_step(api, dossier, "reception")
        reception, leader = officer("reception", unit), officer("leader", unit)

        for who in (reception, leader):
            view = anyone.get(f"/dossiers/{dossier}", headers=who)
            assert view.status_code == 200 and view.json()["lookup_secret"] is None
            for page in (f"/dossiers/{dossier}/receipt.html", f"/officer/dossiers/{dossier}",
                         f"/citizen/dossiers/{dossier}"):  # fmt: skip
                shown = anyone.get(page, headers=who)
                assert shown.status_code == 200 and secret not in shown.text, page
            assert secret not in anyone.get("/inbox", headers=who).text
        # The applicant sees it: signed in, or holding the receipt.
        assert anyone.get(f"/dossiers/{dossier}", headers=citizen(OWNER)).json()["lookup_secret"] == secret
        assert anyone.get(f"/dossiers/{dossier}", headers=holder).json()["lookup_secret"] == secret
        assert secret in anyone.get(f"/dossiers/{dossier}/receipt.html", headers=holder).text

        # The applicant's acts need the applicant: not even the reception officer of the receiving unit acts alone.
        for who in (reception, leader):
            assert anyone.post(f"/dossiers/{dossier}/withdrawal", json={"reason": "x"}, headers=who).status_code == 403
            assert anyone.post(f"/dossiers/{dossier}/supplements", json={}, headers=who).status_code == 403
            paid = {"step_id": "reception", "amount_vnd": 1, "receipt_reference": "X"}
            assert anyone.post(f"/dossiers/{dossier}/payments", json=paid, headers=who).status_code == 403
        assert anyone.get(f"/dossiers/{dossier}", headers=holder).json()["status"] != 7

        # At the counter, the applicant hands over the receipt: the officer types its secret and acts for them.
        at_counter = {**reception, **holder}
        withdrawn = anyone.post(f"/dossiers/{dossier}/withdrawal", json={"reason": "Không còn nhu cầu"},
                                headers=at_counter)  # fmt: skip
        assert withdrawn.status_code == 200, withdrawn.text
        last = anyone.get(f"/dossiers/{dossier}", headers=holder).json()["timeline"][-1]
        assert (last["actor_kind"], last["actor_id"], last["channel"]) == ("officer", f"reception@{unit}", "in_person")


def test_the_receipt_given_at_the_counter_carries_the_secret_and_later_reprints_do_not(api, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    counter = officer("reception", unit)
    with _client(stack) as desk:
        receipt = _submit(desk, code, counter)  # the answer is the receipt handed to the applicant
        dossier, secret = receipt["dossier_code"], receipt["lookup_secret"]
        assert secret
        # Printed with the secret the officer was just given; reprinted by an officer, without it.
        assert (
            secret in desk.get(f"/dossiers/{dossier}/receipt.html", headers={**counter, "X-Lookup-Secret": secret}).text
        )
        reprint = desk.get(f"/dossiers/{dossier}/receipt.html", headers=counter)
        assert reprint.status_code == 200 and dossier in reprint.text and secret not in reprint.text
        assert desk.get(f"/dossiers/{dossier}", headers=counter).json()["lookup_secret"] is None


def test_an_anonymous_submission_naming_a_citizen_does_not_join_their_account(api, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    with _client(stack) as anyone:
        typed = _submit(anyone, code)["dossier_code"]  # anonymous, with the citizen's ID typed in
        own = _submit(anyone, code, citizen(OWNER))["dossier_code"]  # with the citizen's own token
        counter = _submit(anyone, code, officer("reception", unit))["dossier_code"]  # identity checked at the counter
        mine = citizen(OWNER)
        assert anyone.get(f"/dossiers/{typed}", headers=mine).status_code == 404
        assert anyone.post(f"/dossiers/{typed}/withdrawal", json={"reason": "x"}, headers=mine).status_code == 404
        assert anyone.get(f"/dossiers/{own}", headers=mine).status_code == 200
        assert anyone.get(f"/dossiers/{counter}", headers=mine).status_code == 200
