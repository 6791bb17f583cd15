"""What people read, in Vietnamese (the source language: every message is written in Vietnamese in the code and the
templates) and English, from gettext catalogs kept with Babel (`make translations` extracts the messages and updates
the catalogs; infrastructure/locale/<language>/LC_MESSAGES/messages.po).

The catalogs are read from their .po files when first needed, so that a catalog edited by a translator is what runs,
with no compiled file to forget."""

from __future__ import annotations

import functools
import gettext
import io
import re
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from domain.wording import Said

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
DOMAIN = "messages"
_RANGE = re.compile(r"^\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]{1,5}))?\s*$")


def catalog_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The language's translations; Vietnamese, the source language, needs none."""
    if language == DEFAULT_LANGUAGE or language not in LANGUAGES:
        return gettext.NullTranslations()
    with catalog_path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def translate(language: str, text: str, **values: object) -> str:
    """`text` (Vietnamese) in `language`, with `{name}` placeholders filled in (a Said brings its own)."""
    if isinstance(text, Said):
        text, values = text.text, {**text.values, **values}
    said = translations(language).gettext(text) if text else text
    return said.format(**values) if values else said


def number(value: int | float, language: str) -> str:
    """8.000 in Vietnamese, 8,000 in English."""
    return format_decimal(value, locale="vi_VN" if language == "vi" else "en_US")


def from_accept_language(header: str | None) -> str:
    """The language an `Accept-Language` header prefers among ours (RFC 9110 §12.5.4), else Vietnamese."""
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for part in (header or "").split(",")[:20]:
        match = _RANGE.match(part)
        if match is None:
            continue
        language = match.group(1).lower()
        try:
            quality = float(match.group(2)) if match.group(2) else 1.0
        except ValueError:
            continue
        if language in LANGUAGES and quality > best_q:  # strictly: earlier ranges win ties, as the client listed them
            best, best_q = language, quality
    return best
