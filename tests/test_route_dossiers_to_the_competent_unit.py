"""Routing a dossier to the unit competent for it: at province level the department or office whose sectors include the
procedure's (not the province itself), a level chosen by the form (a foreign element goes to the province, otherwise
the ward), and online submissions that go only to a competent unit — refused when they name another, routed when
they name none. The dossier lands in that unit's inbox."""

from __future__ import annotations

from typing import Any

from tests.support import deploy, identities, officer, submit, unique_codes, wait_for_step

SAIGON_WARD = "H29.50.05.13"  # Phường Sài Gòn, area 26734
TAN_DINH_WARD = "H29.50.05.14"  # Phường Tân Định, area 26740
HCMC = "H29"  # Thành phố Hồ Chí Minh, area 79
HUE_WARD = "H15.50.05.13"  # Phường Thuận Hóa, area 19750


def _procedure(code: str, sector: str, unit: dict[str, Any], receiving_units: list[str], **fields: Any) -> dict:
    extra = [{"name": name, "label": name, "type": kind} for name, kind in fields.items()]
    return {
        "code": code,
        "name": "Thủ tục thử nghiệm chọn đơn vị có thẩm quyền",
        "sector": sector,
        "level": "province",
        "receiving_units": receiving_units,
        "time_limit_working_days": 3,
        "form": {"fields": [{"name": "residence", "label": "Nơi cư trú", "type": "address"}, *extra]},
        "steps": [
            {"id": "reception", "kind": "reception", "name": "Tiếp nhận", "role": "reception", "unit": unit,
             "budget_working_days": 1, "next": "approval"},
            {"id": "approval", "kind": "approval", "name": "Phê duyệt", "role": "leader",
             "budget_working_days": 1, "next": "result"},
            {"id": "result", "kind": "result", "name": "Trả kết quả"},
        ],
    }  # fmt: skip


def _address(ward_code: str, province_code: str = "79") -> dict[str, str]:
    return {"province_code": province_code, "ward_code": ward_code, "detail": "12 Lê Lợi"}


def _inbox(api: Any, unit: str) -> list[str]:
    return [item["dossier_code"] for item in api.get("/inbox", headers=officer("reception", unit)).json()]


def test_a_provincial_procedure_goes_to_the_department_whose_sectors_include_its_sector(api):
    code, _ = unique_codes()
    sector = f"test_sector_{code[-4:]}"
    department = f"H29.T{code[-4:]}"
    # A department of Hồ Chí Minh City registered with its sectors (PUT /units), and another one without it.
    identities().register_unit(department, kind="department", parent=HCMC, sectors=[sector, "justice"])
    assert api.get(f"/units/{department}").json()["sectors"] == [sector, "justice"]
    assert "land" in api.get("/units/H29.22").json()["sectors"]  # the shipped registry carries sectors too
    unit = {"select": "by_sector", "level": "province", "address_field": "residence"}
    # The procedure lists only the public-administration centre: its department need not be a receiving unit.
    deploy(api, _procedure(code, sector, unit, ["H29.30"]))

    receipt = submit(api, code, form={"residence": _address("26740")})
    assert receipt["receiving_unit"] == department  # routed online to the competent unit, named by none
    dossier = receipt["dossier_code"]
    view = wait_for_step(api, dossier, "reception")
    assert view["handling_unit"] == department
    assert dossier in _inbox(api, department)
    assert dossier not in _inbox(api, HCMC) and dossier not in _inbox(api, "H29.30")

    # Online, naming a unit that is not competent is refused at receiving_unit, saying which unit is.
    refused = api.post(
        "/dossiers",
        json={"procedure_code": code, "receiving_unit": "H29.30", "applicant": {"full_name": "Nguyễn Văn A"},
              "form": {"residence": _address("26740")}},
    )  # fmt: skip
    assert refused.status_code == 422, refused.text
    error = refused.json()["detail"][0]
    assert error["loc"] == ["body", "receiving_unit"] and department in error["msg"]

    # A province with no unit of that sector has no competent unit: the address is refused.
    no_one = api.post(
        "/dossiers",
        json={"procedure_code": code, "applicant": {"full_name": "Nguyễn Văn A"},
              "form": {"residence": _address("19750", "46")}},
    )  # fmt: skip
    assert no_one.status_code == 422, no_one.text
    assert no_one.json()["detail"][0]["loc"] == ["body", "form", "residence"]


def test_the_form_chooses_the_level_a_foreign_element_goes_to_the_province(api):
    code, _ = unique_codes()
    unit = {
        "select": "competent_unit",
        "address_field": "residence",
        "level_when": [{"when": "has_foreign_element", "level": "province"}, {"level": "ward"}],
    }
    deploy(api, _procedure(code, "civil_status", unit, [HCMC, TAN_DINH_WARD], has_foreign_element="boolean"))

    foreign = submit(api, code, form={"residence": _address("26740"), "has_foreign_element": True})
    local = submit(api, code, form={"residence": _address("26740"), "has_foreign_element": False})
    assert foreign["receiving_unit"] == HCMC
    assert local["receiving_unit"] == TAN_DINH_WARD
    wait_for_step(api, foreign["dossier_code"], "reception")
    wait_for_step(api, local["dossier_code"], "reception")
    assert foreign["dossier_code"] in _inbox(api, HCMC) and foreign["dossier_code"] not in _inbox(api, TAN_DINH_WARD)
    assert local["dossier_code"] in _inbox(api, TAN_DINH_WARD) and local["dossier_code"] not in _inbox(api, HCMC)


def test_an_online_submission_to_a_unit_not_competent_for_the_address_is_refused_or_routed(api):
    code, _ = unique_codes()
    definition = _procedure(code, "civil_status", {"select": "receiving_unit"}, [SAIGON_WARD, HUE_WARD])
    definition["level"] = "ward"
    deploy(api, definition)

    # A Saigon resident names the Huế ward: not competent for the address.
    refused = api.post(
        "/dossiers",
        json={"procedure_code": code, "receiving_unit": HUE_WARD, "applicant": {"full_name": "Nguyễn Văn A"},
              "form": {"residence": _address("26734")}},
    )  # fmt: skip
    assert refused.status_code == 422, refused.text
    error = refused.json()["detail"][0]
    assert error["loc"] == ["body", "receiving_unit"] and error["type"] == "not_competent"
    assert SAIGON_WARD in error["msg"]

    # Naming none, the same submission goes to the ward of the address; a Huế resident's to Huế.
    assert submit(api, code, form={"residence": _address("26734")})["receiving_unit"] == SAIGON_WARD
    hue = submit(api, code, form={"residence": _address("19750", "46")})
    assert hue["receiving_unit"] == HUE_WARD
    wait_for_step(api, hue["dossier_code"], "reception")
    assert hue["dossier_code"] in _inbox(api, HUE_WARD)
