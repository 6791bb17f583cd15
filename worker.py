"""The motcua worker: runs dossier workflows and the activities that reach the read model and agencies."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import aiohttp
import uvloop
from sqlalchemy.engine import Engine
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.agencies import AgencyActivities, agency_session
from activities.legal_clock import LegalClockActivities
from activities.payments import PaymentActivities
from activities.publishing import PublishingActivities
from activities.read_model import ReadModelActivities
from activities.registry import RegistryActivities
from activities.result_store import ResultStoreClient
from activities.results import LetterActivities, ResultActivities
from domain.working_calendar import WorkingCalendar, parse_cutoff
from infrastructure.request_context import configure_logging
from infrastructure.settings import Settings, get_settings
from infrastructure.temporal import connect, ensure_search_attributes, metrics_runtime
from readmodel.db import engine_for
from readmodel.migrations_runner import SchemaNotAtHead
from readmodel.schema import init_db
from results.issuing import ResultIssuer
from results.render import ResultRenderer
from results.signing import SigningAuthority
from workflows.dossier import DossierWorkflow

log = logging.getLogger("motcua.worker")


@dataclass(frozen=True)
class AgencyEndpoints:
    portal: str
    agency_systems: str
    result_store: str
    # Where agencies that answer later send their answers (the API's /dossiers/{code}/agency-answers).
    answers: str = ""
    # The national payment platform, where motcua's public address is (for the platform's callbacks), and how often
    # an unpaid request's status is asked for.
    payment_platform: str = ""
    public: str = ""
    payment_status_check_seconds: float = 600.0


def dossier_activities(
    engine: Engine,
    calendar: WorkingCalendar,
    http: aiohttp.ClientSession,
    endpoints: AgencyEndpoints,
    issuer: ResultIssuer,
    *,
    portal_ride_along_seconds: float,
) -> list[Callable[..., Any]]:
    """Every activity a dossier workflow calls, old histories' included, built on the worker's dependencies."""
    read_model = ReadModelActivities(engine, calendar)
    legal_clock = LegalClockActivities(engine, calendar)
    agencies = AgencyActivities(
        http,
        portal_base_url=endpoints.portal,
        agency_systems_base_url=endpoints.agency_systems,
        answers_base_url=endpoints.answers,
    )
    publishing = PublishingActivities(read_model, agencies, ride_along_seconds=portal_ride_along_seconds)
    results = ResultActivities(engine, issuer, ResultStoreClient(http, endpoints.result_store))
    letters = LetterActivities(engine, issuer, ResultStoreClient(http, endpoints.result_store))
    registry = RegistryActivities(engine, calendar)
    payments = PaymentActivities(
        http,
        platform_base_url=endpoints.payment_platform,
        public_base_url=endpoints.public,
        status_check_seconds=endpoints.payment_status_check_seconds,
    )
    return [
        publishing.publish_transitions,
        read_model.record_transitions,
        read_model.register_child_dossier,
        legal_clock.plan_step,
        legal_clock.shift_for_suspension,
        legal_clock.appointment_deadline,
        agencies.call_system,
        agencies.push_portal_status,
        results.issue_results,
        letters.issue_letter,
        registry.officer_standing,
        payments.request_payment,
        payments.payment_status,
        payments.cancel_payment,
        payments.refund_payment,
    ]


async def run_worker(settings: Settings) -> None:
    # Service managers stop processes with SIGTERM: the worker then shuts down as on Ctrl-C (its run is cancelled, its
    # polls ended and its tasks handed back) instead of dying with them. A KeyboardInterrupt raised by the signal
    # instead would break out of the loop mid-step and leave the shutdown hanging.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    client = await connect(settings, runtime=metrics_runtime(settings))
    await ensure_search_attributes(client, settings.temporal_namespace)
    engine = engine_for(settings.sqlalchemy_url)
    init_db(engine, migrate_schema=settings.migrate_on_start)
    async with agency_session(settings.agency_call_timeout_seconds, settings.agency_api_token) as http:
        calendar = WorkingCalendar(settings.timezone, parse_cutoff(settings.receipt_cutoff))
        renderer = ResultRenderer(settings.data_dir / "fonts", processes=settings.document_processes)
        activities = dossier_activities(
            engine,
            calendar,
            http,
            AgencyEndpoints(
                portal=settings.portal_base_url,
                agency_systems=settings.agency_systems_base_url,
                result_store=settings.result_store_base_url,
                answers=f"{settings.public_base_url.rstrip('/')}/dossiers",
                payment_platform=settings.payment_platform_base_url,
                public=settings.public_base_url,
                payment_status_check_seconds=settings.payment_status_check_seconds,
            ),
            ResultIssuer(
                engine, SigningAuthority.from_settings(settings), renderer, public_base_url=settings.public_base_url
            ),
            portal_ride_along_seconds=settings.portal_ride_along_seconds,
        )
        with ThreadPoolExecutor(max_workers=64, thread_name_prefix="read-model") as executor:
            worker = Worker(
                client,
                task_queue=settings.task_queue,
                workflows=[] if settings.worker_tasks == "activities" else [DossierWorkflow],
                # Local activities run where their workflow runs: a workflows-only worker still has them.
                activities=activities,
                no_remote_activities=settings.worker_tasks == "workflows",
                activity_executor=executor,
                max_concurrent_activities=64,
                # The sandbox re-imports the workflow module for each new workflow and wraps every payload
                # the worker decodes; the suite runs with it on, so a non-deterministic call fails a test.
                workflow_runner=SandboxedWorkflowRunner() if settings.workflow_sandbox else UnsandboxedWorkflowRunner(),
            )
            log.info(
                "worker polling task queue %r for %s on %s",
                settings.task_queue,
                settings.worker_tasks,
                settings.temporal_address or "dev server",
            )
            try:
                await worker.run()
            finally:
                renderer.close()


def main() -> None:
    configure_logging(get_settings().log_format)
    try:
        # uvloop: the worker's own loop carries the portal pushes, agency calls and Temporal's polls.
        uvloop.run(run_worker(get_settings()))
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    except SchemaNotAtHead as refused:
        sys.exit(f"worker not started: {refused}")


if __name__ == "__main__":
    main()
