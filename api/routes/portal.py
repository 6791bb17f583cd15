"""The national public-service portal (DVCQG) pushes the dossiers citizens submitted there.

A pushed dossier is registered and started exactly as an online submission is; the portal's own
reference is its idempotency key, so a push repeated after a lost answer returns the same dossier.
Its statuses then go back to the portal like every dossier's. The portal authenticates as a machine client of
the national SSO (a client-credentials bearer token: `dossiers:receive` to push, `dossiers:read` to read back),
or, where configured for installations not yet on the SSO, with a shared key (X-Portal-Key).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import (
    PORTAL,
    BearerHeader,
    CalendarDep,
    LookupSecretsDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
)
from api.dossier_service import views
from api.dossier_service.intake import PORTAL_KEY_PREFIX, receive_dossier
from api.dossier_service.schemas import Receipt, SubmitDossier
from api.machine_callers import check_caller
from domain.dossier import Applicant, Channel
from readmodel import dossiers
from readmodel.db import release

PORTAL_REFERENCE = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$"


RECEIVE = "dossiers:receive"  # push dossiers
READ = "dossiers:read"  # read back what was pushed
PortalKeyHeader = Annotated[str | None, Header(alias="X-Portal-Key", max_length=200)]


def portal_caller(scope: str):
    """Only the national portal pushes dossiers: a machine client's bearer token carrying `scope`, or the shared key
    where one is configured (compared in constant time)."""

    async def portal(
        request: Request, settings: SettingsDep, key: PortalKeyHeader = None, authorization: BearerHeader = None
    ) -> None:
        await check_caller(
            request, settings, scope=scope, expected_key=settings.portal_api_key, key=key,
            key_header="X-Portal-Key", authorization=authorization, who="the national portal",
        )  # fmt: skip

    return portal


router = APIRouter(prefix="/portal", tags=["portal"])


class PortalDossier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    portal_reference: Annotated[str, Field(pattern=PORTAL_REFERENCE)]  # the portal's own dossier reference
    procedure_code: Annotated[str, Field(min_length=1, max_length=40)]
    applicant: Applicant
    form: dict[str, Any]
    receiving_unit: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    prefilled_fields: Annotated[list[Annotated[str, Field(max_length=63)]], Field(max_length=300)] = []


class PortalReceipt(Receipt):
    portal_reference: str


@router.post("/dossiers", status_code=status.HTTP_201_CREATED, dependencies=[Depends(portal_caller(RECEIVE))])
async def receive_from_portal(
    body: PortalDossier,
    response: Response,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    base_calendar: CalendarDep,
    secrets: LookupSecretsDep,
) -> PortalReceipt:
    """A dossier submitted on the national portal: registered and started as an online submission (channel 2).
    The same portal reference again returns the same dossier (200); with other content, 409."""
    submission = SubmitDossier(
        procedure_code=body.procedure_code,
        applicant=body.applicant,
        form=body.form,
        channel=Channel.online,
        receiving_unit=body.receiving_unit,
        prefilled_fields=body.prefilled_fields,
    )
    key = f"{PORTAL_KEY_PREFIX}{body.portal_reference}"
    receipt, created = await receive_dossier(submission, key, session, client, settings, base_calendar, PORTAL, secrets)
    if not created:
        response.status_code = status.HTTP_200_OK
    return PortalReceipt(**receipt.model_dump(), portal_reference=body.portal_reference)


@router.get("/dossiers/{portal_reference}", dependencies=[Depends(portal_caller(READ))])
def portal_dossier(
    portal_reference: Annotated[str, Path(pattern=PORTAL_REFERENCE)], session: SessionDep, secrets: LookupSecretsDep
) -> PortalReceipt:
    """Our dossier for a portal reference, with its current status (for the portal's reconciliation)."""
    row = dossiers.find_by_idempotency_key(session, f"{PORTAL_KEY_PREFIX}{portal_reference}")
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dossier was pushed as {portal_reference!r}")
    release(session)
    return PortalReceipt(**views.receipt(row, secrets).model_dump(), portal_reference=portal_reference)
