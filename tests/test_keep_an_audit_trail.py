"""Every act is written append-only with who, on behalf of whom, unit, when, what and from which channel."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from readmodel.db import engine_for
from tests.support import (
    ADMINISTRATOR,
    citizen,
    decide,
    deploy,
    identities,
    officer,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_status,
    wait_for_step,
)

# Also runs in the cluster suite, on Temporal's separate services and the read model on PostgreSQL.
pytestmark = pytest.mark.cluster


def test_administration_is_audited(api):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    identities().register_unit(unit)
    officer("leader", unit)
    officer("specialist", unit, "deputy-audit")
    today = date.today()
    delegation = api.post(
        f"/officers/leader@{unit}/delegations",
        json={"delegate_id": "deputy-audit", "valid_from": today.isoformat(),
              "valid_until": (today + timedelta(days=3)).isoformat(), "reason": "công tác"},
        headers=officer("leader", unit),  # the leader delegates their own roles
    )  # fmt: skip
    assert delegation.status_code == 201, delegation.text
    assert api.put("/calendars/79/days/2039-09-03", json={"kind": "day_off", "reason": "thử"}).status_code == 200
    assert api.delete("/calendars/79/days/2039-09-03").status_code == 204

    entries = api.get("/audit", params={"limit": 1000}).json()

    def find(action: str, target: str) -> dict:
        return next(e for e in entries if e["action"] == action and e["target"] == target)

    deployed = find("procedure_deployed", code)
    assert (deployed["actor_kind"], deployed["actor_id"], deployed["unit_code"], deployed["channel"]) == (
        "officer", ADMINISTRATOR, "VN", "api",
    )  # fmt: skip
    assert deployed["detail"]["version"] == 1
    assert find("unit_registered", unit)["actor_id"] == ADMINISTRATOR
    assert find("officer_registered", f"leader@{unit}")["detail"]["roles"] == ["leader"]
    granted = find("delegation_granted", f"leader@{unit}")
    assert granted["actor_id"] == f"leader@{unit}" and granted["detail"]["delegate_id"] == "deputy-audit"
    assert find("calendar_day_set", "79/2039-09-03")["detail"] == {"kind": "day_off", "reason": "thử"}
    assert find("calendar_day_removed", "79/2039-09-03")
    assert api.get("/audit", params={"target": code}).json() == [deployed]


def test_dossier_acts_carry_actor_unit_and_channel(api):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    receipt = submit(api, code, headers=citizen("079123456789"))
    dossier = receipt["dossier_code"]
    decide(api, dossier, "reception", unit, "request_supplement", missing=["Bản sao giấy khai sinh"], reason="thiếu")
    assert api.post(f"/dossiers/{dossier}/supplements", json={"form": {"copies": 3}}).status_code == 200
    decide(api, dossier, "reception", unit)
    wait_for_step(api, dossier, "approval")
    rejected = api.post(
        f"/dossiers/{dossier}/decisions",
        json={"step_id": "approval", "decision": "reject", "reason": "Không đủ điều kiện"},
        headers=officer("leader", unit),
    )
    assert rejected.status_code == 200, rejected.text
    view = wait_for_status(api, dossier, 8, finished=True)

    acts = [(e["kind"], e["actor_kind"], e["actor_id"], e["unit_code"], e["channel"]) for e in view["timeline"]
            if e["actor_kind"]]  # fmt: skip
    assert acts == [
        ("submitted", "citizen", "079123456789", None, "online"),
        ("supplement_requested", "officer", f"reception@{unit}", unit, "api"),
        ("supplemented", "anonymous", None, None, "online"),  # sent with the receipt's lookup secret
        ("decision", "officer", f"reception@{unit}", unit, "api"),
        ("decision", "officer", f"leader@{unit}", unit, "api"),
    ]
    assert any("Không đủ điều kiện" in e["summary"] for e in view["timeline"] if e["kind"] == "decision")


@pytest.mark.parametrize("table", ["audit_entry", "dossier_event"])
def test_the_trail_cannot_be_rewritten_even_in_the_database(stack, api, table):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    submit(api, code)
    engine = engine_for(stack.config.sqlalchemy_url)
    with engine.connect() as connection:
        count = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        assert count > 0
        for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):
            with pytest.raises(DatabaseError, match="append-only"):
                connection.execute(text(statement))
            connection.rollback()
        assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() >= count
    assert api.get("/audit").status_code == 200  # the API goes on after the refused rewrite
