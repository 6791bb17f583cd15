"""Status polling over many dossiers in the read model, against a bare endpoint reading the same rows."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import time
from datetime import UTC, date, datetime

from sqlalchemy import insert
from tqdm import tqdm

from bench.figures import pct
from bench.http import BenchClient
from bench.scenario import RESULTS
from infrastructure.lookup_secret import LookupSecrets
from readmodel.db import engine_for
from readmodel.schema import init_db
from readmodel.tables import DossierEventRow, DossierRow

POLL_WARM_UP_SECONDS = 2


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
    has let go of, and a cold first round's p99 says more about the kernel than about either endpoint."""
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
