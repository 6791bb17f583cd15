"""The motcua worker: runs dossier workflows and the activities that reach the read model and agencies."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import httpx
from temporalio.worker import Worker

from activities.agencies import AgencyActivities
from activities.legal_clock import LegalClockActivities
from activities.read_model import ReadModelActivities
from activities.result_store import ResultStoreClient
from activities.results import ResultActivities
from domain.settings import Settings, get_settings
from domain.temporal import connect, ensure_search_attributes
from domain.working_calendar import WorkingCalendar, parse_cutoff
from readmodel.db import engine_for, init_db
from results.issuing import ResultIssuer
from results.render import ResultRenderer
from results.signing import SigningAuthority
from workflows.dossier import DossierWorkflow

log = logging.getLogger("motcua.worker")


async def run_worker(settings: Settings) -> None:
    client = await connect(settings)
    await ensure_search_attributes(client, settings.temporal_namespace)
    engine = engine_for(settings.sqlalchemy_url)
    init_db(engine)
    timeout = httpx.Timeout(settings.agency_call_timeout_seconds)
    headers = {"Authorization": f"Bearer {settings.agency_api_token}"} if settings.agency_api_token else {}
    async with httpx.AsyncClient(timeout=timeout, headers=headers) as http:
        calendar = WorkingCalendar(settings.timezone, parse_cutoff(settings.receipt_cutoff))
        read_model = ReadModelActivities(engine, calendar)
        legal_clock = LegalClockActivities(engine, calendar)
        agencies = AgencyActivities(
            http,
            portal_base_url=settings.portal_base_url,
            agency_systems_base_url=settings.agency_systems_base_url,
        )
        results = ResultActivities(
            engine,
            ResultIssuer(
                engine,
                SigningAuthority.from_settings(settings),
                ResultRenderer(settings.data_dir / "fonts"),
                public_base_url=settings.public_base_url,
            ),
            ResultStoreClient(http, settings.result_store_base_url),
        )
        with ThreadPoolExecutor(max_workers=64, thread_name_prefix="read-model") as executor:
            worker = Worker(
                client,
                task_queue=settings.task_queue,
                workflows=[DossierWorkflow],
                activities=[
                    read_model.record_transitions,
                    read_model.register_child_dossier,
                    legal_clock.plan_step,
                    legal_clock.shift_for_suspension,
                    legal_clock.appointment_deadline,
                    agencies.call_system,
                    agencies.push_portal_status,
                    results.issue_results,
                ],
                activity_executor=executor,
                max_concurrent_activities=64,
            )
            log.info(
                "worker polling task queue %r on %s", settings.task_queue, settings.temporal_address or "dev server"
            )
            await worker.run()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        asyncio.run(run_worker(get_settings()))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
