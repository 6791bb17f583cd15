"""A dossier keeps the definition version it began on, whatever is deployed afterwards."""

from __future__ import annotations

import copy

from tests.support import decide, deploy, submit, three_step_procedure, unique_codes, wait_for_status, wait_for_step


def test_dossier_started_on_v1_finishes_on_v1_after_v2_is_deployed(api):
    code, unit = unique_codes()
    v1 = three_step_procedure(code, unit)
    deploy(api, v1)
    old = submit(api, code)["dossier_code"]
    wait_for_step(api, old, "reception")

    # v2 inserts a specialist review before the leader.
    v2 = copy.deepcopy(v1)
    v2["steps"][1]["next"] = "review"
    v2["steps"].insert(
        2, {"id": "review", "kind": "review", "name": "Thẩm định", "role": "specialist", "next": "approval"}
    )
    assert deploy(api, v2)["version"] == 2
    new = submit(api, code)
    assert new["procedure_version"] == 2

    for dossier in (old, new["dossier_code"]):
        decide(api, dossier, "reception", unit)

    # The v2 dossier meets the new review; the v1 dossier goes straight to the leader.
    wait_for_step(api, new["dossier_code"], "review")
    decide(api, old, "approval", unit)
    view = wait_for_status(api, old, 10, finished=True)
    assert view["procedure_version"] == 1
    assert "review" not in {e["step_id"] for e in view["timeline"]}
