"""Fault injection on a batch of dossiers: each scenario ends by proving every dossier reached the state it
should, none twice, none lost — comparing the workflows, the read model and the simulator's record of calls.

`make test` runs a short batch per scenario; `make chaos` runs them larger (MOTCUA_CHAOS_DOSSIERS)."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable

import pytest

from devstack.stack import free_port
from tests.batch import Batch, run_scenario, under_way

SIZE = int(os.environ.get("MOTCUA_CHAOS_DOSSIERS", "4"))
chaos = pytest.mark.chaos


def _scenario(api, simulator, stack, disturb: Callable[[threading.Event, Batch], None], *, api_urls=None) -> Batch:
    return run_scenario(api, simulator, stack, SIZE, disturb, api_urls=api_urls)


@chaos
def test_worker_killed_at_random_moments(api, simulator, stack):
    rng = random.Random(7)

    def disturb(done: threading.Event, batch: Batch) -> None:
        # A few kills at random moments; each restart costs a worker start and Temporal's task timeouts.
        for _ in range(max(3, SIZE // 5)):
            if done.wait(rng.uniform(1.0, 4.0)):
                return
            stack.kill("worker", signal.SIGKILL)
            time.sleep(rng.uniform(0.2, 1.5))
            stack.start_worker()

    batch = _scenario(api, simulator, stack, disturb)
    assert batch.duplicates_refused >= SIZE


@chaos
def test_temporal_server_stopped_and_restarted_mid_run(api, simulator, stack):
    def disturb(done: threading.Event, batch: Batch) -> None:
        if done.wait(3):
            return
        stack.kill("temporal", signal.SIGTERM)
        time.sleep(2)
        stack.start_temporal()  # the same SQLite file

    _scenario(api, simulator, stack, disturb)


@chaos
def test_unreliable_systems_and_an_outage(api, simulator, stack):
    def disturb(done: threading.Event, batch: Batch) -> None:
        for system in ("civil_status", "portal", "result_store"):
            simulator.put(f"/_sim/faults/{system}", json={"error_rate": 0.3, "latency_ms": 300})
        if done.wait(2):
            return
        simulator.put("/_sim/faults/civil_status", json={"down_for_seconds": 6})

    _scenario(api, simulator, stack, disturb)


@chaos
def test_api_process_killed_with_requests_in_flight(api, simulator, stack):
    """Clients of a second API process see it die under them; they retry (same Idempotency-Key, same decision)
    against the other one, and nothing is lost or done twice."""
    second = stack.start_api("api-2", free_port())

    def disturb(done: threading.Event, batch: Batch) -> None:
        # A fixed delay could outlast a fast batch, and then nothing was killed.
        if under_way(done, batch):
            stack.kill("api-2", signal.SIGKILL)

    _scenario(api, simulator, stack, disturb, api_urls=[second, stack.config.api_url])
    assert "api-2" not in stack.processes
