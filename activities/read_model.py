"""Activities that keep the SQL read model in step with each dossier's workflow."""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine
from sqlmodel import Session
from temporalio import activity

from domain.dossier import Transition
from readmodel import dossiers

log = logging.getLogger(__name__)


class ReadModelActivities:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @activity.defn
    def record_transition(self, transition: Transition) -> None:
        with Session(self._engine) as session:
            applied = dossiers.apply_transition(session, transition)
        log.info(
            "dossier %s #%d %s%s",
            transition.dossier_code,
            transition.seq,
            transition.event.summary,
            "" if applied else " (already recorded)",
        )
