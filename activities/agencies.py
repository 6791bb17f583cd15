"""Adapters to external agency systems and the national portal, over HTTP.

Every write carries an Idempotency-Key so a retried call never acts twice. Transport faults and
5xx answers are retried by Temporal with backoff (the dossier waits, never fails); a 4xx answer
is the agency's business refusal and is raised as a non-retryable `AgencyRefused`.

The calls go through aiohttp: a dossier makes eight or so of them (portal pushes, agency calls, the
result deposit), and aiohttp spends far less CPU on a request than httpx does, CPU the worker shares with
the workflows.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import aiohttp
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.dossier import PortalStatusPush, SystemCall, SystemCallResult
from infrastructure import request_context
from infrastructure.temporal import PORTAL_SYNC_LAG

log = logging.getLogger(__name__)


class AgencyUnavailable(Exception):
    """Retryable: the system did not answer, or answered with a server error."""


class AgencyActivities:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        portal_base_url: str,
        agency_systems_base_url: str,
        answers_base_url: str = "",
    ) -> None:
        self._http = http
        self._portal = portal_base_url.rstrip("/")
        self._systems = agency_systems_base_url.rstrip("/")
        self._answers = answers_base_url.rstrip("/")

    @activity.defn
    async def call_system(self, call: SystemCall) -> SystemCallResult:
        url = f"{self._systems}/{call.system}/{call.operation}"
        request = {"dossier_code": call.dossier_code, **call.payload}
        if call.callback:  # the agency acknowledges now and sends its answer, naming the call, to motcua later
            request |= {
                "call_id": call.idempotency_key,
                "answer_to": f"{self._answers}/{call.dossier_code}/agency-answers",
            }
        body = await self._post(url, call.idempotency_key, request)
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
        # How far behind the portal is: from the status change to the portal's acknowledgement (a histogram in
        # the worker's metrics, its activity type a label: the ride-along or the portal lane).
        lag = (datetime.now(UTC) - push.at).total_seconds()
        activity.metric_meter().create_histogram_float(
            PORTAL_SYNC_LAG, "Seconds from a dossier's status change to the national portal's acknowledgement", "s"
        ).record(max(lag, 0.0))

    async def _post(self, url: str, idempotency_key: str, payload: dict) -> dict:
        return await post_idempotent(self._http, url, idempotency_key, payload)


def agency_session(timeout_seconds: float, token: str | None = None) -> aiohttp.ClientSession:
    """The worker's one HTTP session to agency systems, the portal and the result store."""
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        headers={"Authorization": f"Bearer {token}"} if token else None,
        # Idle connections are let go before a server would close them (uvicorn after 5 s): a request sent on
        # a connection the server is closing fails, and its activity would wait for Temporal's retry.
        connector=aiohttp.TCPConnector(keepalive_timeout=4),
    )


async def post_idempotent(http: aiohttp.ClientSession, url: str, idempotency_key: str, payload: dict) -> dict:
    """POST a write to an external system: transport faults and 5xx raise the retryable AgencyUnavailable,
    a 4xx answer the non-retryable AgencyRefused."""
    attempt = activity.info().attempt
    headers = {"Idempotency-Key": idempotency_key}
    request = request_context.request_id.get()
    if request:  # the external system's logs can name the request that led to this write
        headers[request_context.HEADER] = request
    try:
        async with http.post(url, json=payload, headers=headers) as response:
            status, content = response.status, await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("POST %s failed (attempt %d): %s", url, attempt, str(exc) or type(exc).__name__)
        raise AgencyUnavailable(f"{url}: {type(exc).__name__}: {exc}") from exc
    if status >= 500 or status == 429:
        log.warning("POST %s answered %d (attempt %d)", url, status, attempt)
        raise AgencyUnavailable(f"{url} answered {status}")
    if status >= 400:
        raise ApplicationError(
            _refusal_message(status, content),
            {"status_code": status},
            type="AgencyRefused",
            non_retryable=True,
        )
    try:
        return json.loads(content) if content else {}
    except ValueError as exc:
        # A system that says it took the write but answers with no JSON is broken for now: try again later.
        raise AgencyUnavailable(f"{url} answered {status} with a body that is not JSON") from exc


def _refusal_message(status: int, content: bytes) -> str:
    text = content.decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        return text[:500] or f"HTTP {status}"
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("message") or body)[:500]
    return str(body)[:500]
