"""The whole HTTP API fuzzed from its own OpenAPI document: no 5xx, no answer that breaks its own schema."""

from __future__ import annotations

import subprocess
import sys

from domain.settings import PROJECT_ROOT


def test_fuzzing_the_api_finds_no_server_error_and_no_schema_breach(stack):
    run = subprocess.run(
        [
            sys.executable, "-m", "schemathesis.cli", "run", f"{stack.config.api_url}/openapi.json",
            "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance",
            "--max-examples", "3",
            "--seed", "20260701",
            "-H", "X-Dev-Officer: fuzz", "-H", "X-Dev-Role: reception", "-H", "X-Dev-Unit: H29.50.05.13",
        ],
        capture_output=True, text=True, timeout=600, cwd=PROJECT_ROOT,
    )  # fmt: skip
    summary = run.stdout[-3000:]
    assert run.returncode == 0, summary
    assert "generated" in summary and "passed" in summary, summary
