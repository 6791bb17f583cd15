"""Citizens poll their dossier's status over kept-alive connections; an API served by several processes must
answer them as promptly as one process does.

uvicorn's `--workers` hands its processes a listening socket on which asyncio leaves Nagle's algorithm on, and
each small response then waited for the client's delayed acknowledgement (~40 ms); api/serving.py turns it off.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time

import httpx

from devstack.__main__ import default_api_processes
from devstack.stack import free_port
from infrastructure.settings import PROJECT_ROOT
from tests.support import deploy, submit, three_step_procedure, unique_codes


def test_polling_a_kept_alive_connection_is_prompt_with_two_api_processes(api, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    receipt = submit(api, code)
    url = stack.start_api("api-two-processes", port=free_port(), processes=2)
    try:
        with httpx.Client(base_url=url, timeout=10) as citizen:
            headers = {"X-Lookup-Secret": receipt["lookup_secret"]}
            took = []
            for _ in range(30):
                started = time.perf_counter()
                response = citizen.get(f"/dossiers/{receipt['dossier_code']}", headers=headers)
                took.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
                assert response.json()["dossier_code"] == receipt["dossier_code"]
    finally:
        stack.kill("api-two-processes", signal.SIGTERM)
    # One poll does well under 10 ms of work; the delayed acknowledgement alone costs ~40 ms.
    assert statistics.median(took[1:]) < 20, [round(t, 1) for t in took]


def test_make_run_starts_one_api_process_per_core_and_refuses_none():
    cores = len(os.sched_getaffinity(0))
    assert default_api_processes() == max(1, min(4, cores))
    refused = subprocess.run(
        [sys.executable, "-m", "devstack", "run", "--api-processes", "0"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "--api-processes: must be 1 or more, not 0" in refused.stderr
