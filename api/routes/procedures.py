"""Administrators deploy and read procedure definitions."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import yaml
from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel

from api.deps import SessionDep
from api.errors import field_error, unprocessable
from domain.definition import DefinitionInvalid, ProcedureDefinition, parse_definition
from forms.eform import form_json_schema
from readmodel import procedures
from readmodel.tables import ProcedureVersionRow

router = APIRouter(prefix="/procedures", tags=["procedures"])

MAX_DEFINITION_BYTES = 1_000_000
YAML_TYPES = {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}


class ProcedureVersionOut(BaseModel):
    code: str
    version: int
    content_hash: str
    name: str
    deployed_at: datetime

    @classmethod
    def of(cls, row: ProcedureVersionRow) -> ProcedureVersionOut:
        return cls(
            code=row.code,
            version=row.version,
            content_hash=row.content_hash,
            name=row.name,
            deployed_at=row.deployed_at,
        )


class DeploymentOut(ProcedureVersionOut):
    created: bool


class ProcedureOut(ProcedureVersionOut):
    definition: ProcedureDefinition


async def _read_definition_body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_DEFINITION_BYTES:
        raise HTTPException(413, f"a definition is at most {MAX_DEFINITION_BYTES} bytes")
    media_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    try:
        text = raw.decode("utf-8")
        if media_type in YAML_TYPES:
            return yaml.safe_load(text)
        if media_type in ("application/json", ""):
            return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise field_error(["body"], f"the body is not valid {media_type}: {exc}", "parse_error") from None
    raise HTTPException(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send the definition as application/json or application/yaml"
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ProcedureDefinition"}},
                "application/yaml": {"schema": {"$ref": "#/components/schemas/ProcedureDefinition"}},
            },
        }
    },
)
async def deploy_procedure(request: Request, response: Response, session: SessionDep) -> DeploymentOut:
    """Deploy a definition (JSON or YAML). Same content → same version (200); changed → a new version (201)."""
    raw = await _read_definition_body(request)
    try:
        definition = parse_definition(raw)
    except DefinitionInvalid as invalid:
        raise unprocessable([{"loc": ["body", *e.loc], "msg": e.msg, "type": e.type} for e in invalid.errors]) from None
    deployment = procedures.deploy(session, definition)
    if not deployment.created:
        response.status_code = status.HTTP_200_OK
    return DeploymentOut(**ProcedureVersionOut.of(deployment.row).model_dump(), created=deployment.created)


@router.get("")
def list_procedures(session: SessionDep) -> list[ProcedureVersionOut]:
    """The latest version of every deployed procedure."""
    return [ProcedureVersionOut.of(row) for row in procedures.latest_of_each(session)]


def _latest_or_404(session: SessionDep, code: str) -> ProcedureVersionRow:
    row = procedures.latest(session, code)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no procedure {code!r} is deployed")
    return row


@router.get("/{code}")
def get_procedure(code: str, session: SessionDep) -> ProcedureOut:
    row = _latest_or_404(session, code)
    return ProcedureOut(
        **ProcedureVersionOut.of(row).model_dump(), definition=ProcedureDefinition.model_validate(row.body)
    )


@router.get("/{code}/versions")
def list_versions(code: str, session: SessionDep) -> list[ProcedureVersionOut]:
    rows = procedures.versions(session, code)
    if not rows:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no procedure {code!r} is deployed")
    return [ProcedureVersionOut.of(row) for row in rows]


@router.get("/{code}/versions/{version}")
def get_version(code: str, version: int, session: SessionDep) -> ProcedureOut:
    row = procedures.version(session, code, version)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"procedure {code!r} has no version {version}")
    return ProcedureOut(
        **ProcedureVersionOut.of(row).model_dump(), definition=ProcedureDefinition.model_validate(row.body)
    )


@router.get("/{code}/form-schema")
def get_form_schema(code: str, session: SessionDep) -> dict[str, Any]:
    """JSON Schema of the latest version's eForm, for clients that build their own forms."""
    row = _latest_or_404(session, code)
    return form_json_schema(ProcedureDefinition.model_validate(row.body))
