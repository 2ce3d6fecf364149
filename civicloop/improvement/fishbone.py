"""The fishbone (Ishikawa) diagram of an A3's causes, drawn as inline SVG.

The problem is the head on the right; each category is a bone off the spine, alternately above
and below, with its causes along it. Long causes are shortened on the drawing (the full text is
in each cause's tooltip, and the page lists every cause in words beside the drawing). All text
is escaped.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from html import escape
from typing import Any

FONT = "Arial, 'Liberation Sans', Helvetica, sans-serif"
INK = "#212b32"
MUTED = "#4c6272"
ROW = 16  # px between causes along a bone
CAUSE_CHARS = 36
CHAR_WIDTH = 0.55  # an average character's width, in font sizes (Arial)


def _shorten(text: str, chars: int = CAUSE_CHARS) -> str:
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"


def fishbone_svg(
    problem: str,
    fishbone: Sequence[dict[str, Any]],
    *,
    width: int = 900,
    title_id: str = "fishbone-title",
    cause_chars: int = CAUSE_CHARS,
    room: float = 215,
    text: float = 11,
) -> str:
    """Draw it `width` units wide; `room` is the space left of each bone for its causes,
    shortened to `cause_chars` characters. A page column takes a narrower drawing (larger
    type for its width) than the printed sheet."""
    top = list(fishbone[0::2])
    bottom = list(fishbone[1::2])
    most = max([len(b["causes"]) for b in fishbone] + [1])
    bone = 34 + most * ROW  # vertical reach of a bone
    head_w = round(width * 0.21)
    mid = 26 + bone
    height = mid + bone + 26
    spine_start, spine_end = 16, width - head_w - 16
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-labelledby="{title_id}" class="fishbone" '
        f'font-family="{escape(FONT)}">',
        f'<title id="{title_id}">Fishbone diagram: causes of “{escape(problem)}”, by '
        f"category ({', '.join(escape(b['category']) for b in fishbone)}).</title>",
        f'<line x1="{spine_start}" y1="{mid}" x2="{spine_end}" y2="{mid}" stroke="{INK}" '
        'stroke-width="3"/>',
    ]
    # The head: the problem, wrapped to fit its box.
    lines = textwrap.wrap(problem, max(14, head_w // 7))[:6] or ["(the problem)"]
    box_h = 12 + 15 * len(lines)
    parts.append(
        f'<rect x="{spine_end}" y="{mid - box_h / 2:.1f}" width="{head_w}" height="{box_h}" '
        f'rx="4" fill="#f0f4f5" stroke="{INK}" stroke-width="2"/>'
    )
    for i, line in enumerate(lines):
        y = mid - box_h / 2 + 19 + 15 * i
        parts.append(
            f'<text x="{spine_end + 10}" y="{y:.1f}" font-size="12.5" font-weight="bold" '
            f'fill="{INK}">{escape(line)}</text>'
        )
    slant = bone * 0.45
    # Each bone's causes need room on its left, up to the bone before it: the text is
    # shortened to fit, so causes never run into each other.
    per_bone = max(len(top), 1)
    room = min(room, (spine_end - slant - 10) / per_bone)
    fit = int((room - 18) / (text * CHAR_WIDTH))
    cause_chars = max(8, min(cause_chars, fit))
    for row, side in ((top, -1), (bottom, 1)):
        count = len(row)
        for i, item in enumerate(row):
            step = (spine_end - room - slant - 10) / max(count - 1, 1)
            x_start = room + i * step
            x_end = x_start + slant
            y_start = mid + side * bone
            parts.append(
                f'<line x1="{x_start:.1f}" y1="{y_start:.1f}" x2="{x_end:.1f}" y2="{mid}" '
                f'stroke="{INK}" stroke-width="2"/>'
            )
            label_y = y_start - 8 if side < 0 else y_start + 16
            parts.append(
                f'<text x="{x_start:.1f}" y="{label_y:.1f}" font-size="12.5" font-weight="bold" '
                f'text-anchor="middle" fill="{INK}">{escape(_shorten(item["category"], 24))}</text>'
            )
            for k, cause in enumerate(item["causes"][:most]):
                # Causes sit along the bone, from its outer end towards the spine.
                y = y_start - side * (20 + k * ROW)
                t = (y - y_start) / (mid - y_start) if mid != y_start else 0
                x = x_start + t * (x_end - x_start)
                parts.append(
                    f'<line x1="{x - 10:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y:.1f}" '
                    f'stroke="{MUTED}" stroke-width="1"/>'
                )
                short = escape(_shorten(cause, cause_chars))
                parts.append(
                    f'<text x="{x - 13:.1f}" y="{y + 4:.1f}" font-size="{text}" text-anchor="end" '
                    f'fill="{INK}"><title>{escape(cause)}</title>{short}</text>'
                )
    parts.append("</svg>")
    return "".join(parts)
