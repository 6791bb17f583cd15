"""Bar charts drawn on the server as SVG: no script, a title and a description for screen readers, the value
written beside every bar (so the picture is never the only way to read a figure).

Readable on a phone: the chart takes the width it is given (width 100 %, no viewBox, so text is never scaled down),
each bar sits under its label, names wrap between words, and no text is smaller than 13 px."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from html import escape

BAR_COLOUR = "#1d5e8c"  # 7:1 against white
DETAIL_COLOUR = "#444c52"  # 8:1 against white
TITLE_SIZE, LABEL_SIZE, DETAIL_SIZE = 16, 15, 13  # px, whatever the screen
LINE = 20  # px between the baselines of a label's lines
BAR_HEIGHT, GAP = 18, 16
BAR_SHARE = 78  # % of the width the longest bar takes: the rest holds its figure
LABEL_CHARACTERS, DETAIL_CHARACTERS = 36, 42  # a line's characters at most (about 320 px, a phone's width)


@dataclass(frozen=True)
class Bar:
    label: str  # what the bar measures, by name
    value: float | None  # None: nothing to measure (no dossier completed, say)
    shown: str  # the figure as written beside the bar
    detail: str = ""  # a second, smaller line: the codes, say


def _lines(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]


def bar_chart(title: str, bars: list[Bar], *, maximum: float | None = None, chart_id: str = "chart") -> str:
    top = maximum if maximum is not None else max((b.value or 0 for b in bars), default=0)
    top = top or 1
    ident = escape(chart_id)
    description = "; ".join(f"{b.label}{f' ({b.detail})' if b.detail else ''}: {b.shown}" for b in bars)
    body: list[str] = []
    y = 0
    for line in _lines(title, LABEL_CHARACTERS):
        y += LINE + 2
        body.append(f'<text x="0" y="{y}" font-weight="bold" font-size="{TITLE_SIZE}">{escape(line)}</text>')
    y += GAP // 2
    for bar in bars:
        share = 0.0 if bar.value is None else BAR_SHARE * max(bar.value, 0) / top
        texts = [
            f'<text x="0" y="{(y := y + LINE)}" font-size="{LABEL_SIZE}" font-weight="bold" lang="vi">{escape(line)}</text>'
            for line in _lines(bar.label, LABEL_CHARACTERS)
        ]
        texts += [
            f'<text x="0" y="{(y := y + LINE - 2)}" font-size="{DETAIL_SIZE}" fill="{DETAIL_COLOUR}">{escape(line)}</text>'
            for line in (_lines(bar.detail, DETAIL_CHARACTERS) if bar.detail else [])
        ]
        bar_top = y + 7
        body.append(
            f'<g class="bar-row"><title>{escape(bar.label)}: {escape(bar.shown)}</title>{"".join(texts)}'
            f'<rect class="bar" x="0" y="{bar_top}" width="{share:.2f}%" height="{BAR_HEIGHT}" fill="{BAR_COLOUR}" '
            f'data-value="{"" if bar.value is None else bar.value}"/>'
            f'<text class="figure" x="{share:.2f}%" dx="6" y="{bar_top + BAR_HEIGHT - 4}" font-size="{LABEL_SIZE}">'
            f"{escape(bar.shown)}</text></g>"
        )
        y = bar_top + BAR_HEIGHT + GAP
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{ident}" role="img" '
            f'aria-labelledby="{ident}-title {ident}-desc" width="100%" height="{y}" font-family="sans-serif">',
            f'<title id="{ident}-title">{escape(title)}</title>',
            f'<desc id="{ident}-desc">{escape(description)}</desc>',
            *body,
            "</svg>",
        ]
    )
