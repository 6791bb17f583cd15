"""Administrative units and competence: which unit acts on a step, and which calendar a unit keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from domain.definition import FieldType, ProcedureDefinition, StepKind, UnitLevel, UnitSelection

DATA = Path(__file__).parent / "data" / "units.yaml"
NATIONAL = "VN"
UNIT_KINDS = ("national", "ministry", "province", "department", "ward")


class NoCompetentUnit(LookupError):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Unit:
    code: str  # agency code
    name: str
    kind: str  # one of UNIT_KINDS
    parent_code: str | None = None
    area_code: str | None = None  # provinces and communes/wards: the address code they are competent for
    province_code: str | None = None  # the province (area code) the unit belongs to; None: national level


@dataclass(frozen=True)
class UnitDirectory:
    units: dict[str, Unit]
    province_units: dict[str, str] = field(default_factory=dict)  # province area code → agency code
    ward_units: dict[str, str] = field(default_factory=dict)  # ward area code → agency code

    @classmethod
    def of(cls, units: list[Unit]) -> UnitDirectory:
        return cls(
            units={u.code: u for u in units},
            province_units={u.area_code: u.code for u in units if u.kind == "province" and u.area_code},
            ward_units={u.area_code: u.code for u in units if u.kind == "ward" and u.area_code},
        )

    def jurisdiction_of(self, agency_code: str) -> str:
        """The calendar a unit keeps: its province's (which adds to the national one), else the national one."""
        unit = self.units.get(agency_code)
        return unit.province_code if unit and unit.province_code else NATIONAL

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

    def handling_unit(self, definition: ProcedureDefinition, form: dict[str, Any], receiving_unit: str) -> str:
        """The unit that processes a dossier received at `receiving_unit` (any counter, any boundary).

        A unit that receives the procedure handles what it receives. Another counter hands the dossier to
        the procedure's receiving unit competent for the applicant's address: the ward of that address,
        else a unit of its province; without an address, the procedure's unit in the counter's province."""
        candidates = definition.receiving_units
        if receiving_unit in candidates:
            return receiving_unit
        address_field, address = _deciding_address(definition, form)
        if address is not None:
            ward = self.ward_units.get(address.get("ward_code", ""))
            if ward in candidates:
                return ward
            province = address.get("province_code", "")
            in_province = [c for c in candidates if self.jurisdiction_of(c) == province]
            if in_province:
                return in_province[0]
            raise NoCompetentUnit(
                f"none of the units receiving this procedure ({', '.join(candidates)}) is competent for this address",
                address_field,
            )
        province = self.jurisdiction_of(receiving_unit)
        same_province = [c for c in candidates if self.jurisdiction_of(c) == province]
        if len(same_province) == 1:
            return same_province[0]
        national = [c for c in candidates if self.jurisdiction_of(c) == NATIONAL]
        if len(national) == 1:
            return national[0]
        raise NoCompetentUnit(
            f"the form gives no address to choose among the units receiving this procedure ({', '.join(candidates)})"
        )


def _deciding_address(definition: ProcedureDefinition, form: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """The address that decides competence: the one competent-unit steps name, else the form's first address."""
    names = [s.unit.address_field for _, s in definition.all_steps() if s.unit.select == UnitSelection.competent_unit]
    names += [f.name for f in definition.form.fields if f.type == FieldType.address]
    for name in names:
        if name and isinstance(form.get(name), dict):
            return name, form[name]
    return "", None


def shipped_units(path: Path = DATA) -> list[Unit]:
    """The registry a fresh installation starts from (domain/data/units.yaml)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    national = data["national"]
    units = [Unit(code=national["code"], name=national["name"], kind="national")]
    units += [Unit(code=m["code"], name=m["name"], kind="ministry", parent_code=NATIONAL) for m in data["ministries"]]
    units += [Unit(code=d["code"], name=d["name"], kind="department", parent_code=d["parent"])
              for d in data["ministry_departments"]]  # fmt: skip
    provinces = {p["code"]: p["area_code"] for p in data["provinces"]}
    units += [
        Unit(code=p["code"], name=p["name"], kind="province", parent_code=NATIONAL, area_code=p["area_code"],
             province_code=p["area_code"])
        for p in data["provinces"]
    ]  # fmt: skip
    units += [
        Unit(code=d["code"], name=d["name"], kind="department", parent_code=d["parent"],
             province_code=provinces[d["parent"]])
        for d in data["province_departments"]
    ]  # fmt: skip
    units += [
        Unit(code=w["code"], name=w["name"], kind="ward", parent_code=w["parent"], area_code=w["area_code"],
             province_code=provinces[w["parent"]])
        for w in data["wards"]
    ]  # fmt: skip
    return units


@lru_cache
def shipped_directory() -> UnitDirectory:
    """The shipped registry, for offline tools; running services read the managed registry (readmodel)."""
    return UnitDirectory.of(shipped_units())


def resolve_step_units(
    definition: ProcedureDefinition,
    form: dict[str, Any],
    receiving_unit: str,
    directory: UnitDirectory,
    handling_unit: str | None = None,
) -> dict[str, str]:
    """The unit acting on each officer or child step: the receiving unit, a fixed unit, or the unit
    competent for an address of the form. Raises NoCompetentUnit naming the address field.

    When another counter received the dossier, reception happens at that counter and every other
    "receiving unit" step at the handling unit (the competent one)."""
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
                at_counter = step.kind == StepKind.reception
                units[step.id] = receiving_unit if at_counter or handling_unit is None else handling_unit
    return units
