"""Prefill: the values an applicant need not type, looked up in the national population database by the key fields
given. Personal data: a signed-in citizen looks up their own citizen ID; a reception officer anyone's."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from api.deps import Principal
from api.dossier_service.definitions import latest_version
from api.errors import field_error
from domain.definition import ProcedureDefinition
from infrastructure.population import PopulationClient, PopulationUnavailable


class PrefillIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: Annotated[dict[str, Annotated[str, Field(max_length=100)]], Field(max_length=50)]


class PrefillOut(BaseModel):
    values: dict[str, Any]
    sources: dict[str, str]
    not_found: list[str]


async def prefill_form(
    code: str, body: PrefillIn, session: Session, population: PopulationClient, principal: Principal
) -> PrefillOut:
    """The latest version's eForm values found for the key fields in `body`."""
    if principal.kind == "anonymous":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "sign in to reuse your data", headers={"WWW-Authenticate": "Bearer"}
        )
    counter = principal.officer is not None and principal.officer.holds("reception") is not None
    if principal.officer is not None and not counter:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only reception officers look citizens up")
    definition = ProcedureDefinition.model_validate(latest_version(session, code).body)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    not_found: set[str] = set()
    records: dict[str, dict[str, Any] | None] = {}
    for field in definition.form.fields:
        if field.prefill is None or field.prefill.key_field not in body.values:
            continue
        key = body.values[field.prefill.key_field]
        if not re.fullmatch(r"\d{12}", key):
            raise field_error(["body", "values", field.prefill.key_field], "a citizen ID has 12 digits")
        if not counter and key != principal.citizen_id:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"{field.prefill.key_field}: a citizen looks up only their own data"
            )
        if key not in records:
            try:
                records[key] = await population.citizen(key)
            except PopulationUnavailable as exc:
                raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
        record = records[key]
        if record is None:
            not_found.add(field.prefill.key_field)
            continue
        values[field.name] = record.get(field.prefill.attribute)
        sources[field.name] = field.prefill.source.value
    return PrefillOut(values=values, sources=sources, not_found=sorted(not_found))
