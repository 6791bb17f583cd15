"""Result documents rendered from jinja2 templates, as HTML and as PDF, from the same template.

A definition names a template per result document (`results[].template`); without one the generic
`result.html` is used. Templates extend `_layout.html` (national heading, issuing unit, result id,
signature block and the verification hint). The PDF is drawn by fpdf2 from the same HTML, so templates
keep to the HTML it understands (headings, paragraphs, b/i/u, font, br, hr, lists, and tables whose
cells hold plain text); the `<head>` (styles, metadata) is for browsers only.

The text is set in Noto Sans, embedded from the `pymupdf-fonts` package (SIL OFL), which covers
Vietnamese; its font files are written once under the data folder, where fpdf2 reads them.
"""

from __future__ import annotations

import copy
import io
import logging
import multiprocessing
import os
import re
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fontTools import subset
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import TextEmphasis
from fpdf.fonts import SubsetMap, TextStyle, TTFFont
from jinja2 import Environment, FileSystemLoader, select_autoescape

from infrastructure.atomic_files import publish_once
from results import DEFAULT_TEMPLATE, TEMPLATES

log = logging.getLogger(__name__)
FONT_FAMILY = "NotoSans"
# fontTools explains every table it leaves out while subsetting the embedded font; that is expected.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
logging.getLogger("fontTools.subset.timer").setLevel(logging.ERROR)

_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
_environment = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True
)
_BROWSER_ONLY = re.compile(r"<!doctype[^>]*>|<head>.*?</head>|</?html[^>]*>|</?body[^>]*>|<!--.*?-->", re.I | re.S)
_PDF_TAG_STYLES = {
    "h1": TextStyle(color="#000000", font_size_pt=15, t_margin=6, b_margin=1, font_style="B", l_margin="Center"),
    "h2": TextStyle(color="#000000", font_size_pt=12, t_margin=4, b_margin=1, font_style="B"),
    "h3": TextStyle(color="#000000", font_size_pt=11, t_margin=3, b_margin=1, font_style="B"),
    "p": TextStyle(t_margin=1, b_margin=2),
}
_FONTS = {"": "notos", "B": "notosbo", "I": "notosit", "BI": "notosbi"}  # pymupdf_fonts.fontbuffers keys
# What Vietnamese documents are written in: Latin with its Vietnamese letters and marks, punctuation, the đồng
# sign. The font is cut down to these once, when written to the data folder: fpdf2 parses the whole file for
# every document, and 768 glyphs instead of 3,246 take a third less time to render a document. The cut keeps no
# layout tables (substitutions, positioning): fpdf2 shapes no text here and leaves them out of every file it embeds
# the font in, but parsed and carried them for each document, a sixth of its rendering time.
_VIETNAMESE_TEXT = [
    *range(0x20, 0x7F), *range(0xA0, 0x180), 0x1A0, 0x1A1, 0x1AF, 0x1B0, *range(0x300, 0x324),
    *range(0x1EA0, 0x1EFA), *range(0x2010, 0x2028), *range(0x2030, 0x203B), 0x20AB, 0x20AC, 0x2116, 0x2122,
]  # fmt: skip


def _local(moment: datetime) -> datetime:
    return moment.astimezone(_ZONE)


def _long_date(moment: datetime | date) -> str:
    day = _local(moment).date() if isinstance(moment, datetime) else moment
    return f"ngày {day.day:02d} tháng {day.month:02d} năm {day.year}"


def _short_date(value: Any) -> str:
    if isinstance(value, datetime):
        return f"{_local(value):%d/%m/%Y}"
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    if isinstance(value, str):
        try:
            return f"{date.fromisoformat(value[:10]):%d/%m/%Y}"
        except ValueError:
            return value
    return "" if value is None else str(value)


