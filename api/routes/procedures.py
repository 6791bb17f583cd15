"""Administrators validate, deploy, compare and retire procedure definitions; clients read forms and graphs."""

from __future__ import annotations

import difflib
import functools
import json
from datetime import datetime
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from api.deps import AdministratorActorDep, PopulationDep, PrincipalDep, SessionDep
from api.dossier_service.definitions import latest_version
from api.dossier_service.prefill import PrefillIn, PrefillOut, prefill_form
from api.errors import unprocessable
from api.procedure_definitions import load_definition_yaml, parse_definition
from api.rate_limits import RateLimitsDep, requester
from domain import step_graph
from domain.definition import DefinitionError, DefinitionInvalid, ProcedureDefinition, definition_json_schema
from domain.definition_errors import Problem
from domain.definition_source import locate
from forms.eform import form_json_schema
from forms.render import render_form
from infrastructure.translations import from_accept_language, translate
from readmodel import organisation, procedures
from readmodel.tables import ProcedureVersionRow

router = APIRouter(prefix="/procedures", tags=["procedures"])

MAX_DEFINITION_BYTES = 1_000_000
YAML_TYPES = {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}
DEFINITION_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ProcedureDefinition"}},
            "application/yaml": {"schema": {"$ref": "#/components/schemas/ProcedureDefinition"}},
        },
    }
}
VersionQuery = Annotated[int | None, Query(ge=1, le=1_000_000)]


class ProcedureVersionOut(BaseModel):
    code: str
    version: int
    content_hash: str
    name: str
    deployed_at: datetime
    retired_at: datetime | None = None

    @classmethod
    def of(cls, row: ProcedureVersionRow) -> ProcedureVersionOut:
        return cls(
            code=row.code,
            version=row.version,
            content_hash=row.content_hash,
            name=row.name,
            deployed_at=row.deployed_at,
            retired_at=row.retired_at,
        )


class DeploymentOut(ProcedureVersionOut):
    created: bool


class ProcedureOut(ProcedureVersionOut):
    definition: ProcedureDefinition


class ValidationOut(BaseModel):
    valid: bool
    code: str
    content_hash: str


class RetiredOut(BaseModel):
    code: str
    retired_at: datetime


class DiffOut(BaseModel):
    code: str
    from_version: int
    to_version: int
    diff: list[str]


class GraphOut(BaseModel):
    code: str
    version: int
    mermaid: str


async def _read_definition_body(request: Request) -> tuple[Any, str]:
    """The definition's data and its text (for the positions of its errors).

    A parse error answers 422 with the line and column where the text stops making sense."""
    # The edge (api/edge.py) already bounds the body; this route's own limit is checked as the body arrives.
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_DEFINITION_BYTES:
            raise HTTPException(413, f"a definition is at most {MAX_DEFINITION_BYTES} bytes")
        parts.append(chunk)
    raw = b"".join(parts)
    media_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    try:
        text = raw.decode("utf-8")
        if media_type in YAML_TYPES:
            return load_definition_yaml(text), text
        if media_type in ("application/json", ""):
            return json.loads(text), text
    except (ValueError, yaml.YAMLError) as exc:  # ValueError: not UTF-8, not JSON, or an integer of 5,000 digits
        said = f"the body is not valid {media_type}: {exc}"
        raise unprocessable([{"loc": ["body"], "msg": said, "type": "parse_error", **parse_position(exc)}]) from None
    raise HTTPException(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send the definition as application/json or application/yaml"
    )


def parse_position(exc: Exception) -> dict[str, int]:
    """The 1-based line and column where YAML or JSON text stops parsing, when the parser says."""
    if isinstance(exc, json.JSONDecodeError):
        return {"line": exc.lineno, "column": exc.colno}
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return {"line": mark.line + 1, "column": mark.column + 1} if mark is not None else {}


