"""A metric's chart: a Vega-Lite spec (for the JSON twin and the SPC charts to come) and an
accessible SVG line drawn on the server, so pages and print need no JavaScript.

Pure: no Django. Text placed in the SVG is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from html import escape
from typing import Any

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40


def vega_lite_spec(
    title: str,
    unit: str,
    periods: Sequence[str],
    values: Sequence[float | None],
    target: float | None,
) -> dict[str, Any]:
    data = [{"period": p, "value": v} for p, v in zip(periods, values, strict=True)]
    layers: list[dict[str, Any]] = [
        {
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": {"field": "period", "type": "temporal", "title": None},
                "y": {"field": "value", "type": "quantitative", "title": unit or None},
            },
        }
    ]
    if target is not None:
        layers.append(
            {
                "mark": {"type": "rule", "strokeDash": [6, 4]},
                "encoding": {"y": {"datum": target}},
            }
        )
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title,
        "data": {"values": data},
        "layer": layers,
        "width": "container",
    }


def _nice_step(span: float) -> float:
    raw = span / 5 if span > 0 else 1
    power = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * power:
            return multiple * power
    return 10 * power


def _format(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:g}"


def line_svg(
    title: str,
    unit: str,
    periods: Sequence[date],
    values: Sequence[float | None],
    target: float | None = None,
    summary: str = "",
    markers: Sequence[tuple[date, str]] = (),
) -> str:
    """A line chart with axes, gaps for missing points and an optional dashed target."""
    known = [v for v in values if v is not None]
    if not periods or not known:
        return (
            f'<svg role="img" viewBox="0 0 {WIDTH} 60" class="chart" aria-label="{escape(title)}">'
            f'<text x="10" y="35">No values to draw yet.</text></svg>'
        )
    low = min([*known, *([target] if target is not None else [])])
    high = max([*known, *([target] if target is not None else [])])
    low = min(low, 0) if low >= 0 else low
    step = _nice_step(high - low)
    high = math.ceil(high / step) * step if high > low else low + step
    low = math.floor(low / step) * step
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(index: int) -> float:
        return LEFT + (plot_w * index / max(1, len(periods) - 1))

    def y(value: float) -> float:
        return TOP + plot_h * (1 - (value - low) / (high - low))

    parts = [
        f'<svg role="img" viewBox="0 0 {WIDTH} {HEIGHT}" class="chart" '
        f'aria-labelledby="chart-title chart-desc" preserveAspectRatio="xMidYMid meet">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(summary)}</desc>',
    ]
    tick = low
    while tick <= high + step / 2:
        ty = y(tick)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end" class="axis">'
            f"{escape(_format(tick))}</text>"
        )
        tick += step
    years_seen: set[int] = set()
    last_label = -1e9
    for index, period in enumerate(periods):
        first_of_year = period.year not in years_seen
        years_seen.add(period.year)
        px = x(index)
        # A label per year, skipped when it would run into the one before (a December start).
        if first_of_year and px - last_label >= 70:
            last_label = px
            parts.append(
                f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" '
                f'class="grid"/><text x="{px:.1f}" y="{HEIGHT - BOTTOM + 18}" class="axis">'
                f"{period:%b %Y}</text>"
            )
    for day, reason in markers:
        if periods[0] <= day <= periods[-1]:
            index = sum(1 for p in periods if p <= day) - 1
            px = x(index)
            parts.append(
                f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" '
                f'class="rebase"><title>{escape(f"{day:%d %b %Y}: {reason}")}</title></line>'
                f'<text x="{px + 4:.1f}" y="{TOP + 12}" class="axis">{escape(reason[:40])}</text>'
            )
    if target is not None:
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(target):.1f}" y2="{y(target):.1f}" '
            f'class="target"/><text x="{WIDTH - RIGHT}" y="{y(target) - 5:.1f}" '
            f'text-anchor="end" class="axis">Target {escape(_format(target))}</text>'
        )
    segment: list[str] = []
    segments: list[list[str]] = []
    for index, value in enumerate(values):
        if value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{x(index):.1f},{y(value):.1f}")
    if segment:
        segments.append(segment)
    for points in segments:
        parts.append(f'<polyline points="{" ".join(points)}" class="series"/>')
    if len(periods) <= 60:
        for index, value in enumerate(values):
            if value is not None:
                parts.append(
                    f'<circle cx="{x(index):.1f}" cy="{y(value):.1f}" r="2.5" class="dot"/>'
                )
    if unit:
        parts.append(
            f'<text x="12" y="{TOP + plot_h / 2:.0f}" class="axis" '
            f'transform="rotate(-90 12 {TOP + plot_h / 2:.0f})" text-anchor="middle">'
            f"{escape(unit)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
