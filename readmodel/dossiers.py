"""Reads and writes of the dossier read model."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, literal_column, or_, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from domain.dossier import Applicant, Awaiting, Channel, PortalStatus, Transition
from domain.time_limits import DossierTimeLimit
from readmodel.db import as_utc, utcnow
from readmodel.tables import ActiveStepRow, DossierEventRow, DossierRow, DossierSerialRow

# The tables themselves, for the statements built once below: the polled reads and every transition's write.
_DOSSIER = DossierRow.__table__
_EVENT = DossierEventRow.__table__
_ACTIVE_STEP = ActiveStepRow.__table__


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used, for the dossier carried here."""

    def __init__(self, existing: DossierRow):
        super().__init__(existing.code)
        self.existing = existing


def dossier_code(agency_code: str, day: date, serial: int) -> str:
    """`<agency>-YYMMDD-NNNN`. A counter that receives more than 9,999 dossiers in a day goes on with a longer
    serial rather than turning citizens away: codes stay unique, the 10,000th is `…-10000`."""
    return f"{agency_code}-{day:%y%m%d}-{serial:04d}"


_SERIAL = DossierSerialRow.__table__  # type: ignore[attr-defined]
# Plain statements on the session's connection (same transaction): the ORM's bulk-update path cost more than the
# statement itself, once for every dossier received.
_BUMP_SERIAL = (
    update(_SERIAL)
    .where(_SERIAL.c.agency_code == bindparam("serial_agency"), _SERIAL.c.day == bindparam("serial_day"))
    .values(last=_SERIAL.c.last + 1)
    .returning(_SERIAL.c.last)
)


def _next_serial(session: Session, agency_code: str, day: date) -> int:
    key = f"{day:%y%m%d}"
    bumped = (
        session.connection()
        .execute(_BUMP_SERIAL, {"serial_agency": agency_code, "serial_day": key})
        .scalar_one_or_none()
    )
    if bumped is not None:
        return bumped
    # raises IntegrityError when another process created the counter first
    session.connection().execute(insert(_SERIAL).values(agency_code=agency_code, day=key, last=1))
    return 1


def register(
    session: Session,
    *,
    agency_code: str,
    day: date,
    idempotency_key: str | None,
    build: Callable[[str], DossierRow],
) -> DossierRow:
    """Hand out the next dossier code of the agency and day and store the dossier, in one transaction.

    The counter row serialises concurrent API processes; the primary key on the code and the unique
    Idempotency-Key are the last guard. Raises IdempotencyConflict when the key was already used.
    """
    for _ in range(10):
        if idempotency_key is not None:
            existing = find_by_idempotency_key(session, idempotency_key)
            if existing is not None:
                raise IdempotencyConflict(existing)
        try:
            code = dossier_code(agency_code, day, _next_serial(session, agency_code, day))
            row = build(code)
            session.add(row)
            session.commit()
            session.refresh(row)
            return row
        except IntegrityError:
            session.rollback()
    raise RuntimeError("could not register the dossier after repeated conflicts")


def new_dossier_row(
    code: str,
    *,
    procedure_code: str,
    procedure_version: int,
    procedure_name: str,
    receiving_unit: str,
    channel: Channel,
    applicant: Applicant,
    owner_citizen_id: str | None,
    submitted_by: dict[str, Any],
    form: dict[str, Any],
    step_units: dict[str, str],
    received_at: datetime,
    appointment_date: date,
    jurisdiction: str,
    idempotency_key: str | None,
    time_limit: DossierTimeLimit | None = None,
    request_hash: str,
    handling_unit: str | None = None,
    prefilled: bool = False,
    workflow_started: bool = False,
    parent_code: str | None = None,
) -> DossierRow:
    """The row of a dossier just registered (submitted, received at a counter, pushed by the portal, or started by
    a parent as its interconnected child): registered, due on its appointment, no step begun."""
    return DossierRow(
        code=code,
        procedure_code=procedure_code,
        procedure_version=procedure_version,
        procedure_name=procedure_name,
        receiving_unit=receiving_unit,
        handling_unit=handling_unit,
        channel=int(channel),
        owner_citizen_id=owner_citizen_id,
        submitted_by=submitted_by,
        applicant=applicant.model_dump(mode="json", exclude_none=True),
        form=form,
        step_units=step_units,
        received_at=received_at,
        appointment_date=appointment_date,
        original_appointment_date=appointment_date,
        time_limit_working_days=time_limit.working_days if time_limit else None,
        step_budgets=dict(time_limit.budgets) if time_limit else None,
        jurisdiction=jurisdiction,
        prefilled=prefilled,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        workflow_started=workflow_started,
        parent_code=parent_code,
        status=int(PortalStatus.registered),
        # Given, not left to their default factories: pydantic inspects a factory's signature each time it calls one.
        active_steps=[],
        results=[],
        updated_at=received_at,
    )


