"""Where attachments are kept: once per content, named by their SHA-256, so the same scan uploaded twice is
stored once."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from domain.attachments import AttachmentRules, check, clean_name, media_type_of

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
