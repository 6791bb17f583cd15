"""`make bench`: speed, scale and memory of motcua, each figure beside a baseline measured in the same run.

1. Dossier throughput over HTTP (three-step procedure: two officer decisions, two adapter calls; citizens
   submit, officers decide from their inboxes), against a bare Temporal workflow of the same shape (two
   updates, two activities, each taken only while awaited) on the same server, the two taking turns in rounds
   (`--rounds`); then the same dossiers ending in a signed result document.
2. Status polling with many dossiers in the read model, against a bare FastAPI endpoint on the same rows.
3. Decision latency while submissions keep arriving.
4. Growth: poll, inbox and decision figures, and worker memory, as dossiers in flight grow.
With the throughput figures comes the CPU each process spent per dossier (the worker's rendering processes
counted with it) beside what the same processes spent per bare workflow, which says where the next gain is.
Figures are printed as a table and written to bench-results/bench.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.figures import Figure, pct, print_table
from bench.growth import decisions_under_load, inbox_p99, settled, submit_in_flight, waiting_for_officers
from bench.polling import poll_figures, seed_read_model
from bench.processes import background_cpu, cpu_figures, cpu_now, cpu_per_dossier, rss_mb
from bench.scenario import (
    OFFICERS,
    PROCEDURE,
    RESULTS,
    SIGNED_RESULT_PROCEDURE,
    SIGNED_RESULT_SUBMISSION,
    SUBMISSION,
    UNIT,
    register_officers,
)
from bench.throughput import drive_baseline, drive_product, merged, rounds_of
from devstack.cluster import ClusterConfig, ClusterStack
from devstack.stack import HTTP_PROTOCOL, Stack, StackConfig, administrator_token, free_port
from infrastructure.lookup_secret import LookupSecrets
from infrastructure.settings import PROJECT_ROOT, Settings

# The bench's clients submit from one address far faster than a citizen: the rate limits stay off for its stack.
UNLIMITED = {"RATE_LIMITS_ENABLED": "false"}


def start_stack(data_dir: Path, args: argparse.Namespace) -> tuple[Stack, list[subprocess.Popen[bytes]], str]:
    """The product's stack, the baseline worker and the bare API beside it; returns the bare API's URL too."""
    shutil.rmtree(data_dir, ignore_errors=True)
    if args.topology == "cluster":
        # One port for the API, as on the embedded topology, so both drive the same number of API processes.
        config: StackConfig = ClusterConfig.on_free_ports(
            data_dir,
            extra_env=UNLIMITED,
            database_url=os.environ.get("DATABASE_URL"),
            api_processes=args.api_processes,
            split_worker=args.split_worker,
            worker_processes=args.worker_processes,
        )
        config.api_ports = config.api_ports[:1]  # type: ignore[attr-defined]
        stack: Stack = ClusterStack(config)  # type: ignore[arg-type]
    else:
        config = StackConfig(
            data_dir=data_dir,
            extra_env=UNLIMITED,
            api_port=free_port(),
            simulator_port=free_port(),
            temporal_port=free_port(),
            temporal_ui=False,
            temporal_address=os.environ.get("TEMPORAL_ADDRESS"),
            database_url=os.environ.get("DATABASE_URL"),
            api_processes=args.api_processes,
            split_worker=args.split_worker,
        )
        stack = Stack(config)
    stack.start()
    env = config.env()
    bare_port = free_port()
    extra = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.baseline_worker", config.address, config.simulator_url],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench.bare_api:app", "--host", "127.0.0.1", "--port", str(bare_port),
             "--log-level", "warning", "--no-access-log", "--http", HTTP_PROTOCOL, "--workers", str(args.api_processes)],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ),
    ]  # fmt: skip
    bare_url = f"http://127.0.0.1:{bare_port}"
    for _ in range(100):
        try:
            if httpx.get(f"{bare_url}/bare/none", timeout=1).status_code == 404:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    return stack, extra, bare_url


def is_worker(process: str) -> bool:
    """motcua's worker processes (not Temporal's worker service)."""
    return process in ("worker", "activity-worker") or process.startswith("worker-")


async def run(args: argparse.Namespace) -> list[Figure]:
    RESULTS.mkdir(exist_ok=True)
    stack, extra, bare_url = start_stack(RESULTS / "stack", args)
    figures: list[Figure] = []
    try:
        api = stack.config.api_url
        admin = {"Authorization": f"Bearer {administrator_token(stack.config)}"}
        for procedure in (PROCEDURE, SIGNED_RESULT_PROCEDURE):
            httpx.post(f"{api}/procedures", json=procedure, headers=admin, timeout=30).raise_for_status()
        OFFICERS.update(register_officers(stack.config, admin))
        secrets = LookupSecrets.from_settings(Settings(data_dir=stack.config.data_dir))

        # warm both paths so the first figures do not pay for imports and caches
        for submission in (SUBMISSION, SIGNED_RESULT_SUBMISSION):
            await asyncio.wait_for(
                drive_product(
                    api, stack.config.sqlalchemy_url, 5, 5, inbox_refresh=args.inbox_refresh, submission=submission
                ),
                120,
            )
        await asyncio.wait_for(drive_baseline(stack.config.address, 5, 5), 120)

        pids = {name: process.pid for name, process in stack.processes.items()}
        workers = {name: pid for name, pid in pids.items() if is_worker(name)}
        # The baseline's worker stands where the product's does; it has no API.
        shared = [name for name in pids if name.startswith(("temporal", "postgres")) or name == "simulator"]
        bare_pids = {**{name: pids[name] for name in shared}, next(iter(workers)): extra[0].pid}
        product_rounds: list[dict[str, Any]] = []
        baseline_rounds: list[dict[str, Any]] = []
        product_cpu: dict[str, float] = defaultdict(float)
        baseline_cpu: dict[str, float] = defaultdict(float)
        # Product and baseline take turns, so a slow spell of the machine falls on both sides of the ratio.
        for count in rounds_of(args.dossiers, args.rounds):
            cpu_before = cpu_now(pids)
            product_rounds.append(
                await asyncio.wait_for(
                    drive_product(
                        api, stack.config.sqlalchemy_url, count, args.concurrency, inbox_refresh=args.inbox_refresh
                    ),
                    args.timeout,
                )
            )
            for name, ms in cpu_per_dossier(pids, cpu_before, count).items():
                product_cpu[name] += ms * count / args.dossiers
            cpu_before = cpu_now(bare_pids)
            baseline_rounds.append(
                await asyncio.wait_for(drive_baseline(stack.config.address, count, args.concurrency), args.timeout)
            )
            for name, ms in cpu_per_dossier(bare_pids, cpu_before, count).items():
                baseline_cpu[name] += ms * count / args.dossiers
        product, baseline = merged(product_rounds), merged(baseline_rounds)
        product_cpu = {name: round(ms, 1) for name, ms in product_cpu.items()}
        baseline_cpu = {name: round(ms, 1) for name, ms in baseline_cpu.items()}
        figures += [
            Figure("throughput", "completed dossiers/s", round(product["per_second"], 2), "1/s",
                   round(baseline["per_second"], 2), ">= 20/s, ratio >= 0.8"),
            Figure("throughput", "submit p50", round(pct(product["submit_ms"], 50), 1), "ms", round(pct(baseline["submit_ms"], 50), 1)),
            Figure("throughput", "submit p95", round(pct(product["submit_ms"], 95), 1), "ms", round(pct(baseline["submit_ms"], 95), 1)),
            Figure("throughput", "submit p99", round(pct(product["submit_ms"], 99), 1), "ms", round(pct(baseline["submit_ms"], 99), 1)),
            Figure("throughput", "decide p50", round(pct(product["decide_ms"], 50), 1), "ms", round(pct(baseline["decide_ms"], 50), 1)),
            Figure("throughput", "decide p95", round(pct(product["decide_ms"], 95), 1), "ms", round(pct(baseline["decide_ms"], 95), 1)),
            Figure("throughput", "decide p99", round(pct(product["decide_ms"], 99), 1), "ms", round(pct(baseline["decide_ms"], 99), 1)),
            *cpu_figures(product_cpu, baseline_cpu),
            Figure("throughput", "HTTP requests per dossier", round(product["requests"] / args.dossiers, 1), ""),
        ]  # fmt: skip

        cpu_before = cpu_now(pids)
        signed = await asyncio.wait_for(
            drive_product(
                api,
                stack.config.sqlalchemy_url,
                args.dossiers,
                args.concurrency,
                inbox_refresh=args.inbox_refresh,
                submission=SIGNED_RESULT_SUBMISSION,
            ),
            args.timeout,
        )
        signed_cpu = cpu_per_dossier(pids, cpu_before, args.dossiers)
        # Beside each: the bare workflow's rate, and the CPU of the same dossier without its result.
        workers_cpu = {
            name: sum(ms for n, ms in cpu.items() if is_worker(n))
            for name, cpu in (("signed", signed_cpu), ("plain", product_cpu))
        }
        figures += [
            Figure("with a signed result", "completed dossiers/s", round(signed["per_second"], 2), "1/s",
                   round(baseline["per_second"], 2)),
            Figure("with a signed result", "decide p99", round(pct(signed["decide_ms"], 99), 1), "ms"),
            Figure("with a signed result", "CPU per dossier: worker", round(workers_cpu["signed"], 1), "ms",
                   round(workers_cpu["plain"], 1)),
            Figure("with a signed result", "CPU per dossier: all processes", round(sum(signed_cpu.values()), 1), "ms",
                   round(sum(product_cpu.values()), 1)),
        ]  # fmt: skip

        latencies = await decisions_under_load(api, args.decisions, args.background_rate)
        figures += [
            Figure("decision latency", f"p50 with {args.background_rate}/s submissions", round(pct(latencies, 50), 1), "ms"),
            Figure("decision latency", f"p99 with {args.background_rate}/s submissions", round(pct(latencies, 99), 1), "ms",
                   target="p99 < 250 ms"),
        ]  # fmt: skip

        codes = seed_read_model(stack.config.sqlalchemy_url, args.seed)
        (rps, p99), (bare_rps, bare_p99) = await poll_figures(api, bare_url, codes, args.poll_seconds, secrets)
        figures += [
            Figure("status polling", f"req/s, {args.seed:,} dossiers", round(rps), "1/s", round(bare_rps), ">= 2000/s, ratio >= 0.6"),
            Figure("status polling", "p99", round(p99, 2), "ms", round(bare_p99, 2), "< 25 ms"),
        ]  # fmt: skip

        # A write-ahead log left long by a burst makes every read look through it: its size says if it was.
        wal = Path(f"{stack.config.sqlalchemy_url.removeprefix('sqlite:///')}-wal")
        in_flight = 0
        for level in args.growth:
            waiting_before = waiting_for_officers(stack.config.sqlalchemy_url)
            await submit_in_flight(api, level - in_flight)
            # "In flight" means at rest, waiting for officers: measure once the burst's backlog has drained.
            settle = await settled(stack.config.sqlalchemy_url, waiting_before + level - in_flight, args.timeout)
            in_flight = level
            busy_before, polling_since = cpu_now(pids), time.monotonic()
            poll_seconds = max(3, args.poll_seconds // 2)
            (rps, p99), (bare_rps, bare_p99) = await poll_figures(api, bare_url, codes, poll_seconds, secrets)
            busy = background_cpu(pids, busy_before, time.monotonic() - polling_since, level)
            wal_mb = round(wal.stat().st_size / 2**20, 1) if wal.exists() else None
            wal_size = (
                [Figure(f"growth {level:,} in flight", "read model WAL", wal_mb, "MB")] if wal_mb is not None else []
            )
            inbox = await inbox_p99(api, "/inbox", OFFICERS["reception"])
            bare_inbox = await inbox_p99(bare_url, f"/bare-inbox/{UNIT}/reception")
            decisions = await decisions_under_load(api, args.decisions, 1)
            figures += [
                Figure(f"growth {level:,} in flight", "settle after the burst", round(settle, 1), "s"),
                Figure(f"growth {level:,} in flight", "poll req/s", round(rps), "1/s", round(bare_rps)),
                Figure(f"growth {level:,} in flight", "poll p99", round(p99, 2), "ms", round(bare_p99, 2)),
                *busy,
                *wal_size,
                Figure(f"growth {level:,} in flight", "inbox p99", round(inbox, 1), "ms", round(bare_inbox, 1)),
                Figure(f"growth {level:,} in flight", "decision p99", round(pct(decisions, 99), 1), "ms"),
                *(
                    Figure(f"growth {level:,} in flight", f"{name} RSS", round(rss_mb(pid), 1), "MB")
                    for name, pid in workers.items()
                ),
            ]
    except Exception as exc:  # keep the figures measured so far, and say what stopped the run
        while isinstance(exc, ExceptionGroup):  # the first failure of a task group, not the group
            exc = exc.exceptions[0]
        failed = f" ({exc.request.method} {exc.request.url.path})" if isinstance(exc, httpx.RequestError) else ""
        print(f"\nbenchmark stopped early: {type(exc).__name__}{failed}: {exc}", file=sys.stderr)
    finally:
        for process in extra:
            process.terminate()
            process.wait(timeout=15)
        stack.stop()
    return figures


def seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value < math.inf:  # NaN too
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--dossiers", type=positive, default=400, help="dossiers driven end to end, all rounds")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument(
        "--rounds", type=positive, default=2, help="turns the product and the baseline take at the throughput runs"
    )
    # A machine's pace, yet not so quick that reads finding nothing new cost the API more than the dossiers' own
    # requests.
    parser.add_argument(
        "--inbox-refresh", type=seconds, default=0.25, help="seconds between an officer's reads of the inbox"
    )
    parser.add_argument("--decisions", type=int, default=100)
    parser.add_argument("--background-rate", type=float, default=5.0, help="submissions per second meanwhile")
    parser.add_argument("--seed", type=int, default=100_000, help="dossiers seeded in the read model for polling")
    parser.add_argument("--poll-seconds", type=int, default=10)
    parser.add_argument(
        "--api-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="processes of the API and of the bare baseline API alike",
    )
    parser.add_argument(
        "--topology",
        choices=["embedded", "cluster"],
        default="embedded",
        help="embedded: Temporal's dev server, SQLite; cluster: Temporal's services as separate processes and the "
        "read model on PostgreSQL (the baseline runs on the same server)",
    )
    parser.add_argument("--worker-processes", type=positive, default=1, help="cluster: worker processes")
    parser.add_argument(
        "--split-worker", action="store_true", help="workflow tasks and activities in two worker processes"
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds a throughput run may take")
    parser.add_argument("--growth", type=lambda s: [int(x) for x in s.split(",") if x], default=[1000, 10000])
    args = parser.parse_args()
    # Terminated as if interrupted, so the run stops the stack it started on its way out: the stack's processes
    # are in sessions of their own, and a signal to the bench alone would leave them running.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        figures = asyncio.run(run(args))
    except KeyboardInterrupt:
        print("\nbenchmark interrupted: its stack is stopped, nothing written", file=sys.stderr)
        raise SystemExit(130) from None
    print_table(figures)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "bench.json"
    out.write_text(
        json.dumps(
            {
                "at": datetime.now(UTC).isoformat(),
                "machine": {"cpus": os.cpu_count()},
                "arguments": vars(args),
                "figures": [{**asdict(f), "ratio": f.ratio} for f in figures],
            },
            indent=2,
        )
    )
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
