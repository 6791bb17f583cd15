"""The audit trail, for administrators: every state-changing act outside dossiers' own histories."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import AdministratorDep, SessionDep
from readmodel import organisation
from readmodel.db import as_utc

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor_kind: str
    actor_id: str | None
    on_behalf_of: str | None
    unit_code: str | None
    channel: str
    action: str
    target: str
    detail: dict[str, Any]


@router.get("")
def audit_trail(
    session: SessionDep,
    _: AdministratorDep,
    target: Annotated[str | None, Query(max_length=200)] = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[AuditEntryOut]:
    """Newest first. A dossier's own acts (decisions, supplements …) are in its timeline, with the same fields."""
    rows = organisation.audit_entries(session, target=target, actor_id=actor, limit=limit, offset=offset)
    return [AuditEntryOut(**row.model_dump(exclude={"at"}), at=as_utc(row.at)) for row in rows]
