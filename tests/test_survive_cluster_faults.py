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

from tests.batch import Batch, run_scenario, under_way

SIZE = int(os.environ.get("MOTCUA_CHAOS_DOSSIERS", "6"))
pytestmark = [pytest.mark.cluster, pytest.mark.cluster_only]


def _completed(batch: Batch, stack) -> int:
    """Dossiers of the batch the read model holds as completed."""
    from sqlalchemy import text

    from readmodel.db import engine_for

    with engine_for(stack.config.sqlalchemy_url).connect() as connection:
        return connection.execute(
            text("SELECT count(*) FROM dossier WHERE procedure_code = :code AND completed_at IS NOT NULL"),
            {"code": batch.code},
        ).scalar_one()


def test_one_worker_process_killed_while_the_other_goes_on(api, simulator, stack):
    struck = threading.Event()

    def disturb(done: threading.Event, batch: Batch) -> None:
        if under_way(done, batch):
            stack.kill("worker-1", signal.SIGKILL)
            struck.set()

    try:
        batch = run_scenario(api, simulator, stack, SIZE, disturb)
    finally:
        if "worker-1" not in stack.processes:
            stack.start_worker("worker-1")
    assert struck.is_set()
    assert _completed(batch, stack) == SIZE  # worker-2 alone finished what worker-1 had started


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
