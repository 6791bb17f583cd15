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
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select, text
from sqlalchemy.engine import Engine
from sqlmodel import col
from temporalio.client import Client
from tqdm import tqdm

from bench.baseline import DECISIONS, TASK_QUEUE, BareDossierWorkflow
from bench.http import BenchClient
from devstack.stack import HTTP_PROTOCOL, Stack, StackConfig, administrator_token, free_port
from infrastructure.lookup_secret import LookupSecrets
from infrastructure.settings import PROJECT_ROOT, Settings
from infrastructure.tokens import TokenIssuer
from readmodel.db import engine_for
from readmodel.schema import init_db
from readmodel.tables import DossierEventRow, DossierRow

RESULTS = PROJECT_ROOT / "bench-results"
POLL_WARM_UP_SECONDS = 2
UNIT = "B01.50.05"
OFFICERS: dict[str, dict[str, str]] = {}  # step → Authorization headers, once the officers are registered
PROCEDURE = {
    "code": "6.000001",
    "name": "Benchmark procedure",
    "sector": "bench",
    "level": "ward",
    "receiving_units": [UNIT],
    "time_limit_working_days": 3,
    "form": {"fields": [{"name": "citizen_id", "label": "CCCD", "type": "citizen_id"}]},
    "steps": [
        {"id": "reception", "kind": "reception", "name": "Reception", "role": "reception", "budget_working_days": 1, "next": "lookup"},
        {"id": "lookup", "kind": "adapter", "name": "Lookup", "system": "civil_status", "operation": "lookup", "next": "approval"},
        {"id": "approval", "kind": "approval", "name": "Approval", "role": "leader", "budget_working_days": 1, "next": "register"},
        {"id": "register", "kind": "adapter", "name": "Register", "system": "tax", "operation": "register"},
    ],
}  # fmt: skip
# The same dossier ending in a signed result document (rendered, signed, deposited in the result store): one more
# activity, which the throughput scenario's shape does not have, measured beside it for what a result costs.
SIGNED_RESULT_PROCEDURE = {
    **PROCEDURE,
    "code": "6.000002",
    "name": "Benchmark procedure with a signed result",
    "steps": [
        *PROCEDURE["steps"][:-1],
        {**PROCEDURE["steps"][-1], "next": "result"},
        {"id": "result", "kind": "result", "name": "Result"},
    ],
}

SUBMISSION = {"procedure_code": "6.000001", "applicant": {"full_name": "Bench"}, "form": {"citizen_id": "079123456789"}}
SIGNED_RESULT_SUBMISSION = {**SUBMISSION, "procedure_code": SIGNED_RESULT_PROCEDURE["code"]}


@dataclass
class Figure:
    scenario: str
    metric: str
    value: float
    unit: str
    baseline: float | None = None
    target: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return round(self.value / self.baseline, 3)


