"""The whole HTTP API fuzzed from its own OpenAPI document: no 5xx, no answer that breaks its own schema; then its
headers and cookies fuzzed too (the bearer header, the pages' cookies, lookup secrets and CSRF tokens: see
tests/fuzz_hooks.py), as anyone.

The fuzzer deploys, retires and changes calendars at random, so it gets a stack of its own. `make test` runs a few
cases per operation; `make chaos` many more (MOTCUA_FUZZ_EXAMPLES)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from devstack.stack import Stack, StackConfig, administrator_token, deploy_procedures, free_port
from infrastructure.settings import PROJECT_ROOT
from tests import fuzz_hooks

EXAMPLES = os.environ.get("MOTCUA_FUZZ_EXAMPLES", "3")


@pytest.fixture(scope="module")
def fuzz_stack() -> Iterator[Stack]:
    data_dir = PROJECT_ROOT / "test-artifacts" / "fuzz-stack"
    shutil.rmtree(data_dir, ignore_errors=True)
    stack = Stack(
        StackConfig(
            data_dir=data_dir,
            api_port=free_port(),
            simulator_port=free_port(),
            temporal_port=free_port(),
            temporal_ui=False,
        )
    )
    stack.start()
    try:
        deploy_procedures(stack.config.api_url, PROJECT_ROOT / "procedures", administrator_token(stack.config))
        yield stack
    finally:
        stack.stop()


def _schemathesis(stack: Stack, *args: str, env: dict[str, str] | None = None) -> str:
    run = subprocess.run(
        [
            sys.executable, "-m", "schemathesis.cli", "run", f"{stack.config.api_url}/openapi.json",
            "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance",
            "--seed", "20260701", *args,
        ],
        capture_output=True, text=True, timeout=3000, cwd=PROJECT_ROOT, env={**os.environ, **(env or {})},
    )  # fmt: skip
    summary = run.stdout[-3000:]
    print(summary)  # the counts (operations, cases, failures), shown with pytest -s
    assert run.returncode == 0, summary
    assert "generated" in summary and "passed" in summary, summary
    return summary


def test_fuzzing_the_api_finds_no_server_error_and_no_schema_breach(fuzz_stack):
    token = administrator_token(fuzz_stack.config)
    _schemathesis(fuzz_stack, "--max-examples", EXAMPLES, "-H", f"Authorization: Bearer {token}")


def test_fuzzing_headers_and_cookies_finds_no_server_error(fuzz_stack):
    # As anyone: the fuzzer sends its own Authorization header and cookies, beside the operations' parameters.
    log = PROJECT_ROOT / "test-artifacts" / "fuzz-headers.ndjson"
    log.unlink(missing_ok=True)
    _schemathesis(
        fuzz_stack,
        "--max-examples", EXAMPLES, "--phases", "examples,fuzzing", "--suppress-health-check", "all",
        env={"SCHEMATHESIS_HOOKS": "tests.fuzz_hooks", "MOTCUA_FUZZ_LOG": str(log)},
    )  # fmt: skip
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    forged = fuzz_hooks.TOKENS[0]
    assert any(call["headers"].get("Authorization") == f"Bearer {forged}" for call in calls)
    assert any("X-Lookup-Secret" in call["headers"] for call in calls)
    assert any("motcua_session" in call["cookies"] for call in calls)
    assert all(call["status"] < 500 for call in calls), [call for call in calls if call["status"] >= 500][:3]
