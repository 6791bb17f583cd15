"""Officers' pages: the inbox of steps for their roles and units (delegations included), most urgent first;
the dossier page with its form data, attachments, timeline and step graph, and the decisions the officer
may take; the counter's reception of dossiers brought in person or by post."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api import browser_session
from api.access import OfficerDossier
from api.deps import (
    CalendarDep,
    LookupSecretsDep,
    OfficerDep,
    PopulationDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
)
from api.dossier_service import actions, decision_766
from api.dossier_service.inbox import InboxFilter, officer_inbox
from api.dossier_service.intake import receive_dossier
from api.dossier_service.prefill import prefill_form
from api.dossier_service.schemas import DecisionIn
from api.pages import dossier_forms
from api.pages.citizen import FILES_PER_POST
from api.pages.dossier_forms import EFormEntry
from api.pages.dossier_views import dossier_context, form_data, step_graph_picture
from api.pages.errors import csrf_protected, messages
from api.pages.i18n import language_of, translator
from api.pages.rendering import render
from api.timeline_text import ROLE_NAMES
from api.uploads import bounded_upload_route
from domain.attachments import descriptors_in
from domain.definition import DecisionKind, ProcedureDefinition
from domain.wording import mark
from readmodel.organisation import OfficerProfile
from readmodel.tables import DossierRow

router = APIRouter(
    prefix="/officer",
    include_in_schema=False,
    dependencies=[Depends(csrf_protected)],
    route_class=bounded_upload_route(lambda s: FILES_PER_POST * s.attachment_max_bytes),
)
# What a decision lacks, said on the field that lacks it (the API's 422 says it in English, to programs).
DECISION_FIELD_MISSING = {
    "reason": mark("Hãy ghi lý do của quyết định này."),
    "missing": mark("Hãy liệt kê đủ các giấy tờ, thông tin còn thiếu, mỗi dòng một mục (chỉ yêu cầu bổ sung một lần)."),
    "recipient": mark("Hãy ghi người nhận kết quả và giấy tờ tùy thân đã xuất trình."),
}
DECISION_LABELS = {
    DecisionKind.approve: mark("Đồng ý, chuyển bước tiếp theo"),
    DecisionKind.reject: mark("Từ chối"),
    DecisionKind.request_supplement: mark("Yêu cầu bổ sung"),
    DecisionKind.return_: mark("Trả lại bước trước"),
    DecisionKind.hand_over: mark("Đã trao kết quả"),
}


INBOX_PAGE_LIMIT = 500  # steps an inbox page reads, then narrows by its filters


@router.get("/inbox")
def inbox_page(
    request: Request,
    officer: OfficerDep,
    session: SessionDep,
    principal: PrincipalDep,
    decided: Annotated[str, Query(max_length=100)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
    procedure: Annotated[str, Query(max_length=40)] = "",
    step: Annotated[str, Query(max_length=80)] = "",
    urgency: Annotated[str, Query(pattern=r"^(|normal|warning|overdue)$")] = "",
) -> Response:
    """Steps awaiting a role the officer holds (or holds for someone), earliest deadline first (GET /inbox), narrowed
    to a dossier code or applicant's name, a procedure, a step or an urgency."""
    items = officer_inbox(officer, session, limit=INBOX_PAGE_LIMIT, offset=0)
    chosen = InboxFilter(text=q, procedure_code=procedure, step_id=step, urgency=urgency)
    behalf = {(c.role, c.unit_code): c.on_behalf_of for c in officer.capacities}
    listed = [(item, behalf.get((item.role or "", item.unit_code or ""))) for item in items if chosen.keeps(item)]
    context = {
        "listed": listed,
        "waiting": len(items),
        "decided": decided,
        "chosen": chosen,
        "procedures": sorted({(i.procedure_code, i.procedure_name) for i in items}),
        "steps": sorted({(i.step_id, i.step_name) for i in items if not procedure or i.procedure_code == procedure}),
        "truncated": len(items) == INBOX_PAGE_LIMIT,
        "role_names": ROLE_NAMES,
    }
    return render(request, "inbox.html", context, principal=principal)


def _decisions(officer: OfficerProfile, row: DossierRow, definition: ProcedureDefinition) -> list[dict[str, Any]]:
    """The steps of this dossier awaiting a decision this officer may take, with the decisions allowed."""
    open_steps = []
    for step in row.active_steps:
        if step.get("awaiting") != "officer" or not officer.holds(step.get("role") or "", step.get("unit_code")):
            continue
        allowed = definition.step(step["step_id"]).allowed_decisions
        open_steps.append({
            "step": step,
            "decisions": [(d.value, DECISION_LABELS[d]) for d in allowed],
            # Decision 766: what each decision would count as late, warned of before it is taken.
            "late": {d.value: decision_766.late_warnings(row, d.value) for d in allowed},
        })  # fmt: skip
    return open_steps