CHILD_KEY_PREFIX = "child:"


def child_key(parent_code: str, step_id: str, visit: int) -> str:
    """The Idempotency-Key of the child dossier a parent's child step registers (one per visit of the step)."""
    return f"{CHILD_KEY_PREFIX}{parent_code}:{step_id}:{visit}"


def child_step_id(idempotency_key: str | None) -> str | None:
    """The parent's step that started a child dossier, from the child's idempotency key."""
    key = idempotency_key or ""
    return key.split(":")[2] if key.startswith(CHILD_KEY_PREFIX) and key.count(":") == 3 else None


CHILD_COLUMNS = ("code", "idempotency_key", "procedure_code", "procedure_name", "receiving_unit", "status",
                 "outcome", "partial", "appointment_date", "completed_at")  # fmt: skip


_CHILDREN = (
    select(*(_DOSSIER.c[name] for name in CHILD_COLUMNS))
    .where(_DOSSIER.c.parent_code == bindparam("parent_code"))
    .order_by(_DOSSIER.c.received_at, _DOSSIER.c.code)
)


def children(connection: Connection, parent_code: str) -> list[dict[str, Any]]:
    """The interconnected dossiers a dossier started in other agencies, in the order they began, as plain rows
    (every poll asks: no ORM objects to build, the statement built once)."""
    return [dict(row._mapping) for row in connection.execute(_CHILDREN, {"parent_code": parent_code})]


def find_by_idempotency_key(session: Session, key: str) -> DossierRow | None:
    return session.exec(select(DossierRow).where(DossierRow.idempotency_key == key)).first()


def get(session: Session, code: str) -> DossierRow | None:
    return session.get(DossierRow, code)


def published_seq(session: Session, code: str) -> int:
    """The last transition of the dossier the read model has heard (0 before any)."""
    return session.exec(select(DossierRow.last_seq).where(DossierRow.code == code)).first() or 0


# What the status view never shows: the application itself, the largest values in the row (a form runs to kilobytes).
_NOT_POLLED = ("applicant", "form", "submitted_by")
_READ_ONLY = select(*(c for c in _DOSSIER.c if c.name not in _NOT_POLLED)).where(_DOSSIER.c.code == bindparam("code"))


def read_only(connection: Connection, code: str) -> DossierRow | None:
    """The dossier's row for the status view, without the ORM: citizens poll it many times a second, and an ORM
    session and object cost more than the query itself. It has the row's attributes except the application's
    (applicant, form, submitted_by), and nothing else."""
    mapping = connection.execute(_READ_ONLY, {"code": code}).mappings().first()
    return None if mapping is None else cast(DossierRow, SimpleNamespace(**mapping))


def events(session: Session, code: str) -> list[DossierEventRow]:
    return list(
        session.exec(
            select(DossierEventRow).where(DossierEventRow.dossier_code == code).order_by(col(DossierEventRow.seq))
        )
    )


TIMELINE_COLUMNS = ("seq", "at", "kind", "step_id", "actor", "summary", "status", "actor_kind", "actor_id",
                    "on_behalf_of", "unit_code", "channel", "message", "params")  # fmt: skip


_TIMELINE = (
    select(*(_EVENT.c[name] for name in TIMELINE_COLUMNS))
    .where(_EVENT.c.dossier_code == bindparam("code"))
    .order_by(_EVENT.c.seq)
)


def timeline(connection: Connection, code: str) -> list[dict[str, Any]]:
    """The dossier's events as plain rows, in order (the polled view: no ORM objects to build)."""
    return [{**row._mapping, "at": as_utc(row.at)} for row in connection.execute(_TIMELINE, {"code": code})]


# On PostgreSQL a poll's cost is its round trips to the server, so the row and its timeline come in one statement.
_TIMELINE_AS_JSON = (
    select(
        func.coalesce(
            func.json_agg(
                aggregate_order_by(
                    func.json_build_object(*(part for name in TIMELINE_COLUMNS for part in (name, _EVENT.c[name]))),
                    _EVENT.c.seq,
                )
            ),
            literal_column("'[]'::json"),
        )
    )
    .where(_EVENT.c.dossier_code == _DOSSIER.c.code)
    .scalar_subquery()
)
_READ_ONLY_WITH_TIMELINE = _READ_ONLY.add_columns(_TIMELINE_AS_JSON.label("timeline"))


