"""Rate limits on what an attacker repeats: guessing a dossier's lookup secret, signing in, submitting dossiers and
asking the population database about someone. Each is counted per client and, where there is one, per target, in a
store every API process shares (Redis by RATE_LIMIT_STORAGE_URL; one process's memory when none is set)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from api.deps import Principal
from infrastructure.settings import Settings


class RateLimited(HTTPException):
    def __init__(self, what: str, retry_after: int) -> None:
        super().__init__(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many {what}; try again in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


@dataclass
class RateLimits:
    limiter: MovingWindowRateLimiter | None  # None: limits off (the test stack's own processes)
    lookup_failures_per_client: RateLimitItem
    lookup_failures_per_dossier: RateLimitItem
    sign_in: RateLimitItem
    submissions: RateLimitItem
    prefill: RateLimitItem

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        limiter = None
        if settings.rate_limits_enabled:
            limiter = MovingWindowRateLimiter(storage_from_string(settings.rate_limit_storage_url or "memory://"))
        return cls(
            limiter,
            parse(settings.rate_limit_lookup_failures_per_client),
            parse(settings.rate_limit_lookup_failures_per_dossier),
            parse(settings.rate_limit_sign_in),
            parse(settings.rate_limit_submissions),
            parse(settings.rate_limit_prefill),
        )

    def check_lookup(self, client: str, code: str) -> None:
        """Refuse a lookup by secret once this client, or anyone at this dossier, has guessed wrong too often."""
        for rule, keys in ((self.lookup_failures_per_client, ("lookup", client)),
                           (self.lookup_failures_per_dossier, ("lookup-dossier", code))):  # fmt: skip
            self._test(rule, keys, "wrong lookup secrets")

    def lookup_failed(self, client: str, code: str) -> None:
        if self.limiter is not None:
            self.limiter.hit(self.lookup_failures_per_client, "lookup", client)
            self.limiter.hit(self.lookup_failures_per_dossier, "lookup-dossier", code)

    def take(self, what: str, who: str) -> None:
        """Count one sign-in, submission or prefill of `who`; 429 past its limit."""
        rule = {"sign-in": self.sign_in, "submission": self.submissions, "prefill": self.prefill}[what]
        if self.limiter is not None and not self.limiter.hit(rule, what, who):
            raise RateLimited(f"{what} requests", self._retry_after(rule, (what, who)))

    def _test(self, rule: RateLimitItem, keys: tuple[str, ...], what: str) -> None:
        if self.limiter is not None and not self.limiter.test(rule, *keys):
            raise RateLimited(what, self._retry_after(rule, keys))

    def _retry_after(self, rule: RateLimitItem, keys: tuple[str, ...]) -> int:
        assert self.limiter is not None
        reset = self.limiter.get_window_stats(rule, *keys).reset_time
        return max(1, math.ceil(reset - time.time()))


def requester(request: Request, principal: Principal) -> str:
    """Whom a limit counts: a signed-in person by who they are (wherever they connect from), anyone else by their
    address."""
    if principal.officer is not None:
        return f"officer:{principal.officer.officer_id}"
    if principal.citizen_id is not None:
        return f"citizen:{principal.citizen_id}"
    return f"address:{client_of(request)}"


def client_of(request: Request) -> str:
    """The client's address (behind a reverse proxy, uvicorn's --proxy-headers makes it the forwarded one)."""
    return request.client.host if request.client else "unknown"


def current_rate_limits(request: Request) -> RateLimits:
    return request.app.state.rate_limits


RateLimitsDep = Annotated[RateLimits, Depends(current_rate_limits)]
