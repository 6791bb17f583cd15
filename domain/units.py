"""Which unit is competent for an address: a directory of provinces and communes/wards."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from domain.definition import ProcedureDefinition, UnitLevel, UnitSelection

DATA = Path(__file__).parent / "data" / "units.yaml"


class NoCompetentUnit(LookupError):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


NATIONAL = "VN"


@dataclass(frozen=True)
class UnitDirectory:
    province_units: dict[str, str]  # province code → agency code
    ward_units: dict[str, str]  # ward code → agency code
    unit_provinces: dict[str, str]  # agency code → province code

    def jurisdiction_of(self, agency_code: str) -> str:
        """The calendar a unit keeps: its province's (which adds to the national one), else the national one."""
        return self.unit_provinces.get(agency_code, NATIONAL)

    def competent_unit(self, level: UnitLevel, province_code: str, ward_code: str) -> str:
        if level == UnitLevel.ward:
            unit = self.ward_units.get(ward_code)
            if unit is None:
                raise NoCompetentUnit(f"no unit is registered for ward {ward_code}")
            return unit
        if level == UnitLevel.province:
            unit = self.province_units.get(province_code)
            if unit is None:
                raise NoCompetentUnit(f"no unit is registered for province {province_code}")
            return unit
        raise NoCompetentUnit("ministry-level units are not chosen by address")


@lru_cache
def unit_directory(path: Path = DATA) -> UnitDirectory:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    unit_provinces = {p["agency_code"]: p["code"] for p in data["provinces"]}
    unit_provinces.update({w["agency_code"]: w["province"] for w in data["wards"]})
    unit_provinces.update({o["agency_code"]: o["province"] for o in data.get("offices", [])})
    return UnitDirectory(
        province_units={p["code"]: p["agency_code"] for p in data["provinces"]},
        ward_units={w["code"]: w["agency_code"] for w in data["wards"]},
        unit_provinces=unit_provinces,
    )


def resolve_step_units(
    definition: ProcedureDefinition, form: dict[str, Any], receiving_unit: str, directory: UnitDirectory | None = None
) -> dict[str, str]:
    """The unit acting on each officer or child step: the receiving unit, a fixed unit, or the unit
    competent for an address of the form. Raises NoCompetentUnit naming the address field."""
    directory = directory or unit_directory()
    units: dict[str, str] = {}
    for _, step in definition.all_steps():
        if not (step.is_officer_step or step.procedure):
            continue
        match step.unit.select:
            case UnitSelection.fixed_unit:
                units[step.id] = step.unit.unit_code or receiving_unit
            case UnitSelection.competent_unit:
                address = form.get(step.unit.address_field or "") or {}
                try:
                    units[step.id] = directory.competent_unit(
                        step.unit_level, address.get("province_code", ""), address.get("ward_code", "")
                    )
                except NoCompetentUnit as exc:
                    raise NoCompetentUnit(str(exc), step.unit.address_field or "") from None
            case _:
                units[step.id] = receiving_unit
    return units