def read_with_timeline(connection: Connection, code: str) -> tuple[DossierRow | None, list[dict[str, Any]] | None]:
    """The status view's row and, where one statement can bring it along (PostgreSQL), its timeline; otherwise the
    timeline is None and `timeline()` reads it once the reader is known to be allowed."""
    if connection.dialect.name != "postgresql":
        return read_only(connection, code), None
    mapping = connection.execute(_READ_ONLY_WITH_TIMELINE, {"code": code}).mappings().first()
    if mapping is None:
        return None, None
    values = dict(mapping)
    events = [{**event, "at": as_utc(datetime.fromisoformat(event["at"]))} for event in values.pop("timeline")]
    return cast(DossierRow, SimpleNamespace(**values)), events


_MARK_STARTED = update(_DOSSIER).where(_DOSSIER.c.code == bindparam("dossier_code")).values(workflow_started=True)


def mark_workflow_started(session: Session, code: str) -> None:
    session.connection().execute(_MARK_STARTED, {"dossier_code": code})
    session.commit()


_RECORDED_SEQS = select(_EVENT.c.seq).where(
    _EVENT.c.dossier_code == bindparam("code"), _EVENT.c.seq.in_(bindparam("seqs", expanding=True))
)


def apply_transitions(connection: Connection, transitions: list[Transition]) -> list[bool]:
    """Record a dossier's transitions in order, in the caller's transaction; False for those already recorded.

    Only the dossier's own workflow writes its transitions, one batch at a time, so a transition seen
    again is a retried activity: it is skipped, and an older state never overwrites a newer one.
    Every transition of every dossier comes through here: plain statements, no ORM session or objects."""
    if not transitions:
        return []
    code = transitions[0].dossier_code
    recorded = set(connection.scalars(_RECORDED_SEQS, {"code": code, "seqs": [t.seq for t in transitions]}))
    fresh = [t for t in transitions if t.seq not in recorded]
    if fresh:
        # The dossier's state as the newest of them leaves it: each transition carries the whole state, so the
        # batch's last one is the one that stands.
        connection.execute(_INSERT_EVENT, [_event_values(t) for t in fresh])
        stateful = [t for t in fresh if t.state is not None]
        if stateful:
            form = next((t.form for t in reversed(stateful) if t.form is not None), None)
            _apply_state(connection, stateful[-1], form)
    return [t.seq not in recorded for t in transitions]


def _event_values(transition: Transition) -> dict[str, Any]:
    event, by = transition.event, transition.event.by
    return {
        "dossier_code": transition.dossier_code,
        "seq": transition.seq,
        "kind": event.kind,
        "at": event.at,
        "step_id": event.step_id,
        "actor": event.actor,
        "summary": event.summary,
        "status": transition.state.status if transition.state else None,
        "detail": event.detail,
        "actor_kind": by.kind if by else None,
        "actor_id": by.actor_id if by else None,
        "on_behalf_of": by.on_behalf_of if by else None,
        "unit_code": by.unit_code if by else None,
        "channel": by.channel if by else None,
        "message": event.message,
        "params": event.params if event.message else None,
    }


_INSERT_EVENT = insert(_EVENT)
_INSERT_ACTIVE_STEP = insert(_ACTIVE_STEP)
_DELETE_ACTIVE_STEPS = delete(_ACTIVE_STEP).where(_ACTIVE_STEP.c.dossier_code == bindparam("code"))


@functools.lru_cache(maxsize=8)
def _state_update(columns: tuple[str, ...]) -> Any:
    """The dossier's state written over an older one (never over a newer one), one statement per set of columns:
    a statement built for every write (a bound parameter object and a cache key per value) cost more CPU than
    SQLite's own work on it."""
    return (
        update(_DOSSIER)
        .where(_DOSSIER.c.code == bindparam("where_code"), _DOSSIER.c.last_seq < bindparam("where_seq"))
        .values({name: bindparam(name, type_=_DOSSIER.c[name].type) for name in columns})
    )


