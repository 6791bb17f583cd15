"""Citizens' pages: choose a procedure, fill its eForm and submit, get the receipt, look a dossier up by its
code and lookup secret, follow its timeline, answer a supplement request and download the results."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Query, Request, status
from fastapi.responses import RedirectResponse, Response

from api import browser_session
from api.access import ApplicantDossier, ReadableDossier, is_applicant, readable_dossier
from api.deps import (
    ANONYMOUS,
    CalendarDep,
    LookupSecretDep,
    LookupSecretsDep,
    PopulationDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
)
from api.dossier_service import actions
from api.dossier_service.definitions import definition_of
from api.dossier_service.intake import receive_dossier
from api.dossier_service.my_dossiers import CitizenIdDep, my_dossiers
from api.dossier_service.prefill import prefill_form
from api.dossier_service.schemas import SupplementIn
from api.pages import dossier_forms
from api.pages.dossier_forms import EFormEntry
from api.pages.dossier_views import dossier_context
from api.pages.errors import csrf_protected, messages
from api.pages.rendering import render
from api.uploads import bounded_upload_route
from domain.wording import mark
from forms import render as eform
from readmodel.tables import ProcedureVersionRow

# A form posted without the page's script carries its files itself: a few attachments' worth at most.
FILES_PER_POST = 5
router = APIRouter(
    prefix="/citizen",
    include_in_schema=False,
    dependencies=[Depends(csrf_protected)],
    route_class=bounded_upload_route(lambda s: FILES_PER_POST * s.attachment_max_bytes),
)
ProcedureCode = Annotated[str, Path(min_length=1, max_length=40)]


def in_service(session: SessionDep, code: ProcedureCode) -> ProcedureVersionRow:
    return dossier_forms.procedure_in_service(session, code)


ProcedureInService = Annotated[ProcedureVersionRow, Depends(in_service)]


@router.get("/procedures")
def choose_procedure(request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    listed = dossier_forms.procedures_in_service(session)
    return render(request, "procedures.html", {"listed": listed, "link_base": "/citizen/procedures"},
                  principal=principal)  # fmt: skip


@router.get("/procedures/{code}")
def eform_page(request: Request, row: ProcedureInService, principal: PrincipalDep) -> Response:
    entry = EFormEntry()
    if principal.citizen_id:
        entry.applicant["citizen_id"] = principal.citizen_id
    return dossier_forms.render_eform_page(request, row, entry, principal=principal, action=request.url.path)


@router.post("/procedures/{code}")
async def submit_eform(
    request: Request,
    row: ProcedureInService,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    calendar: CalendarDep,
    principal: PrincipalDep,
    secrets: LookupSecretsDep,
    population: PopulationDep,
) -> Response:
    """Submit online (or ask for data reuse, or another item of a group): the API's own submission path."""
    answer = await dossier_forms.handle_eform_post(
        request,
        row,
        settings=settings,
        ask_prefill=lambda version, body: prefill_form(version.code, body, session, population, principal),
        receive=lambda body, key: receive_dossier(body, key, session, client, settings, calendar, principal, secrets),
        again=lambda entry: dossier_forms.render_eform_page(
            request, row, entry, principal=principal, action=request.url.path
        ),
    )
    if isinstance(answer, Response):
        return answer
    receipt = answer[0]
    response = RedirectResponse(f"/citizen/dossiers/{receipt.dossier_code}?received=1", status.HTTP_303_SEE_OTHER)
    browser_session.remember_lookup(request, response, settings, receipt.dossier_code, receipt.lookup_secret)
    return response


@router.get("/lookup")
def lookup_page(request: Request, principal: PrincipalDep, code: str = "") -> Response:
    return render(request, "lookup.html", {"code": code[:100], "errors": {}}, principal=principal)


