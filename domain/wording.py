"""Marking what people read for translation where it is defined (`make translations` extracts every `mark("…")` and
`t("…")`); it is translated where it is read (infrastructure/translations.py)."""

from __future__ import annotations


def mark(text: str) -> str:
    return text
