"""The API and the worker processes start at the same moment on a fresh installation: each brings the read model's
schema to head if it is not there (one at a time, under the migration lock), and none may fail because another got
there first."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import sqlite3
import threading
import uuid
from pathlib import Path

from sqlalchemy import inspect

from readmodel.db import engine_for
from readmodel.migrations_runner import current_revision, head_revision
from readmodel.schema import init_db


def _start(url: str, together: multiprocessing.synchronize.Barrier) -> None:
    engine = engine_for(url)
    together.wait()  # all imported and ready: they reach the database at the same moment
    init_db(engine)


def _start_four_together(url: str) -> None:
    spawn = multiprocessing.get_context("spawn")
    together = spawn.Barrier(4)
    processes = [spawn.Process(target=_start, args=(url, together)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    engine = engine_for(url)
    assert {"dossier", "dossier_event", "unit"} <= set(inspect(engine).get_table_names())
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_processes_starting_together_on_a_fresh_database(tmp_path: Path):
    for attempt in range(5):
        _start_four_together(f"sqlite:///{tmp_path / f'fresh-{attempt}.sqlite3'}")


def test_processes_starting_together_on_a_fresh_postgresql_database(postgres):
    for _ in range(3):
        name = f"together_{uuid.uuid4().hex[:12]}"
        postgres.create_database(name)
        try:
            _start_four_together(postgres.url(name))
        finally:
            postgres.drop_database(name)


def test_a_process_switching_a_fresh_database_to_wal_waits_for_another_writer(tmp_path: Path):
    # The switch reads the file, then upgrades to writing; while another process holds the write lock SQLite refuses
    # that upgrade at once (no busy wait), which is how processes starting together failed now and then.
    path = tmp_path / "fresh.sqlite3"
    other_process = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other_process.execute("BEGIN IMMEDIATE")
    releases = threading.Timer(0.5, other_process.execute, args=("COMMIT",))
    releases.start()
    try:
        with engine_for(f"sqlite:///{path}").connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        releases.join()
        other_process.close()
