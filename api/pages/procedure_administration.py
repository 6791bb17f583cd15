"""Administrators' pages for procedures: the deployed procedures and their versions, each one's step graph
and eForm, and an editor that validates, previews and deploys a definition: every error shown against its text
(its path, line and column, a "did you mean" for a near miss, in the reader's language), and beside them the eForm
as citizens will see it and the step graph, of the text being edited (live with the page's script, or by a button)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError
from sqlmodel import Session
from starlette.datastructures import UploadFile

from api.deps import AdministratorActorDep, AdministratorDep, PrincipalDep, SessionDep
from api.pages.dossier_forms import eform_texts
from api.pages.errors import csrf_protected
from api.pages.i18n import language_of, translator
from api.pages.rendering import render
from api.procedure_definitions import load_definition_yaml, parse_definition
from api.routes.procedures import MAX_DEFINITION_BYTES, parse_position
from domain import step_graph
from domain.definition import DefinitionInvalid, ProcedureDefinition
from domain.definition_errors import DID_YOU_MEAN
from domain.definition_source import compose, locate, position_in
from domain.dossier import ActorRef
from domain.wording import mark
from forms import render as eform
from readmodel import organisation, procedures

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
def deploy_page(
    request: Request,
    session: SessionDep,
    administrator: AdministratorDep,
    principal: PrincipalDep,
    start_from: Annotated[str | None, Query(alias="from", min_length=1, max_length=40)] = None,
) -> Response:
    """The editor, empty, or (`?from=<code>`) holding the deployed definition to make a new version of."""
    text = ""
    if start_from is not None:
        versions = procedures.versions(session, start_from)
        if not versions:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no procedure {start_from!r} is deployed")
        text = yaml.safe_dump(versions[-1].body, allow_unicode=True, sort_keys=False)
    preview = _preview(request, text) if text else {"problems": [], "definition": None}
    return render(request, "admin_deploy.html", {"text": text, "lines": [], "notice_text": None, **preview},
                  principal=principal)  # fmt: skip


def _path_text(loc: list[Any]) -> str:
    said = ""
    for part in loc:
        said += f"[{part}]" if isinstance(part, int) else (f".{part}" if said else str(part))
    return said or "(definition)"


def _problem(t: Callable[..., str], loc: list[Any], message: str, line: int | None = None,
             column: int | None = None, suggestion: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {"path": _path_text(loc), "line": line, "column": column, "message": message,
            "suggestion": t(DID_YOU_MEAN, suggestion=suggestion) if suggestion else None}  # fmt: skip


def _parse(
    text: str, t: Callable[..., str], units: Collection[str]
) -> tuple[ProcedureDefinition | None, Any, list[dict[str, Any]]]:
    """The definition (None when it has errors), its data, and every problem with its path, line and column (as
    POST /procedures/validate checks it, the registry's `units` included), in the reader's language."""
    try:
        raw = load_definition_yaml(text)
    except yaml.YAMLError as exc:
        where = parse_position(exc)
        said = t("Văn bản không phải YAML hay JSON hợp lệ: {problem}", problem=exc)
        return None, None, [_problem(t, ["(YAML)"], said, where.get("line"), where.get("column"))]
    try:
        return parse_definition(raw, units=units), raw, []
    except DefinitionInvalid as invalid:
        located = locate(text, invalid.errors)  # type: ignore[arg-type]
        return None, raw, [_problem(t, p.loc, p.said(_plain(t)), p.line, p.column, p.suggestion) for p in located]


def _plain(t: Callable[..., str]) -> Callable[..., str]:
    """The message alone: its "did you mean" goes in a column of its own."""
    return lambda text, **values: "" if text == DID_YOU_MEAN else t(text, **values)


def _preview(request: Request, text: str) -> dict[str, Any]:
    """What the editor shows beside the text: every problem, and the eForm and step graph as they will be (drawn
    whenever the document has the definition's shape, errors of the whole or not)."""
    t = translator(language_of(request))
    with Session(request.app.state.engine) as session:
        units = organisation.directory(session).units
    definition, raw, problems = _parse(text, t, units)
    shown = definition
    if shown is None and raw is not None:
        try:
            shown = ProcedureDefinition.model_validate(raw)
        except ValidationError:
            shown = None
    context: dict[str, Any] = {"problems": problems, "definition": definition, "shown": shown}
    if shown is not None:
        context["eform"] = _prefixed(eform.render_fields(shown, texts=eform_texts(t), group_actions=False))
        context["fee_text"] = eform.fee_text(shown, eform_texts(t))
        try:
            context["graph"] = Markup(step_graph.svg(shown, t=t))
        except step_graph.DrawingUnavailable:
            context["graph"] = None
    return context


def _prefixed(fields: Markup) -> Markup:
    """The preview's inputs, labels and descriptions with ids of their own: a field named `definition` does not
    take the editor's id."""

    def rename(found: re.Match[str]) -> str:
        ids = " ".join(("preview-" + i) if i.startswith("f-") else i for i in found.group(2).split(" "))
        return f'{found.group(1)}="{ids}"'

    return Markup(re.sub(r'\b(id|for|aria-describedby)="([^"]*)"', rename, str(fields)))


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
    """Validate (nothing stored), preview, or deploy: same content → the same version, changed → a new version."""
    text = await _definition_text(request)
    action = (await request.form()).get("action")
    preview = _preview(request, text)
    definition, problems = preview["definition"], preview["problems"]
    if definition is not None and action == "deploy":
        root = compose(text)
        for loc, message in procedures.child_problems(session, definition):
            line, column = position_in(root, list(loc)) or (None, None)
            problems.append(_problem(translator(language_of(request)), list(loc), message, line, column))
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
        {"text": text, "lines": lines, "notice_text": notice, **preview},
        principal=principal,
        status_code=422 if problems else status.HTTP_200_OK,
    )


@router.post("/preview")
async def preview_fragment(request: Request, administrator: AdministratorDep) -> Response:
    """The editor's live preview (its script posts the text as it changes): the problems, the eForm and the step
    graph, as a fragment of the deploy page."""
    text = await _definition_text(request)
    context = _preview(request, text) if text.strip() else {"problems": [], "definition": None}
    return render(request, "admin_preview.html", {"fragment": True, **context})


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
