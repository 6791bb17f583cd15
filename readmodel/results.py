"""Reads and writes of issued results."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, or_, select

from domain.letters import LETTER_PREFIX
from readmodel.tables import DossierRow, IssuedResultRow


def get(session: Session, result_id: str) -> IssuedResultRow | None:
    return session.get(IssuedResultRow, result_id)


def for_document(session: Session, dossier_code: str, document_id: str) -> IssuedResultRow | None:
    return session.exec(
        select(IssuedResultRow).where(
            IssuedResultRow.dossier_code == dossier_code, IssuedResultRow.document_id == document_id
        )
    ).first()


def by_digest(session: Session, sha256: str) -> IssuedResultRow | None:
    """The result whose PDF or HTML rendering has this SHA-256."""
    return session.exec(
        select(IssuedResultRow).where(or_(IssuedResultRow.sha256 == sha256, IssuedResultRow.html_sha256 == sha256))
    ).first()


def of_dossier(session: Session, dossier_code: str) -> list[IssuedResultRow]:
    """A dossier's results, with those of its interconnected child dossiers (returned together with it); its official
    letters are not results (see letters_of)."""
    children = select(DossierRow.code).where(DossierRow.parent_code == dossier_code)
    return list(
        session.exec(
            select(IssuedResultRow)
            .where(or_(IssuedResultRow.dossier_code == dossier_code, col(IssuedResultRow.dossier_code).in_(children)))
            .where(col(IssuedResultRow.document_id).not_like(f"{LETTER_PREFIX}%"))
            .order_by(col(IssuedResultRow.issued_at), col(IssuedResultRow.id))
        )
    )


def letters_of(session: Session, dossier_code: str) -> list[IssuedResultRow]:
    """The official letters (forms 02–05) issued for this dossier, in the order they were issued."""
    return list(
        session.exec(
            select(IssuedResultRow)
            .where(IssuedResultRow.dossier_code == dossier_code)
            .where(col(IssuedResultRow.document_id).like(f"{LETTER_PREFIX}%"))
            .order_by(col(IssuedResultRow.issued_at), col(IssuedResultRow.id))
        )
    )


def mark_deposited(
    session: Session, result_id: str, *, at: datetime, reference: str | None, refusal: str | None = None
) -> None:
    session.execute(
        update(IssuedResultRow)
        .where(col(IssuedResultRow.id) == result_id)
        .values(deposited_at=at if refusal is None else None, store_reference=reference, deposit_refusal=refusal)
    )
    session.commit()
