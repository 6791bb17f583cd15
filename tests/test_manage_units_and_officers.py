"""The registry of units (34 provinces, their communes/wards), officers and delegations, managed through the
admin API; a change takes effect for the next dossier without a restart."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.support import APPLICANT, deploy, identities, officer, unique_codes, wait_for_step

# Also runs in the cluster suite, on Temporal's separate services and the read model on PostgreSQL.
pytestmark = pytest.mark.cluster


def test_the_shipped_registry_has_the_34_provinces_and_sample_wards(api):
    provinces = api.get("/units", params={"kind": "province"}).json()
    assert len(provinces) == 34
    assert len({p["area_code"] for p in provinces}) == 34
    assert {"Thành phố Hồ Chí Minh", "Thành phố Huế", "Thành phố Hà Nội", "Tỉnh Cà Mau"} <= {
        p["name"] for p in provinces
    }
    hcmc_wards = api.get("/units", params={"parent": "H29", "kind": "ward"}).json()
    hue_wards = api.get("/units", params={"parent": "H15", "kind": "ward"}).json()
    assert len(hcmc_wards) >= 10 and len(hue_wards) >= 10
    ward = api.get("/units/H29.50.05.13").json()
    assert (ward["area_code"], ward["province_code"], ward["parent_code"]) == ("26734", "79", "H29")
    ministry = api.get("/units/G01").json()
    assert (ministry["kind"], ministry["parent_code"], ministry["province_code"]) == ("ministry", "VN", None)
    assert api.get("/units/NOPE").status_code == 404
    assert api.get("/units/not a code").status_code == 422


def test_bad_units_are_refused_with_the_field(api):
    def put(code: str, **body):
        return api.put(f"/units/{code}", json={"name": "Phường mới", "kind": "ward", "parent_code": "H29", **body})

    assert put("H29.50.05.90").json()["detail"][0]["loc"] == ["body", "area_code"]
    assert put("H29.50.05.90", area_code="123").json()["detail"][0]["loc"] == ["body", "area_code"]
    assert put("H29.50.05.90", area_code="27901", parent_code="H99").json()["detail"][0]["loc"] == [
        "body",
        "parent_code",
    ]
    clash = put("H29.50.05.90", area_code="26734")  # Phường Sài Gòn's area
    assert clash.status_code == 409 and "H29.50.05.13" in clash.json()["detail"]


def _procedure_with_ward_competence(code: str, unit: str) -> dict:
    return {
        "code": code, "name": "Thủ tục theo địa bàn (thử)", "sector": "test", "level": "ward",
        "receiving_units": [unit], "time_limit_working_days": 2,
        "form": {"fields": [{"name": "address", "label": "Địa chỉ", "type": "address"}]},
        "steps": [
            {"id": "review", "kind": "review", "name": "Thẩm định", "role": "specialist",
             "unit": {"select": "competent_unit", "address_field": "address"}, "budget_working_days": 1, "next": "result"},
            {"id": "result", "kind": "result", "name": "Trả kết quả"},
        ],
    }  # fmt: skip


def test_a_ward_registered_through_the_api_is_competent_for_the_next_dossier(api):
    code, unit = unique_codes()
    deploy(api, _procedure_with_ward_competence(code, unit))
    body = {"procedure_code": code, "applicant": APPLICANT,
            "form": {"address": {"province_code": "79", "ward_code": "27911", "detail": "5 Nguyễn Huệ"}}}  # fmt: skip
    refused = api.post("/dossiers", json=body)
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "form", "address"]

    registered = api.put(
        "/units/H29.50.05.91",
        json={"name": "Phường Thử Nghiệm", "kind": "ward", "parent_code": "H29", "area_code": "27911"},
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["province_code"] == "79"
    dossier = api.post("/dossiers", json=body).json()["dossier_code"]
    view = wait_for_step(api, dossier, "review")
    assert view["active_steps"][0]["unit_code"] == "H29.50.05.91"


def test_officers_and_delegations(api):
    _, unit = unique_codes()
    identities().register_unit(unit)
    assert api.put("/officers/o-1", json={"full_name": "A", "unit_code": "NOPE", "roles": ["leader"]}).json()["detail"][
        0
    ]["loc"] == ["body", "unit_code"]
    assert api.put("/officers/o-1", json={"full_name": "A", "unit_code": unit, "roles": ["mayor"]}).status_code == 422
    leader = officer("leader", unit, "leader-deleg")
    deputy = officer("specialist", unit, "deputy-deleg")
    today = date.today()

    def delegate(**body):
        return api.post(
            "/officers/leader-deleg/delegations",
            json={"delegate_id": "deputy-deleg", "valid_from": today.isoformat(),
                  "valid_until": (today + timedelta(days=1)).isoformat(), "reason": "nghỉ phép", **body},
            headers=leader,
        )  # fmt: skip

    assert delegate(roles=["reception"]).json()["detail"][0]["loc"] == ["body", "roles"]
    backwards = delegate(valid_until=(today - timedelta(days=3)).isoformat())
    assert backwards.status_code == 422
    assert delegate(delegate_id="leader-deleg").json()["detail"][0]["loc"] == ["body", "delegate_id"]
    # Nobody else hands out the leader's authority.
    assert api.post(
        "/officers/leader-deleg/delegations",
        json={"delegate_id": "deputy-deleg", "valid_from": today.isoformat(), "valid_until": today.isoformat(),
              "reason": "x"},
        headers=deputy,
    ).status_code == 403  # fmt: skip

    granted = delegate()
    assert granted.status_code == 201 and granted.json()["roles"] == ["leader"]
    capacities = api.get("/me", headers=deputy).json()["capacities"]
    assert {"role": "leader", "unit_code": unit, "on_behalf_of": "leader-deleg"} in capacities
    revoked = api.delete(f"/officers/leader-deleg/delegations/{granted.json()['id']}", headers=leader)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert [c["role"] for c in api.get("/me", headers=deputy).json()["capacities"]] == ["specialist"]
