"""The files a dossier cites: only uploads of the submitter's own. Each new citation carries the claim its upload
answered (`POST /attachments`); the claim is checked here and never stored, so the dossier keeps the file's
description and its readers open the file through it (`GET /dossiers/{code}/attachments/{sha256}`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import HTTPException

from domain.attachments import cited_files
from infrastructure.attachment_store import UploadClaims

NOT_UPLOADED = (
    "this file was not uploaded by whoever sends it: upload it (POST /attachments) and cite the descriptor the "
    "upload answered, its claim included"
)


def own_uploads(
    form: dict[str, Any],
    claims: UploadClaims,
    *,
    cited: Iterable[dict[str, Any]] = (),
    loc: tuple[str, ...] = ("body", "form"),
) -> dict[str, Any]:
    """The form with its claims checked and taken away; 422 naming every field that cites a file its sender did not
    upload. `cited`: the descriptors the dossier already carries (a supplement keeps them as they are, unclaimed)."""
    kept = {_described(d) for d in cited}
    errors = [
        {"loc": [*loc, *path], "msg": NOT_UPLOADED, "type": "attachment_not_uploaded"}
        for path, descriptor in cited_files(form)
        if not ("claim" not in descriptor and _described(descriptor) in kept) and not claims.holds(descriptor)
    ]
    if errors:
        raise HTTPException(422, errors)
    return _without_claims(form)


def _described(descriptor: dict[str, Any]) -> tuple[Any, Any, Any]:
    return descriptor.get("sha256"), descriptor.get("media_type"), descriptor.get("size_bytes")


def _without_claims(value: Any) -> Any:
    if isinstance(value, dict):
        if isinstance(value.get("sha256"), str) and "media_type" in value:
            return {k: v for k, v in value.items() if k != "claim"}
        return {k: _without_claims(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_claims(item) for item in value]
    return value
