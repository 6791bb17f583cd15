"""What each process of the stack spent: CPU (with the processes under it) and memory."""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.figures import Figure


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and of every process under it (the worker's rendering processes)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        todo += children.get(current, [])
    return total


def cpu_now(pids: dict[str, int]) -> dict[str, float]:
    return {"clients (the bench)": time.process_time(), **{name: cpu_seconds(pid) for name, pid in pids.items()}}


def background_cpu(pids: dict[str, int], before: dict[str, float], seconds: float, level: int) -> list[Figure]:
    """What the processes that polling does not use spent while it ran, in % of one core: it competes for the
    same cores, so a poll figure that moves between growth points says why here."""
    after = cpu_now(pids)
    return [
        Figure(f"growth {level:,} in flight", f"{name} CPU while polling", round((after[name] - before[name]) / seconds * 100), "%")
        for name in after
        if name.startswith("temporal") or name.endswith("worker") or name.startswith("worker-")
    ]  # fmt: skip


def cpu_per_dossier(pids: dict[str, int], before: dict[str, float], count: int) -> dict[str, float]:
    """Milliseconds of CPU each process spent per dossier since `before`."""
    after = cpu_now(pids)
    return {name: round((after[name] - before[name]) / count * 1000, 1) for name in after}


def cpu_figures(product: dict[str, float], baseline: dict[str, float]) -> list[Figure]:
    """Each process's CPU per dossier beside what the same process (or its bare counterpart) spent per baseline
    workflow: which part of the stack the throughput ratio is lost in."""
    # The total, beside the baseline's, holds better than dossiers/s on a machine whose CPU speed moves between
    # minutes: both sides of the ratio are measured in the same CPU.
    return [
        *(Figure("throughput", f"CPU per dossier: {name}", ms, "ms", baseline.get(name)) for name, ms in product.items()),
        Figure("throughput", "CPU per dossier: all processes", round(sum(product.values()), 1), "ms",
               round(sum(baseline.values()), 1)),
    ]  # fmt: skip


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
