"""Citizens submit, poll and supplement dossiers; officers decide on them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response, status

from api.access import ApplicantDossier, DossierCode, OfficerDossierState
from api.deps import (
    CalendarDep,
    LookupSecretDep,
    LookupSecretsDep,
    OfficerDep,
    PrincipalDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
)
from api.dossier_service import actions
from api.dossier_service.intake import receive_dossier, refuse_reserved_key
from api.dossier_service.messages import live_detail
from api.dossier_service.schemas import (
    ApologyIn,
    DecisionIn,
    DossierView,
    ExtensionIn,
    PaymentIn,
    Receipt,
    SubmitDossier,
    SupplementIn,
    WithdrawalIn,
)
from api.dossier_service.views import dossier_view_json
from api.rate_limits import RateLimitsDep, client_of, requester
from domain.dossier import DossierLiveDetail, MessageAccepted
from infrastructure.translations import from_accept_language

router = APIRouter(prefix="/dossiers", tags=["dossiers"])

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def submit_dossier(
    body: SubmitDossier,
    response: Response,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    base_calendar: CalendarDep,
    principal: PrincipalDep,
    secrets: LookupSecretsDep,
    limits: RateLimitsDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Receipt:
    """Submit a dossier; the answer is the receipt (form 01) with the lookup secret. Anyone submits online
    (a citizen's token makes the dossier theirs); a reception officer receives at any counter for any
    procedure, and the dossier goes to the unit competent for the applicant's address.
    Resending with the same Idempotency-Key returns the same dossier."""
    refuse_reserved_key(idempotency_key)
    limits.take("submission", requester(request, principal))
    receipt, created = await receive_dossier(
        body, idempotency_key, session, client, settings, base_calendar, principal, secrets
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return receipt


@router.get("/{code}", response_model=DossierView)
async def get_dossier(
    code: DossierCode,
    request: Request,
    principal: PrincipalDep,
    secrets: LookupSecretsDep,
    secret: LookupSecretDep,
    limits: RateLimitsDep,
) -> Response:
    """Status, current step, appointment date and timeline, from the read model (never wakes the workflow); each
    timeline entry's `text` in the applicant's or the officers' words, in the language of `Accept-Language` (vi, the
    default, or en). For the applicant (citizen token, or the receipt's lookup secret in X-Lookup-Secret) and officers
    of the units involved; anyone else gets 404."""
    # Citizens poll this, many times a second. Reading the local SQLite file, or one statement on PostgreSQL (a round
    # trip the reader bounds with a statement timeout), costs less than a hop to the thread pool and back: it runs on
    # the event loop, and the view is serialised once. Only wrong secrets count against a limit: polls never do.
    if secret is not None:
        limits.check_lookup(client_of(request), code)
    try:
        language = from_accept_language(request.headers.get("accept-language"))
        view = dossier_view_json(request.app.state.reader, code, principal, secrets, secret, language)
    except HTTPException as refused:
        if refused.status_code == status.HTTP_404_NOT_FOUND and secret is not None:
            limits.lookup_failed(client_of(request), code)
        raise
    headers = {"Content-Language": language, "Vary": "Accept-Language"}
    return Response(view, media_type="application/json", headers=headers)


@router.get("/{code}/live")
async def get_live_detail(code: str, row: OfficerDossierState, client: TemporalDep) -> DossierLiveDetail:
    """Live detail from the workflow itself (a query), for officers; citizens poll GET /dossiers/{code}."""
    return await live_detail(client, code)


@router.post("/{code}/decisions")
async def decide(
    code: str,
    body: DecisionIn,
    row: OfficerDossierState,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    officer: OfficerDep,
) -> MessageAccepted:
    """An officer's decision on the step awaiting it: 409 when that step is not awaiting this decision,
    403 when the officer does not hold the step's role at its unit (nor acts for someone who does)."""
    return await actions.decide(session, client, settings, row, body, officer)


@router.post("/{code}/supplements")
async def supplement(
    code: str,
    body: SupplementIn,
    row: ApplicantDossier,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> MessageAccepted:
    """The applicant's answer to a supplement request; the whole form must be valid once merged."""
    return await actions.supplement(session, client, settings, row, body, principal)


@router.post("/{code}/payments")
async def pay(
    code: str,
    body: PaymentIn,
    row: ApplicantDossier,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> MessageAccepted:
    """A fee paid (reported for the applicant); 409 unless that fee step awaits exactly this amount."""
    return await actions.pay(session, client, settings, row, body, principal)


@router.post("/{code}/apologies")
async def apologize(
    code: str,
    body: ApologyIn,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    officer: OfficerDep,
    row: OfficerDossierState,
    base_calendar: CalendarDep,
) -> MessageAccepted:
    """Form 04: an apology with a new appointment, owed at least one working day before the appointment."""
    return await actions.apologize(session, client, settings, row, body, officer, base_calendar)


@router.post("/{code}/extensions")
async def extend(
    code: str,
    body: ExtensionIn,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    officer: OfficerDep,
    row: OfficerDossierState,
    base_calendar: CalendarDep,
) -> MessageAccepted:
    """Extend to the procedure's extended limit (special cases), where its definition allows it."""
    return await actions.extend(session, client, settings, row, body, officer, base_calendar)


@router.post("/{code}/withdrawal")
async def withdraw(
    code: str,
    body: WithdrawalIn,
    row: ApplicantDossier,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> MessageAccepted:
    """The applicant withdraws the dossier (status 7); processing stops wherever it stands."""
    return await actions.withdraw(session, client, settings, row, body, principal)
