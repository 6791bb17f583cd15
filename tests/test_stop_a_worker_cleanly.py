"""A service manager stops a worker with SIGTERM (systemd's default): the worker shuts down at once and cleanly, its
polls ended and its tasks handed back, as on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import time


def test_a_worker_stopped_with_sigterm_exits_cleanly_at_once(stack):
    stack.start_worker("worker-stopped-by-sigterm")
    log = stack.log_path("worker-stopped-by-sigterm")
    deadline = time.monotonic() + 60
    while "worker polling task queue" not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the worker never polled"
        time.sleep(0.2)
    process = stack.processes.pop("worker-stopped-by-sigterm")
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError("the worker did not stop within 10 s of SIGTERM") from None
    assert code == 0
    assert time.monotonic() - started < 5
    assert "Worker cancelled, shutting down" in log.read_text(errors="replace")
