"""A batch of dossiers driven over HTTP by clients that retry as real ones do, and the proof that every
dossier reached the state it should, none twice, none lost (workflows, read model and simulator agree)."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import text

from readmodel.db import engine_for
from tests.support import APPLICANT, VALID_FORM, admin, deploy, officer, three_step_procedure, unique_codes

_batches = itertools.count(1)
RETRYABLE = {500, 502, 503, 504}


class Gone(Exception):
    """The client gave up: the API did not answer usefully before the deadline."""


@dataclass
class Clients:
    """Clients that fail over between API processes and retry transient errors with backoff."""

    api_urls: list[str]
    deadline_seconds: float = 180
    retries: list[str] = field(default_factory=list)  # what was retried, for the report

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        deadline = time.monotonic() + self.deadline_seconds
        delay = 0.1
        urls = itertools.cycle(random.sample(self.api_urls, len(self.api_urls)))
        while time.monotonic() < deadline:
            url = next(urls)
            try:
                response = httpx.request(method, f"{url}{path}", timeout=30, **kwargs)
            except httpx.HTTPError as exc:
                self.retries.append(f"{method} {path}: {type(exc).__name__}")
            else:
                if response.status_code not in RETRYABLE:
                    return response
                self.retries.append(f"{method} {path}: {response.status_code}")
            time.sleep(delay)
            delay = min(delay * 1.6, 2.0)
        raise Gone(f"{method} {path} got no useful answer in {self.deadline_seconds}s")


@dataclass
class Batch:
    code: str
    unit: str
    receipts: dict[int, dict[str, Any]] = field(default_factory=dict)
    duplicates_refused: int = 0


def _view(clients: Clients, dossier: str, secret: str) -> dict[str, Any]:
    response = clients.call("GET", f"/dossiers/{dossier}", headers={"X-Lookup-Secret": secret})
    assert response.status_code == 200, response.text
    return response.json()


def _await(clients: Clients, dossier: str, secret: str, ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + clients.deadline_seconds
    while time.monotonic() < deadline:
        view = _view(clients, dossier, secret)
        if ready(view):
            return view
        time.sleep(0.2)
    raise AssertionError(f"{dossier} never reached the awaited state; last: {view['status']} {view['active_steps']}")


def _awaiting(step: str, by: str = "officer") -> Callable[[dict[str, Any]], bool]:
    return lambda view: any(s["step_id"] == step and s["awaiting"] == by for s in view["active_steps"])


DECISION_EVENTS = {"decision", "supplement_requested"}  # what an applied approval, rejection or request leaves


def _decisions_on(view: dict[str, Any], step: str) -> int:
    return sum(1 for event in view["timeline"] if event["kind"] in DECISION_EVENTS and event["step_id"] == step)


def _decide(clients: Clients, batch: Batch, dossier: str, secret: str, step: str, role: str, body: dict) -> None:
    """Send a decision until it is known applied, that is until the timeline shows one more decision on the step:
    after a lost answer or a 409 (an earlier attempt may be under way), the read model says whether it went in."""
    before = _decisions_on(_view(clients, dossier, secret), step)
    while True:
        view = _await(clients, dossier, secret, lambda v: _awaiting(step)(v) or _decisions_on(v, step) > before)
        if _decisions_on(view, step) > before:
            return
        response = clients.call(
            "POST", f"/dossiers/{dossier}/decisions", json={"step_id": step, **body}, headers=officer(role, batch.unit)
        )
        if response.status_code == 200:
            return
        assert response.status_code == 409, response.text


def run_dossier(clients: Clients, batch: Batch, index: int, duplicates: bool) -> None:
    """One dossier through reception (a supplement for every third), the registry lookup, approval, result."""
    key = f"{batch.code}-{index}"
    body = {"procedure_code": batch.code, "applicant": APPLICANT, "form": VALID_FORM}
    response = clients.call("POST", "/dossiers", json=body, headers={"Idempotency-Key": key})
    assert response.status_code in (200, 201), response.text
    if duplicates:  # a client that did not see the answer sends the same submission again
        again = clients.call("POST", "/dossiers", json=body, headers={"Idempotency-Key": key})
        assert again.status_code == 200 and again.json()["dossier_code"] == response.json()["dossier_code"]
    receipt = batch.receipts[index] = response.json()
    dossier, secret = receipt["dossier_code"], receipt["lookup_secret"]

    if index % 3 == 0:
        _decide(clients, batch, dossier, secret, "reception", "reception",
                {"decision": "request_supplement", "missing": ["Bản sao CCCD"], "reason": "thiếu"})  # fmt: skip
        _await(clients, dossier, secret, lambda v: v["supplement_request"] is not None)
        supplement = {"form": {"copies": 3}}
        sent = clients.call(
            "POST", f"/dossiers/{dossier}/supplements", json=supplement, headers={"X-Lookup-Secret": secret}
        )
        assert sent.status_code in (200, 409), sent.text
        if duplicates:
            twice = clients.call(
                "POST", f"/dossiers/{dossier}/supplements", json=supplement, headers={"X-Lookup-Secret": secret}
            )
            assert twice.status_code == 409, twice.text
            batch.duplicates_refused += 1
    _decide(clients, batch, dossier, secret, "reception", "reception", {"decision": "approve"})
    if duplicates:
        twice = clients.call(
            "POST",
            f"/dossiers/{dossier}/decisions",
            json={"step_id": "reception", "decision": "approve"},
            headers=officer("reception", batch.unit),
        )
        assert twice.status_code == 409, twice.text
        batch.duplicates_refused += 1
    _decide(clients, batch, dossier, secret, "approval", "leader", {"decision": "approve"})
    _await(clients, dossier, secret, lambda v: v["completed_at"] is not None)


def run_batch(clients: Clients, batch: Batch, size: int, *, duplicates: bool = True, parallel: int = 6) -> None:
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        for future in [pool.submit(run_dossier, clients, batch, i, duplicates) for i in range(size)]:
            future.result()


def prove(batch: Batch, size: int, *, api_url: str, simulator: httpx.Client, database_url: str) -> None:
    """Every dossier completed, once; each external effect happened once; the portal heard every status change
    once and in order; workflows and read model agree."""
    assert len(batch.receipts) == size
    codes = {r["dossier_code"] for r in batch.receipts.values()}
    assert len(codes) == size  # no submission made two dossiers

    engine = engine_for(database_url)
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT code, status, outcome FROM dossier WHERE procedure_code = :code"), {"code": batch.code}
        ).all()
    assert sorted(code for code, _, _ in stored) == sorted(codes)
    assert {(status, outcome) for _, status, outcome in stored} == {(10, "completed")}

    for receipt in batch.receipts.values():
        dossier, secret = receipt["dossier_code"], receipt["lookup_secret"]
        view = httpx.get(f"{api_url}/dossiers/{dossier}", headers={"X-Lookup-Secret": secret}, timeout=30).json()
        assert [e["seq"] for e in view["timeline"]] == list(range(1, len(view["timeline"]) + 1))
        statuses = [e["status"] for e in view["timeline"] if e["status"] is not None]
        changes = [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]]
        portal = _wait_for_portal(simulator, dossier, changes)
        assert portal == changes, (dossier, portal, changes)
        for system in ("civil_status", "result_store"):
            applied = [c for c in simulator.get("/_sim/calls", params={"dossier_code": dossier, "system": system}).json()
                       if c["outcome"] == "applied"]  # fmt: skip
            # Official letters (a supplement request's form 02) are deposited too, each once under its own key.
            keys = [c.get("idempotency_key") for c in applied]
            assert len(keys) == len(set(keys)), (dossier, system, applied)
            results = [
                c for c in applied if not str((c.get("body") or {}).get("document_id", "")).startswith("letter-")
            ]
            assert len(results) == 1, (dossier, system, applied)

    report = httpx.get(
        f"{api_url}/operations/workflow-reconciliation",
        # A worker restarted by the scenario may not poll yet: its workflows are asked again after the settle.
        params={"updated_within_hours": 1, "limit": 5000, "procedure_code": batch.code, "settle_seconds": 10},
        headers=admin(),
        timeout=300,
    )
    assert report.status_code == 200, report.text
    assert [d for d in report.json()["differences"] if d["dossier_code"] in codes] == []


def _wait_for_portal(simulator: httpx.Client, dossier: str, expected: list[int], timeout: float = 120) -> list[int]:
    deadline = time.monotonic() + timeout
    heard: list[int] = []
    while time.monotonic() < deadline:
        response = simulator.get(f"/portal/dossiers/{dossier}")
        heard = [s["status"] for s in response.json()["statuses"]] if response.status_code == 200 else []
        if len(heard) >= len(expected):
            return heard
        time.sleep(0.3)
    return heard


def run_scenario(
    api: httpx.Client,
    simulator: httpx.Client,
    stack: Any,
    size: int,
    disturb: Callable[[threading.Event, Batch], None],
    *,
    api_urls: list[str] | None = None,
) -> Batch:
    """A batch of `size` dossiers while `disturb` (given the batch's end and the batch) does its damage, then the
    proof. Disturbances wait for the batch's first receipt where they must strike with work under way."""
    code, unit = unique_codes()
    deploy(api, three_step_procedure(code, unit))
    batch = Batch(code=code, unit=unit)
    clients = Clients(api_urls or [stack.config.api_url])
    done = threading.Event()
    disturber = threading.Thread(target=disturb, args=(done, batch), daemon=True)
    disturber.start()
    try:
        run_batch(clients, batch, size)
    finally:
        done.set()
        disturber.join(timeout=120)
    simulator.delete("/_sim/faults")
    prove(batch, size, api_url=stack.config.api_url, simulator=simulator, database_url=stack.config.sqlalchemy_url)
    return batch


def under_way(done: threading.Event, batch: Batch) -> bool:
    """Wait until the batch's first dossier is registered (its other requests are then in flight); False if the
    batch ended first."""
    while not batch.receipts:
        if done.wait(0.05):
            return False
    return True


def new_batch_code() -> int:
    return next(_batches)
