"""Bar charts as inline SVG, for the HTML report.

Drawn here rather than by a chart library because the page must open from a
CI artifact with no network and no script: plain ``<rect>`` and ``<text>``
elements are all a browser needs. Colours come from the page's CSS classes
(``spend``, ``replayed``), so the charts follow its light or dark theme.
Every text is escaped; labels too long for their column are cut at the
front, where test ids repeat their file path, and keep the whole in a tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

WIDTH = 960
LABEL_WIDTH = 400
VALUE_WIDTH = 150
ROW_HEIGHT = 26
BAR_HEIGHT = 16
CHAR_WIDTH = 7.3  # of the 12px monospace labels, to know how many fit
LABEL_CHARS = int((LABEL_WIDTH - 12) / CHAR_WIDTH)


@dataclass(frozen=True, slots=True)
class Bar:
    """One row of a horizontal chart: stacked segments, one per series, left to right."""

    label: str
    parts: tuple[Decimal, ...]
    value: str
    tooltip: str


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the per-day chart."""

    label: str
    value: Decimal
    tooltip: str


def shorten(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, cut at the front: the end tells tests apart."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else "\u2026" + flat[-(limit - 1) :]


def _num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def bars(rows: Sequence[Bar], *, name: str, series: Sequence[str], title: str) -> str:
    """A horizontal stacked bar chart, longest bar = the largest total."""
    largest = max((sum(row.parts, Decimal(0)) for row in rows), default=Decimal(0))
    scale = (WIDTH - LABEL_WIDTH - VALUE_WIDTH) / float(largest) if largest > 0 else 0.0
    height = ROW_HEIGHT * len(rows) + 8
    out = [
        f'<svg class="chart" data-chart="{escape(name)}" role="img" viewBox="0 0 {WIDTH} '
        f'{height}" width="{WIDTH}" height="{height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for index, row in enumerate(rows):
        top = 4 + index * ROW_HEIGHT
        middle = top + ROW_HEIGHT / 2
        out.append(f'<g class="row"><title>{escape(row.tooltip)}</title>')
        out.append(
            f'<text class="label" x="{LABEL_WIDTH - 12}" y="{_num(middle)}">'
            f"{escape(shorten(row.label, LABEL_CHARS))}</text>"
        )
        x = float(LABEL_WIDTH)
        for part, kind in zip(row.parts, series, strict=True):
            width = float(part) * scale
            if width <= 0:
                continue
            out.append(
                f'<rect class="bar {escape(kind)}" x="{_num(x)}" '
                f'y="{_num(middle - BAR_HEIGHT / 2)}" width="{_num(max(width, 1.0))}" '
                f'height="{BAR_HEIGHT}" rx="2"/>'
            )
            x += width
        out.append(f'<text class="value" x="{_num(x + 8)}" y="{_num(middle)}">')
        out.append(f"{escape(row.value)}</text></g>")
    out.append("</svg>")
    return "".join(out)


def nice_step(largest: float, ticks: int = 4) -> float:
    """A round gridline step (1, 2 or 5 times a power of ten) giving about ``ticks`` lines."""
    if largest <= 0:
        return 1.0
    raw = largest / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= raw)


def money_tick(value: float, step: float) -> str:
    """An axis label with as many decimals as the step needs: $0.05, $0.10, $0.15."""
    decimals = max(2, -math.floor(math.log10(step))) if 0 < step < 1 else 2
    return f"${value:,.{decimals}f}"


def columns(cols: Sequence[Column], *, name: str, title: str, height: int = 240) -> str:
    """A vertical column chart with a dollar axis; every few columns get a label."""
    left, right, top, bottom = 72, 12, 12, 34
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    largest = max((float(c.value) for c in cols), default=0.0)
    step = nice_step(largest)
    ceiling = step * max(1, math.ceil(largest / step)) if largest > 0 else step
    out = [
        f'<svg class="chart" data-chart="{escape(name)}" role="img" viewBox="0 0 {WIDTH} '
        f'{height}" width="{WIDTH}" height="{height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    lines = round(ceiling / step)
    for tick in range(lines + 1):
        y = top + plot_h - plot_h * tick / lines
        out.append(
            f'<line class="grid" x1="{left}" x2="{WIDTH - right}" y1="{_num(y)}" y2="{_num(y)}"/>'
            f'<text class="axis" x="{left - 8}" y="{_num(y)}">'
            f"{escape(money_tick(step * tick, step))}</text>"
        )
    slot = plot_w / max(len(cols), 1)
    every = max(1, math.ceil(len(cols) / 10))
    for index, col in enumerate(cols):
        x = left + index * slot
        bar_h = plot_h * float(col.value) / ceiling
        out.append(f'<g class="col"><title>{escape(col.tooltip)}</title>')
        if bar_h > 0:
            out.append(
                f'<rect class="bar spend" x="{_num(x + slot * 0.15)}" '
                f'y="{_num(top + plot_h - max(bar_h, 1.0))}" width="{_num(slot * 0.7)}" '
                f'height="{_num(max(bar_h, 1.0))}" rx="2"/>'
            )
        if (len(cols) - 1 - index) % every == 0:
            out.append(
                f'<text class="tick" x="{_num(x + slot / 2)}" y="{height - 12}">'
                f"{escape(col.label)}</text>"
            )
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)
