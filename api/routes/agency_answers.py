"""Agencies that answer later (tax, police) send their answer to the dossier that asked: `POST
/dossiers/{code}/agency-answers`, naming the call (its id, the Idempotency-Key the call was sent with). The caller is
an agency system: a machine client's bearer token with the scope `dossiers:answer`, or, where configured, the shared
key of the agencies' exchange (X-Agency-Key). The answer goes to the dossier's workflow as an Update: 409 when no
step awaits it (already answered, another call, the dossier ended), 404 for a dossier that does not exist."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, status

from api.access import DossierCode
from api.deps import BearerHeader, SessionDep, SettingsDep, TemporalDep
from api.dossier_service.messages import relay
from api.machine_callers import check_caller
from domain.dossier import AgencyAnswer, MessageAccepted
from readmodel import dossiers
from workflows.contract import DossierUpdate

ANSWER = "dossiers:answer"
AgencyKeyHeader = Annotated[str | None, Header(alias="X-Agency-Key", max_length=200)]

router = APIRouter(prefix="/dossiers", tags=["agencies"])


async def agency_caller(
    request: Request, settings: SettingsDep, key: AgencyKeyHeader = None, authorization: BearerHeader = None
) -> None:
    """Only an agency system answers: a machine client with the scope, or the shared key (constant-time)."""
    await check_caller(
        request, settings, scope=ANSWER, expected_key=settings.agency_callback_key, key=key,
        key_header="X-Agency-Key", authorization=authorization, who="an agency system",
    )  # fmt: skip


@router.post("/{code}/agency-answers", dependencies=[Depends(agency_caller)])
async def answer_from_an_agency(
    code: DossierCode, answer: AgencyAnswer, session: SessionDep, client: TemporalDep, settings: SettingsDep
) -> MessageAccepted:
    """An agency's answer to the call a step of this dossier made (its `call_id`); the step then goes on."""
    if dossiers.read_only(session.connection(), code) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dossier {code}")
    return await relay(session, client, settings, code, DossierUpdate.agency_answer, answer)
