"""Officers list the steps waiting for their role at their unit, oldest deadline first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import OfficerDep, SessionDep
from api.dossier_service.inbox import InboxItem, officer_inbox

router = APIRouter(prefix="/inbox", tags=["officers"])


@router.get("")
def inbox(
    officer: OfficerDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[InboxItem]:
    """Steps awaiting a role the officer holds at a unit (their own, or one they act for by delegation)."""
    return officer_inbox(officer, session, limit=limit, offset=offset)
