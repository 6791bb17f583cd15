"""An operator watches the stack: health for the load balancer, Prometheus metrics of the API, the worker and the
simulator, scraped by a real Prometheus that answers a PromQL query about a dossier the test drove."""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import httpx
import pytest
import yaml

from devstack.stack import free_port
from infrastructure.settings import PROJECT_ROOT
from tests.support import deploy, officer, submit, three_step_procedure, unique_codes, wait_for_step


def _samples(text: str, name: str) -> dict[str, float]:
    """The samples of metric `name` in a Prometheus exposition, by their label sets."""
    found = {}
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}(\{{.*\}})? (\S+)$", line)
        if match:
            found[match.group(1) or ""] = float(match.group(2))
    return found


def test_health_says_live_and_ready_with_each_dependency(api):
    assert api.get("/health/live").json() == {"status": "ok"}
    ready = api.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"read_model": "ok", "temporal": "ok", "worker": "ok"}


def test_metrics_count_requests_by_route_and_dossiers_by_status(api, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    receipt = submit(api, code)
    wait_for_step(api, receipt["dossier_code"], "reception")
    api.get(f"/dossiers/{receipt['dossier_code']}")

    exposition = httpx.get(f"{stack.config.api_url}/metrics", timeout=10).text
    polls = _samples(exposition, "http_requests_total")
    assert any('handler="/dossiers/{code}"' in labels and 'status="2xx"' in labels for labels in polls), polls
    dossiers = _samples(exposition, "motcua_dossiers")
    assert sum(dossiers.values()) >= 1
    waiting = _samples(exposition, "motcua_steps_waiting")
    assert waiting.get('{awaiting="officer",system=""}', 0) >= 1

    # The inbox shows it: the business gauge and the read model agree.
    inbox = api.get("/inbox", headers=officer("reception", unit)).json()
    assert any(item["dossier_code"] == receipt["dossier_code"] for item in inbox)


def test_the_worker_and_the_simulator_serve_their_own_metrics(api, stack, simulator):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    wait_for_step(api, submit(api, code)["dossier_code"], "reception")
    worker = httpx.get(f"http://127.0.0.1:{stack.metrics_ports['worker']}/metrics", timeout=10).text
    assert _samples(worker, "temporal_workflow_task_execution_latency_count") or "temporal_" in worker
    assert any(value > 0 for value in _samples(worker, "temporal_request").values()), worker[:2000]
    assert "http_requests_total" in simulator.get("/metrics").text
    # How far behind the national portal is: each acknowledged status push is measured (the submission's, here).
    lag = _samples(worker, "motcua_portal_sync_lag_seconds_bucket")
    assert any('le="+Inf"' in labels and value >= 1 for labels, value in lag.items()), lag
    assert any('le="0.25"' in labels for labels in lag) and any('le="3600"' in labels for labels in lag), lag


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="Debian's prometheus is not installed (make prometheus)")
def test_a_real_prometheus_scrapes_the_stack_and_finds_the_dossier(api, stack, tmp_path):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    wait_for_step(api, submit(api, code)["dossier_code"], "reception")

    port = free_port()
    targets = {
        "motcua-api": stack.config.api_url.removeprefix("http://"),
        "motcua-worker": f"127.0.0.1:{stack.metrics_ports['worker']}",
        "simulator": stack.config.simulator_url.removeprefix("http://"),
    }
    config = {
        "global": {"scrape_interval": "1s"},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target]}]} for job, target in targets.items()
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    server = subprocess.Popen(
        ["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        query = f"http://127.0.0.1:{port}/api/v1/query"
        deadline = time.monotonic() + 60
        answers: dict[str, list] = {}
        while time.monotonic() < deadline:
            try:
                for promql in ('up{job=~"motcua-api|motcua-worker|simulator"} == 1',
                               'motcua_steps_waiting{awaiting="officer"} >= 1',
                               'http_requests_total{job="motcua-api",handler="/dossiers",method="POST"}'):  # fmt: skip
                    answers[promql] = httpx.get(query, params={"query": promql}, timeout=5).json()["data"]["result"]
            except httpx.HTTPError:
                pass
            if len(answers) == 3 and len(next(iter(answers.values()))) == 3 and all(answers.values()):
                break
            time.sleep(1)
        assert {
            r["metric"]["job"] for r in answers.get('up{job=~"motcua-api|motcua-worker|simulator"} == 1', [])
        } == set(targets)
        assert answers['motcua_steps_waiting{awaiting="officer"} >= 1'], answers
        assert answers['http_requests_total{job="motcua-api",handler="/dossiers",method="POST"}'], answers
    finally:
        server.terminate()
        server.wait(timeout=30)
