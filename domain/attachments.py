"""Files applicants attach to a dossier: checked (size, media type, what the bytes really are) and referred to
by the eForm through the descriptor `{name, media_type, size_bytes, sha256}` alone; `infrastructure.attachment_store`
keeps the bytes, once per content."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What the first bytes of a file of each type are; a type without an entry is taken as declared.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
GUESSED_TYPES = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


class AttachmentRefused(Exception):
    """The file is not accepted; `status` is the HTTP answer (413 too large, 415 wrong type, 422 otherwise)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class AttachmentRules:
    max_bytes: int
    media_types: tuple[str, ...]


def clean_name(name: str | None) -> str:
    """The file's own name, without folders or control characters, at most 255 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in unicodedata.normalize("NFC", base) if unicodedata.category(ch)[0] != "C").strip()
    return base[-255:] or "attachment"


def media_type_of(declared: str | None, name: str) -> str:
    declared = (declared or "").split(";")[0].strip().lower()
    if declared and declared != "application/octet-stream":
        return declared
    return GUESSED_TYPES.get(Path(name).suffix.lower(), declared or "application/octet-stream")


def check(content: bytes, media_type: str, rules: AttachmentRules) -> None:
    if not content:
        raise AttachmentRefused(422, "the file is empty")
    if len(content) > rules.max_bytes:
        raise AttachmentRefused(413, f"files are limited to {rules.max_bytes} bytes")
    if media_type not in rules.media_types:
        raise AttachmentRefused(415, f"{media_type} is not accepted ({', '.join(rules.media_types)})")
    signatures = SIGNATURES.get(media_type)
    if signatures and not content.startswith(signatures):
        raise AttachmentRefused(422, f"the file's content is not {media_type}")


def descriptors_in(form: Any) -> list[dict[str, Any]]:
    """Every attachment descriptor in a dossier's form values (group items included)."""
    found: list[dict[str, Any]] = []
    if isinstance(form, dict):
        if isinstance(form.get("sha256"), str) and "media_type" in form:
            return [form]
        for value in form.values():
            found += descriptors_in(value)
    elif isinstance(form, list):
        for item in form:
            found += descriptors_in(item)
    return found


def cited_files(form: Any, path: tuple[str | int, ...] = ()) -> list[tuple[tuple[str | int, ...], dict[str, Any]]]:
    """Every attachment descriptor in a dossier's form values, with the path of the field that carries it."""
    if isinstance(form, dict):
        if isinstance(form.get("sha256"), str) and "media_type" in form:
            return [(path, form)]
        return [found for key, value in form.items() for found in cited_files(value, (*path, key))]
    if isinstance(form, list):
        return [found for index, item in enumerate(form) for found in cited_files(item, (*path, index))]
    return []
