"""SPC charts as Vega-Lite specs, and their rendering to SVG and PNG without a browser.

Pure Python; no Django. `spc_spec` turns an analysed series into a self-contained Vega-Lite v6
spec (plain JSON: no NaN, dates as ISO strings) that pages embed with vega-embed and packs
render with `render_svg` / `render_png` through vl-convert (Vega in an embedded JS engine).

The chart follows the MDC conventions users know: the series in grey with points coloured and
shaped by type (so colour is never the only cue), the mean solid, process limits as lines
drawn per rebase group, the target dashed, rebases and annotations as labelled vertical rules.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import vl_convert

from civicloop.spc.analysis import SpcResult
from civicloop.spc.icons import GREY, TYPE_COLOURS

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
#: The Vega-Lite release vl-convert renders with and bundles for pages: the one $schema names.
VEGA_LITE_VERSION = "6.4"
FONT = "Arial, 'Liberation Sans', Helvetica, sans-serif"
EMPTY_MESSAGE = "No values to draw yet."

TYPE_LABELS: dict[str, str] = {
    "common_cause": "Common cause",
    "special_cause_improvement": "Improvement",
    "special_cause_concern": "Concern",
    "special_cause_neutral_high": "Neutral (high)",
    "special_cause_neutral_low": "Neutral (low)",
}
RULE_LABELS: dict[str, str] = {
    "outside_limits": "Beyond a process limit",
    "trend": "Trend: 7 points rising or falling",
    "two_in_three": "2 of 3 points near a limit",
    "shift": "Shift: 7 points on one side of the mean",
    "long_run": "Long run on one side of the median",
}

# Lines. Contrast on white: mean 14.4:1, limits 4.54:1, target 5.12:1, series 3.36:1 (the
# series line only joins the points, which carry the colours above 3:1 themselves).
MEAN_COLOUR = "#212b32"
LIMIT_COLOUR = "#767676"
TARGET_COLOUR = "#007f3b"
SERIES_COLOUR = "#8c8c8c"
REBASE_COLOUR = "#212b32"
ANNOTATION_COLOUR = "#4c6272"
LIMIT_DASH = [4, 3]
TARGET_DASH = [9, 5]
ANNOTATION_DASH = [2, 3]

LABEL_MAX_CHARS = 40
LABEL_FONT_SIZE = 11
LABEL_ROW_PX = 14
LABEL_TOP_PX = 4
# Rough layout sizes for placing labels before Vega lays the chart out: the y axis on the left,
# and the title, x axis and legends that `autosize: fit` takes out of the height.
_AXIS_PX = 60
_CHROME_PX = 95
_CHAR_PX = 6.2
_LEGEND_SYMBOL_PX = 30
_LEGEND_CHAR_PX = 7.2
_LEGEND_GAP_PX = 20
# Periods are days: read and shown in UTC so a date never slips to the day before in the west.
_X: dict[str, Any] = {
    "field": "period",
    "type": "temporal",
    "scale": {"type": "utc"},
}


@dataclass(frozen=True)
class _Marker:
    """A labelled vertical rule: a rebase or an annotation."""

    kind: str
    day: date
    text: str


def spc_spec(
    result: SpcResult,
    periods: Sequence[date],
    *,
    title: str,
    unit: str = "",
    decimals: int | None = None,
    targets: Sequence[float | None] | None = None,
    rebases: Sequence[tuple[date, str]] = (),
    annotations: Sequence[tuple[date, str]] = (),
    width: int = 720,
    height: int = 300,
    description: str = "",
) -> dict[str, Any]:
    """The Vega-Lite spec of one analysed series, one period date per point."""
    n = len(result)
    if len(periods) != n:
        raise ValueError(f"{len(periods)} periods for {n} points: give one date per point")
    if targets is not None and len(targets) != n:
        raise ValueError(f"{len(targets)} targets for {n} points: give one per point, or None")
    if decimals is not None and (isinstance(decimals, bool) or decimals < 0):
        raise ValueError(f"decimals {decimals!r}: give 0 or more, or None")

    spec: dict[str, Any] = {
        "$schema": VEGA_LITE_SCHEMA,
        "title": {"text": title, "anchor": "start"},
        "width": width,
        "height": height,
        "autosize": {"type": "fit", "contains": "padding"},
        "config": _config(),
    }
    types = result.types
    if all(t is None for t in types):
        spec["description"] = description or f"{title}: {EMPTY_MESSAGE}"
        spec["data"] = {"values": [{}]}
        spec["mark"] = {"type": "text", "fontSize": 14, "color": GREY}
        spec["encoding"] = {
            "text": {"value": EMPTY_MESSAGE},
            "x": {"value": width / 2},
            "y": {"value": height / 3},
        }
        return spec

    fmt = _Format(decimals, unit)
    trajectory = [_finite(t) for t in targets] if targets is not None else None
    rows = [
        _point_row(result, i, periods[i], fmt, None if trajectory is None else trajectory[i])
        for i in range(n)
    ]
    markers = [_Marker("rebase", d, f"Rebase: {reason}") for d, reason in rebases] + [
        _Marker("annotation", d, text) for d, text in annotations
    ]
    placed = _place_labels(markers, list(periods), max(width - _AXIS_PX, 100))
    label_rows = 1 + max((p["row"] for p in placed), default=-1)

    constant_target = _finite(result.target)
    has_trajectory = trajectory is not None and any(t is not None for t in trajectory)
    lines = _LineScales(has_target=has_trajectory or constant_target is not None)
    line_layers = _limit_layers(lines)
    if has_trajectory:
        line_layers.append(_trajectory_layer(lines))
    elif constant_target is not None:
        line_layers.append(_target_rule_layer(lines, constant_target, fmt))
    layers: list[dict[str, Any]] = [
        {"layer": line_layers},
        _series_layer(),
        _points_layer(rows, result.direction, types),
        *_marker_layers(placed),
    ]
    y_axis = {
        "type": "quantitative",
        "scale": {
            "domain": _y_domain(result, trajectory, label_rows, height),
            "nice": True,
            "zero": False,
        },
        "axis": {"title": unit or None, "grid": True, "gridColor": "#e8edee"},
    }
    _share(layers, "x", {**_X, "axis": _x_axis(periods, width)})
    _share(layers, "y", y_axis)

    spec["description"] = description or _describe(title, result, n)
    spec["data"] = {"values": rows}
    spec["layer"] = layers
    # Points and lines each get their own legend: the type colours and shapes, then the lines.
    spec["resolve"] = {"scale": {"color": "independent", "shape": "independent"}}
    present = [TYPE_LABELS[t] for t in TYPE_LABELS if t in set(types)]
    _fit_legends(spec, width, [*lines.names, *present])
    return spec


def render_svg(spec: dict[str, Any]) -> str:
    """The chart as an SVG document (vl-convert escapes the text it draws)."""
    return vl_convert.vegalite_to_svg(spec, vl_version=VEGA_LITE_VERSION)


def render_png(spec: dict[str, Any], scale: float = 2.0) -> bytes:
    """The chart as PNG bytes, `scale` pixels per spec pixel (2 for sharp print and slides)."""
    return vl_convert.vegalite_to_png(spec, vl_version=VEGA_LITE_VERSION, scale=scale)


# The default vl-convert snippet, spelled out: the stubs want one, and pages need the globals.
_BUNDLE_SNIPPET = "window.vegaEmbed = vegaEmbed; window.vega = vega; window.vegaLite = vegaLite;"


@lru_cache(maxsize=4)
def vega_bundle(cache_dir: Path | None = None) -> str:
    """Vega, Vega-Lite and vega-embed as one script for pages.

    Building it takes vl-convert about 2 s, during which it holds Python's interpreter lock, so
    it is built once per process and, given `cache_dir`, once per installed vl-convert: the
    file is named after the versions it bundles.
    """
    if cache_dir is None:
        return vl_convert.javascript_bundle(_BUNDLE_SNIPPET, vl_version=VEGA_LITE_VERSION)
    name = f"vega-{vl_convert.get_vega_version()}-lite-{VEGA_LITE_VERSION}-embed-"
    name += f"{vl_convert.get_vega_embed_version()}.js"
    path = cache_dir / name
    if path.exists():
        return path.read_text("utf-8")
    script = vl_convert.javascript_bundle(_BUNDLE_SNIPPET, vl_version=VEGA_LITE_VERSION)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(script, "utf-8")
    partial.replace(path)  # whole or not at all, even with two processes at once
    return script


# --- the spec's parts ---------------------------------------------------------------------


def _config() -> dict[str, Any]:
    return {
        "background": "white",
        "font": FONT,
        "view": {"stroke": None},
        "title": {"fontSize": 16, "fontWeight": "bold", "color": MEAN_COLOUR, "offset": 10},
        "axis": {
            "labelFontSize": 12,
            "titleFontSize": 12,
            "labelColor": MEAN_COLOUR,
            "titleColor": MEAN_COLOUR,
            "domainColor": LIMIT_COLOUR,
            "tickColor": LIMIT_COLOUR,
        },
        "legend": {
            "labelFontSize": 12,
            "titleFontSize": 12,
            "labelColor": MEAN_COLOUR,
            "orient": "bottom",
            "direction": "horizontal",
            "symbolSize": 90,
        },
        "text": {"fontSize": LABEL_FONT_SIZE},
    }


def _point_row(
    result: SpcResult, i: int, day: date, fmt: _Format, target: float | None
) -> dict[str, Any]:
    p = result.point(i)
    kind = p["type"]
    lpl, upl = p["lpl"], p["upl"]
    limits = "none" if lpl is None and upl is None else f"{fmt(lpl)} to {fmt(upl)}"
    row: dict[str, Any] = {
        "period": _iso(day),
        "value": p["y"],
        "mean": p["mean"],
        "upl": upl,
        "lpl": lpl,
        "group": p["group"],
        "target": target,
        "type": kind,
        "type_label": TYPE_LABELS[kind] if kind else None,
        "tip_period": _long_date(day),
        "tip_value": fmt(p["y"]) if p["y"] is not None else "no value",
        "tip_mean": fmt(p["mean"]),
        "tip_limits": limits,
        "tip_rule": RULE_LABELS.get(p["rule"] or "", "None: common cause"),
    }
    own_target = target if target is not None else _finite(result.target)
    if own_target is not None:
        row["tip_target"] = fmt(own_target)
    return row


@dataclass(frozen=True)
class _LineScales:
    """The legend of the lines: one colour and dash per kind, the target only when there is one."""

    has_target: bool

    @property
    def names(self) -> list[str]:
        return ["Mean", "Process limits"] + (["Target"] if self.has_target else [])

    def encode(self, name: str) -> dict[str, Any]:
        names = self.names
        colours = [MEAN_COLOUR, LIMIT_COLOUR, TARGET_COLOUR][: len(names)]
        dashes = [[1, 0], LIMIT_DASH, TARGET_DASH][: len(names)]
        return {
            "color": {
                "datum": name,
                "type": "nominal",
                "scale": {"domain": names, "range": colours},
                "legend": {"title": None, "symbolType": "stroke", "symbolStrokeWidth": 2},
            },
            "strokeDash": {
                "datum": name,
                "type": "nominal",
                "scale": {"domain": names, "range": dashes},
                "legend": None,
            },
        }


def _limit_layers(lines: _LineScales) -> list[dict[str, Any]]:
    """Mean and process limits, one line per rebase group (the `detail`), never joining groups.

    Points with no value have no limits; within a group the line joins over them.
    """

    def line(field: str, name: str, width: float, aria: str) -> dict[str, Any]:
        return {
            "transform": [{"filter": f"isValid(datum.{field}) && isFinite(datum.{field})"}],
            "mark": {"type": "line", "strokeWidth": width},
            "encoding": {
                "x": _X,
                "y": {"field": field},
                "detail": {"field": "group", "type": "nominal"},
                **lines.encode(name),
                # Vega would read out the raw fields; the values are in the points' tooltips.
                "description": {"value": aria},
            },
        }

    return [
        line("upl", "Process limits", 1.25, "Upper process limit"),
        line("lpl", "Process limits", 1.25, "Lower process limit"),
        line("mean", "Mean", 1.75, "Mean"),
    ]


def _trajectory_layer(lines: _LineScales) -> dict[str, Any]:
    """Per-point targets as one dashed line; a period without a target leaves a gap."""
    return {
        "mark": {"type": "line", "strokeWidth": 1.75},
        "encoding": {
            "x": _X,
            "y": {"field": "target"},
            **lines.encode("Target"),
            "description": {"value": "Target trajectory"},
        },
    }


def _target_rule_layer(lines: _LineScales, target: float, fmt: _Format) -> dict[str, Any]:
    """The one target as a dashed rule across the chart."""
    return {
        "data": {"values": [{"target": target, "tip_target": fmt(target)}]},
        "mark": {"type": "rule", "strokeWidth": 1.75},
        "encoding": {
            "y": {"field": "target"},
            **lines.encode("Target"),
            "tooltip": [{"field": "tip_target", "title": "Target"}],
        },
    }


def _series_layer() -> dict[str, Any]:
    # A null value leaves the row in the data, so Vega breaks the line there: a gap, not a join.
    return {
        "mark": {"type": "line", "color": SERIES_COLOUR, "strokeWidth": 1.5},
        "encoding": {"x": _X, "y": {"field": "value"}, "description": {"value": "Series"}},
    }


def _points_layer(
    rows: list[dict[str, Any]], direction: str, types: list[str | None]
) -> dict[str, Any]:
    present = [t for t in TYPE_LABELS if t in set(types)]
    shapes = _type_shapes(direction)
    tooltip = [
        {"field": "tip_period", "title": "Period"},
        {"field": "tip_value", "title": "Value"},
        {"field": "type_label", "title": "Type"},
        {"field": "tip_rule", "title": "Rule"},
        {"field": "tip_mean", "title": "Mean"},
        {"field": "tip_limits", "title": "Process limits"},
    ]
    if any(r.get("tip_target") for r in rows):
        tooltip.append({"field": "tip_target", "title": "Target"})
    legend = {"title": None, "symbolStrokeWidth": 0}
    return {
        "transform": [{"filter": "isValid(datum.value) && isFinite(datum.value)"}],
        "mark": {"type": "point", "filled": True, "opacity": 1, "stroke": "white"},
        "encoding": {
            "x": _X,
            "y": {"field": "value"},
            "color": {
                "field": "type_label",
                "type": "nominal",
                "scale": {
                    "domain": [TYPE_LABELS[t] for t in present],
                    "range": [TYPE_COLOURS[t] for t in present],
                },
                "legend": legend,
            },
            "shape": {
                "field": "type_label",
                "type": "nominal",
                "scale": {
                    "domain": [TYPE_LABELS[t] for t in present],
                    "range": [shapes[t] for t in present],
                },
                "legend": legend,
            },
            "size": {
                "condition": {"test": "datum.type === 'common_cause'", "value": 40},
                "value": 95,
            },
            "strokeWidth": {
                "condition": {"test": "datum.type === 'common_cause'", "value": 0},
                "value": 0.75,
            },
            "tooltip": tooltip,
        },
    }


def _type_shapes(direction: str) -> dict[str, str]:
    """Shapes that say which way a signal points: up for high, down for low."""
    up, down = "triangle-up", "triangle-down"
    improvement, concern = (up, down) if direction == "increase" else (down, up)
    if direction == "neutral":
        improvement, concern = "diamond", "square"
    return {
        "common_cause": "circle",
        "special_cause_improvement": improvement,
        "special_cause_concern": concern,
        "special_cause_neutral_high": up,
        "special_cause_neutral_low": down,
    }


def _marker_layers(placed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    layers: list[dict[str, Any]] = []
    for kind, colour, dash, width in (
        ("rebase", REBASE_COLOUR, None, 1.5),
        ("annotation", ANNOTATION_COLOUR, ANNOTATION_DASH, 1.25),
    ):
        mine = [p for p in placed if p["kind"] == kind]
        if not mine:
            continue
        rule: dict[str, Any] = {"type": "rule", "color": colour, "strokeWidth": width}
        if dash:
            rule["strokeDash"] = dash
        tip = [{"field": "text", "title": "Rebase" if kind == "rebase" else "Note"}]
        layers.append(
            {
                "data": {"values": mine},
                "mark": rule,
                "encoding": {
                    "x": _X,
                    "y": {"field": "label_y", "type": "quantitative", "scale": None},
                    "y2": {"value": "height"},
                    "tooltip": tip,
                    "description": {"field": "aria"},
                },
            }
        )
        for align, dx in (("left", 4), ("right", -4)):
            side = [p for p in mine if p["align"] == align]
            if not side:
                continue
            layers.append(
                {
                    "data": {"values": side},
                    "mark": {
                        "type": "text",
                        "align": align,
                        "baseline": "top",
                        "dx": dx,
                        "color": colour,
                        "fontSize": LABEL_FONT_SIZE,
                        "fontWeight": "bold" if kind == "rebase" else "normal",
                        # The rule already says all this to a screen reader.
                        "aria": False,
                    },
                    "encoding": {
                        "x": _X,
                        "y": {"field": "label_y", "type": "quantitative", "scale": None},
                        "text": {"field": "label"},
                        "tooltip": tip,
                    },
                }
            )
    return layers


def _place_labels(
    markers: list[_Marker], periods: list[date], plot_width: float
) -> list[dict[str, Any]]:
    """Give each marker label a row so that labels neither overlap nor sit on another's rule.

    Labels stagger downwards; a rule starts at its own label's row, so it only crosses the
    rows below. Positions are estimated from the dates before Vega lays out the chart; a label
    near the right edge hangs to the left of its rule instead of running off the chart.
    """
    if not markers:
        return []
    days = [*periods, *(m.day for m in markers)]
    start, end = min(days), max(days)
    span = max((end - start).days, 1)
    taken: list[tuple[int, tuple[float, float], float]] = []  # (row, label box, rule x)
    placed: list[dict[str, Any]] = []
    for m in sorted(markers, key=lambda m: (m.day, m.kind)):
        label = _truncate(m.text)
        x = (m.day - start).days / span * plot_width
        w = len(label) * _CHAR_PX + 8
        right = (x - w, x)
        left = (x, x + w)
        boxes = [("left", left), ("right", right)] if x + w <= plot_width else [("right", right)]
        choice = next(
            (
                (row, align, box)
                for row in range(len(taken) + 1)
                for align, box in boxes
                if all(_fits(row, box, x, other) for other in taken)
            ),
            None,
        )
        if choice is None:
            # Crowded: give up on clearing the rules, keep labels off each other.
            align, box = boxes[0]
            row = next(
                r
                for r in range(len(taken) + 1)
                if all(r != o[0] or _apart(box, o[1]) for o in taken)
            )
            choice = (row, align, box)
        row, align, box = choice
        taken.append((row, box, x))
        placed.append(
            {
                "kind": m.kind,
                "period": _iso(m.day),
                "text": m.text,
                "aria": f"{m.kind.capitalize()}, {_long_date(m.day)}: {m.text}",
                "label": label,
                "align": align,
                "row": row,
                "label_y": LABEL_TOP_PX + row * LABEL_ROW_PX,
            }
        )
    return placed


def _fits(
    row: int, box: tuple[float, float], rule_x: float, other: tuple[int, tuple[float, float], float]
) -> bool:
    other_row, other_box, other_x = other
    if row == other_row and not _apart(box, other_box):
        return False
    # The other's rule runs down through this row; or this rule runs down through its label.
    if other_row < row and box[0] - 3 <= other_x <= box[1] + 3:
        return False
    return not (row < other_row and other_box[0] - 3 <= rule_x <= other_box[1] + 3)


def _apart(a: tuple[float, float], b: tuple[float, float], gap: float = 6) -> bool:
    return a[1] + gap <= b[0] or b[1] + gap <= a[0]


def _y_domain(
    result: SpcResult, trajectory: list[float | None] | None, label_rows: int, height: int
) -> list[float]:
    """A y range holding the values, limits and target, with headroom for the marker labels."""
    values = [
        float(v)
        for arr in (result.y, result.mean, result.upl, result.lpl)
        for v in arr
        if math.isfinite(v)
    ]
    if result.target is not None and math.isfinite(result.target):
        values.append(result.target)
    values += [t for t in trajectory or () if t is not None]
    lo, hi = min(values), max(values)
    span = hi - lo if hi > lo else max(abs(hi), 1.0) * 0.2
    label_px = 0 if label_rows == 0 else LABEL_TOP_PX + label_rows * LABEL_ROW_PX + 6
    plot_px = max(height - _CHROME_PX, 80)
    top = span * 0.05 + span * label_px / max(plot_px - label_px, 20)
    bottom = span * 0.05
    floor = lo - bottom
    # Do not push an all-positive measure below zero just for breathing room.
    if lo >= 0 > floor:
        floor = 0.0
    return [_round(floor), _round(hi + top)]


def _share(layers: list[dict[str, Any]], channel: str, shared: dict[str, Any]) -> None:
    """Give every layer that plots data on `channel` the one scale and axis.

    Vega-Lite merges identical axes across layers; one layer saying `axis: null` would drop it.
    """
    for layer in _walk(layers):
        enc = layer.get("encoding", {}).get(channel)
        if enc is not None and enc.get("scale", {}) is not None:  # scale None: pixels
            layer["encoding"][channel] = {**shared, **enc}


def _fit_legends(spec: dict[str, Any], width: int, labels: list[str]) -> None:
    """One row of legends when they fit the width; else stacked, the point types wrapping."""
    room = width - 20
    entries = [_LEGEND_SYMBOL_PX + len(label) * _LEGEND_CHAR_PX for label in labels]
    if sum(entries) + _LEGEND_GAP_PX <= room:
        return
    spec["config"]["legend"]["layout"] = {"bottom": {"anchor": "start", "direction": "vertical"}}
    columns = max(1, int(room // max(entries)))
    for layer in _walk(spec["layer"]):
        colour = layer.get("encoding", {}).get("color", {})
        if "field" in colour and colour.get("legend") is not None:
            colour["legend"]["columns"] = columns


def _x_axis(periods: Sequence[date], width: int) -> dict[str, Any]:
    """Month and year over long series (a bare "February" twice is ambiguous), days over short."""
    span = (max(periods) - min(periods)).days
    long_span = span > 120
    return {
        "title": None,
        "labelAngle": 0,
        "grid": False,
        "labelOverlap": True,
        "format": "%b %Y" if long_span else "%-d %b",
        "tickCount": max(2, (width - _AXIS_PX) // (110 if long_span else 70)),
    }


def _walk(layers: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    for layer in layers:
        if "layer" in layer:
            yield from _walk(layer["layer"])
        else:
            yield layer


def _describe(title: str, result: SpcResult, n: int) -> str:
    known = sum(t is not None for t in result.types)
    last = result.last_index()
    latest = TYPE_LABELS.get(result.types[last] or "", "") if last is not None else ""
    text = f"{title}: statistical process control chart of {known} of {n} periods"
    if latest:
        text += f"; the latest point is {latest.lower()}"
    return text + "."


# --- numbers and dates --------------------------------------------------------------------


class _Format:
    """Round to fixed decimals, or to 4 significant figures, and add the unit."""

    def __init__(self, decimals: int | None, unit: str) -> None:
        self.decimals = decimals
        self.unit = unit

    def __call__(self, value: float | None) -> str:
        if value is None or not math.isfinite(value):
            return "none"
        if self.decimals is not None:
            text = f"{value:,.{self.decimals}f}"
        else:
            magnitude = math.floor(math.log10(abs(value))) if value else 0
            text = f"{value:,.{max(0, 3 - magnitude)}f}"
            # Four significant figures at most: 10 stays "10", not "10.00".
            if "." in text:
                text = text.rstrip("0").rstrip(".")
        if self.unit == "%":
            return text + "%"
        return f"{text} {self.unit}" if self.unit else text


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _round(value: float) -> float:
    """Trim float noise from a domain end so the JSON stays readable."""
    return float(f"{value:.6g}")


def _iso(day: date) -> str:
    # A datetime is a date too; the chart only knows days.
    return date(day.year, day.month, day.day).isoformat()


def _long_date(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


def _truncate(text: str, limit: int = LABEL_MAX_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
