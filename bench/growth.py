"""Decisions while submissions keep arriving, and the figures that must stay flat as dossiers in flight grow."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import text
from tqdm import tqdm

from bench.figures import pct
from bench.http import BenchClient
from bench.scenario import SUBMISSION, UNIT
from bench.throughput import decide_when_awaited
from readmodel.db import engine_for


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
            await decide_when_awaited(http, code, secret, "reception", latencies)
    stop.set()
    await task
    return latencies


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
