"""An operator follows one request through the processes: the API answers with its request id, and the worker's log
names the same id when the officer's decision reaches the dossier's workflow."""

from __future__ import annotations

import json
import time
import uuid

import httpx

from devstack.stack import free_port
from tests.support import deploy, officer, submit, three_step_procedure, unique_codes, wait_for_step


def _wait_for_line(path, needle: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in path.read_text(errors="replace").splitlines():
            if needle in line:
                return line
        time.sleep(0.2)
    raise AssertionError(f"{needle} never appeared in {path}")


def _decided_with_request_id(api) -> tuple[str, str, httpx.Response]:
    """A fresh dossier's reception approved by a request of a known id: the dossier, the id and the answer."""
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    dossier = submit(api, code)["dossier_code"]
    wait_for_step(api, dossier, "reception")
    request = f"decide-{uuid.uuid4().hex[:12]}"
    answer = api.post(
        f"/dossiers/{dossier}/decisions",
        json={"step_id": "reception", "decision": "approve"},
        headers={**officer("reception", unit), "X-Request-ID": request},
    )
    assert answer.status_code == 200, answer.text
    return dossier, request, answer


def test_an_officers_decision_is_found_by_its_request_id_in_the_worker_log(api, stack):
    dossier, request, answer = _decided_with_request_id(api)
    assert answer.headers["x-request-id"] == request
    line = _wait_for_line(stack.log_path("worker"), request)
    assert dossier in line  # the worker's line names the dossier's workflow too


def test_a_request_id_that_is_not_a_plain_token_is_replaced(api):
    answer = api.get("/health/live", headers={"X-Request-ID": "two words"})
    assert answer.headers["x-request-id"] != "two words"
    assert len(answer.headers["x-request-id"]) == 32  # one of ours
    assert api.get("/health/live").headers["x-request-id"]  # and every answer has one


def test_logs_can_be_json_lines_each_naming_its_request(stack):
    stack.start_api("api-json-logs", free_port(), env={"LOG_FORMAT": "json"})
    try:
        lines = [line for line in stack.log_path("api-json-logs").read_text().splitlines() if line.startswith("{")]
        assert lines, "no JSON log line"
        for line in lines:
            record = json.loads(line)
            assert {"time", "level", "logger", "message", "request_id"} <= record.keys(), record
    finally:
        stack.kill("api-json-logs")


def test_what_a_decision_leads_to_carries_its_request_id_to_the_portal(api, simulator):
    """The step that takes the decision publishes what follows (a later workflow task, another activity): the status
    push to the national portal names the officer's request, so both sides' logs can be matched."""
    dossier, request, _ = _decided_with_request_id(api)

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        statuses = simulator.get(f"/portal/dossiers/{dossier}").json()["statuses"]
        if any(s["request_id"] == request for s in statuses):
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"no portal push named {request}: {statuses}")
    submitted = statuses[0]
    assert submitted["request_id"] != request  # the submission's push names the submission's request
