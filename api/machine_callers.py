"""Systems that call motcua on their own (the national portal, agencies answering later): a machine client's bearer
token carrying the scope the route needs, or, where the installation configures one, a shared key in a header of
their own (compared in constant time)."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status
from pydantic import SecretStr

from api.deps import calling_principal, check_scope
from infrastructure.settings import Settings


async def check_caller(
    request: Request,
    settings: Settings,
    *,
    scope: str,
    expected_key: SecretStr | None,
    key: str | None,
    key_header: str,
    authorization: str | None,
    who: str,
) -> None:
    """401 unless the caller brings the scope's token or the shared key (403 for a token without the scope)."""
    expected = expected_key.get_secret_value() if expected_key else None
    if key is None and authorization:
        check_scope(await calling_principal(request, settings, authorization), scope)
        return
    if not (expected and key and hmac.compare_digest(key.encode(), expected.encode())):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"{who}'s bearer token (scope {scope!r}) or key ({key_header}) is required",
            headers={"WWW-Authenticate": key_header if expected else "Bearer"},
        )