def problem_detail(problem: DefinitionError, language: str) -> dict[str, Any]:
    """One error of a definition as the API lists it: `msg` in English as ever (pydantic's own for shape errors),
    `message` in the reader's language with its "did you mean", the line and column in the text, the suggestion."""
    if not isinstance(problem, Problem):
        return {"loc": list(problem.loc), "msg": problem.msg, "type": problem.type}
    english = problem.msg if problem.shape else translate("en", problem.text, **problem.values)
    return {
        "loc": list(problem.loc),
        "msg": english,
        "type": problem.type,
        "line": problem.line,
        "column": problem.column,
        "suggestion": problem.suggestion,
        "message": problem.said(functools.partial(translate, language)),
    }


def _parse_or_422(raw: Any, text: str, request: Request, session: SessionDep) -> ProcedureDefinition:
    """The definition as deploying it would accept it, else 422 with every error: its own (every unit it names is
    in the registry), then its child procedures' (deployed, in service, no loop, inputs that fit their forms)."""
    try:
        definition = parse_definition(raw, units=organisation.directory(session).units)
    except DefinitionInvalid as invalid:
        language = from_accept_language(request.headers.get("accept-language"))
        listed = [problem_detail(p, language) for p in locate(text, invalid.errors)]  # type: ignore[arg-type]
        raise unprocessable([{**e, "loc": ["body", *e["loc"]]} for e in listed]) from None
    problems = procedures.child_problems(session, definition)
    if problems:
        raise unprocessable([{"loc": ["body", *loc], "msg": msg, "type": "child_procedure"} for loc, msg in problems])
    return definition


def _version_or_404(session: SessionDep, code: str, version: int | None) -> ProcedureVersionRow:
    if version is None:
        return latest_version(session, code)
    row = procedures.version(session, code, version)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"procedure {code!r} has no version {version}")
    return row


def _definition(row: ProcedureVersionRow) -> ProcedureDefinition:
    return ProcedureDefinition.model_validate(row.body)


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=DEFINITION_BODY)
async def deploy_procedure(
    request: Request, response: Response, session: SessionDep, actor: AdministratorActorDep
) -> DeploymentOut:
    """Deploy a definition (JSON or YAML). Same content → same version (200); changed → a new version (201)."""
    raw, text = await _read_definition_body(request)
    definition = await run_in_threadpool(_parse_or_422, raw, text, request, session)
    deployment = procedures.deploy(session, definition, actor)
    if not deployment.created:
        response.status_code = status.HTTP_200_OK
    return DeploymentOut(**ProcedureVersionOut.of(deployment.row).model_dump(), created=deployment.created)


@router.post("/validate", openapi_extra=DEFINITION_BODY)
async def validate_procedure(request: Request, session: SessionDep) -> ValidationOut:
    """Check a definition without deploying it: 200 when deploying it would be accepted, or 422 with every error
    (shape and whole-definition checks together, units not in the registry, then child procedures not deployed),
    each with its path, `line` and `column` in the text sent, a `suggestion` for a near miss, and `message` in the
    language of `Accept-Language` (vi, the default, or en) beside `msg` in English."""
    raw, text = await _read_definition_body(request)
    definition = await run_in_threadpool(_parse_or_422, raw, text, request, session)
    return ValidationOut(valid=True, code=definition.code, content_hash=definition.content_hash())


@router.get("/schema")
def get_definition_schema() -> dict[str, Any]:
    """JSON Schema of the definition document, for editors."""
    return definition_json_schema()


@router.get("")
def list_procedures(session: SessionDep) -> list[ProcedureVersionOut]:
    """The latest version of every deployed procedure."""
    return [ProcedureVersionOut.of(row) for row in procedures.latest_of_each(session)]


@router.get("/{code}")
def get_procedure(code: str, session: SessionDep) -> ProcedureOut:
    row = latest_version(session, code)
    return ProcedureOut(**ProcedureVersionOut.of(row).model_dump(), definition=_definition(row))


@router.get("/{code}/versions")
def list_versions(code: str, session: SessionDep) -> list[ProcedureVersionOut]:
    rows = procedures.versions(session, code)
    if not rows:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no procedure {code!r} is deployed")
    return [ProcedureVersionOut.of(row) for row in rows]


