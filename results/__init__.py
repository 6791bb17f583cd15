"""Signed electronic results: rendering (HTML and PDF), unit signatures, issuing and verification."""

from __future__ import annotations

from pathlib import Path

TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_TEMPLATE = "result.html"


def template_names() -> frozenset[str]:
    """The templates a definition may name (layout fragments, starting with _, are not documents)."""
    return frozenset(p.name for p in TEMPLATES.glob("*.html") if not p.name.startswith("_"))