def _dossier_page(
    request: Request,
    row: DossierRow,
    session: SessionDep,
    secrets: LookupSecretsDep,
    officer: OfficerProfile,
    principal: PrincipalDep,
    *,
    notice: str | None = None,
    errors: dict[str, dict[str, list[str]]] | None = None,
    general: list[str] | None = None,
    entered: dict[str, str] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    context = dossier_context(request, row, session, secrets, applicant=False)
    definition = context["definition"]
    return render(
        request,
        "officer_dossier.html",
        {
            **context,
            "form_rows": form_data(definition, row.form, context["t"].language),
            "attachments": descriptors_in(row.form),
            "graph": step_graph_picture(definition, row, context["t"]),
            "open_steps": _decisions(officer, row, definition),
            "errors": errors or {},
            "general": general or [],
            "entered": entered or {},
            "notice": context["t"](notice) if notice else None,
            "child_link_base": "/officer/dossiers",
        },
        principal=principal,
        status_code=status_code,
    )


@router.get("/dossiers/{code}")
def dossier_page(
    request: Request,
    row: OfficerDossier,
    session: SessionDep,
    secrets: LookupSecretsDep,
    officer: OfficerDep,
    principal: PrincipalDep,
    received: bool = False,
) -> Response:
    notice = mark("Hồ sơ đã được tiếp nhận.") if received else None
    return _dossier_page(request, row, session, secrets, officer, principal, notice=notice)


@router.post("/dossiers/{code}")
async def take_decision(
    request: Request,
    row: OfficerDossier,
    session: SessionDep,
    secrets: LookupSecretsDep,
    client: TemporalDep,
    settings: SettingsDep,
    officer: OfficerDep,
    principal: PrincipalDep,
) -> Response:
    """A decision on a step, through the API's own path (POST /dossiers/{code}/decisions)."""
    t = translator(language_of(request))
    form = await request.form()
    step_id, decision = str(form.get("step_id") or ""), str(form.get("decision") or "")
    reason = str(form.get("reason") or "").strip() or None
    missing = [line.strip() for line in str(form.get("missing") or "").splitlines() if line.strip()]
    recipient = str(form.get("recipient") or "").strip()[:300] or None
    confirm_late = form.get("confirm_late") == "1"
    entered = {"step_id": step_id, "decision": decision, "reason": reason or "", "missing": "\n".join(missing),
               "recipient": recipient or ""}  # fmt: skip
    try:
        body = DecisionIn(step_id=step_id, decision=decision, reason=reason, missing=missing, recipient=recipient,  # type: ignore[arg-type]
                          confirm_late=confirm_late)  # fmt: skip
        await actions.decide(session, client, settings, row, body, officer)
    except decision_766.LateConfirmationRequired as unconfirmed:
        # Said in the page's words, beside the box that confirms it.
        return _dossier_page(request, row, session, secrets, officer, principal, general=[t(unconfirmed.warning)],
                             entered=entered, status_code=unconfirmed.status_code)  # fmt: skip
    except (ValidationError, HTTPException) as exc:
        detail = list(exc.errors(include_url=False)) if isinstance(exc, ValidationError) else exc.detail
        said = messages(detail)
        code = status.HTTP_422_UNPROCESSABLE_ENTITY if isinstance(exc, ValidationError) else exc.status_code
        if code == 422:
            field = {DecisionKind.request_supplement.value: "missing", DecisionKind.hand_over.value: "recipient"}.get(
                decision, "reason"
            )
            errors, general = {step_id: {field: [t(DECISION_FIELD_MISSING[field])]}}, []
        else:
            errors, general = {}, said
        return _dossier_page(request, row, session, secrets, officer, principal, errors=errors, general=general,
                             entered=entered, status_code=code)  # fmt: skip
    return RedirectResponse(f"/officer/inbox?decided={row.code}", status.HTTP_303_SEE_OTHER)


# ------------------------------------------------------------------------------ the counter

ProcedureCode = Annotated[str, Path(min_length=1, max_length=40)]


def counter_units(officer: OfficerDep) -> list[str]:
    units = sorted({c.unit_code for c in officer.capacities if c.role == "reception"})
    if not units:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only a reception officer receives dossiers at the counter")
    return units


CounterUnits = Annotated[list[str], Depends(counter_units)]


@router.get("/reception")
def choose_procedure(request: Request, session: SessionDep, units: CounterUnits, principal: PrincipalDep) -> Response:
    listed = dossier_forms.procedures_in_service(session)
    intro = mark("Chọn thủ tục để tiếp nhận hồ sơ trực tiếp hoặc qua bưu chính.")
    return render(request, "procedures.html", {"listed": listed, "link_base": "/officer/reception", "intro": intro},
                  principal=principal)  # fmt: skip


@router.get("/reception/{code}")
def counter_eform(
    request: Request, units: CounterUnits, session: SessionDep, code: ProcedureCode, principal: PrincipalDep
) -> Response:
    row = dossier_forms.procedure_in_service(session, code)
    entry = EFormEntry(channel=1, receiving_unit=units[0])
    return dossier_forms.render_eform_page(
        request, row, entry, principal=principal, action=request.url.path, counter_units=units
    )


@router.post("/reception/{code}")
async def receive_at_counter(
    request: Request,
    code: ProcedureCode,
    units: CounterUnits,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    calendar: CalendarDep,
    principal: PrincipalDep,
    secrets: LookupSecretsDep,
    population: PopulationDep,
) -> Response:
    """Receive a dossier in person or by post: the API's own path, as the reception officer."""
    row = dossier_forms.procedure_in_service(session, code)
    answer = await dossier_forms.handle_eform_post(
        request,
        row,
        settings=settings,
        ask_prefill=lambda version, body: prefill_form(version.code, body, session, population, principal),
        receive=lambda body, key: receive_dossier(body, key, session, client, settings, calendar, principal, secrets),
        again=lambda entry: dossier_forms.render_eform_page(
            request, row, entry, principal=principal, action=request.url.path, counter_units=units
        ),
    )
    if isinstance(answer, Response):
        return answer
    receipt = answer[0]
    response = RedirectResponse(f"/officer/dossiers/{receipt.dossier_code}?received=1", status.HTTP_303_SEE_OTHER)
    if receipt.lookup_secret:  # the receipt printed now is handed to the applicant: it carries the secret, once
        browser_session.hold_receipt_secret(response, settings, receipt.dossier_code, receipt.lookup_secret)
    return response
