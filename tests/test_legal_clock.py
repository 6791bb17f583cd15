"""The legal clock across days, on Temporal's time-skipping test server: no test waits for a deadline.

The worker, its activities, the read model (SQLite) and the simulator (HTTP) are the real ones; only
the server is the time-skipping one, so days of working time pass in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.agencies import agency_session
from api.procedure_definitions import parse_definition
from domain.dossier import (
    ApologySubmission,
    Applicant,
    Channel,
    DefinitionSnapshot,
    DossierInput,
    ExtensionSubmission,
    OfficerDecision,
    OfficerRef,
    PortalStatus,
    SupplementSubmission,
    Withdrawal,
)
from domain.working_calendar import WorkingCalendar
from infrastructure.settings import PROJECT_ROOT
from infrastructure.temporal import SEARCH_ATTRIBUTES, data_converter
from readmodel import dossiers
from readmodel.db import engine_for
from readmodel.schema import init_db
from readmodel.tables import DossierRow, OfficerRow
from results.issuing import ResultIssuer
from results.render import ResultRenderer
from results.signing import SigningAuthority
from worker import AgencyEndpoints, dossier_activities
from workflows.dossier import DossierWorkflow

TEST_SERVER = PROJECT_ROOT / "devstack" / "temporal-test-server" / "temporal-test-server"
UNIT = "H29.50.05.27"  # a ward no other test receives at: dossier codes restart in each fresh database
LEADER_UNIT = "H29.22"
CALENDAR = WorkingCalendar()
_serial = itertools.count(1)


def _definition() -> dict[str, Any]:
    return {
        "code": "7.000001",
        "name": "Thủ tục thử đồng hồ pháp lý",
        "sector": "test",
        "level": "ward",
        "receiving_units": [UNIT],
        "time_limit_working_days": 3,
        "extended_time_limit_working_days": 5,
        "form": {"fields": [{"name": "note", "label": "Ghi chú", "type": "text", "required": False}]},
        "steps": [
            {
                "id": "reception",
                "kind": "reception",
                "name": "Tiếp nhận",
                "role": "reception",
                "budget_working_days": 1,
                "on_overdue": {"action": "reassign", "role": "leader", "unit_code": LEADER_UNIT},
                "next": "approval",
            },
            {
                "id": "approval",
                "kind": "approval",
                "name": "Phê duyệt",
                "role": "leader",
                "budget_working_days": 2,
                "next": "result",
            },
            {"id": "result", "kind": "result", "name": "Trả kết quả"},
        ],
    }


@dataclass
class Clock:
    env: WorkflowEnvironment
    engine: Engine

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def start(self) -> tuple[str, WorkflowHandle]:
        definition = parse_definition(_definition())
        received_at = await self.now()
        appointment = CALENDAR.appointment_date(received_at, definition.time_limit_working_days)
        with Session(self.engine) as session:
            row = dossiers.register(
                session,
                agency_code=UNIT,
                day=CALENDAR.local_date(received_at),
                idempotency_key=None,
                build=lambda code: DossierRow(
                    code=code, procedure_code=definition.code, procedure_version=1, procedure_name=definition.name,
                    receiving_unit=UNIT, channel=2, applicant={"full_name": "Trần Thị Hẹn"}, form={},
                    received_at=received_at, appointment_date=appointment, original_appointment_date=appointment,
                    request_hash=f"clock-{next(_serial)}", status=1, updated_at=received_at,
                ),
            )  # fmt: skip
        handle = await self.env.client.start_workflow(
            DossierWorkflow.run,
            DossierInput(
                dossier_code=row.code,
                snapshot=DefinitionSnapshot(
                    code=definition.code, version=1, content_hash=definition.content_hash(), definition=definition
                ),
                form={},
                applicant=Applicant(full_name="Trần Thị Hẹn"),
                channel=Channel.online,
                receiving_unit=UNIT,
                received_at=received_at,
                appointment_date=appointment,
                step_units={"reception": UNIT, "approval": UNIT},
            ),
            id=row.code,
            task_queue="legal-clock",
        )
        return row.code, handle

    def row(self, code: str) -> DossierRow:
        with Session(self.engine) as session:
            row = dossiers.get(session, code)
            assert row is not None
            return row

    def events(self, code: str) -> list[str]:
        with Session(self.engine) as session:
            return [e.kind for e in dossiers.events(session, code)]

    async def until(self, probe: Callable[[], Any], what: str, timeout: float = 20) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := probe():
                return value
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")

    async def skip_to(self, moment: datetime) -> None:
        await self.env.sleep(moment - await self.now())


@contextlib.asynccontextmanager
async def legal_clock(simulator_url: str, folder: Path) -> AsyncIterator[Clock]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=data_converter
    )
    async with env:
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(search_attributes=SEARCH_ATTRIBUTES, namespace="default")
        )
        engine = engine_for(f"sqlite:///{folder / 'clock.sqlite3'}")
        init_db(engine)
        _register_officers(engine)
        async with agency_session(10) as http:
            activities = dossier_activities(
                engine,
                CALENDAR,
                http,
                AgencyEndpoints(
                    portal=f"{simulator_url}/portal",
                    agency_systems=f"{simulator_url}/systems",
                    result_store=f"{simulator_url}/result-store",
                ),
                ResultIssuer(
                    engine,
                    SigningAuthority(folder / "signing", generate=True),
                    ResultRenderer(folder / "fonts"),
                    public_base_url="http://127.0.0.1:8000",
                ),
                portal_ride_along_seconds=1.0,
            )
            with ThreadPoolExecutor(max_workers=8) as executor:
                async with Worker(
                    env.client,
                    task_queue="legal-clock",
                    workflows=[DossierWorkflow],
                    activities=activities,
                    activity_executor=executor,
                ):
                    yield Clock(env, engine)


# The officers the scenarios' Updates name: the dossier asks the unit registry after them.
OFFICERS = [("reception", UNIT), ("leader", UNIT), ("leader", LEADER_UNIT)]


def _officer_id(role: str, unit: str) -> str:
    return f"{role}-1@{unit}"


def _register_officers(engine: Engine) -> None:
    with Session(engine) as session:
        for role, unit in OFFICERS:
            session.add(
                OfficerRow(
                    officer_id=_officer_id(role, unit), full_name=f"{role} {unit}", unit_code=unit, roles=[role],
                    updated_at=datetime.now(UTC),
                )
            )  # fmt: skip
        session.commit()


def _officer(role: str, unit: str = UNIT) -> OfficerRef:
    return OfficerRef(officer_id=_officer_id(role, unit), role=role, unit_code=unit)  # type: ignore[arg-type]


def _decision(step: str, role: str, unit: str = UNIT, **fields: Any) -> OfficerDecision:
    return OfficerDecision(
        step_id=step, decision=fields.pop("decision", "approve"), officer=_officer(role, unit), **fields
    )


def _active(row: DossierRow, step: str) -> dict[str, Any] | None:
    return next((s for s in row.active_steps if s["step_id"] == step), None)


def test_early_warning_then_overdue_reassigns_the_step(simulator, tmp_path):
    async def scenario() -> None:
        async with legal_clock(str(simulator.base_url).rstrip("/"), tmp_path) as clock:
            code, handle = await clock.start()
            step = await clock.until(lambda: _active(clock.row(code), "reception"), "the reception step")
            started = datetime.fromisoformat(step["started_at"])
            due = datetime.fromisoformat(step["due_at"])
            warn = datetime.fromisoformat(step["warn_at"])
            assert due == CALENDAR.step_deadline(started, 1)
            budget = CALENDAR.working_hours_between(started, due)
            assert budget == pytest.approx(8.0)
            assert CALENDAR.working_hours_between(started, warn) == pytest.approx(0.8 * budget, abs=0.01)

            await clock.skip_to(warn + timedelta(minutes=1))
            await clock.until(lambda: (_active(clock.row(code), "reception") or {}).get("warning"), "the early warning")
            assert "early_warning" in clock.events(code)
            notices = simulator.get("/_sim/calls", params={"dossier_code": code, "system": "notification"}).json()
            assert [n["body"]["reason"] for n in notices] == ["early_warning"]

            await clock.skip_to(due + timedelta(minutes=1))
            moved = await clock.until(
                lambda: (s := _active(clock.row(code), "reception")) and s["overdue"] and s, "the overdue escalation"
            )
            assert (moved["role"], moved["unit_code"]) == ("leader", LEADER_UNIT)
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(DossierWorkflow.decide, _decision("reception", "reception"))
            await handle.execute_update(DossierWorkflow.decide, _decision("reception", "leader", LEADER_UNIT))
            kinds = await clock.until(lambda: (k := clock.events(code)) and "decision" in k and k, "the decision")
            assert (
                kinds.index("early_warning")
                < kinds.index("overdue")
                < kinds.index("escalated")
                < kinds.index("decision")
            )

    asyncio.run(scenario())


def test_supplement_time_stops_the_clock(simulator, tmp_path):
    async def scenario() -> None:
        async with legal_clock(str(simulator.base_url).rstrip("/"), tmp_path) as clock:
            code, handle = await clock.start()
            await clock.until(lambda: _active(clock.row(code), "reception"), "the reception step")
            await handle.execute_update(DossierWorkflow.decide, _decision("reception", "reception"))
            step = await clock.until(lambda: _active(clock.row(code), "approval"), "the approval step")
            due_before = datetime.fromisoformat(step["due_at"])
            appointment_before = clock.row(code).appointment_date

            await handle.execute_update(
                DossierWorkflow.decide, _decision("approval", "leader", decision="request_supplement", missing=["CCCD"])
            )
            paused_at = await clock.now()
            # The applicant takes four calendar days, the deadlines must not run meanwhile.
            await clock.env.sleep(timedelta(days=4))
            resumed_at = await clock.now()
            await handle.execute_update(DossierWorkflow.supplement, SupplementSubmission(form={"note": "đã bổ sung"}))

            suspended = CALENDAR.working_hours_between(paused_at, resumed_at)
            assert suspended > 0
            row = await clock.until(
                lambda: (r := clock.row(code)).supplement_count == 1 and not r.supplement_request and r,
                "the resumption",
            )
            assert row.suspended_working_hours == pytest.approx(suspended, abs=0.05)
            expected = CALENDAR.local_date(
                CALENDAR.add_working_hours(
                    CALENDAR.end_of_day(appointment_before) - timedelta(seconds=1), row.suspended_working_hours
                )
            )
            assert row.appointment_date == expected > appointment_before
            assert row.original_appointment_date == appointment_before
            step = _active(row, "approval")
            assert step is not None and not step["warning"]
            assert datetime.fromisoformat(step["due_at"]) == CALENDAR.add_working_hours(
                due_before, row.suspended_working_hours
            )

    asyncio.run(scenario())


def test_missed_appointment_is_flagged_unless_an_apology_was_made(simulator, tmp_path):
    async def scenario() -> None:
        async with legal_clock(str(simulator.base_url).rstrip("/"), tmp_path) as clock:
            silent, _ = await clock.start()
            apologised, handle = await clock.start()
            await clock.until(lambda: _active(clock.row(apologised), "reception"), "the reception step")
            appointment = clock.row(apologised).appointment_date
            new_date = CALENDAR.add_working_days(appointment, 2)
            await handle.execute_update(
                DossierWorkflow.apologize,
                ApologySubmission(
                    reason="Chờ xác minh liên ngành", new_appointment_date=new_date, officer=_officer("leader")
                ),
            )
            row = await clock.until(lambda: (r := clock.row(apologised)).apology and r, "the apology")
            assert row.apology["new_appointment_date"] == new_date.isoformat()
            assert row.appointment_date == appointment  # an apology does not make a late dossier on time

            await clock.skip_to(CALENDAR.end_of_day(appointment) + timedelta(minutes=5))
            flagged = await clock.until(lambda: (r := clock.row(silent)).overdue and r, "the silent dossier overdue")
            assert flagged.overdue_without_apology
            late = await clock.until(
                lambda: (r := clock.row(apologised)).overdue and r, "the apologised dossier overdue"
            )
            assert not late.overdue_without_apology
            notices = simulator.get("/_sim/calls", params={"dossier_code": apologised, "system": "notification"}).json()
            assert any("xin lỗi" in (n["body"].get("message") or "") for n in notices)

            # The letter's new appointment is a promise too: missed without a further letter, the flag is raised.
            await clock.skip_to(CALENDAR.end_of_day(new_date) + timedelta(minutes=5))
            broken = await clock.until(
                lambda: (r := clock.row(apologised)).overdue_without_apology and r, "the apology's promise missed"
            )
            assert broken.status not in (7, 8, 10)
            with Session(clock.engine) as session:
                summaries = [e.summary for e in dossiers.events(session, apologised)]
            assert any(f"{new_date:%d/%m/%Y} given by the apology letter was missed" in s for s in summaries), summaries

    asyncio.run(scenario())


def test_extension_only_once_and_withdrawal_ends_processing(simulator, tmp_path):
    async def scenario() -> None:
        async with legal_clock(str(simulator.base_url).rstrip("/"), tmp_path) as clock:
            code, handle = await clock.start()
            await clock.until(lambda: _active(clock.row(code), "reception"), "the reception step")
            appointment = clock.row(code).appointment_date
            later = CALENDAR.add_working_days(appointment, 2)
            officer = _officer("leader")  # the leader extends, unless the definition says otherwise
            await handle.execute_update(
                DossierWorkflow.extend,
                ExtensionSubmission(reason="Cần xác minh thực địa", new_appointment_date=later, officer=officer),
            )
            await clock.until(lambda: clock.row(code).extended, "the extension")
            assert clock.row(code).appointment_date == later
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(
                    DossierWorkflow.extend,
                    ExtensionSubmission(
                        reason="lần nữa", new_appointment_date=CALENDAR.add_working_days(later, 1), officer=officer
                    ),
                )
            await handle.execute_update(DossierWorkflow.withdraw, Withdrawal(reason="Không còn nhu cầu"))
            outcome = await handle.result()
            assert (outcome.status, outcome.outcome) == (PortalStatus.withdrawn, "withdrawn")
            row = clock.row(code)
            assert row.status == 7 and row.active_steps == []

    asyncio.run(scenario())
