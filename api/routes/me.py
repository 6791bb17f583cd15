"""What a signed-in citizen has: their own dossiers, each with what they must do now and by when."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import SessionDep
from api.dossier_service.my_dossiers import CitizenIdDep, my_dossiers
from api.dossier_service.schemas import MyDossiers

router = APIRouter(prefix="/me", tags=["citizens"])
MAX_PAGE = 100


LimitQuery = Annotated[int, Query(ge=1, le=MAX_PAGE)]
OffsetQuery = Annotated[int, Query(ge=0, le=1_000_000)]


@router.get("/dossiers")
def list_my_dossiers(
    citizen_id: CitizenIdDep, session: SessionDep, limit: LimitQuery = 20, offset: OffsetQuery = 0
) -> MyDossiers:
    """The citizen's dossiers, newest first, each with its status and what they must do now and by when."""
    return my_dossiers(session.connection(), citizen_id, limit=limit, offset=offset)
