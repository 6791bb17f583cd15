"""The whole HTTP API fuzzed from its own OpenAPI document: no 5xx, no answer that breaks its own schema.

The fuzzer deploys, retires and changes calendars at random, so it gets a stack of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from devstack.stack import Stack, StackConfig, administrator_token, deploy_procedures, free_port
from infrastructure.settings import PROJECT_ROOT


def test_fuzzing_the_api_finds_no_server_error_and_no_schema_breach():
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
        token = administrator_token(stack.config)
        deploy_procedures(stack.config.api_url, PROJECT_ROOT / "procedures", token)
        run = subprocess.run(
            [
                sys.executable, "-m", "schemathesis.cli", "run", f"{stack.config.api_url}/openapi.json",
                "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance",
                "--max-examples", os.environ.get("MOTCUA_FUZZ_EXAMPLES", "3"),
                "--seed", "20260701",
                "-H", f"Authorization: Bearer {token}",
            ],
            capture_output=True, text=True, timeout=3000, cwd=PROJECT_ROOT,
        )  # fmt: skip
    finally:
        stack.stop()
    summary = run.stdout[-3000:]
    assert run.returncode == 0, summary
    assert "generated" in summary and "passed" in summary, summary
