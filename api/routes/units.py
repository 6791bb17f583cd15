"""The registry of administrative units: anyone reads it, administrators change it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select

from api.deps import AdministratorActorDep, SessionDep
from api.errors import field_error
from domain.definition import AGENCY_CODE, AgencyCode, Identifier
from readmodel import organisation
from readmodel.db import as_utc, utcnow
from readmodel.tables import UnitRow

router = APIRouter(prefix="/units", tags=["units"])
UnitKind = Literal["national", "ministry", "province", "department", "ward"]
UnitCode = Annotated[str, Path(max_length=80, pattern=AGENCY_CODE)]


class UnitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=300)]
    kind: UnitKind
    parent_code: AgencyCode | None = None
    area_code: Annotated[str, Field(pattern=r"^\d{2}(\d{3})?$")] | None = None
    # The sectors (a procedure's `sector`) the unit is competent for; left out: the unit keeps those it has.
    sectors: Annotated[list[Identifier], Field(max_length=50)] | None = None
    active: bool = True


class UnitOut(BaseModel):
    code: str
    name: str
    kind: str
    parent_code: str | None
    area_code: str | None
    province_code: str | None
    sectors: list[str]
    active: bool
    updated_at: datetime

    @classmethod
    def of(cls, row: UnitRow) -> UnitOut:
        return cls(
            **row.model_dump(exclude={"updated_at", "sectors"}),
            sectors=row.sectors or [],
            updated_at=as_utc(row.updated_at),
        )


@router.get("")
def list_units(
    session: SessionDep,
    parent: Annotated[str | None, Query(max_length=80)] = None,
    kind: UnitKind | None = None,
) -> list[UnitOut]:
    return [UnitOut.of(row) for row in organisation.units(session, parent=parent, kind=kind)]


@router.get("/{code}")
def get_unit(code: UnitCode, session: SessionDep) -> UnitOut:
    row = session.get(UnitRow, code)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no unit {code!r}")
    return UnitOut.of(row)


@router.put("/{code}")
def put_unit(
    code: UnitCode, body: UnitIn, session: SessionDep, actor: AdministratorActorDep, response: Response
) -> UnitOut:
    """Register a unit or change one (name, parent, area, sectors, active). Provinces and wards need their area code;
    `sectors` (what `select: by_sector` looks for) left out keeps the unit's own."""
    parent = session.get(UnitRow, body.parent_code) if body.parent_code else None
    if body.kind == "national":
        if body.parent_code:
            raise field_error(["body", "parent_code"], "the national level has no parent")
    elif parent is None:
        raise field_error(["body", "parent_code"], f"no unit {body.parent_code!r} to belong to")
    if body.parent_code == code:
        raise field_error(["body", "parent_code"], "a unit cannot belong to itself")
    if body.kind in ("province", "ward") and body.area_code is None:
        raise field_error(["body", "area_code"], f"a {body.kind} needs its administrative-area code")
    if body.kind == "province" and body.area_code and len(body.area_code) != 2:
        raise field_error(["body", "area_code"], "a province's area code has 2 digits")
    if body.kind == "ward" and body.area_code and len(body.area_code) != 5:
        raise field_error(["body", "area_code"], "a commune/ward's area code has 5 digits")
    if body.area_code and body.active:
        clash = session.exec(
            select(UnitRow).where(
                UnitRow.area_code == body.area_code, UnitRow.kind == body.kind, UnitRow.active, UnitRow.code != code
            )
        ).first()
        if clash is not None:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"{clash.code} is already the {body.kind} of area {body.area_code}"
            )
    province_code = body.area_code if body.kind == "province" else parent.province_code if parent else None
    values = {
        **body.model_dump(exclude={"sectors"}),
        "code": code,
        "province_code": province_code,
        "updated_at": utcnow(),
    }
    detail = body.model_dump(exclude={"sectors"} if body.sectors is None else None)
    if body.sectors is not None:
        values["sectors"] = list(dict.fromkeys(body.sectors)) or None
    row, created = organisation.register_or_change(session, UnitRow, code, values, actor, "unit", detail)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return UnitOut.of(row)