def pct(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# ----------------------------------------------------------------------------- throughput


async def _wait_for(http: BenchClient, code: str, secret: str, ready: Any, timeout: float = 120) -> dict[str, Any]:
    """Poll as the citizen does: the dossier code with the receipt's lookup secret."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while time.monotonic() < deadline:
        view = await http.get(f"/dossiers/{code}", headers={"X-Lookup-Secret": secret})
        if ready(view):
            return view
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    raise TimeoutError(f"{code} not ready")


def _awaits(step: str) -> Any:
    return lambda view: any(s["step_id"] == step and s["awaiting"] == "officer" for s in view["active_steps"])


async def _decide(http: BenchClient, code: str, secret: str, step: str, latencies: list[float]) -> None:
    await _wait_for(http, code, secret, _awaits(step))
    started = time.perf_counter()
    await http.post(f"/dossiers/{code}/decisions", {"step_id": step, "decision": "approve"}, headers=OFFICERS[step])
    latencies.append((time.perf_counter() - started) * 1000)


def completed_among(engine: Engine, codes: list[str]) -> list[str]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(DossierRow.code).where(col(DossierRow.code).in_(codes), col(DossierRow.completed_at).is_not(None))
        )
        return [code for (code,) in rows]


async def drive_product(
    api_url: str,
    database_url: str,
    count: int,
    concurrency: int,
    *,
    inbox_refresh: float,
    submission: dict[str, Any] = SUBMISSION,
) -> dict[str, Any]:
    """Dossiers through the product as its users drive it: citizens submit, at most `concurrency` dossiers in
    flight; the reception officer and the leader work from their inboxes (re-read every `inbox_refresh` seconds),
    deciding each step they find there; a dossier counts once its citizen's status read shows it completed. The
    bench watches for completion in the read model, so no client reads a dossier's status over and over while the
    officers work on it (the baseline's client waits on Temporal's long poll likewise)."""
    submit_ms: list[float] = []
    decide_ms: list[float] = []
    progress = tqdm(total=count, desc="product dossiers", unit="dossier", leave=False)
    in_flight = asyncio.Semaphore(concurrency)
    awaiting_completion: dict[str, asyncio.Future[None]] = {}
    all_done = asyncio.Event()
    engine = engine_for(database_url)
    async with BenchClient(api_url, connections=concurrency * 4) as http:

        async def citizen() -> None:
            async with in_flight:
                started = time.perf_counter()
                receipt = await http.post("/dossiers", submission)
                submit_ms.append((time.perf_counter() - started) * 1000)
                code, secret = receipt["dossier_code"], receipt["lookup_secret"]
                completion = asyncio.get_running_loop().create_future()
                awaiting_completion[code] = completion
                await completion
                status = await http.get(f"/dossiers/{code}", headers={"X-Lookup-Secret": secret})
                if status["completed_at"] is None:
                    raise RuntimeError(f"{code}: the read model shows it completed, its status read does not")
                progress.update()

        async def decide(code: str, step: str) -> None:
            started = time.perf_counter()
            await http.post(
                f"/dossiers/{code}/decisions", {"step_id": step, "decision": "approve"}, headers=OFFICERS[step]
            )
            decide_ms.append((time.perf_counter() - started) * 1000)

        async def officer(step: str, group: asyncio.TaskGroup) -> None:
            # A decided step stays in the inbox until its workflow has written the decision to the read model.
            decided: set[str] = set()
            while not all_done.is_set():
                page = await http.get("/inbox", params={"limit": 100}, headers=OFFICERS[step])
                fresh = [i["dossier_code"] for i in page if i["step_id"] == step]
                fresh = [code for code in fresh if code not in decided]
                for code in fresh:
                    decided.add(code)
                    group.create_task(decide(code, step))
                await asyncio.sleep(inbox_refresh)

        async def watch_completions() -> None:
            while not all_done.is_set():
                codes = [code for code, done in awaiting_completion.items() if not done.done()]
                for code in await asyncio.to_thread(completed_among, engine, codes) if codes else []:
                    awaiting_completion.pop(code).set_result(None)
                await asyncio.sleep(0.05)

        async def citizens() -> None:
            try:
                await asyncio.gather(*(citizen() for _ in range(count)))
            finally:
                all_done.set()

        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:  # a refused decision or a failed read stops the whole run
            for part in (citizens(), officer("reception", group), officer("approval", group), watch_completions()):
                group.create_task(part)
        elapsed = time.perf_counter() - started
    progress.close()
    return {
        "per_second": count / elapsed,
        "submit_ms": submit_ms,
        "decide_ms": decide_ms,
        "seconds": elapsed,
        "requests": http.requests,
    }


async def drive_baseline(address: str, count: int, concurrency: int) -> dict[str, Any]:
    client = await Client.connect(address)
    update_ms: list[float] = []
    start_ms: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    progress = tqdm(total=count, desc="baseline workflows", unit="wf", leave=False)
    run = f"{time.time_ns()}"

    async def one() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            started = time.perf_counter()
            handle = await client.start_workflow(
                BareDossierWorkflow.run, f"bare-{run}-{i}", id=f"bare-{run}-{i}", task_queue=TASK_QUEUE
            )
            start_ms.append((time.perf_counter() - started) * 1000)
            for decision in range(1, DECISIONS + 1):
                started = time.perf_counter()
                await handle.execute_update(BareDossierWorkflow.approve)
                # An update before the last answers once the next decision is awaited, after an agency call:
                # only the last one's round trip is a decision's alone.
                if decision == DECISIONS:
                    update_ms.append((time.perf_counter() - started) * 1000)
            await handle.result()
            progress.update()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    progress.close()
    return {"per_second": count / elapsed, "submit_ms": start_ms, "decide_ms": update_ms, "seconds": elapsed}


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
        if name == "temporal" or name.endswith("worker")
    ]  # fmt: skip


def cpu_per_dossier(pids: dict[str, int], before: dict[str, float], count: int) -> dict[str, float]:
    """Milliseconds of CPU each process spent per dossier since `before`."""
    after = cpu_now(pids)
    return {name: round((after[name] - before[name]) / count * 1000, 1) for name in after}


def rounds_of(count: int, rounds: int) -> list[int]:
    """`count` dossiers in `rounds` near-equal rounds (none empty)."""
    rounds = min(rounds, count)
    return [count // rounds + (1 if i < count % rounds else 0) for i in range(rounds)]


def merged(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one side as one run: the dossiers of all rounds over the seconds they took, every latency."""
    seconds = sum(run["seconds"] for run in runs)
    return {
        "per_second": sum(run["per_second"] * run["seconds"] for run in runs) / seconds,
        "seconds": seconds,
        **{key: [ms for run in runs for ms in run[key]] for key in ("submit_ms", "decide_ms")},
        "requests": sum(run.get("requests", 0) for run in runs),  # the baseline's clients make no HTTP requests
    }


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


# -------------------------------------------------------------------------------- polling


def seed_read_model(url: str, count: int) -> list[str]:
    """Dossiers as the read model holds them (with a short timeline), inserted in bulk."""
    engine = engine_for(url)
    init_db(engine)
    now = datetime.now(UTC)
    codes = [f"S{random.randint(10, 99)}.50.05-{260000 + i // 9999:06d}-{i % 9999 + 1:04d}" for i in range(count)]
    step = {"step_id": "reception", "name": "Reception", "kind": "reception", "awaiting": "officer", "role": "reception",
            "unit_code": "S.50", "due_date": "2026-12-01", "started_at": now.isoformat()}  # fmt: skip
    with engine.begin() as connection:
        for first in tqdm(range(0, count, 5000), desc="seeding read model", unit="batch", leave=False):
            batch = codes[first : first + 5000]
            connection.execute(
                insert(DossierRow),
                [
                    {
                        "code": code, "procedure_code": "6.000001", "procedure_version": 1, "procedure_name": "Seed",
                        "receiving_unit": "S.50", "channel": 2, "applicant": {"full_name": "Seed"},
                        "form": {"citizen_id": "079123456789"}, "step_units": {}, "received_at": now,
                        "appointment_date": date(2026, 12, 3), "request_hash": code, "status": 1,
                        "active_steps": [step], "results": [], "updated_at": now, "workflow_started": True,
                    }
                    for code in batch
                ],
            )  # fmt: skip
            connection.execute(
                insert(DossierEventRow),
                [
                    {
                        "dossier_code": code,
                        "seq": seq,
                        "kind": "submitted",
                        "at": now,
                        "summary": "seeded",
                        "detail": {},
                    }
                    for code in batch
                    for seq in (1, 2, 3)
                ],
            )
    if engine.dialect.name == "sqlite":
        # Fold the bulk load into the database file now, not in the middle of the next writer's commit.
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return codes


def wrk_available() -> bool:
    if shutil.which("wrk"):
        return True
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], capture_output=True)
    return shutil.which("wrk") is not None


