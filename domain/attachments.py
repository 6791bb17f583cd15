"""Files applicants attach to a dossier: checked (size, media type, what the bytes really are) and kept once
per content, named by their SHA-256, so the eForm carries only the descriptor `{name, media_type,
size_bytes, sha256}` and the same scan uploaded twice is stored once."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHA256 = re.compile(r"^[0-9a-f]{64}$")
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


class AttachmentStore:
    """Attachments under one folder, `<sha256[:2]>/<sha256>`; written whole or not at all."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_of(self, sha256: str) -> Path:
        if not SHA256.match(sha256):
            raise ValueError("not a SHA-256 in hex")
        return self.folder / sha256[:2] / sha256

    def put(
        self, content: bytes, *, name: str | None, media_type: str | None, rules: AttachmentRules
    ) -> dict[str, Any]:
        """Check and keep a file; return its descriptor, the value of an attachment field of the eForm."""
        filename = clean_name(name)
        kind = media_type_of(media_type, filename)
        check(content, kind, rules)
        sha256 = hashlib.sha256(content).hexdigest()
        path = self.path_of(sha256)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as partial:
                partial.write(content)
            os.replace(partial.name, path)
        return {"name": filename, "media_type": kind, "size_bytes": len(content), "sha256": sha256}

    def read(self, sha256: str) -> bytes | None:
        try:
            return self.path_of(sha256).read_bytes()
        except (FileNotFoundError, ValueError):
            return None


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
