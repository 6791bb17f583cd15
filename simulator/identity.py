"""Identity providers of the simulator: VNeID (citizens) and the national single sign-on (officers),
each an OpenID Connect issuer with its own RSA key, discovery document, JWKS and a token endpoint."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, Field

Provider = Literal["vneid", "sso"]
_keys = {name: rsa.generate_private_key(public_exponent=65537, key_size=2048) for name in ("vneid", "sso")}

router = APIRouter(tags=["identity providers"])


class TokenRequest(BaseModel):
    subject: Annotated[str, Field(min_length=1, max_length=100)]
    citizen_id: Annotated[str, Field(pattern=r"^\d{12}$")] | None = None
    audience: str = "motcua"
    lifetime_seconds: Annotated[int, Field(ge=-3600, le=86_400)] = 600


def _issuer(request: Request, provider: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/{provider}"


@router.get("/{provider}/.well-known/openid-configuration")
def discovery(provider: Annotated[Provider, Path()], request: Request) -> dict[str, Any]:
    issuer = _issuer(request, provider)
    return {"issuer": issuer, "jwks_uri": f"{issuer}/jwks.json", "id_token_signing_alg_values_supported": ["RS256"]}


@router.get("/{provider}/jwks.json")
def jwks(provider: Annotated[Provider, Path()]) -> dict[str, Any]:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(_keys[provider].public_key(), as_dict=True)
    return {"keys": [{**jwk, "kid": f"{provider}-1", "use": "sig", "alg": "RS256"}]}


@router.post("/{provider}/token")
def issue_token(provider: Annotated[Provider, Path()], body: TokenRequest, request: Request) -> dict[str, str]:
    """A signed ID token for whoever asks: the simulator stands in for the login the real provider does."""
    if provider == "vneid" and body.citizen_id is None:
        raise HTTPException(422, "VNeID tokens carry a citizen_id")
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": _issuer(request, provider),
        "sub": body.subject,
        "aud": body.audience,
        "iat": now,
        "exp": now + body.lifetime_seconds,
    }
    if body.citizen_id:
        claims["citizen_id"] = body.citizen_id
    token = jwt.encode(claims, _keys[provider], algorithm="RS256", headers={"kid": f"{provider}-1"})
    return {"id_token": token, "token_type": "Bearer"}
