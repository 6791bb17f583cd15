"""Deployed procedure versions: immutable, content-addressed, numbered per procedure code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from domain.definition import ProcedureDefinition
from domain.deployment_order import child_procedure_codes
from domain.dossier import ActorRef, DefinitionSnapshot
from readmodel.db import utcnow
from readmodel.organisation import audit
from readmodel.tables import ProcedureVersionRow


@dataclass(frozen=True)
class Deployment:
    row: ProcedureVersionRow
    created: bool


def deploy(session: Session, definition: ProcedureDefinition, actor: ActorRef | None = None) -> Deployment:
    """Store a new version unless this exact content is already deployed (deploy is idempotent)."""
    content_hash = definition.content_hash()
    for _ in range(5):
        existing = session.exec(
            select(ProcedureVersionRow).where(
                ProcedureVersionRow.code == definition.code,
                ProcedureVersionRow.content_hash == content_hash,
            )
        ).first()
        if existing is not None:
            if existing.retired_at is not None:
                # Deploying a retired procedure again puts it back into service.
                reactivate(session, definition.code, actor)
                session.refresh(existing)
            return Deployment(existing, created=False)
        latest = session.exec(
            select(func.max(ProcedureVersionRow.version)).where(ProcedureVersionRow.code == definition.code)
        ).one()
        row = ProcedureVersionRow(
            code=definition.code,
            version=(latest or 0) + 1,
            content_hash=content_hash,
            name=definition.name,
            body=definition.model_dump(mode="json", exclude_none=True),
            deployed_at=utcnow(),
        )
        session.add(row)
        if actor is not None:
            audit(session, actor, "procedure_deployed", definition.code,
                  {"version": row.version, "content_hash": content_hash})  # fmt: skip
        try:
            session.commit()
        except IntegrityError:
            # Another administrator deployed at the same moment: look again.
            session.rollback()
            continue
        session.refresh(row)
        return Deployment(row, created=True)
    raise RuntimeError(f"could not deploy {definition.code}: too much concurrent deployment")


def retire(session: Session, code: str, actor: ActorRef | None = None) -> datetime:
    moment = utcnow()
    session.execute(
        update(ProcedureVersionRow)
        .where(col(ProcedureVersionRow.code) == code, col(ProcedureVersionRow.retired_at).is_(None))
        .values(retired_at=moment)
    )
    if actor is not None:
        audit(session, actor, "procedure_retired", code)
    session.commit()
    return moment


def reactivate(session: Session, code: str, actor: ActorRef | None = None) -> None:
    session.execute(update(ProcedureVersionRow).where(col(ProcedureVersionRow.code) == code).values(retired_at=None))
    if actor is not None:
        audit(session, actor, "procedure_reactivated", code)
    session.commit()


def latest(session: Session, code: str) -> ProcedureVersionRow | None:
    return session.exec(
        select(ProcedureVersionRow)
        .where(ProcedureVersionRow.code == code)
        .order_by(ProcedureVersionRow.version.desc())  # type: ignore[attr-defined]
        .limit(1)
    ).first()


def version(session: Session, code: str, number: int) -> ProcedureVersionRow | None:
    return session.exec(
        select(ProcedureVersionRow).where(ProcedureVersionRow.code == code, ProcedureVersionRow.version == number)
    ).first()


def versions(session: Session, code: str) -> list[ProcedureVersionRow]:
    return list(
        session.exec(
            select(ProcedureVersionRow).where(ProcedureVersionRow.code == code).order_by(ProcedureVersionRow.version)  # type: ignore[arg-type]
        )
    )


def latest_of_each(session: Session) -> list[ProcedureVersionRow]:
    newest = (
        select(ProcedureVersionRow.code, func.max(ProcedureVersionRow.version).label("v"))
        .group_by(ProcedureVersionRow.code)
        .subquery()
    )
    return list(
        session.exec(
            select(ProcedureVersionRow)
            .join(
                newest,
                (ProcedureVersionRow.code == newest.c.code) & (ProcedureVersionRow.version == newest.c.v),
            )
            .order_by(ProcedureVersionRow.code)  # type: ignore[arg-type]
        )
    )


class ChildNotInService(LookupError):
    """A child step names a procedure that is not deployed, or is retired."""


def snapshot(row: ProcedureVersionRow) -> DefinitionSnapshot:
    return DefinitionSnapshot(
        code=row.code,
        version=row.version,
        content_hash=row.content_hash,
        definition=ProcedureDefinition.model_validate(row.body),
    )


def starts_children(connection: Connection, code: str, number: int) -> bool:
    """Whether the version has a step that starts an interconnected dossier (True for an unknown version, so a
    caller that skips looking for children on False never hides one)."""
    body = connection.execute(
        select(ProcedureVersionRow.body).where(ProcedureVersionRow.code == code, ProcedureVersionRow.version == number)
    ).scalar_one_or_none()
    if body is None:
        return True
    return bool(child_procedure_codes(body))


def pinned_snapshot(session: Session, row: ProcedureVersionRow, _path: tuple[str, ...] = ()) -> DefinitionSnapshot:
    """The snapshot a dossier runs on, with the current version of every child procedure pinned with it."""
    pinned = snapshot(row)
    children: dict[str, DefinitionSnapshot] = {}
    for _, step in pinned.definition.all_steps():
        if step.procedure is None:
            continue
        if step.procedure in (*_path, row.code):
            raise ChildNotInService(f"procedures {' → '.join((*_path, row.code, step.procedure))} form a loop")
        child = latest(session, step.procedure)
        if child is None or child.retired_at is not None:
            raise ChildNotInService(f"step {step.id!r} needs procedure {step.procedure}, which is not in service")
        children[step.id] = pinned_snapshot(session, child, (*_path, row.code))
    return pinned.model_copy(update={"children": children})


def child_problems(session: Session, definition: ProcedureDefinition) -> list[tuple[list[str | int], str]]:
    """Child procedures a definition names that are not deployed, or that would lead back to it."""
    problems: list[tuple[list[str | int], str]] = []
    for loc, step in definition.all_steps():
        if step.procedure is None:
            continue
        child = latest(session, step.procedure)
        if child is None:
            problems.append(([*loc, "procedure"], f"procedure {step.procedure} is not deployed; deploy it first"))
            continue
        try:
            pinned = pinned_snapshot(session, child, (definition.code,))
        except ChildNotInService as exc:
            problems.append(([*loc, "procedure"], str(exc)))
            continue
        problems += _input_problems(loc, step.inputs, definition, pinned.definition)
    return problems


def _input_problems(
    loc: list[str | int], inputs: dict[str, str] | None, parent: ProcedureDefinition, child: ProcedureDefinition
) -> list[tuple[list[str | int], str]]:
    """The child's form is filled from `inputs` (else from the parent's fields of the same names): each input
    names a field of the child's form, and every field the child always requires gets a value."""
    fields = child.form.field_names
    given = set(inputs) if inputs is not None else fields & parent.form.field_names
    problems: list[tuple[list[str | int], str]] = [
        ([*loc, "inputs", name], f"procedure {child.code} has no form field {name!r}")
        for name in sorted(given - fields)
    ]
    missing = [f.name for f in child.form.fields if f.required and not f.required_when and f.name not in given]
    if missing:
        problems.append(
            ([*loc, "inputs"], f"procedure {child.code} requires {', '.join(missing)}, which no input gives")
        )
    return problems
