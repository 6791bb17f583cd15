"""The national payment platform confirms a fee paid through it: `POST /dossiers/{code}/payments/platform-confirmation`,
the callback address motcua gave it with the payment request. The caller is authenticated by its signature (HMAC-SHA256
of the body under PAYMENT_PLATFORM_SECRET, `X-Payment-Signature`; 401 without a valid one, and nothing changes); the
confirmation then goes to the dossier's workflow as the `pay` Update naming the platform's request (workflow
revision 5), which asks the platform whether it is paid before applying it. A confirmation of a payment the dossier
has recorded already answers 200 and changes nothing; one of a request the dossier cancelled when it ended answers 409
saying so. See api/dossier_service/payment_platform.py for the checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request

from api.access import DossierCode
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.dossier_service import payment_platform
from domain.dossier import MessageAccepted

SignatureHeader = Annotated[str | None, Header(alias=payment_platform.SIGNATURE_HEADER, max_length=200)]

router = APIRouter(prefix="/dossiers", tags=["payments"])


@router.post("/{code}/payments/platform-confirmation")
async def confirmation_from_the_payment_platform(
    code: DossierCode,
    request: Request,
    session: SessionDep,
    client: TemporalDep,
    settings: SettingsDep,
    signed: SignatureHeader = None,
) -> MessageAccepted:
    """The platform's signed confirmation that the fee this dossier's fee step asked for is paid; the step goes on."""
    body = await request.body()
    return await payment_platform.confirm(session, client, settings, code, body, signed)
