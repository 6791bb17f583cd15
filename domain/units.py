"""Which unit is competent for an address: a directory of provinces and communes/wards."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from domain.definition import UnitLevel

DATA = Path(__file__).parent / "data" / "units.yaml"


class NoCompetentUnit(LookupError):
    pass


@dataclass(frozen=True)
class UnitDirectory:
    province_units: dict[str, str]  # province code → agency code
    ward_units: dict[str, str]  # ward code → agency code

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
    return UnitDirectory(
        province_units={p["code"]: p["agency_code"] for p in data["provinces"]},
        ward_units={w["code"]: w["agency_code"] for w in data["wards"]},
    )
