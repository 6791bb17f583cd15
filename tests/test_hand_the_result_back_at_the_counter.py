"""A result handed back at the counter: once issued it waits there (status 9, the applicant told to come for it)
until an officer records who received it, with the paper they showed; status 10 only then."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import (
    decide,
    deploy,
    identities,
    officer,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_status,
    wait_for_step,
    wait_until,
)


def _handed_back(code: str, unit: str) -> dict[str, Any]:
    identities().register_unit(unit)
    definition = three_step_procedure(code, unit)
    result = next(step for step in definition["steps"] if step["id"] == "result")
    result["next"] = "counter"
    definition["steps"].append(
        {"id": "counter", "kind": "hand_back", "name": "Trả kết quả tại bộ phận một cửa", "role": "reception"}
    )
    return definition


def test_the_result_waits_at_the_counter_until_an_officer_hands_it_over(api: httpx.Client) -> None:
    code, unit = unique_codes()
    deploy(api, _handed_back(code, unit))
    dossier = submit(api, code)["dossier_code"]
    decide(api, dossier, "reception", unit)
    decide(api, dossier, "approval", unit)
    view = wait_for_step(api, dossier, "counter")
    assert view["status"] == 9 and view["results"]  # issued and signed, not yet returned
    counter = next(step for step in view["active_steps"] if step["step_id"] == "counter")
    assert (counter["awaiting"], counter["role"], counter["unit_code"]) == ("officer", "reception", unit)
    waiting = next(e for e in view["timeline"] if e["step_id"] == "counter")
    assert waiting["text"] == f"Kết quả đã sẵn sàng; mời bạn đến bộ phận một cửa của Đơn vị {unit} để nhận."
    # The counter officer finds it in the inbox; only a hand-over is taken, and it names who received the result.
    desk = officer("reception", unit)
    listed = api.get("/inbox", params={"limit": 500}, headers=desk).json()
    assert any(i["dossier_code"] == dossier and i["step_id"] == "counter" for i in listed)
    approve = api.post(
        f"/dossiers/{dossier}/decisions", json={"step_id": "counter", "decision": "approve"}, headers=desk
    )
    assert approve.status_code == 409, approve.text
    nameless = api.post(
        f"/dossiers/{dossier}/decisions", json={"step_id": "counter", "decision": "hand_over"}, headers=desk
    )
    assert nameless.status_code == 422, nameless.text
    handed = api.post(
        f"/dossiers/{dossier}/decisions",
        json={"step_id": "counter", "decision": "hand_over", "recipient": "Nguyễn Văn A, CCCD 079123456789"},
        headers=desk,
    )
    assert handed.status_code == 200, handed.text
    done = wait_for_status(api, dossier, 10, finished=True)
    assert done["outcome"] == "completed"
    last = [e for e in done["timeline"] if e["step_id"] == "counter"][-1]
    assert last["actor_id"] == f"reception@{unit}"
    assert last["text"] == "Kết quả đã được trao tại bộ phận một cửa cho Nguyễn Văn A, CCCD 079123456789."


def test_without_a_hand_back_step_the_result_is_returned_electronically(api: httpx.Client) -> None:
    code, unit = unique_codes()
    identities().register_unit(unit)
    deploy(api, three_step_procedure(code, unit))
    dossier = submit(api, code)["dossier_code"]
    decide(api, dossier, "reception", unit)
    decide(api, dossier, "approval", unit)
    assert wait_for_status(api, dossier, 10, finished=True)["outcome"] == "completed"
    wait_until(lambda: api.get(f"/dossiers/{dossier}").json()["active_steps"] == [], what="no step left")
