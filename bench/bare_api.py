"""The baseline for status polling: a bare FastAPI endpoint returning one dossier row from the same database."""

from __future__ import annotations

import os

from fastapi import FastAPI, HTTPException
from sqlalchemy import create_engine, text

engine = create_engine(os.environ["DATABASE_URL"], connect_args={"check_same_thread": False})
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