@router.post("/lookup")
def look_up(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    secrets: LookupSecretsDep,
    principal: PrincipalDep,
    code: Annotated[str, Form(max_length=100)] = "",
    secret: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """The dossier code and lookup secret of the receipt open the dossier, as X-Lookup-Secret does."""
    code = code.strip()
    try:
        row = readable_dossier(code, session, ANONYMOUS, secrets, secret) if code and secret else None
    except HTTPException:
        row = None
    if row is None:
        errors = {"secret": [mark("Không tìm thấy hồ sơ với mã hồ sơ và mã tra cứu này.")]}
        return render(request, "lookup.html", {"code": code, "errors": errors}, principal=principal, status_code=404)
    response = RedirectResponse(f"/citizen/dossiers/{row.code}", status.HTTP_303_SEE_OTHER)
    browser_session.remember_lookup(request, response, settings, row.code, secrets.for_dossier(row.code))
    return response


MY_DOSSIERS_PAGE = 20


@router.get("/dossiers")
def my_dossiers_page(
    request: Request,
    citizen_id: CitizenIdDep,
    session: SessionDep,
    principal: PrincipalDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    """The signed-in citizen's dossiers, newest first, with what to do now for each (GET /me/dossiers)."""
    page = my_dossiers(session.connection(), citizen_id, limit=MY_DOSSIERS_PAGE, offset=offset)
    return render(request, "my_dossiers.html", {"page": page}, principal=principal)


@router.get("/dossiers/{code}")
def dossier_page(
    request: Request,
    row: ReadableDossier,
    session: SessionDep,
    secrets: LookupSecretsDep,
    principal: PrincipalDep,
    secret: LookupSecretDep,
    received: bool = False,
    supplemented: bool = False,
) -> Response:
    # An officer of the units involved may open this page too, but only the applicant sees the lookup secret.
    context = dossier_context(request, row, session, secrets, applicant=is_applicant(row, principal, secrets, secret))
    if context["view"].supplement_request:
        definition = context["definition"]
        t_texts = dossier_forms.eform_texts(context["t"])
        context["supplement_fields"] = eform.render_fields(
            definition,
            state=eform.FormState(values=row.form),
            texts=t_texts,
            group_actions=False,
            areas=dossier_forms.area_choices(request.app.state.engine),
        )
    return render(request, "citizen_dossier.html", {**context, "received": received, "supplemented": supplemented, "errors": {}, "general": []},
                  principal=principal)  # fmt: skip


@router.post("/dossiers/{code}")
async def answer_supplement(
    request: Request,
    row: ApplicantDossier,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    secrets: LookupSecretsDep,
    principal: PrincipalDep,
) -> Response:
    """The applicant's answer to a supplement request: the values changed, through the API's own path."""
    definition = definition_of(session, row).definition
    entry, _ = await dossier_forms.read_entry(request, definition, settings)
    note = (await request.form()).get("note")
    changed = {k: v for k, v in entry.values.items() if row.form.get(k) != v}
    try:
        if entry.errors:
            raise HTTPException(
                422, [{"loc": ["body", "form", *p.split(".")], "msg": m[0]} for p, m in entry.errors.items()]
            )
        body = SupplementIn(form=changed, note=note.strip()[:2000] if isinstance(note, str) and note.strip() else None)
        await actions.supplement(session, client, settings, row, body, principal)
    except HTTPException as exc:
        context = dossier_context(request, row, session, secrets, applicant=True)
        said = dossier_forms.said_in(
            context["t"],
            dossier_forms.errors_by_path(exc.detail) if exc.status_code == 422 and isinstance(exc.detail, list) else {},
        )
        context["supplement_fields"] = eform.render_fields(
            definition,
            state=eform.FormState(values={**row.form, **entry.values}, errors=said),
            texts=dossier_forms.eform_texts(context["t"]),
            group_actions=False,
            areas=dossier_forms.area_choices(request.app.state.engine),
        )
        general = [] if said else messages(exc.detail)
        return render(request, "citizen_dossier.html", {**context, "received": False, "errors": said, "general": general},
                      principal=principal, status_code=exc.status_code)  # fmt: skip
    return RedirectResponse(f"/citizen/dossiers/{row.code}?supplemented=1", status.HTTP_303_SEE_OTHER)
