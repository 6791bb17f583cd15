"""Administrators' pages for the registry of units and the working calendars, through the API's own
functions (PUT /units/{code}, PUT and DELETE /calendars/{jurisdiction}/days/{day})."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api.deps import AdministratorActorDep, AdministratorDep, CalendarDep, PrincipalDep, SessionDep
from api.pages.dossier_forms import errors_by_path
from api.pages.errors import csrf_protected, messages
from api.pages.i18n import language_of
from api.pages.procedure_administration import web_actor
from api.pages.rendering import render
from api.routes.calendars import CalendarDayIn, delete_calendar_day, get_calendar, put_calendar_day
from api.routes.units import UnitIn, put_unit
from domain.definition import AGENCY_CODE
from readmodel import organisation
from readmodel.db import utcnow
from readmodel.tables import UnitRow

router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(csrf_protected)])
UNIT_KINDS = ("national", "ministry", "province", "department", "ward")
Jurisdiction = Annotated[str, Path(pattern=r"^(VN|\d{2})$")]


def _units_page(request: Request, session: SessionDep, principal: PrincipalDep, *, parent: str | None,
                kind: str | None, values: dict[str, Any], errors: dict[str, list[str]], general: list[str],
                saved: str | None = None, status_code: int = status.HTTP_200_OK) -> Response:  # fmt: skip
    units = organisation.units(session, parent=parent or None, kind=kind if kind in UNIT_KINDS else None)
    return render(
        request,
        "admin_units.html",
        {"units": units[:1000], "parent": parent or "", "kind": kind or "", "kinds": UNIT_KINDS, "values": values,
         "errors": errors, "general": general, "saved": saved},
        principal=principal,
        status_code=status_code,
    )  # fmt: skip


@router.get("/units")
def units_page(
    request: Request,
    session: SessionDep,
    administrator: AdministratorDep,
    principal: PrincipalDep,
    parent: Annotated[str | None, Query(max_length=80)] = None,
    kind: Annotated[str | None, Query(max_length=20)] = None,
    edit: Annotated[str | None, Query(max_length=80)] = None,
    saved: Annotated[str | None, Query(max_length=80)] = None,
) -> Response:
    values: dict[str, Any] = {"active": True}
    if edit:
        row = session.get(UnitRow, edit)
        if row is not None:
            values = row.model_dump()
    return _units_page(request, session, principal, parent=parent, kind=kind, values=values, errors={}, general=[],
                       saved=saved)  # fmt: skip


@router.post("/units")
async def save_unit(
    request: Request, session: SessionDep, actor: AdministratorActorDep, principal: PrincipalDep
) -> Response:
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in ("code", "name", "kind", "parent_code", "area_code")}
    values["active"] = form.get("active") == "true"
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    if not re.match(AGENCY_CODE, values["code"]):
        errors["code"] = [f"String should match pattern '{AGENCY_CODE}'"]
    try:
        body = UnitIn(
            name=values["name"], kind=values["kind"], parent_code=values["parent_code"] or None,  # type: ignore[arg-type]
            area_code=values["area_code"] or None, active=values["active"],
        )  # fmt: skip
    except ValidationError as invalid:
        errors.update(errors_by_path(list(invalid.errors(include_url=False)), strip=()))
        body = None
    if body is not None and not errors:
        try:
            put_unit(values["code"], body, session, web_actor(actor), Response())
        except HTTPException as exc:
            if exc.status_code == 422 and isinstance(exc.detail, list):
                errors.update(errors_by_path(exc.detail, strip=("body",)))
            else:
                general += messages(exc.detail)
    if errors or general:
        session.rollback()
        return _units_page(request, session, principal, parent=None, kind=None, values=values, errors=errors,
                           general=general, status_code=422 if errors else status.HTTP_409_CONFLICT)  # fmt: skip
    return RedirectResponse(f"/admin/units?saved={values['code']}", status.HTTP_303_SEE_OTHER)


# ------------------------------------------------------------------------------ calendars


def _calendar_page(request: Request, jurisdiction: str, year: int, session: SessionDep, base: CalendarDep,
                   principal: PrincipalDep, *, errors: dict[str, list[str]] | None = None,
                   general: list[str] | None = None, values: dict[str, str] | None = None, saved: bool = False,
                   status_code: int = status.HTTP_200_OK) -> Response:  # fmt: skip
    calendar = get_calendar(jurisdiction, session, base, language_of(request), year)
    directory = organisation.directory(session)
    provinces = sorted((area, directory.units[code].name) for area, code in directory.province_units.items())
    return render(
        request,
        "admin_calendar.html",
        {"calendar": calendar, "provinces": provinces, "errors": errors or {}, "general": general or [],
         "values": values or {}, "saved": saved},
        principal=principal,
        status_code=status_code,
    )  # fmt: skip


@router.get("/calendars/{jurisdiction}")
def calendar_page(
    request: Request,
    jurisdiction: Jurisdiction,
    session: SessionDep,
    base: CalendarDep,
    administrator: AdministratorDep,
    principal: PrincipalDep,
    year: int | None = None,
    saved: bool = False,
) -> Response:
    chosen = year if year is not None and 2020 <= year <= 2040 else base.local_date(utcnow()).year
    return _calendar_page(request, jurisdiction, chosen, session, base, principal, saved=saved)


@router.post("/calendars/{jurisdiction}")
async def change_calendar(
    request: Request,
    jurisdiction: Jurisdiction,
    session: SessionDep,
    base: CalendarDep,
    actor: AdministratorActorDep,
    principal: PrincipalDep,
) -> Response:
    """Add an extra day off or a make-up working day, or remove one (`action=delete:<day>`)."""
    form = await request.form()
    action = str(form.get("action") or "add")
    values = {k: str(form.get(k) or "").strip() for k in ("day", "kind", "reason")}
    errors: dict[str, list[str]] = {}
    try:
        day = date.fromisoformat(action.removeprefix("delete:") if action.startswith("delete:") else values["day"])
    except ValueError:
        day = None
        errors["day"] = ["Input should be a valid date in the format YYYY-MM-DD"]
    general: list[str] = []
    if day is not None:
        try:
            if action.startswith("delete:"):
                delete_calendar_day(jurisdiction, day, session, web_actor(actor))
            else:
                body = CalendarDayIn(kind=values["kind"], reason=values["reason"])  # type: ignore[arg-type]
                put_calendar_day(jurisdiction, day, body, session, web_actor(actor))
        except ValidationError as invalid:
            errors.update(errors_by_path(list(invalid.errors(include_url=False)), strip=()))
        except HTTPException as exc:
            if exc.status_code == 422 and isinstance(exc.detail, list):
                errors.update({"day": [str(e.get("msg")) for e in exc.detail if isinstance(e, dict)]})
            else:
                general += messages(exc.detail)
    year = day.year if day and 2020 <= day.year <= 2040 else base.local_date(utcnow()).year
    if errors or general:
        session.rollback()
        return _calendar_page(request, jurisdiction, year, session, base, principal, errors=errors, general=general,
                              values=values, status_code=422 if errors else status.HTTP_404_NOT_FOUND)  # fmt: skip
    return RedirectResponse(f"/admin/calendars/{jurisdiction}?year={year}&saved=1", status.HTTP_303_SEE_OTHER)
