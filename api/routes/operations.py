"""Operators see what waits on external systems, and whether the national portal and the workflows agree\nwith the read model."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlmodel import Session, col, select
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.deps import SessionDep, SettingsDep, TemporalDep, current_administrator
from domain.dossier import DossierLiveDetail
from readmodel import dossiers
from readmodel.db import as_utc, release, utcnow
from readmodel.tables import DossierRow
from workflows.contract import DETAIL_QUERY

# Long enough for a worker to replay a long history; short enough that a workflow nobody answers for holds
# the report back by seconds, not by the client's patience.
WORKFLOW_QUERY_TIMEOUT = timedelta(seconds=10)

ProcedureFilter = Annotated[str | None, Query(max_length=64, description="only the dossiers of this procedure")]

router = APIRouter(prefix="/operations", tags=["operations"], dependencies=[Depends(current_administrator)])


class BlockedDossier(BaseModel):
    dossier_code: str
    step_id: str
    step_name: str
    waiting_since: datetime
    summary: str


class BlockedSystem(BaseModel):
    system: str
    dossiers: list[BlockedDossier]


class PortalDifference(BaseModel):
    dossier_code: str
    ours: int
    portal: int | None


class Reconciliation(BaseModel):
    checked: int
    in_sync: int
    differences: list[PortalDifference]


@router.get("/blocked")
def blocked_dossiers(
    session: SessionDep, waiting_longer_than_seconds: Annotated[int, Query(ge=0, le=86_400 * 30)] = 30
) -> list[BlockedSystem]:
    """Dossiers waiting on each external system for longer than the threshold. They resume by themselves
    when the system recovers: the calls are retried with backoff, and a dossier waits, never fails."""
    rows = dossiers.waiting_on_systems(
        session, started_before=utcnow() - timedelta(seconds=waiting_longer_than_seconds)
    )
    grouped: dict[str, list[BlockedDossier]] = defaultdict(list)
    for row in rows:
        since = as_utc(row.started_at)
        grouped[row.system or ""].append(
            BlockedDossier(
                dossier_code=row.dossier_code,
                step_id=row.step_id,
                step_name=row.name,
                waiting_since=since,
                summary=f"waiting for {row.system} since {since:%Y-%m-%d %H:%M:%S} UTC",
            )
        )
    return [BlockedSystem(system=system, dossiers=items) for system, items in sorted(grouped.items())]


def _recently_changed(
    session: Session, updated_within_hours: int, limit: int, procedure_code: str | None = None
) -> dict[str, int]:
    """Code → status of the dossiers changed this recently, newest first (what the reconciliations look at)."""
    since = utcnow() - timedelta(hours=updated_within_hours)
    query = select(DossierRow.code, DossierRow.status).where(col(DossierRow.updated_at) >= since)
    if procedure_code is not None:
        query = query.where(DossierRow.procedure_code == procedure_code)
    rows = session.exec(query.order_by(col(DossierRow.updated_at).desc()).limit(limit)).all()
    release(session)
    return dict(rows)


@router.get("/portal-reconciliation")
async def reconcile_with_portal(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    updated_within_hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    procedure_code: ProcedureFilter = None,
) -> Reconciliation:
    """Compare each recently changed dossier's status with what the national portal last heard.

    A difference while a dossier is moving is normal (pushes trail the read model by design); one that
    stays after the portal is reachable again is a defect to report."""

    ours = await run_in_threadpool(_recently_changed, session, updated_within_hours, limit, procedure_code)
    http: httpx.AsyncClient = request.app.state.http
    base = settings.portal_base_url.rstrip("/")
    gate = asyncio.Semaphore(16)

    async def portal_status(code: str) -> int | None:
        async with gate:
            try:
                response = await http.get(f"{base}/dossiers/{code}")
            except httpx.HTTPError as exc:
                raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"portal unreachable: {exc}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"portal answered {response.status_code}")
        return response.json().get("current")

    codes = list(ours)
    theirs = await asyncio.gather(*(portal_status(code) for code in codes))
    differences = [
        PortalDifference(dossier_code=code, ours=ours[code], portal=portal)
        for code, portal in zip(codes, theirs, strict=True)
        if portal != ours[code]
    ]
    return Reconciliation(checked=len(codes), in_sync=len(codes) - len(differences), differences=differences)


class WorkflowDifference(BaseModel):
    dossier_code: str
    field: str
    workflow: Any
    read_model: Any


class WorkflowReconciliation(BaseModel):
    checked: int
    in_sync: int
    differences: list[WorkflowDifference]


def _read_model_facts(row: DossierRow) -> dict[str, Any]:
    return {
        "status": row.status,
        "active_steps": sorted(s["step_id"] for s in row.active_steps),
        "appointment_date": row.appointment_date.isoformat(),
        "outcome": row.outcome,
    }


def _workflow_facts(detail: DossierLiveDetail) -> dict[str, Any]:
    state = detail.state
    return {
        "status": int(state.status),
        "active_steps": sorted(s.step_id for s in state.active_steps),
        "appointment_date": state.appointment_date.isoformat(),
        "outcome": state.outcome,
    }


@router.get("/workflow-reconciliation")
async def reconcile_with_workflows(
    session: SessionDep,
    client: TemporalDep,
    updated_within_hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    settle_seconds: Annotated[float, Query(ge=0, le=60)] = 3.0,
    procedure_code: ProcedureFilter = None,
) -> WorkflowReconciliation:
    """Compare each recently changed dossier in the read model with its workflow (a query): status, steps
    under way, appointment date and outcome. The read model trails the workflow by design, so a difference
    is looked at again after `settle_seconds`; one that stays is reported.

    A workflow that cannot answer (its task failing or timing out, no worker polling) is reported as a
    difference of its own: one dossier never hides the rest of the report."""

    def rows(codes: list[str]) -> dict[str, DossierRow]:
        found = {row.code: row for row in session.exec(select(DossierRow).where(col(DossierRow.code).in_(codes)))}
        release(session)
        return found

    gate = asyncio.Semaphore(16)

    async def workflow(code: str) -> dict[str, Any] | str | None:
        """The workflow's facts; None when there is no workflow; why, when it did not answer."""
        async with gate:
            try:
                detail = await client.get_workflow_handle(code).query(
                    DETAIL_QUERY, result_type=DossierLiveDetail, rpc_timeout=WORKFLOW_QUERY_TIMEOUT
                )
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    return None
                if exc.status == RPCStatusCode.UNAVAILABLE:
                    raise HTTPException(
                        status.HTTP_503_SERVICE_UNAVAILABLE, f"workflow engine: {exc.message}"
                    ) from None
                # Temporal refuses a query at once while the workflow's task keeps failing (a worker killed
                # mid-task three times, say) and gives up when no worker answers in time.
                return f"unanswered ({exc.status.name if exc.status else 'error'}): {exc.message}"
            except WorkflowQueryFailedError as exc:
                return f"unanswered (the query failed): {exc}"
            return _workflow_facts(detail)

    async def compare(codes: list[str]) -> list[WorkflowDifference]:
        ours = await run_in_threadpool(rows, codes)
        theirs = await asyncio.gather(*(workflow(code) for code in codes))
        differences = []
        for code, live in zip(codes, theirs, strict=True):
            stored = _read_model_facts(ours[code])
            if live is None:
                differences.append(WorkflowDifference(dossier_code=code, field="workflow", workflow=None,
                                                      read_model="registered"))  # fmt: skip
                continue
            if isinstance(live, str):  # it did not answer
                differences.append(WorkflowDifference(dossier_code=code, field="workflow", workflow=live,
                                                      read_model=stored["status"]))  # fmt: skip
                continue
            differences += [
                WorkflowDifference(dossier_code=code, field=name, workflow=live[name], read_model=stored[name])
                for name in stored
                if stored[name] != live[name]
            ]
        return differences

    codes = list(await run_in_threadpool(_recently_changed, session, updated_within_hours, limit, procedure_code))
    differences = await compare(codes)
    if differences and settle_seconds:
        await asyncio.sleep(settle_seconds)
        differences = await compare(sorted({d.dossier_code for d in differences}))
    return WorkflowReconciliation(
        checked=len(codes), in_sync=len(codes) - len({d.dossier_code for d in differences}), differences=differences
    )
