"""Administrators' pages for procedures: the deployed procedures and their versions, each one's step graph
and eForm, and deploying or validating a definition with every error shown against its text (the path of
the error and the line it points at)."""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from api.deps import AdministratorActorDep, AdministratorDep, PrincipalDep, SessionDep
from api.pages.errors import csrf_protected
from api.pages.rendering import render
from api.procedure_definitions import load_definition_yaml, parse_definition
from api.routes.procedures import MAX_DEFINITION_BYTES
from domain.definition import DefinitionInvalid, ProcedureDefinition
from domain.definition_source import line_of
from domain.dossier import ActorRef
from domain.wording import mark
from readmodel import procedures

router = APIRouter(prefix="/admin/procedures", include_in_schema=False, dependencies=[Depends(csrf_protected)])
ProcedureCode = Annotated[str, Path(min_length=1, max_length=40)]


def web_actor(actor: ActorRef) -> ActorRef:
    """An administrator acting through the pages: the audit trail says so (channel `web`)."""
    return actor.model_copy(update={"channel": "web"})


@router.get("")
def procedure_list(request: Request, session: SessionDep, administrator: AdministratorDep,
                   principal: PrincipalDep) -> Response:  # fmt: skip
    rows = procedures.latest_of_each(session)
    return render(request, "admin_procedures.html", {"rows": rows}, principal=principal)


@router.get("/deploy")
def deploy_page(request: Request, administrator: AdministratorDep, principal: PrincipalDep) -> Response:
    return render(request, "admin_deploy.html", {"text": "", "problems": [], "lines": [], "notice": None},
                  principal=principal)  # fmt: skip


def _path_text(loc: list[Any]) -> str:
    said = ""
    for part in loc:
        said += f"[{part}]" if isinstance(part, int) else (f".{part}" if said else str(part))
    return said or "(definition)"


def _problems(text: str, errors: list[tuple[list[Any], str]]) -> list[dict[str, Any]]:
    return [{"path": _path_text(loc), "line": line_of(text, loc), "message": message} for loc, message in errors]


def _parse(text: str) -> tuple[ProcedureDefinition | None, list[dict[str, Any]]]:
    """The definition, or every problem with its path and line (as POST /procedures/validate checks it)."""
    try:
        raw = load_definition_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        return None, [{"path": "(YAML)", "line": line, "message": str(exc)}]
    try:
        return parse_definition(raw), []
    except DefinitionInvalid as invalid:
        return None, _problems(text, [(list(e.loc), e.msg) for e in invalid.errors])


async def _definition_text(request: Request) -> str:
    form = await request.form()
    upload = form.get("definition_file")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read(MAX_DEFINITION_BYTES + 1)
    else:
        field = form.get("definition")
        raw = field.encode() if isinstance(field, str) else b""
    if len(raw) > MAX_DEFINITION_BYTES:
        raise HTTPException(413, f"a definition is at most {MAX_DEFINITION_BYTES} bytes")
    try:
        return raw.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        raise HTTPException(422, f"the definition is not UTF-8 text: {exc}") from None


@router.post("/deploy")
async def deploy_or_validate(
    request: Request, session: SessionDep, actor: AdministratorActorDep, principal: PrincipalDep
) -> Response:
    """Validate (nothing stored), or deploy: same content → the same version, changed → a new version."""
    text = await _definition_text(request)
    action = (await request.form()).get("action")
    definition, problems = _parse(text)
    if definition is not None and action == "deploy":
        child = procedures.child_problems(session, definition)
        problems = _problems(text, [(list(loc), message) for loc, message in child])
    notice = None
    if definition is not None and not problems:
        if action == "deploy":
            deployment = procedures.deploy(session, definition, web_actor(actor))
            query = "deployed" if deployment.created else "unchanged"
            return RedirectResponse(
                f"/admin/procedures/{definition.code}?{query}={deployment.row.version}", status.HTTP_303_SEE_OTHER
            )
        notice = (mark("Định nghĩa hợp lệ: {code}."), {"code": definition.code})
    lines = [{"number": i, "text": line, "problems": [p for p in problems if p["line"] == i]}
             for i, line in enumerate(text.split("\n"), start=1)]  # fmt: skip
    return render(
        request,
        "admin_deploy.html",
        {"text": text, "problems": problems, "lines": lines, "notice_text": notice},
        principal=principal,
        status_code=422 if problems else status.HTTP_200_OK,
    )


@router.get("/{code}")
def procedure_page(
    request: Request,
    code: ProcedureCode,
    session: SessionDep,
    administrator: AdministratorDep,
    principal: PrincipalDep,
    deployed: int | None = None,
    unchanged: int | None = None,
) -> Response:
    versions = procedures.versions(session, code)
    if not versions:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no procedure {code!r} is deployed")
    latest = versions[-1]
    definition = ProcedureDefinition.model_validate(latest.body)
    return render(
        request,
        "admin_procedure.html",
        {
            "code": code,
            "versions": list(reversed(versions)),
            "latest": latest,
            "definition": definition,
            "source": yaml.safe_dump(latest.body, allow_unicode=True, sort_keys=False),
            "deployed": deployed,
            "unchanged": unchanged,
        },
        principal=principal,
    )