def _apply_state(connection: Connection, transition: Transition, form: dict[str, Any] | None) -> None:
    state = transition.state
    assert state is not None
    values: dict[str, object] = {
        "status": int(state.status),
        "active_steps": [step.model_dump(mode="json") for step in state.active_steps],
        "appointment_date": state.appointment_date,
        "supplement_request": state.supplement_request.model_dump(mode="json") if state.supplement_request else None,
        "fee_request": state.fee_request.model_dump(mode="json") if state.fee_request else None,
        "fees_paid_vnd": state.fees_paid_vnd,
        "fees_refunded_vnd": state.fees_refunded_vnd,
        "outcome": state.outcome,
        "outcome_reason": state.outcome_reason,
        "partial": state.partial,
        "results": state.results,
        "completed_at": state.completed_at,
        "supplement_count": state.supplement_count,
        "suspended_working_hours": state.suspended_working_hours,
        "extended": state.extended,
        "apology": state.apology.model_dump(mode="json") if state.apology else None,
        "overdue": state.overdue,
        "overdue_without_apology": state.overdue_without_apology,
        "last_seq": transition.seq,
        "updated_at": utcnow(),
    }
    if form is not None:
        values["form"] = form
    newer = connection.execute(
        _state_update(tuple(values)), {**values, "where_code": transition.dossier_code, "where_seq": transition.seq}
    )
    if not newer.rowcount:
        return
    connection.execute(_DELETE_ACTIVE_STEPS, {"code": transition.dossier_code})
    if state.active_steps:
        connection.execute(
            _INSERT_ACTIVE_STEP,
            [
                {
                    "dossier_code": transition.dossier_code,
                    "step_id": step.step_id,
                    "name": step.name,
                    "kind": step.kind.value,
                    "awaiting": step.awaiting.value,
                    "role": step.role.value if step.role else None,
                    "unit_code": step.unit_code,
                    "due_date": step.due_date,
                    "due_at": step.due_at,
                    "warning": step.warning,
                    "overdue": step.overdue,
                    "system": step.system,
                    "started_at": step.started_at,
                }
                for step in state.active_steps
            ],
        )


# What an inbox line shows, and nothing else: a dossier row's JSON columns (form, applicant, steps) cost more to
# decode than the rest of the page together.
_INBOX_STEP_COLUMNS = ("dossier_code", "step_id", "role", "unit_code", "due_date", "due_at", "warning", "overdue")
_INBOX_DOSSIER_COLUMNS = (
    "applicant",
    "procedure_code",
    "procedure_name",
    "appointment_date",
    "received_at",
    "status",
    "parent_code",
)
_INBOX_COLUMNS = (
    *(_ACTIVE_STEP.c[name] for name in _INBOX_STEP_COLUMNS),
    _ACTIVE_STEP.c.name.label("step_name"),
    *(_DOSSIER.c[name] for name in _INBOX_DOSSIER_COLUMNS),
)


def inbox(session: Session, *, capacities: list[tuple[str, str]], limit: int, offset: int) -> list[Any]:
    """Steps awaiting an officer of one of these (role, unit) capacities, oldest deadline first: rows with the
    step's columns (its name as `step_name`) and the dossier's columns an inbox line shows."""
    if not capacities:
        return []
    query = (
        select(*_INBOX_COLUMNS)
        .join_from(_ACTIVE_STEP, _DOSSIER, _DOSSIER.c.code == _ACTIVE_STEP.c.dossier_code)
        .where(
            _ACTIVE_STEP.c.awaiting == Awaiting.officer.value,
            or_(*(and_(_ACTIVE_STEP.c.unit_code == unit, _ACTIVE_STEP.c.role == role) for role, unit in capacities)),
        )
        # Deadlines fall at the end of a working day, so thousands of steps share one: the tie goes to the step
        # that began first, the order of the inbox index, so the page is read off the index, never sorted.
        .order_by(_ACTIVE_STEP.c.due_at, _ACTIVE_STEP.c.started_at)
        .offset(offset)
        .limit(limit)
    )
    return list(session.connection().execute(query))


def waiting_on_systems(session: Session, *, started_before: datetime) -> list[ActiveStepRow]:
    """Steps waiting for an external system since before the given moment (blocked by an outage)."""
    return list(
        session.exec(
            select(ActiveStepRow)
            .where(col(ActiveStepRow.system).is_not(None), col(ActiveStepRow.started_at) < started_before)
            .order_by(col(ActiveStepRow.system), col(ActiveStepRow.started_at))
        )
    )


# What a line of a citizen's own list shows: the dossier's state, never the application (form, applicant).
_OWN_COLUMNS = ("code", "procedure_code", "procedure_name", "receiving_unit", "received_at", "appointment_date",
                "status", "active_steps", "supplement_request", "fee_request", "outcome", "outcome_reason", "partial",
                "completed_at")  # fmt: skip


def owned_by(connection: Connection, citizen_id: str, *, limit: int, offset: int) -> list[Any]:
    """The dossiers a citizen owns (`owner_citizen_id`, the rule by which they read their own dossier), newest first
    (the code breaks ties: it grows within a day and a counter). Read through ix_dossier_owner_citizen_id; a citizen
    has a handful of dossiers, so sorting them costs nothing."""
    query = (
        select(*(_DOSSIER.c[name] for name in _OWN_COLUMNS))
        .where(_DOSSIER.c.owner_citizen_id == citizen_id)
        .order_by(_DOSSIER.c.received_at.desc(), _DOSSIER.c.code.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(connection.execute(query))
