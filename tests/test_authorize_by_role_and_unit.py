"""Who may do what: every role × unit relation × action, and dossier look-ups by other citizens.

Wrong role or unit → 403 with nothing changed; a dossier one may not see → 404, exactly as one that
does not exist; no credentials → 401."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import httpx
import pytest

from tests.support import (
    APPLICANT,
    VALID_FORM,
    admin,
    citizen,
    decide,
    deploy,
    identities,
    officer,
    submit,
    three_step_procedure,
    unique_codes,
    wait_for_step,
)

OWNER = APPLICANT["citizen_id"]
OTHER_CITIZEN = "001200009999"


@dataclass
class World:
    code: str  # the procedure
    unit: str  # the unit receiving and processing it
    other_unit: str  # a unit with no part in it
    dossier: str  # awaiting reception
    secret: str
    headers: dict[str, dict[str, str]]  # who → Authorization headers


@pytest.fixture(scope="module")
def world(api) -> World:
    code, unit = unique_codes()
    _, other_unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    today = date.today()
    headers = {
        "reception here": officer("reception", unit),
        "specialist here": officer("specialist", unit),
        "leader here": officer("leader", unit),
        "reception elsewhere": officer("reception", other_unit),
        "leader elsewhere": officer("leader", other_unit),
        "deputy (delegated by the leader here)": officer("specialist", other_unit, "deputy"),
        "former deputy (delegation ended)": officer("specialist", other_unit, "former-deputy"),
        "administrator": admin(),
        "owner citizen": citizen(OWNER),
        "other citizen": citizen(OTHER_CITIZEN),
        "anonymous": {},
    }
    for delegate, start, end in [
        ("deputy", today - timedelta(days=2), today + timedelta(days=2)),
        ("former-deputy", date(2025, 1, 1), date(2025, 1, 31)),
    ]:
        granted = api.post(
            f"/officers/leader@{unit}/delegations",
            json={"delegate_id": delegate, "valid_from": start.isoformat(), "valid_until": end.isoformat(),
                  "reason": "nghỉ phép"},
            headers=admin(),
        )  # fmt: skip
        assert granted.status_code == 201, granted.text
    # The owner submits signed in: the dossier joins their account (a citizen ID typed anonymously would not).
    receipt = api.post(
        "/dossiers", json={"procedure_code": code, "applicant": APPLICANT, "form": VALID_FORM}, headers=citizen(OWNER)
    ).json()
    headers["holder of the receipt"] = {"X-Lookup-Secret": receipt["lookup_secret"]}
    headers["wrong lookup secret"] = {"X-Lookup-Secret": "AAAAAAAAAA"}
    world = World(code, unit, other_unit, receipt["dossier_code"], receipt["lookup_secret"], headers)
    wait_for_step(api, world.dossier, "reception")
    return world


def _client(stack) -> httpx.Client:
    return httpx.Client(base_url=stack.config.api_url, timeout=30)


VIEW = {
    "owner citizen": 200,
    "holder of the receipt": 200,
    "reception here": 200,
    "specialist here": 200,
    "leader here": 200,
    "deputy (delegated by the leader here)": 200,
    "former deputy (delegation ended)": 404,
    "reception elsewhere": 404,
    "leader elsewhere": 404,
    "administrator": 404,
    "other citizen": 404,
    "wrong lookup secret": 404,
    "anonymous": 401,
}


@pytest.mark.parametrize(("who", "expected"), VIEW.items())
def test_who_sees_a_dossier(stack, world, who, expected):
    with _client(stack) as api:
        assert api.get(f"/dossiers/{world.dossier}", headers=world.headers[who]).status_code == expected
        assert api.get(f"/dossiers/{world.dossier}/receipt.html", headers=world.headers[who]).status_code == expected


@pytest.mark.parametrize("who", [w for w, code in VIEW.items() if code != 401])
def test_an_unknown_dossier_looks_the_same_to_everyone(stack, world, who):
    with _client(stack) as api:
        response = api.get(f"/dossiers/{world.unit}-000000-9999", headers=world.headers[who])
    assert response.status_code == 404
    assert response.json() == {"detail": f"no dossier '{world.unit}-000000-9999'"}


DECIDE_RECEPTION = {
    "specialist here": 403,
    "leader here": 403,
    "deputy (delegated by the leader here)": 403,  # acts as leader, not as reception
    "former deputy (delegation ended)": 404,
    "reception elsewhere": 404,
    "leader elsewhere": 404,
    "administrator": 404,
    "owner citizen": 403,
    "holder of the receipt": 401,
    "anonymous": 401,
}


@pytest.mark.parametrize(("who", "expected"), DECIDE_RECEPTION.items())
def test_only_reception_of_the_unit_decides_reception_and_a_refusal_changes_nothing(stack, world, who, expected):
    with _client(stack) as api:
        before = api.get(f"/dossiers/{world.dossier}", headers=world.headers["owner citizen"]).json()
        response = api.post(
            f"/dossiers/{world.dossier}/decisions",
            json={"step_id": "reception", "decision": "approve"},
            headers=world.headers[who],
        )
        assert response.status_code == expected, response.text
        after = api.get(f"/dossiers/{world.dossier}", headers=world.headers["owner citizen"]).json()
    assert after["timeline"] == before["timeline"]
    assert [s["step_id"] for s in after["active_steps"]] == ["reception"]


def _dossier_at_approval(api, world) -> str:
    dossier = submit(api, world.code, headers=citizen(OWNER))["dossier_code"]
    decide(api, dossier, "reception", world.unit)
    wait_for_step(api, dossier, "approval")
    return dossier


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("leader here", 200),
        ("deputy (delegated by the leader here)", 200),
        ("reception here", 403),
        ("former deputy (delegation ended)", 404),
        ("leader elsewhere", 404),
    ],
)
def test_the_leader_or_their_deputy_approves(api, stack, world, who, expected):
    dossier = _dossier_at_approval(api, world)
    with _client(stack) as api:
        response = api.post(
            f"/dossiers/{dossier}/decisions",
            json={"step_id": "approval", "decision": "approve"},
            headers=world.headers[who],
        )
        assert response.status_code == expected, response.text
        if expected != 200:
            return
        view = api.get(f"/dossiers/{dossier}", headers=world.headers["owner citizen"]).json()
    approval = next(e for e in view["timeline"] if e["kind"] == "decision" and e["step_id"] == "approval")
    assert approval["actor_kind"] == "officer"
    assert approval["unit_code"] == world.unit
    if who.startswith("deputy"):
        assert (approval["actor_id"], approval["on_behalf_of"]) == ("deputy", f"leader@{world.unit}")
    else:
        assert (approval["actor_id"], approval["on_behalf_of"]) == (f"leader@{world.unit}", None)


@pytest.mark.parametrize(
    ("who", "sees_it"),
    [
        ("reception here", True),
        ("leader here", False),
        ("reception elsewhere", False),
        ("deputy (delegated by the leader here)", False),
    ],
)
def test_inbox_shows_steps_of_my_roles_at_my_units(stack, world, who, sees_it):
    with _client(stack) as api:
        listed = api.get("/inbox", params={"limit": 500}, headers=world.headers[who])
    assert listed.status_code == 200
    assert (world.dossier in [i["dossier_code"] for i in listed.json()]) is sees_it


def test_a_deputy_finds_the_leaders_steps_in_their_inbox(api, stack, world):
    dossier = _dossier_at_approval(api, world)
    with _client(stack) as api:
        listed = api.get(
            "/inbox", params={"limit": 500}, headers=world.headers["deputy (delegated by the leader here)"]
        )
    assert dossier in [i["dossier_code"] for i in listed.json() if i["step_id"] == "approval"]


ADMINISTRATION = {
    "administrator": (200, 201),
    "leader here": (403,),
    "reception here": (403,),
    "owner citizen": (403,),
    "anonymous": (401,),
}


@pytest.mark.parametrize(("who", "expected"), ADMINISTRATION.items())
def test_only_administrators_deploy_and_manage_units_and_calendars(stack, world, who, expected):
    headers = world.headers[who]
    code, unit = unique_codes()
    with _client(stack) as api:
        assert api.post("/procedures", json=three_step_procedure(code, unit), headers=headers).status_code in expected
        unit_change = {"name": "Phường thử", "kind": "ward", "parent_code": "H29", "area_code": "27999"}
        assert api.put("/units/H29.50.05.99", json=unit_change, headers=headers).status_code in expected
        day_off = {"kind": "day_off", "reason": "thử quyền"}
        assert api.put("/calendars/79/days/2039-06-01", json=day_off, headers=headers).status_code in expected
        assert api.delete("/calendars/79/days/2039-06-01", headers=headers).status_code in (*expected, 204)
        assert api.post(f"/procedures/{world.code}-none/retire", headers=headers).status_code in (*expected, 404)
        assert api.get("/audit", headers=headers).status_code in expected
        assert api.get("/officers", headers=headers).status_code in expected
        assert api.get("/operations/blocked", headers=headers).status_code in expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [("reception elsewhere", 201), ("reception here", 201), ("leader here", 403), ("owner citizen", 422)],
)
def test_a_reception_officer_of_any_unit_receives_at_the_counter(stack, world, who, expected):
    with _client(stack) as api:
        response = api.post(
            "/dossiers",
            json={"procedure_code": world.code, "applicant": APPLICANT, "form": VALID_FORM, "channel": 1},
            headers=world.headers[who],
        )
    assert response.status_code == expected, response.text


def test_citizens_look_up_only_their_own_dossiers_and_data(stack, world):
    with _client(stack) as api:
        other = world.headers["other citizen"]
        assert api.get(f"/dossiers/{world.dossier}", headers=other).status_code == 404
        assert api.post(f"/dossiers/{world.dossier}/withdrawal", json={"reason": "x"}, headers=other).status_code == 404
        assert api.post(f"/dossiers/{world.dossier}/supplements", json={}, headers=other).status_code == 404
        mine = api.get(f"/dossiers/{world.dossier}", headers=world.headers["owner citizen"])
        assert mine.status_code == 200 and mine.json()["lookup_secret"] == world.secret


def test_tokens_that_are_not_ours_are_refused(stack, world):
    with _client(stack) as api:
        for authorization in ["Bearer not-a-jwt", "Basic YWRtaW46YWRtaW4=", "Bearer " + _tampered(identities())]:
            response = api.get("/inbox", headers={"Authorization": authorization})
            assert response.status_code == 401, authorization
            assert response.headers["www-authenticate"] == "Bearer"
        unknown_officer = identities().issuer.issue_officer("nobody-in-the-registry")
        assert api.get("/inbox", headers={"Authorization": f"Bearer {unknown_officer}"}).status_code == 403
        expired = identities().issuer.issue_officer(f"leader@{world.unit}", lifetime_seconds=-120)
        assert api.get("/inbox", headers={"Authorization": f"Bearer {expired}"}).status_code == 401


def _tampered(ids) -> str:
    header, payload, signature = ids.issuer.issue_officer("admin").split(".")
    return ".".join([header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])
