"""Administrative units and competence: which unit acts on a step, and which calendar a unit keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from domain import expressions
from domain.definition import FieldType, ProcedureDefinition, Step, StepKind, UnitLevel, UnitSelection

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
    sectors: tuple[str, ...] = ()  # the sectors (a procedure's `sector`) the unit is competent for


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

    def competent_unit(self, level: UnitLevel, province_code: str, ward_code: str, sector: str | None = None) -> str:
        """The unit of `level` for the address: the ward's or the province's own unit; with `sector`, the one of
        that area whose sectors include it (a province's department or office; a ward's own office, else the
        ward itself, which is competent for every sector the law leaves to it)."""
        if level == UnitLevel.ward:
            unit = self.ward_units.get(ward_code)
            if unit is None:
                raise NoCompetentUnit(f"no unit is registered for ward {ward_code}")
            if sector is not None:
                offices = self._in_sector(sector, lambda u: u.parent_code == unit)
                return offices[0] if offices else unit
            return unit
        if level == UnitLevel.province:
            unit = self.province_units.get(province_code)
            if unit is None:
                raise NoCompetentUnit(f"no unit is registered for province {province_code}")
            if sector is not None:
                offices = self._in_sector(sector, lambda u: u.kind == "department" and u.province_code == province_code)
                if not offices:
                    raise NoCompetentUnit(f"no unit of province {province_code} is registered for sector {sector}")
                return offices[0]
            return unit
        raise NoCompetentUnit("ministry-level units are not chosen by address")

    def _in_sector(self, sector: str, where: Any) -> list[str]:
        return sorted(code for code, u in self.units.items() if sector in u.sectors and where(u))

    def competent_receiving_units(
        self, definition: ProcedureDefinition, form: dict[str, Any]
    ) -> tuple[str, list[str] | None]:
        """The units competent to receive an online submission of this form, best first, and the address field that
        decides (None: the form does not say, any receiving unit may take it; empty: none of them may).

        When the first step's unit is chosen by address (competent_unit, by_sector), that unit alone. Otherwise,
        among the procedure's receiving units: the ward of the address, units of its province and units of national
        reach; those of the procedure's level first (wards for a ward-level procedure, other units otherwise), then
        in that order, then those of its sector."""
        first = definition.step(definition.start_step)
        if first.is_officer_step and first.unit.select in ADDRESSED:
            return first.unit.address_field or "", [step_unit(first, definition, form, self, "")]
        address_field, address = _deciding_address(definition, form)
        if address is None:
            return "", None
        ward = self.ward_units.get(address.get("ward_code", ""))
        province = address.get("province_code", "")
        candidates = definition.receiving_units

        def rank(code: str) -> tuple[int, int, int, str]:
            unit = self.units.get(code)
            where = 0 if code == ward else 1 if self.jurisdiction_of(code) == province else 2
            sector = 0 if unit is not None and definition.sector in unit.sectors else 1
            own_level = unit is not None and (unit.kind == "ward") == (definition.level == UnitLevel.ward)
            return (0 if own_level else 1, where, sector, code)

        # A unit of national reach (a ministry's) is competent for every address.
        competent = [c for c in candidates if c == ward or self.jurisdiction_of(c) in (province, NATIONAL)]
        return address_field, sorted(competent, key=rank)

    def handling_unit(self, definition: ProcedureDefinition, form: dict[str, Any], receiving_unit: str) -> str:
        """The unit that processes a dossier received at `receiving_unit` (any counter, any boundary).

        A unit that receives the procedure handles what it receives. Another counter hands the dossier to
        the procedure's receiving unit competent for the applicant's address: the ward of that address,
        else a unit of its province; without an address, the procedure's unit in the counter's province. When the
        first step's unit is chosen by address (competent_unit, by_sector), that unit handles it."""
        first = definition.step(definition.start_step)
        if first.is_officer_step and first.unit.select in ADDRESSED:
            return step_unit(first, definition, form, self, receiving_unit)
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
    names = [s.unit.address_field for _, s in definition.all_steps() if s.unit.select in ADDRESSED]
    names += [f.name for f in definition.form.fields if f.type == FieldType.address]
    for name in names:
        if name and isinstance(form.get(name), dict):
            return name, form[name]
    return "", None


ADDRESSED = frozenset({UnitSelection.competent_unit, UnitSelection.by_sector})


def step_unit(
    step: Step, definition: ProcedureDefinition, form: dict[str, Any], directory: UnitDirectory, receiving_unit: str
) -> str:
    """The unit a fixed, competent or by-sector step names for this form (its `level_when` case first)."""
    assignment = step.unit
    level = assignment.level or step.unit_level
    for case in assignment.level_when or []:
        if case.when is None or expressions.parse(case.when).holds(form):
            if case.unit_code is not None:
                return case.unit_code
            level = case.level or level
            break
    if assignment.select == UnitSelection.fixed_unit:
        return assignment.unit_code or receiving_unit
    address = form.get(assignment.address_field or "") or {}
    sector = definition.sector if assignment.select == UnitSelection.by_sector else None
    try:
        return directory.competent_unit(level, address.get("province_code", ""), address.get("ward_code", ""), sector)
    except NoCompetentUnit as exc:
        raise NoCompetentUnit(str(exc), assignment.address_field or "") from None


def _case_unit(step: Step, form: dict[str, Any]) -> str | None:
    """A receiving-unit step's unit named by the first `level_when` case that holds, if that case names one."""
    for case in step.unit.level_when or []:
        if case.when is None or expressions.parse(case.when).holds(form):
            return case.unit_code
    return None


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
             province_code=provinces[d["parent"]], sectors=tuple(d.get("sectors") or ()))
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
        if step.unit.select != UnitSelection.receiving_unit:
            units[step.id] = step_unit(step, definition, form, directory, receiving_unit)
            continue
        chosen = _case_unit(step, form)
        if chosen is not None:
            units[step.id] = chosen
            continue
        at_counter = step.kind == StepKind.reception
        units[step.id] = receiving_unit if at_counter or handling_unit is None else handling_unit
    return units
