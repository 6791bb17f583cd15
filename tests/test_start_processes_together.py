"""The API and the worker processes start at the same moment on a fresh installation: each creates the read
model's tables if missing, and none may fail because another got there first."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
from pathlib import Path

from sqlalchemy import inspect

from readmodel.db import engine_for, init_db


def _start(url: str, together: multiprocessing.synchronize.Barrier) -> None:
    engine = engine_for(url)
    together.wait()  # all imported and ready: they reach the database at the same moment
    init_db(engine)


def test_processes_starting_together_on_a_fresh_database(tmp_path: Path):
    spawn = multiprocessing.get_context("spawn")
    for attempt in range(5):
        url = f"sqlite:///{tmp_path / f'fresh-{attempt}.sqlite3'}"
        together = spawn.Barrier(4)
        processes = [spawn.Process(target=_start, args=(url, together)) for _ in range(4)]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=60)
        assert [p.exitcode for p in processes] == [0, 0, 0, 0]
        assert {"dossier", "dossier_event", "unit"} <= set(inspect(engine_for(url)).get_table_names())
