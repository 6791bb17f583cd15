"""Where attachments are kept: once per content, named by their SHA-256, so the same scan uploaded twice is
stored once."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from domain.attachments import AttachmentRules, check, clean_name, media_type_of
from infrastructure.keys import random_secret
from infrastructure.settings import Settings

SHA256 = re.compile(r"^[0-9a-f]{64}$")


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


class UploadClaims:
    """What proves that whoever cites a file in a dossier uploaded it: the upload answers a claim with the file's
    descriptor, and a submission (or a supplement) citing the file must carry it. Files are kept once per content,
    so a claim proves holding the bytes (whoever uploads the same bytes gets the same claim, and learns nothing);
    a hash alone, read off a dossier or guessed, proves nothing. The claim covers the media type and size the upload
    checked, so a citation cannot describe the file as something else. Derived with the server key behind lookup
    secrets (the same on every API machine), under a label of its own, so nothing is stored."""

    LABEL = b"motcua attachment upload\0"

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadClaims:
        key = settings.lookup_secret_key.encode() if settings.lookup_secret_key else None
        return _claims(key, settings.lookup_secret_key_path)

    def claim(self, sha256: str, media_type: str, size_bytes: int) -> str:
        message = self.LABEL + f"{sha256}\0{media_type}\0{size_bytes}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def holds(self, descriptor: dict[str, Any]) -> bool:
        """Whether an attachment descriptor carries the claim its upload answered."""
        claim, sha256 = descriptor.get("claim"), descriptor.get("sha256")
        media_type, size = descriptor.get("media_type"), descriptor.get("size_bytes")
        if not (isinstance(claim, str) and claim.isascii() and isinstance(sha256, str) and isinstance(size, int)):
            return False
        return hmac.compare_digest(self.claim(sha256, str(media_type), size), claim)


_CLAIMS: dict[tuple[bytes | None, Path], UploadClaims] = {}


def _claims(key: bytes | None, path: Path) -> UploadClaims:
    found = _CLAIMS.get((key, path))
    if found is None:
        found = _CLAIMS[(key, path)] = UploadClaims(key or random_secret(path))
    return found
