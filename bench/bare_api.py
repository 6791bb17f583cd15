"""Baselines for reads: bare FastAPI endpoints returning one dossier row, and one page of the officers' inbox, from
the same database, with no sign-in, no authority check and no response model."""

from __future__ import annotations

import os

from fastapi import FastAPI, HTTPException
from sqlalchemy import create_engine, text

URL = os.environ["DATABASE_URL"]
engine = create_engine(URL, connect_args={"check_same_thread": False} if URL.startswith("sqlite") else {})
app = FastAPI()


@app.get("/bare/{code}")
def bare(code: str) -> dict:
    with engine.connect() as connection:
        row = (
            connection.execute(
                text("SELECT code, status, appointment_date, active_steps FROM dossier WHERE code = :code"),
                {"code": code},
            )
            .mappings()
            .first()
        )
    if row is None:
        raise HTTPException(404)
    return dict(row)


_INBOX_PAGE = text(
    "SELECT s.dossier_code, s.step_id, s.name, s.role, s.unit_code, s.due_date, s.due_at, s.warning, s.overdue,"
    " d.procedure_code, d.procedure_name, d.appointment_date, d.received_at, d.status, d.parent_code"
    " FROM dossier_active_step s JOIN dossier d ON d.code = s.dossier_code"
    " WHERE s.awaiting = 'officer' AND s.unit_code = :unit AND s.role = :role"
    " ORDER BY s.due_at, s.started_at LIMIT :limit"
)


@app.get("/bare-inbox/{unit}/{role}")
def bare_inbox(unit: str, role: str, limit: int = 50) -> list[dict]:
    with engine.connect() as connection:
        rows = connection.execute(_INBOX_PAGE, {"unit": unit, "role": role, "limit": limit}).mappings().all()
    return [dict(row) for row in rows]
