"""motcua's own token issuer, published as OpenID Connect discovery + JWKS, and "who am I"."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel

from api.deps import PrincipalDep

router = APIRouter(tags=["identity"])


class CapacityOut(BaseModel):
    role: str
    unit_code: str
    on_behalf_of: str | None


class WhoAmI(BaseModel):
    kind: str
    officer_id: str | None = None
    full_name: str | None = None
    unit_code: str | None = None
    capacities: list[CapacityOut] = []
    citizen_id: str | None = None


def _issuer(request: Request) -> Any:
    issuer = request.app.state.token_issuer
    if issuer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this installation does not issue its own tokens")
    return issuer


@router.get("/.well-known/openid-configuration")
def openid_configuration(request: Request) -> dict[str, Any]:
    issuer = _issuer(request)
    return {
        "issuer": issuer.issuer,
        "jwks_uri": str(request.url_for("jwks")),
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["public"],
        "response_types_supported": ["id_token"],
    }


@router.get("/.well-known/jwks.json", name="jwks")
def jwks(request: Request) -> dict[str, Any]:
    return _issuer(request).jwks()


@router.get("/me")
def who_am_i(principal: PrincipalDep) -> WhoAmI:
    if principal.officer is not None:
        officer = principal.officer
        return WhoAmI(
            kind="officer",
            officer_id=officer.officer_id,
            full_name=officer.full_name,
            unit_code=officer.unit_code,
            capacities=[CapacityOut(role=c.role, unit_code=c.unit_code, on_behalf_of=c.on_behalf_of)
                        for c in officer.capacities],
        )  # fmt: skip
    return WhoAmI(kind=principal.kind, citizen_id=principal.citizen_id)
