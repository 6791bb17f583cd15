"""Marking what people read for translation where it is defined (`make translations` extracts every `mark("…")` and
`t("…")`); it is translated where it is read (infrastructure/translations.py)."""

from __future__ import annotations


def mark(text: str) -> str:
    return text


class Said(str):
    """A message as a sentence in Vietnamese that can be said again in another language: it keeps its marked
    template and values (infrastructure/translations.py translates it from them)."""

    text: str
    values: dict[str, object]

    def __new__(cls, text: str, **values: object) -> Said:
        said = super().__new__(cls, text.format(**values))
        said.text, said.values = text, values
        return said
