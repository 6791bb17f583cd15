"""Bar charts drawn on the server as SVG: no script, a title and a description for screen readers, the value
written beside every bar (so the picture is never the only way to read a figure)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

ROW, LABEL_WIDTH, BAR_WIDTH, VALUE_WIDTH, TOP = 30, 260, 360, 80, 36
BAR_COLOUR = "#1d5e8c"  # 7:1 against white


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: nothing to measure (no dossier completed, say)
    shown: str  # the figure as written beside the bar


def bar_chart(title: str, bars: list[Bar], *, maximum: float | None = None, chart_id: str = "chart") -> str:
    top = maximum if maximum is not None else max((b.value or 0 for b in bars), default=0)
    top = top or 1
    height = TOP + ROW * max(len(bars), 1) + 10
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    description = "; ".join(f"{b.label}: {b.shown}" for b in bars)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
        f'<text x="0" y="18" font-weight="bold" font-size="14">{escape(title)}</text>',
        f'<line x1="{LABEL_WIDTH}" y1="{TOP - 6}" x2="{LABEL_WIDTH}" y2="{height - 6}" stroke="#505a5f"/>',
    ]
    for i, bar in enumerate(bars):
        y = TOP + i * ROW
        length = 0 if bar.value is None else max(round(BAR_WIDTH * bar.value / top), 1 if bar.value else 0)
        label = bar.label if len(bar.label) <= 38 else bar.label[:37] + "…"
        parts.append(
            f'<g class="bar-row"><title>{escape(bar.label)}: {escape(bar.shown)}</title>'
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 17}" text-anchor="end">{escape(label)}</text>'
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y + 4}" width="{length}" height="{ROW - 10}" fill="{BAR_COLOUR}" '
            f'data-value="{"" if bar.value is None else bar.value}"/>'
            f'<text x="{LABEL_WIDTH + length + 6}" y="{y + 17}">{escape(bar.shown)}</text></g>'
        )
    parts.append("</svg>")
    return "\n".join(parts)
