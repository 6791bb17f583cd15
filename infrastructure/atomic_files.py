"""Files that several processes may create at the same moment (keys, certificates, fonts)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def publish_once(path: Path, content: bytes, mode: int = 0o600) -> bool:
    """Create `path` with `content` unless it exists; never leaves a partly written file. True if we created it.

    The content is written aside, then hard-linked into place: the link is atomic and fails when another
    process published first, so every reader sees one complete file and all processes agree on it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, aside = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(aside, mode)
        try:
            os.link(aside, path)
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(aside)