def _money(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{int(value):,} đồng".replace(",", ".")
    return "" if value is None else str(value)


def as_text(value: Any) -> str:
    """A form value as a line of text (lists joined, an address spelled out, absent as empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Có" if value else "Không"
    if isinstance(value, list):
        return ("; " if any(isinstance(v, dict) for v in value) else ", ").join(as_text(v) for v in value)
    if isinstance(value, dict):
        if "detail" in value or "ward_code" in value:
            return ", ".join(str(value[k]) for k in ("detail", "ward_code", "province_code") if value.get(k))
        if "name" in value and "sha256" in value:  # an attachment: named, never inlined
            return str(value["name"])
        return " - ".join(as_text(v) for v in value.values() if v not in (None, ""))
    return str(value)


def field_text(value: Any, field_type: str) -> str:
    """A form value spelled as its eForm field type wants (money in đồng, dates dd/mm/yyyy)."""
    if field_type == "money":
        return _money(value)
    if field_type == "date":
        return _short_date(value)
    return as_text(value)


_environment.filters.update(long_date=_long_date, short_date=_short_date, money=_money, text=as_text)


class _ParsedFonts:
    """Each style's font as fpdf2 parsed it, kept for the next documents of this process.

    Parsing (character widths, glyph ids, metrics) is a large part of a document's rendering, and would read
    the same file every time. A document gets a copy with what it changes of its own: its glyph subset, its
    descriptor (written into its file) and a freshly opened font file, which fpdf2 cuts down in place when it
    writes the document."""

    def __init__(self) -> None:
        self._fonts: dict[Path, TTFFont] = {}
        self._lock = threading.Lock()

    def add(self, pdf: FPDF, style: str, path: Path) -> None:
        fontkey = FONT_FAMILY.lower() + style
        with self._lock:
            parsed = self._fonts.get(path)
        if parsed is None:
            parser = FPDF()  # parsed apart from any document, so that no document's file ever changes it
            parser.add_font(FONT_FAMILY, style, str(path))
            parsed = parser.fonts[fontkey]
            with self._lock:
                self._fonts[path] = parsed
        font = copy.copy(parsed)
        font.i = len(pdf.fonts) + 1
        font.ttfont = TTFont(path, recalcTimestamp=False, lazy=True)
        _trust_glyph_bounds(font.ttfont)
        font.desc = copy.copy(parsed.desc)
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font.subset = SubsetMap(font)
        pdf.fonts[fontkey] = font


def _trust_glyph_bounds(ttfont: TTFont) -> None:
    # Subsetting keeps each glyph's outline as it is, so the bounding boxes written when the font was cut stay
    # true; recomputing them unpacked and repacked every glyph embedded, a fifth of a document's rendering.
    ttfont.recalcBBoxes = False


_parsed_fonts = _ParsedFonts()


class _DocumentPDF(FPDF):
    """Adds a style of the document's font when the document first uses it: fpdf2 subsets each font added into
    the file, used or not, a fifth of a document's rendering time for each style."""

    def __init__(self, font_paths: dict[str, Path], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._font_paths = font_paths
        for style in ("", "B"):  # tables look for their headings' bold font before setting it
            self._add_style(style)

    def _add_style(self, style: str) -> None:
        _parsed_fonts.add(self, style, self._font_paths[style])

    def set_font(self, family: str | None = None, style: str | TextEmphasis = "", size: float = 0) -> None:
        if (family or self.font_family).lower() == FONT_FAMILY.lower():
            emphasis = (style.style if isinstance(style, TextEmphasis) else style).upper()
            wanted = "".join(sorted(emphasis.replace("U", "").replace("S", "")))
            if FONT_FAMILY.lower() + wanted not in self.fonts and wanted in self._font_paths:
                self._add_style(wanted)
        super().set_font(family, style, size)


class ResultRenderer:
    def __init__(self, font_folder: Path, *, processes: int = 0) -> None:
        self._font_folder = font_folder
        self._font_paths: dict[str, Path] | None = None
        self._processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def render(self, template: str | None, context: dict[str, Any]) -> tuple[bytes, bytes]:
        """The document as (HTML, PDF) bytes; in a rendering process when the renderer has them."""
        if not self._processes:
            return self.render_here(template, context)
        self.fonts()  # published once by this process, before any rendering process reads them
        pool = self._rendering_pool()
        try:
            return pool.submit(_render_in_process, self._font_folder, template, context).result()
        except BrokenProcessPool:
            # A rendering process died (killed, out of memory): start afresh, and let this attempt be retried.
            with self._pool_lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise

    def render_here(self, template: str | None, context: dict[str, Any]) -> tuple[bytes, bytes]:
        html = _environment.get_template(template or DEFAULT_TEMPLATE).render(**context)
        return html.encode("utf-8"), self._pdf(html, context)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def _rendering_pool(self) -> ProcessPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                # spawn, not fork: the worker has threads and an event loop a forked child must not inherit
                self._pool = ProcessPoolExecutor(
                    self._processes, mp_context=multiprocessing.get_context("spawn"), initializer=_exit_with_parent
                )
            return self._pool

    def _pdf(self, html: str, context: dict[str, Any]) -> bytes:
        pdf = _DocumentPDF(self.fonts(), format="A4")
        pdf.set_margins(20, 15, 15)
        pdf.set_font(FONT_FAMILY, size=11)
        pdf.set_creator("motcua")
        pdf.set_title(str(context.get("document", {}).get("name", "")))
        pdf.set_author(str(context.get("unit", {}).get("name", "")))
        # The result id in the document information dictionary, which is never compressed: a verifier
        # finds which result an altered file claims to be without parsing the page content.
        result_id = str(context.get("result_id", ""))
        pdf.set_subject(result_id)
        pdf.set_keywords(f"motcua-result-id:{result_id}")
        pdf.add_page()
        pdf.write_html(_BROWSER_ONLY.sub("", html), font_family=FONT_FAMILY, tag_styles=_PDF_TAG_STYLES)
        return bytes(pdf.output())

    def fonts(self) -> dict[str, Path]:
        if self._font_paths is None:
            import pymupdf_fonts  # imported here: it decompresses megabytes of font data on first use

            paths = {}
            for style, loader in _FONTS.items():
                path = self._font_folder / f"{FONT_FAMILY}-{style or 'R'}.vi-plain.ttf"
                if not path.exists():
                    publish_once(path, _vietnamese_subset(pymupdf_fonts.fontbuffers[loader]()), mode=0o644)
                paths[style] = path
            self._font_paths = paths
        return self._font_paths


_renderer_in_process: ResultRenderer | None = None


def _exit_with_parent() -> None:
    """A rendering process outlives a worker killed outright (its task queue never reads end-of-file, for it
    holds the queue's writing end too): it ends when its parent does instead of idling forever."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_end_when_done, args=(parent,), name="exit-with-parent", daemon=True).start()


def _end_when_done(parent: multiprocessing.process.BaseProcess) -> None:
    parent.join()
    os._exit(0)


def _render_in_process(font_folder: Path, template: str | None, context: dict[str, Any]) -> tuple[bytes, bytes]:
    global _renderer_in_process
    if _renderer_in_process is None:
        _renderer_in_process = ResultRenderer(font_folder)
    return _renderer_in_process.render_here(template, context)


def _vietnamese_subset(font_file: bytes) -> bytes:
    options = subset.Options()
    options.hinting = False  # PDF viewers rasterise without the font's hints
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF"]
    options.name_IDs = ["*"]  # keep the licence and the font's names
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=_VIETNAMESE_TEXT)
    font = TTFont(io.BytesIO(font_file))
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()
