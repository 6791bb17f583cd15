"""Adapters to external agency systems and the national portal, over HTTP.

Every write carries an Idempotency-Key so a retried call never acts twice. Transport faults and
5xx answers are retried by Temporal with backoff (the dossier waits, never fails); a 4xx answer
is the agency's business refusal and is raised as a non-retryable `AgencyRefused`.
"""

from __future__ import annotations

import logging

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.dossier import PortalStatusPush, SystemCall, SystemCallResult

log = logging.getLogger(__name__)


class AgencyUnavailable(Exception):
    """Retryable: the system did not answer, or answered with a server error."""


class AgencyActivities:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        portal_base_url: str,
        agency_systems_base_url: str,
    ) -> None:
        self._http = http
        self._portal = portal_base_url.rstrip("/")
        self._systems = agency_systems_base_url.rstrip("/")

    @activity.defn
    async def call_system(self, call: SystemCall) -> SystemCallResult:
        url = f"{self._systems}/{call.system}/{call.operation}"
        body = await self._post(url, call.idempotency_key, {"dossier_code": call.dossier_code, **call.payload})
        return SystemCallResult(
            system=call.system,
            operation=call.operation,
            reference=body.get("reference"),
            data=body.get("data") or {},
        )

    @activity.defn
    async def push_portal_status(self, push: PortalStatusPush) -> None:
        await self._post(
            f"{self._portal}/dossiers/{push.dossier_code}/statuses",
            f"{push.dossier_code}:status:{push.seq}",
            {
                "seq": push.seq,
                "status": int(push.status),
                "status_name": push.status.name,
                "at": push.at.isoformat(),
                "procedure_code": push.procedure_code,
                "note": push.note,
            },
        )

    async def _post(self, url: str, idempotency_key: str, payload: dict) -> dict:
        return await post_idempotent(self._http, url, idempotency_key, payload)


async def post_idempotent(http: httpx.AsyncClient, url: str, idempotency_key: str, payload: dict) -> dict:
    """POST a write to an external system: transport faults and 5xx raise the retryable AgencyUnavailable,
    a 4xx answer the non-retryable AgencyRefused."""
    attempt = activity.info().attempt
    try:
        response = await http.post(url, json=payload, headers={"Idempotency-Key": idempotency_key})
    except httpx.HTTPError as exc:
        log.warning("POST %s failed (attempt %d): %s", url, attempt, exc)
        raise AgencyUnavailable(f"{url}: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        log.warning("POST %s answered %d (attempt %d)", url, response.status_code, attempt)
        raise AgencyUnavailable(f"{url} answered {response.status_code}")
    if response.status_code >= 400:
        raise ApplicationError(
            _refusal_message(response),
            {"status_code": response.status_code},
            type="AgencyRefused",
            non_retryable=True,
        )
    return response.json() if response.content else {}


def _refusal_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or f"HTTP {response.status_code}"
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("message") or body)[:500]
    return str(body)[:500]
