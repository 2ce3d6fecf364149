"""The SPC chart spec and its rendering through vl-convert (no browser)."""

from __future__ import annotations

import json
import re
import struct
from datetime import date, timedelta
from typing import Any

import pytest

from civicloop.spc import analyse
from civicloop.spc.chart import (
    EMPTY_MESSAGE,
    LABEL_MAX_CHARS,
    SERIES_COLOUR,
    render_png,
    render_svg,
    spc_spec,
    vega_bundle,
)
from civicloop.spc.icons import BLUE, ORANGE

# Twelve steady points, then one far below the lower limit: higher is better, so a concern.
STEADY = [10, 11, 9, 10, 12, 10, 11, 9, 10, 11, 10, 12]
CONCERN_AT = 12
VALUES: list[float | None] = [*STEADY, 0, 10, 11, None, 10, *[20, 21, 19, 20, 22, 21, 20, 19, 21]]
MISSING_AT = 15
REBASE_AT = 17


def weeks(n: int, start: date = date(2024, 1, 1)) -> list[date]:
    return [start + timedelta(weeks=i) for i in range(n)]


def walk(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for layer in layers:
        out += walk(layer["layer"]) if "layer" in layer else [layer]
    return out


def layers_plotting(spec: dict[str, Any], field: str) -> list[dict[str, Any]]:
    return [
        layer
        for layer in walk(spec["layer"])
        if layer.get("encoding", {}).get("y", {}).get("field") == field
    ]


@pytest.fixture(scope="module")
def result() -> Any:
    return analyse(VALUES, direction="increase", target=15, rebase=[REBASE_AT])


@pytest.fixture(scope="module")
def spec(result: Any) -> dict[str, Any]:
    periods = weeks(len(VALUES))
    return spc_spec(
        result,
        periods,
        title="Repairs done within a week",
        unit="%",
        decimals=1,
        rebases=[(periods[REBASE_AT], 'New "fast-track" rota <script>alert(1)</script>')],
        annotations=[(periods[4], "Storm"), (periods[5], "Depot closed for a week")],
        description="Weekly share of repairs done within a week.",
    )


def test_the_concern_point_carries_its_type_and_the_orange_colour(
    result: Any, spec: dict[str, Any]
) -> None:
    assert result.types[CONCERN_AT] == "special_cause_concern"
    row = spec["data"]["values"][CONCERN_AT]
    assert row["type"] == "special_cause_concern"
    assert row["type_label"] == "Concern"
    (points,) = [layer for layer in walk(spec["layer"]) if layer["mark"]["type"] == "point"]
    scale = points["encoding"]["color"]["scale"]
    assert scale["range"][scale["domain"].index("Concern")] == ORANGE
    assert "Improvement" not in scale["domain"] or BLUE in scale["range"]
    shapes = points["encoding"]["shape"]["scale"]
    assert shapes["range"][shapes["domain"].index("Concern")] == "triangle-down"
    assert shapes["range"][shapes["domain"].index("Common cause")] == "circle"


def test_limits_are_drawn_per_rebase_group(spec: dict[str, Any]) -> None:
    for field in ("mean", "upl", "lpl"):
        (layer,) = layers_plotting(spec, field)
        assert layer["encoding"]["detail"]["field"] == "group"
    groups = [row["group"] for row in spec["data"]["values"]]
    assert groups[REBASE_AT - 1] == 0
    assert groups[REBASE_AT] == 1


def test_the_rendered_upper_limit_is_two_lines_that_do_not_join(spec: dict[str, Any]) -> None:
    svg = render_svg(spec)
    paths = re.findall(r'<path aria-label="Upper process limit"[^>]*\bd="([^"]+)"', svg)
    assert len(paths) == 2
    first_end = float(paths[0].split("L")[-1].split(",")[0])
    second_start = float(paths[1][1:].split("L")[0].split(",")[0])
    assert second_start > first_end


def test_the_constant_target_is_a_dashed_rule(spec: dict[str, Any]) -> None:
    (target,) = layers_plotting(spec, "target")
    assert target["mark"]["type"] == "rule"
    assert target["data"]["values"][0]["target"] == 15
    assert target["encoding"]["strokeDash"]["datum"] == "Target"
    assert spec["data"]["values"][0]["tip_target"] == "15.0%"


def test_a_trajectory_is_a_dashed_line_through_the_per_point_targets(result: Any) -> None:
    trajectory = [None, *[10 + i * 0.5 for i in range(len(VALUES) - 1)]]
    spec = spc_spec(result, weeks(len(VALUES)), title="T", targets=trajectory)
    (target,) = layers_plotting(spec, "target")
    assert target["mark"]["type"] == "line"
    assert [row["target"] for row in spec["data"]["values"]] == trajectory


def test_no_target_draws_no_target_line() -> None:
    result = analyse(STEADY, direction="increase")
    spec = spc_spec(result, weeks(len(STEADY)), title="T")
    assert layers_plotting(spec, "target") == []
    assert "Target" not in json.dumps(spec)


def test_the_spec_is_strict_json_with_dates_as_strings(spec: dict[str, Any]) -> None:
    text = json.dumps(spec, allow_nan=False)
    assert spec["$schema"].endswith("vega-lite/v6.json")
    assert spec["description"] == "Weekly share of repairs done within a week."
    assert spec["data"]["values"][0]["period"] == "2024-01-01"
    assert 'New \\"fast-track\\" rota' in text


def test_a_missing_value_leaves_a_gap(spec: dict[str, Any]) -> None:
    row = spec["data"]["values"][MISSING_AT]
    assert row["value"] is None
    assert row["tip_value"] == "no value"
    # The row stays in the data so Vega breaks the line there instead of joining over it.
    (series,) = [
        layer for layer in layers_plotting(spec, "value") if layer["mark"]["type"] == "line"
    ]
    assert "transform" not in series
    svg = render_svg(spec)
    (d,) = re.findall(rf'<path aria-label="Series"[^>]*\bd="([^"]+)"[^>]*{SERIES_COLOUR}', svg)
    assert d.count("M") == 2


def test_tooltips_round_to_the_decimals_or_four_significant_figures(result: Any) -> None:
    spec = spc_spec(result, weeks(len(VALUES)), title="T", decimals=2, unit="days")
    assert spec["data"]["values"][0]["tip_value"] == "10.00 days"
    spec = spc_spec(result, weeks(len(VALUES)), title="T")
    row = spec["data"]["values"][0]
    assert row["tip_value"] == "10"  # not "10.00": four significant figures at most
    assert row["tip_mean"] == "9.75"
    assert row["tip_limits"] == "5.982 to 13.52"
    assert row["tip_period"] == "1 Jan 2024"
    assert row["tip_rule"] == "None: common cause"
    assert spec["data"]["values"][CONCERN_AT]["tip_rule"] == "Beyond a process limit"


def test_the_y_range_holds_values_limits_and_target(result: Any, spec: dict[str, Any]) -> None:
    (mean,) = layers_plotting(spec, "mean")
    low, high = mean["encoding"]["y"]["scale"]["domain"]
    assert low <= 0  # the concern point
    assert high >= max(v for v in result.upl if v == v)
    assert mean["encoding"]["y"]["axis"]["title"] == "%"


def test_close_marker_labels_are_staggered_and_long_ones_truncated(result: Any) -> None:
    periods = weeks(len(VALUES))
    long_text = "A very long note about the week the depot flooded and closed for repairs"
    spec = spc_spec(
        result,
        periods,
        title="T",
        annotations=[(periods[3], long_text), (periods[4], "Storm")],
    )
    labels = [
        layer
        for layer in walk(spec["layer"])
        if layer["mark"]["type"] == "text" and "data" in layer
    ]
    rows = [row for layer in labels for row in layer["data"]["values"]]
    assert len({row["label_y"] for row in rows}) == 2
    (long_row,) = [row for row in rows if row["text"] == long_text]
    assert len(long_row["label"]) <= LABEL_MAX_CHARS
    assert long_row["label"].endswith("…")


def test_the_empty_series_says_there_is_nothing_to_draw() -> None:
    spec = spc_spec(analyse([None, None]), weeks(2), title="Nothing yet")
    json.dumps(spec, allow_nan=False)
    assert spec["mark"]["type"] == "text"
    assert spec["encoding"]["text"]["value"] == EMPTY_MESSAGE
    assert EMPTY_MESSAGE in render_svg(spec)
    assert spc_spec(analyse([]), [], title="Nothing")["encoding"]["text"]["value"] == EMPTY_MESSAGE


def test_periods_must_match_the_points(result: Any) -> None:
    with pytest.raises(ValueError, match="one date per point"):
        spc_spec(result, weeks(3), title="T")
    with pytest.raises(ValueError, match="targets"):
        spc_spec(result, weeks(len(VALUES)), title="T", targets=[1.0])


def test_render_svg_draws_title_and_reason_and_escapes_markup(spec: dict[str, Any]) -> None:
    svg = render_svg(spec)
    assert svg.lstrip().startswith("<svg")
    assert "Repairs done within a week" in svg
    assert "fast-track" in svg
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


def test_render_png_is_a_png_of_the_asked_size(spec: dict[str, Any]) -> None:
    png = render_png(spec, scale=2)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])  # IHDR follows the 8-byte signature
    assert abs(width - spec["width"] * 2) <= 8
    assert 0.8 * spec["height"] * 2 <= height <= 1.2 * spec["height"] * 2


def test_the_vega_bundle_is_built_once_and_sets_the_globals() -> None:
    bundle = vega_bundle()
    assert vega_bundle() is bundle
    assert "window.vegaEmbed" in bundle


def test_legends_stack_when_a_narrow_chart_cannot_fit_them_in_a_row(result: Any) -> None:
    periods = weeks(len(VALUES))
    wide = spc_spec(result, periods, title="T", width=900)
    narrow = spc_spec(result, periods, title="T", width=360)
    assert "layout" not in wide["config"]["legend"]
    assert narrow["config"]["legend"]["layout"]["bottom"]["direction"] == "vertical"