def load_with_wrk(
    base: str, prefix: str, codes: list[str], seconds: int, connections: int, secrets: LookupSecrets | None = None
) -> tuple[float, float]:
    script = RESULTS / "paths.lua"
    sample = random.sample(codes, min(len(codes), 5000))
    script.write_text(
        "paths = {" + ",".join(f'"{prefix}{c}"' for c in sample) + "}\n"
        "secrets = {" + ",".join(f'"{secrets.for_dossier(c) if secrets else ""}"' for c in sample) + "}\n"
        "request = function()\n"
        "  local i = math.random(#paths)\n"
        "  return wrk.format('GET', paths[i], {['X-Lookup-Secret'] = secrets[i]})\n"
        "end\n"
    )
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), base],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(next(line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec")))
    p99 = next(line.split()[1] for line in out.splitlines() if line.strip().startswith("99%"))
    return rps, _ms(p99)


def _ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


async def load_with_python(
    base: str, prefix: str, codes: list[str], seconds: int, connections: int, secrets: LookupSecrets | None = None
) -> tuple[float, float]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        async with BenchClient(base, timeout=10) as http:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                code = random.choice(codes)
                headers = {"X-Lookup-Secret": secrets.for_dossier(code)} if secrets else {}
                await http.get(prefix + code, headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return len(latencies) / (time.monotonic() - started), pct(latencies, 99)


async def poll_figures(
    api: str, bare: str, codes: list[str], seconds: int, secrets: LookupSecrets
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The citizen's poll (code + lookup secret, checked by the API) against a bare read of the same row.

    Each is warmed first, unmeasured: the first seconds after a bulk load or a long burst read pages the kernel
    has let go of (a cold first round measured a p99 twice the next rounds', on the bare endpoint alike)."""
    wrk = wrk_available()

    async def load(base: str, prefix: str, seconds: int, with_secrets: LookupSecrets | None) -> tuple[float, float]:
        if wrk:
            return load_with_wrk(base, prefix, codes, seconds, 32, with_secrets)
        return await load_with_python(base, prefix, codes, seconds, 32, with_secrets)

    figures = []
    for base, prefix, with_secrets in ((api, "/dossiers/", secrets), (bare, "/bare/", None)):
        await load(base, prefix, POLL_WARM_UP_SECONDS, with_secrets)
        figures.append(await load(base, prefix, seconds, with_secrets))
    return figures[0], figures[1]


# ------------------------------------------------------------------------ decision latency


async def decisions_under_load(api_url: str, decisions: int, background_per_second: float) -> list[float]:
    """Officer decisions while submissions keep arriving in the background."""
    stop = asyncio.Event()

    async def background() -> None:
        async with BenchClient(api_url, timeout=60) as http:
            pending: set[asyncio.Task[Any]] = set()
            while not stop.is_set():
                task = asyncio.create_task(http.post("/dossiers", SUBMISSION))
                pending.add(task)
                task.add_done_callback(pending.discard)
                await asyncio.sleep(1 / background_per_second)
            await asyncio.gather(*pending, return_exceptions=True)

    latencies: list[float] = []
    task = asyncio.create_task(background())
    async with BenchClient(api_url, timeout=60) as http:
        receipts = []
        for _ in range(decisions):
            receipt = await http.post("/dossiers", SUBMISSION)
            receipts.append((receipt["dossier_code"], receipt["lookup_secret"]))
        for code, secret in tqdm(receipts, desc="decisions under load", unit="decision", leave=False):
            await _decide(http, code, secret, "reception", latencies)
    stop.set()
    await task
    return latencies


# --------------------------------------------------------------------------------- growth


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def submit_in_flight(api_url: str, count: int) -> None:
    progress = tqdm(total=count, desc="dossiers in flight", unit="dossier", leave=False)
    semaphore = asyncio.Semaphore(32)
    async with BenchClient(api_url, timeout=60, connections=64) as http:

        async def one() -> None:
            async with semaphore:
                await http.post("/dossiers", SUBMISSION)
                progress.update()

        await asyncio.gather(*(one() for _ in range(count)))
    progress.close()


WAITING = text("SELECT count(*) FROM dossier_active_step WHERE unit_code = :unit AND awaiting = 'officer'")


def waiting_for_officers(url: str) -> int:
    with engine_for(url).connect() as connection:
        return connection.execute(WAITING, {"unit": UNIT}).scalar_one()


async def settled(url: str, expected: int, timeout: float) -> float:
    """Seconds until `expected` bench dossiers wait for an officer (their workflows have caught up)."""
    started = time.monotonic()
    progress = tqdm(total=expected, desc="backlog draining", unit="dossier", leave=False)
    try:
        while time.monotonic() - started < timeout:
            waiting = await asyncio.to_thread(waiting_for_officers, url)
            progress.update(min(waiting, expected) - progress.n)
            if waiting >= expected:
                return time.monotonic() - started
            await asyncio.sleep(1)
        raise TimeoutError(f"{expected} dossiers did not settle within {timeout:.0f}s")
    finally:
        progress.close()


async def inbox_p99(
    url: str, path: str, headers: dict[str, str] | None = None, samples: int = 200, warm_up: int = 10
) -> float:
    """p99 of a first inbox page, after a few unmeasured requests: each API process opens its database
    connections on first use, and a fresh SQLite connection starts with an empty page cache."""
    latencies = []
    async with BenchClient(url, timeout=30) as http:
        for i in range(warm_up + samples):
            started = time.perf_counter()
            await http.get(path, params={"limit": 50}, headers=headers)
            if i >= warm_up:
                latencies.append((time.perf_counter() - started) * 1000)
    return pct(latencies, 99)


# ----------------------------------------------------------------------------------- main


def start_stack(
    data_dir: Path, api_processes: int = 1, split_worker: bool = False
) -> tuple[Stack, list[subprocess.Popen[bytes]], str]:
    """The product's stack, the baseline worker and the bare API beside it; returns the bare API's URL too."""
    shutil.rmtree(data_dir, ignore_errors=True)
    config = StackConfig(
        data_dir=data_dir,
        api_port=free_port(),
        simulator_port=free_port(),
        temporal_port=free_port(),
        temporal_ui=False,
        temporal_address=os.environ.get("TEMPORAL_ADDRESS"),
        database_url=os.environ.get("DATABASE_URL"),
        api_processes=api_processes,
        split_worker=split_worker,
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
             "--log-level", "warning", "--no-access-log", "--http", HTTP_PROTOCOL, "--workers", str(api_processes)],
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


def register_officers(config: StackConfig, admin: dict[str, str]) -> dict[str, dict[str, str]]:
    """The bench's unit and its two officers in the registry, and their tokens."""
    api = config.api_url
    unit = {"name": "Benchmark unit", "kind": "department", "parent_code": "VN"}
    httpx.put(f"{api}/units/{UNIT}", json=unit, headers=admin, timeout=30).raise_for_status()
    issuer = TokenIssuer(Settings(data_dir=config.data_dir))
    headers = {}
    for step, role in (("reception", "reception"), ("approval", "leader")):
        officer = {"full_name": f"bench {role}", "unit_code": UNIT, "roles": [role]}
        httpx.put(f"{api}/officers/bench-{role}", json=officer, headers=admin, timeout=30).raise_for_status()
        headers[step] = {"Authorization": f"Bearer {issuer.issue_officer(f'bench-{role}')}"}
    return headers


async def run(args: argparse.Namespace) -> list[Figure]:
    RESULTS.mkdir(exist_ok=True)
    stack, extra, bare_url = start_stack(RESULTS / "stack", args.api_processes, args.split_worker)
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
        workers = {name: pid for name, pid in pids.items() if name.endswith("worker")}
        # The baseline's worker stands where the product's does; it has no API.
        bare_pids = {**{n: pid for n, pid in pids.items() if n in ("temporal", "simulator")}, "worker": extra[0].pid}
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
            name: sum(ms for n, ms in cpu.items() if n.endswith("worker"))
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


def print_table(figures: list[Figure]) -> None:
    header = f"{'scenario':<26} {'metric':<36} {'value':>10} {'unit':<5} {'baseline':>10} {'ratio':>7}  target"
    print(header)
    print("-" * len(header))
    for f in figures:
        baseline = "" if f.baseline is None else f"{f.baseline:g}"
        ratio = "" if f.ratio is None else f"{f.ratio:g}"
        print(f"{f.scenario:<26} {f.metric:<36} {f.value:>10g} {f.unit:<5} {baseline:>10} {ratio:>7}  {f.target or ''}")


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
    # A machine's pace, yet not the 20 reads a second that cost the API more than the dossiers' own requests (at
    # 0.05 s, 4.8 of 8.8 requests a dossier were inbox reads that found nothing new).
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
