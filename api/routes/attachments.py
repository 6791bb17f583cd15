"""Attachments: applicants upload the files of their eForm, and cite them with the claim the upload answered; whoever
may see a dossier opens the files it cites. No file opens by its hash alone."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, HTTPException, Path, Response, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from api.access import ReadableDossier
from api.deps import SettingsDep
from api.errors import field_error
from api.uploads import bounded_upload_route
from domain.attachments import AttachmentRefused, AttachmentRules, descriptors_in
from infrastructure.attachment_store import AttachmentStore, UploadClaims
from infrastructure.settings import Settings

router = APIRouter(tags=["attachments"])
uploads = APIRouter(tags=["attachments"], route_class=bounded_upload_route(lambda s: s.attachment_max_bytes))

Sha256 = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]


class AttachmentOut(BaseModel):
    """The descriptor to put in the eForm's attachment field."""

    name: str
    media_type: str
    size_bytes: int
    sha256: str
    # Proves, when a dossier cites the file, that its submitter uploaded it; kept by the uploader, never stored.
    claim: str


def attachment_store(settings: Settings) -> AttachmentStore:
    return AttachmentStore(settings.attachment_folder)


def attachment_rules(settings: Settings) -> AttachmentRules:
    return AttachmentRules(max_bytes=settings.attachment_max_bytes, media_types=tuple(settings.attachment_media_types))


async def keep_upload(file: UploadFile, settings: Settings) -> dict[str, Any]:
    """Read an uploaded file (never more than the limit) and keep it; AttachmentRefused says why not."""
    content = await file.read(settings.attachment_max_bytes + 1)
    descriptor = await run_in_threadpool(
        attachment_store(settings).put,
        content,
        name=file.filename,
        media_type=file.content_type,
        rules=attachment_rules(settings),
    )
    claims = UploadClaims.from_settings(settings)
    return {
        **descriptor,
        "claim": claims.claim(descriptor["sha256"], descriptor["media_type"], descriptor["size_bytes"]),
    }


@uploads.post("/attachments", status_code=status.HTTP_201_CREATED)
async def upload_attachment(
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="A document of the dossier: PDF, JPEG or PNG by default")],
) -> AttachmentOut:
    """Upload one file (multipart `file`); the answer is its descriptor for the eForm's attachment field.
    Anyone may upload, as anyone may submit; files are kept by content, so the same file twice is one file.
    The descriptor's claim proves, when a dossier cites the file, that its submitter uploaded it.
    413 when larger than ATTACHMENT_MAX_BYTES, 415 for a media type not accepted, 422 when the bytes are
    not what the media type says."""
    try:
        return AttachmentOut(**await keep_upload(file, settings))
    except AttachmentRefused as refused:
        if refused.status == 422:  # the API's one shape of 422 answers: where, and what is wrong
            raise field_error(["body", "file"], refused.message) from None
        raise HTTPException(refused.status, refused.message) from None


@router.get(
    "/dossiers/{code}/attachments/{sha256}",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}}}},
)
def open_attachment(row: ReadableDossier, sha256: Sha256, settings: SettingsDep) -> Response:
    """A file of the dossier, for those who may see the dossier (as GET /dossiers/{code}); 404 for a file
    the dossier's form does not name."""
    descriptor = next((d for d in descriptors_in(row.form) if d.get("sha256") == sha256), None)
    content = attachment_store(settings).read(sha256) if descriptor else None
    if descriptor is None or content is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"dossier {row.code} has no attachment {sha256}")
    name = str(descriptor.get("name") or sha256)
    return Response(
        content,
        media_type=str(descriptor.get("media_type") or "application/octet-stream"),
        headers={
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}",
            # A file an applicant sent is data, never a page of this site.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
