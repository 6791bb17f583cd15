"""Rate limits against what an attacker repeats, counted in one store (Redis) by every API process: guessing a
dossier's lookup secret, signing in, submitting, prefilling. A citizen polling with the right secret is never limited.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import httpx
import pytest

from devstack.stack import free_port
from tests.support import APPLICANT, VALID_FORM, deploy, three_step_procedure, unique_codes

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="Debian's redis-server (make redis)")

LIMITS = {
    "RATE_LIMITS_ENABLED": "true",
    "RATE_LIMIT_LOOKUP_FAILURES_PER_CLIENT": "4/minute",
    "RATE_LIMIT_LOOKUP_FAILURES_PER_DOSSIER": "100/hour",
    "RATE_LIMIT_SIGN_IN": "3/minute",
    "RATE_LIMIT_SUBMISSIONS": "3/minute",
    "RATE_LIMIT_PREFILL": "100/minute",
}


@pytest.fixture(scope="module")
def limited(stack, tmp_path_factory):
    """Two API processes with low limits, sharing a Redis of the test's own."""
    port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path_factory.mktemp("redis"))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    env = {**LIMITS, "RATE_LIMIT_STORAGE_URL": f"redis://127.0.0.1:{port}"}
    urls = [stack.start_api(f"api-limited-{n}", free_port(), env=env) for n in (1, 2)]
    try:
        yield urls
    finally:
        for n in (1, 2):
            stack.kill(f"api-limited-{n}")
        redis.terminate()
        redis.wait(timeout=10)


def _submit(url: str, code: str) -> httpx.Response:
    body = {"procedure_code": code, "applicant": APPLICANT, "form": VALID_FORM}
    return httpx.post(f"{url}/dossiers", json=body, timeout=30)


def test_guessing_a_lookup_secret_is_stopped_across_processes_while_polls_go_on(api, limited):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    mine = _submit(limited[0], code).json()
    target = _submit(limited[1], code).json()["dossier_code"]
    guesses = [httpx.get(f"{limited[n % 2]}/dossiers/{target}", headers={"X-Lookup-Secret": f"guess-{n}"}, timeout=10)
               for n in range(6)]  # fmt: skip
    assert [g.status_code for g in guesses] == [404, 404, 404, 404, 429, 429]
    assert 1 <= int(guesses[-1].headers["Retry-After"]) <= 60
    # The applicant's own polls never count: many of them, on the dossier of their receipt... from the same address
    # the guesses came from, which is now refused any lookup by secret.
    blocked = httpx.get(f"{limited[0]}/dossiers/{mine['dossier_code']}",
                        headers={"X-Lookup-Secret": mine["lookup_secret"]}, timeout=10)  # fmt: skip
    assert blocked.status_code == 429


def test_polls_with_the_right_secret_are_never_limited(api, stack):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    url = stack.start_api("api-polled", free_port(), env={**LIMITS})
    try:
        receipt = _submit(url, code).json()
        polls = [httpx.get(f"{url}/dossiers/{receipt['dossier_code']}",
                           headers={"X-Lookup-Secret": receipt["lookup_secret"]}, timeout=10).status_code
                 for _ in range(30)]  # fmt: skip
        assert set(polls) == {200}
    finally:
        stack.kill("api-polled")


def test_submissions_from_one_address_are_limited_across_processes(api, limited):
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    time.sleep(0.1)
    answers = [_submit(limited[n % 2], code) for n in range(5)]
    statuses = [a.status_code for a in answers]
    # The first test's two submissions came from this address within the minute too.
    assert statuses.count(429) >= 2 and statuses[-1] == 429, statuses
    assert "Retry-After" in answers[-1].headers


def test_signing_in_is_limited_per_client(limited):
    with httpx.Client(base_url=limited[0], timeout=10) as browser:
        answers = []
        for _ in range(5):
            token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/sign-in").text).group(1)
            answers.append(browser.post("/sign-in", data={"csrf_token": token, "kind": "citizen",
                                                          "citizen_id": "079123456789"}).status_code)  # fmt: skip
    assert answers[:3] == [303, 303, 303] and answers[3:] == [429, 429], answers
