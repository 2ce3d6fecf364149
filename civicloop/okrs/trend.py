"""A key result's trend as a small inline SVG: its values through the quarter against the start
and target lines. Drawn on the server so pages, exports and print need no script."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django.utils.html import escape

WIDTH, HEIGHT, PAD = 480, 120, 8


def trend_svg(
    points: Sequence[tuple[date, float]],
    *,
    first: date,
    last: date,
    start: float | None,
    target: float | None,
    label: str,
) -> str:
    """`label` is the text alternative read out in place of the drawing."""
    values = [v for _, v in points]
    ys = [*values, *(x for x in (start, target) if x is not None)]
    if not points or not ys:
        return ""
    low, high = min(ys), max(ys)
    if high == low:
        high, low = high + 1, low - 1
    span_days = max((last - first).days, 1)

    def x(day: date) -> float:
        return PAD + (WIDTH - 2 * PAD) * min(max((day - first).days / span_days, 0), 1)

    def y(value: float) -> float:
        return PAD + (HEIGHT - 2 * PAD) * (1 - (value - low) / (high - low))

    parts = [
        f'<svg class="trend" role="img" aria-label="{escape(label)}" viewBox="0 0 {WIDTH} '
        f'{HEIGHT}" width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#f3f5f7"/>',
    ]
    if start is not None:
        parts.append(
            f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(start):.1f}" y2="{y(start):.1f}" '
            'stroke="#4a5360" stroke-width="1"/>'
        )
    if target is not None:
        parts.append(
            f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(target):.1f}" y2="{y(target):.1f}" '
            'stroke="#1e6b37" stroke-width="1.5" stroke-dasharray="5 3"/>'
        )
    path = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in points)
    parts.append(f'<polyline points="{path}" fill="none" stroke="#0b5cad" stroke-width="2"/>')
    for d, v in points:
        parts.append(f'<circle cx="{x(d):.1f}" cy="{y(v):.1f}" r="2.5" fill="#0b5cad"/>')
    parts.append("</svg>")
    return "".join(parts)
