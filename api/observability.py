"""What an operator watches: Prometheus metrics of the API (requests per route and status, and the dossiers' state
read from the read model at each scrape) and health endpoints a load balancer and an orchestrator can ask."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator
from sqlalchemy import text
from sqlalchemy.engine import Engine
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, GetSystemInfoRequest

from api.deps import get_temporal
from infrastructure.settings import get_settings

MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR" in os.environ
# How long readiness waits for each dependency: a probe answers quickly or says what is missing.
READINESS_TIMEOUT_SECONDS = 2.0


class DossierCollector(Collector):
    """The dossiers' state, read from the read model when Prometheus scrapes (one statement a family)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        engine: Engine | None = getattr(self.app.state, "engine", None)
        if engine is None:  # not started yet
            return
        with engine.connect() as connection:
            by_status = connection.execute(text("SELECT status, count(*) FROM dossier GROUP BY status")).all()
            steps = connection.execute(
                text(
                    "SELECT awaiting, coalesce(system, ''), sum(CASE WHEN warning THEN 1 ELSE 0 END),"
                    " sum(CASE WHEN overdue THEN 1 ELSE 0 END), count(*)"
                    " FROM dossier_active_step GROUP BY awaiting, coalesce(system, '')"
                )
            ).all()
        dossiers = GaugeMetricFamily(
            "motcua_dossiers", "Dossiers in the read model by portal status", labels=["status"]
        )
        for status, count in by_status:
            dossiers.add_metric([str(status)], count)
        yield dossiers
        waiting = GaugeMetricFamily(
            "motcua_steps_waiting", "Steps under way by what they wait for (officer, applicant, system)",
            labels=["awaiting", "system"],
        )  # fmt: skip
        warned = GaugeMetricFamily(
            "motcua_steps_warned", "Steps under way past their warning point", labels=["awaiting"]
        )
        overdue = GaugeMetricFamily("motcua_steps_overdue", "Steps under way past their deadline", labels=["awaiting"])
        warned_by: dict[str, int] = {}
        overdue_by: dict[str, int] = {}
        for awaiting, system, warned_count, overdue_count, count in steps:
            waiting.add_metric([awaiting, system], count)
            warned_by[awaiting] = warned_by.get(awaiting, 0) + int(warned_count or 0)
            overdue_by[awaiting] = overdue_by.get(awaiting, 0) + int(overdue_count or 0)
        for awaiting, count in warned_by.items():
            warned.add_metric([awaiting], count)
        for awaiting, count in overdue_by.items():
            overdue.add_metric([awaiting], count)
        yield from (waiting, warned, overdue)


def install(app: FastAPI) -> None:
    """Request metrics on every route, `/metrics`, `/health/live` and `/health/ready`."""
    Instrumentator(excluded_handlers=["/metrics", "/health.*"]).instrument(app)
    dossiers = DossierCollector(app)
    if MULTIPROCESS:
        # Several processes serve one port (uvicorn's --workers): each scrape gathers all of theirs.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    registry.register(dossiers)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health/live", tags=["operations"])
    def live() -> dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @app.get("/health/ready", tags=["operations"])
    async def ready(request: Request) -> JSONResponse:
        """Ready to serve: the read model answers, Temporal answers, and a worker polls the task queue (503 and
        what is missing otherwise)."""
        checks = {
            "read_model": await asyncio.to_thread(_read_model_answers, request.app.state.engine),
            **await _temporal_checks(request),
        }
        ready = all(check == "ok" for check in checks.values())
        return JSONResponse({"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503)


def _read_model_answers(engine: Engine) -> str:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # noqa: BLE001  (the probe reports any failure)
        return f"unavailable: {type(exc).__name__}"


async def _temporal_checks(request: Request) -> dict[str, Any]:
    settings = get_settings()
    try:
        client = await asyncio.wait_for(get_temporal(request, settings), READINESS_TIMEOUT_SECONDS)
        await client.workflow_service.get_system_info(GetSystemInfoRequest(), timeout=_timeout())
        described = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=settings.temporal_namespace,
                task_queue=TaskQueue(name=settings.task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            ),
            timeout=_timeout(),
        )
    except Exception as exc:  # noqa: BLE001
        return {"temporal": f"unavailable: {type(exc).__name__}", "worker": "unknown"}
    return {"temporal": "ok", "worker": "ok" if described.pollers else "no worker polls the task queue"}


def _timeout() -> timedelta:
    return timedelta(seconds=READINESS_TIMEOUT_SECONDS)