@router.get("/{code}/versions/{version}")
def get_version(code: str, version: Annotated[int, PathParam(ge=1, le=1_000_000)], session: SessionDep) -> ProcedureOut:
    row = _version_or_404(session, code, version)
    return ProcedureOut(**ProcedureVersionOut.of(row).model_dump(), definition=_definition(row))


@router.get("/{code}/diff")
def diff_versions(
    code: str,
    session: SessionDep,
    from_version: Annotated[int, Query(ge=1, le=1_000_000)],
    to_version: Annotated[int, Query(ge=1, le=1_000_000)],
) -> DiffOut:
    """What changed between two versions, as a unified diff of their YAML."""
    old = _version_or_404(session, code, from_version)
    new = _version_or_404(session, code, to_version)

    def lines(row: ProcedureVersionRow) -> list[str]:
        return yaml.safe_dump(row.body, allow_unicode=True, sort_keys=False).splitlines()

    diff = difflib.unified_diff(lines(old), lines(new), f"{code} v{from_version}", f"{code} v{to_version}", lineterm="")
    return DiffOut(code=code, from_version=from_version, to_version=to_version, diff=list(diff))


@router.post("/{code}/retire")
def retire_procedure(code: str, session: SessionDep, actor: AdministratorActorDep) -> RetiredOut:
    """Take a procedure out of service: no new dossiers; dossiers already running finish on their version."""
    latest_version(session, code)
    return RetiredOut(code=code, retired_at=procedures.retire(session, code, actor))


@router.get("/{code}/graph")
def get_graph(code: str, session: SessionDep, version: VersionQuery = None) -> GraphOut:
    """The step graph as Mermaid text."""
    row = _version_or_404(session, code, version)
    return GraphOut(code=code, version=row.version, mermaid=step_graph.mermaid(_definition(row)))


@router.get("/{code}/graph.svg", response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}})
def get_graph_svg(request: Request, code: str, session: SessionDep, version: VersionQuery = None) -> Response:
    """The step graph as a picture (SVG, no script needed), laid out by Graphviz's `dot`, its words in the language
    of `Accept-Language` (vi, the default, or en). 503 when `dot` cannot draw it now (not installed, or too slow)."""
    row = _version_or_404(session, code, version)
    language = from_accept_language(request.headers.get("accept-language"))
    try:
        picture = step_graph.svg(_definition(row), t=functools.partial(translate, language))
    except step_graph.DrawingUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"the step graph cannot be drawn now: {exc}") from None
    headers = {"Content-Language": language, "Vary": "Accept-Language"}
    return Response(picture, media_type="image/svg+xml", headers=headers)


@router.get("/{code}/form.html", response_class=HTMLResponse)
def get_form_html(code: str, session: SessionDep, version: VersionQuery = None) -> HTMLResponse:
    """The eForm rendered as an HTML form, from the same definition that validates submissions."""
    row = _version_or_404(session, code, version)
    form = render_form(_definition(row), version=row.version)
    return HTMLResponse(
        f"<!doctype html><html lang='vi'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{row.code}</title></head>"
        f"<body>{form}</body></html>"
    )


@router.get("/{code}/form-schema")
def get_form_schema(code: str, session: SessionDep) -> dict[str, Any]:
    """JSON Schema of the latest version's eForm, for clients that build their own forms."""
    return form_json_schema(_definition(latest_version(session, code)))


@router.post("/{code}/prefill")
async def prefill(
    code: str,
    body: PrefillIn,
    session: SessionDep,
    population: PopulationDep,
    principal: PrincipalDep,
    limits: RateLimitsDep,
    request: Request,
) -> PrefillOut:
    """Values the citizen need not type: looked up in national databases by the key fields given.

    Personal data: a signed-in citizen looks up their own citizen ID; a reception officer any."""
    limits.take("prefill", requester(request, principal))
    return await prefill_form(code, body, session, population, principal)
