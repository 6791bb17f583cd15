"""Faults of the cluster topology on a batch of dossiers: a worker process, Temporal's history service, PostgreSQL
and an API process each fail under load. Each scenario ends with the batch's proof (every dossier completed once, no
effect twice at any external system, the portal heard every status once and in order, workflows agree with the read
model) and checks the fault really struck while the batch was under way."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError

from tests.batch import Batch, run_scenario, under_way
from tests.support import with_temporal

SIZE = int(os.environ.get("MOTCUA_CHAOS_DOSSIERS", "6"))
pytestmark = [pytest.mark.cluster, pytest.mark.cluster_only]


def _task_workers(stack, batch: Batch) -> list[list[str]]:
    """For each dossier of the batch, the identities of the workers that ran its workflow tasks, in order."""

    async def identities(client: Client) -> list[list[str]]:
        found = []
        for receipt in list(batch.receipts.values()):
            try:
                history = await client.get_workflow_handle(receipt["dossier_code"]).fetch_history()
            except RPCError:  # registered, its workflow not started yet
                continue
            found.append(
                [
                    event.workflow_task_started_event_attributes.identity
                    for event in history.events
                    if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
                ]
            )
        return found

    return with_temporal(stack, identities)


def test_one_worker_process_killed_while_the_other_goes_on(api, simulator, stack):
    struck = threading.Event()
    killed = f"{stack.processes['worker-1'].pid}@"  # the SDK's worker identity is pid@host

    def ran_on_worker_1(batch: Batch) -> bool:
        return any(identity.startswith(killed) for ids in _task_workers(stack, batch) for identity in ids)

    def disturb(done: threading.Event, batch: Batch) -> None:
        if not under_way(done, batch):
            return
        while not ran_on_worker_1(batch):  # killed with dossiers in hand, or the kill proves nothing
            if done.wait(0.1):
                return
        stack.kill("worker-1", signal.SIGKILL)
        struck.set()

    try:
        batch = run_scenario(api, simulator, stack, SIZE, disturb)
    finally:
        if "worker-1" not in stack.processes:
            stack.start_worker("worker-1")
    assert struck.is_set()
    # Dossiers worker-1 had in hand when it died were carried to the end by worker-2.
    assert any(
        any(identity.startswith(killed) for identity in ids) and not ids[-1].startswith(killed)
        for ids in _task_workers(stack, batch)
    )


def test_the_history_service_killed_and_restarted(api, simulator, stack):
    struck = threading.Event()

    def disturb(done: threading.Event, batch: Batch) -> None:
        if under_way(done, batch):
            stack.kill("temporal-history", signal.SIGKILL)
            struck.set()
            time.sleep(2)
            stack.start_temporal_service("history")

    run_scenario(api, simulator, stack, SIZE, disturb)
    assert struck.is_set()
    assert "temporal-history" in stack.processes and not stack.dead()


def test_postgresql_crashes_and_restarts_under_load(api, simulator, stack):
    """An immediate shutdown (SIGQUIT) is PostgreSQL's crash: no checkpoint, recovery from the write-ahead log at
    the next start. Temporal's services, the workers and the API processes all lose their connections at once."""
    if stack.postgres is None:
        pytest.skip("the cluster runs on an existing PostgreSQL (TEST_DATABASE_URL), which the suite does not crash")
    struck = threading.Event()

    def disturb(done: threading.Event, batch: Batch) -> None:
        if under_way(done, batch):
            stack.kill("postgres", signal.SIGQUIT)
            struck.set()
            time.sleep(2)
            stack.restart_postgres()

    run_scenario(api, simulator, stack, SIZE, disturb)
    assert struck.is_set()
    assert not stack.dead(), f"processes that did not survive the database's restart: {stack.dead()}"
    assert "redo done" in stack.log_path("postgres").read_text()  # it recovered from its log, as after a crash


def test_an_api_process_killed_with_requests_in_flight(api, simulator, stack):
    """Clients spread over both API processes; one dies under them and they retry on the other (same
    Idempotency-Key, same decision). It is started again afterwards, and answers."""
    struck = threading.Event()

    def disturb(done: threading.Event, batch: Batch) -> None:
        if under_way(done, batch):
            stack.kill("api-2", signal.SIGKILL)
            struck.set()

    try:
        run_scenario(api, simulator, stack, SIZE, disturb, api_urls=stack.config.api_urls)
    finally:
        if "api-2" not in stack.processes:
            stack.start_api("api-2", stack.config.api_ports[1])
    assert struck.is_set()
    assert httpx.get(f"{stack.config.api_urls[1]}/health", timeout=10).status_code == 200
