"""Dossiers end to end through the product as its users drive it, and bare workflows of the same shape."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import col
from temporalio.client import Client
from tqdm import tqdm

from bench.baseline import DECISIONS, TASK_QUEUE, BareDossierWorkflow
from bench.http import BenchClient
from bench.scenario import OFFICERS, SUBMISSION
from readmodel.db import engine_for
from readmodel.tables import DossierRow


async def wait_for(http: BenchClient, code: str, secret: str, ready: Any, timeout: float = 120) -> dict[str, Any]:
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


def awaits(step: str) -> Any:
    return lambda view: any(s["step_id"] == step and s["awaiting"] == "officer" for s in view["active_steps"])


async def decide_when_awaited(http: BenchClient, code: str, secret: str, step: str, latencies: list[float]) -> None:
    await wait_for(http, code, secret, awaits(step))
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
