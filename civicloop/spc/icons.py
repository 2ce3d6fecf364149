"""Variation and assurance icons as inline SVG, drawn by us in the spirit of the MDC icons.

Pure Python; no Django. Each icon is a complete ``<svg role="img">`` with a ``<title>`` so it
has a text alternative, and it is drawn on a white disc so the contrast we checked (shapes at
least 3:1, letters at least 4.5:1 against white) holds on any page background.
"""

from __future__ import annotations

from civicloop.spc.constants import DIRECTIONS

# One palette for charts and icons. Contrast against white (WCAG 2.x relative luminance):
# grey 5.33:1, blue 6.38:1, orange 4.80:1, purple 7.40:1, no-data grey 3.36:1. Every colour
# that draws a letter also passes 4.5:1, the bar for text.
GREY = "#6b6b6b"
BLUE = "#005eb8"
ORANGE = "#b35a00"
PURPLE = "#6f3d9e"
NO_DATA_GREY = "#8c8c8c"
WHITE = "#ffffff"

TYPE_COLOURS: dict[str, str] = {
    "common_cause": GREY,
    "special_cause_improvement": BLUE,
    "special_cause_concern": ORANGE,
    "special_cause_neutral_high": PURPLE,
    "special_cause_neutral_low": PURPLE,
}

VARIATION_LABELS: dict[str | None, str] = {
    None: "No data: variation not known yet",
    "common_cause": "Common cause variation",
    "special_cause_improvement": "Special cause of improvement",
    "special_cause_concern": "Special cause of concern",
    "special_cause_neutral_high": "Special cause: neutral, higher values",
    "special_cause_neutral_low": "Special cause: neutral, lower values",
}

ASSURANCE_LABELS: dict[str | None, str] = {
    "consistent_pass": "Consistently passes the target",
    "consistent_fail": "Consistently fails the target",
    "inconsistent": "Hit and miss: the target may or may not be met",
    None: "No target",
}

ASSURANCE_COLOURS: dict[str, str] = {
    "consistent_pass": BLUE,
    "consistent_fail": ORANGE,
    "inconsistent": GREY,
}
ASSURANCE_LETTERS: dict[str, str] = {
    "consistent_pass": "P",
    "consistent_fail": "F",
    "inconsistent": "?",
}

# Dot heights (viewBox units, 0 at the top) for a run of seven points. Common cause wanders
# around the centre line; a high signal settles then climbs, a low one mirrors it.
_DOT_X = (24, 32.7, 41.3, 50, 58.7, 67.3, 76)
_COMMON_Y = (45, 55, 47, 53, 43, 54, 48)
_HIGH_Y = (58, 61, 57, 50, 43, 36, 29)
_LOW_Y = tuple(100 - y for y in _HIGH_Y)
# A signal colours the points that make it; the settled ones before stay grey.
_SIGNAL_FROM = 3


def signal_side(variation: str, direction: str) -> str | None:
    """'high', 'low' or None (common cause): which way the latest point's signal points.

    Improvement is high when higher is better; concern is the other way round.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
    if variation == "common_cause":
        return None
    if variation == "special_cause_neutral_high":
        return "high"
    if variation == "special_cause_neutral_low":
        return "low"
    if variation not in ("special_cause_improvement", "special_cause_concern"):
        raise ValueError(f"variation {variation!r} is not one of {_known(VARIATION_LABELS)}")
    if direction == "neutral":
        raise ValueError(
            f"{variation!r} needs a direction of increase or decrease; a neutral metric's "
            "signals are special_cause_neutral_high or _low"
        )
    improvement = variation == "special_cause_improvement"
    return "high" if improvement == (direction == "increase") else "low"


def variation_icon(variation: str | None, direction: str, *, size: int = 40) -> str:
    """The variation icon for the latest point's type, as an inline SVG string."""
    _check_size(size)
    if variation is None:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
        # Dashed, lighter and empty: there is nothing to read yet.
        body = (
            f'<circle cx="50" cy="50" r="43" fill="{WHITE}" stroke="{NO_DATA_GREY}" '
            'stroke-width="4" stroke-dasharray="9 7"/>'
        )
        return _svg(
            size, "spc-icon spc-icon-variation spc-icon-no-data", VARIATION_LABELS[None], body
        )
    side = signal_side(variation, direction)
    colour = TYPE_COLOURS[variation]
    label = VARIATION_LABELS[variation]
    if variation in ("special_cause_improvement", "special_cause_concern"):
        label = f"{label} ({'high' if side == 'high' else 'low'} values)"
    parts = [_ring(colour)]
    if side is None:
        parts.append(f'<line x1="18" y1="50" x2="82" y2="50" stroke="{GREY}" stroke-width="2"/>')
        parts += [_dot(x, y, GREY) for x, y in zip(_DOT_X, _COMMON_Y, strict=True)]
    else:
        heights = _HIGH_Y if side == "high" else _LOW_Y
        parts += [
            _dot(x, y, GREY if i < _SIGNAL_FROM else colour)
            for i, (x, y) in enumerate(zip(_DOT_X, heights, strict=True))
        ]
        # The letter sits in the half the dots leave free: below a climb, above a fall.
        letter_y = 86 if side == "high" else 35
        parts.append(_letter("H" if side == "high" else "L", letter_y, colour, 24))
    kind = variation.removeprefix("special_cause_").replace("_", "-")
    css = f"spc-icon spc-icon-variation spc-icon-{kind}"
    if side is not None:
        css += f" spc-icon-{side}"
    return _svg(size, css, label, "".join(parts))


def assurance_icon(assurance: str | None, *, size: int = 40) -> str:
    """The assurance icon (P, F or ?) as an inline SVG string; '' when there is no target."""
    _check_size(size)
    if assurance is None:
        return ""
    if assurance not in ASSURANCE_COLOURS:
        raise ValueError(f"assurance {assurance!r} is not one of {_known(ASSURANCE_LABELS)}")
    colour = ASSURANCE_COLOURS[assurance]
    body = (
        _ring(colour)
        + _letter(ASSURANCE_LETTERS[assurance], 58, colour, 38)
        # The target, dashed as on the chart, under the letter.
        + f'<line x1="17" y1="71" x2="83" y2="71" stroke="{colour}" stroke-width="4" '
        'stroke-dasharray="8 5"/>'
    )
    css = f"spc-icon spc-icon-assurance spc-icon-{assurance.replace('_', '-')}"
    return _svg(size, css, ASSURANCE_LABELS[assurance], body)


def _svg(size: int, css: str, label: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 100 100" '
        f'width="{size}" height="{size}" class="{css}"><title>{label}</title>{body}</svg>'
    )


def _ring(colour: str) -> str:
    return f'<circle cx="50" cy="50" r="43" fill="{WHITE}" stroke="{colour}" stroke-width="7"/>'


def _dot(x: float, y: float, colour: str) -> str:
    return f'<circle cx="{x:g}" cy="{y:g}" r="5" fill="{colour}"/>'


def _letter(letter: str, baseline: float, colour: str, font_size: int) -> str:
    return (
        f'<text x="50" y="{baseline:g}" text-anchor="middle" fill="{colour}" '
        f"font-family=\"Arial, 'Liberation Sans', Helvetica, sans-serif\" "
        f'font-size="{font_size}" font-weight="700">{letter}</text>'
    )


def _check_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise ValueError(f"size {size!r}: give a whole number of pixels, 1 or more")


def _known(labels: dict[str | None, str]) -> str:
    return ", ".join(k for k in labels if k is not None)
