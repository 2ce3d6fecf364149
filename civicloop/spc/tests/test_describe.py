"""The sentences beside the icons say what a meeting would check on the chart: the right
count, the right side, the right rule."""

from __future__ import annotations

import pytest

from civicloop.spc import analyse
from civicloop.spc.describe import explain

# A stable baseline of 12 weeks: mean 11.4, limits about 2.3 to 20.5.
BASE = [10, 14, 9, 13, 10, 15, 8, 12, 11, 14, 9, 12]


def sentence(values: list[float], **options: object) -> str:
    options.setdefault("baseline", 12)
    options.setdefault("direction", "increase")
    return explain(analyse(values, **options)).variation_sentence  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # A peak: up for 7, then down for 7 (the peak belongs to both): the falling run is 7.
        (BASE + list(range(8, 15)) + list(range(13, 7, -1)), "falling for 7 weeks in a row"),
        # A rise, a drop, a rise: the last rise is counted alone.
        (BASE + list(range(8, 15)) + list(range(10, 17)), "rising for 7 weeks in a row"),
        # 7 above the mean then 7 below: the run below is 7, not 14.
        (BASE + [12] * 7 + [10] * 7, "7 weeks in a row below the average"),
        # A point beyond the limit inside the run is still part of it.
        ([*BASE, 12, 12, 12, 12, 25, 12, 12, 12], "9 weeks in a row above the average"),
    ],
)
def test_runs_are_counted_as_a_reader_counts_them(values: list[float], expected: str) -> None:
    assert expected in sentence(values)


def test_a_decrease_metric_says_below_and_falling() -> None:
    assert sentence(BASE + [10] * 7, direction="decrease") == (
        "Special cause of improvement: 7 weeks in a row below the average."
    )


def test_a_run_chart_passes_over_points_on_the_median() -> None:
    values = [1] * 8 + [5] + [9, 9, 9, 9, 5, 9, 9, 9, 9]
    assert sentence(values, chart="run", baseline=None) == (
        "Special cause of improvement: 8 weeks in a row above the median."
    )


def test_a_run_chart_with_an_earlier_long_run_does_not_claim_none() -> None:
    values = [5, 3, 6, 2, 7, *[9] * 10, 1, 8, 2, 7, 3, 6, 1, 8, 2, 7, 1, 9, 1]
    result = analyse(values, chart="run", direction="increase")
    text = explain(result, grain="month").variation_sentence
    assert result.variation == "common_cause"
    assert "earlier 10 months in a row ran on one side of the median" in text
    assert "at most 8" in text


def test_two_of_three_says_how_many() -> None:
    # Limits from the baseline: near line about 18.5; the last three all beyond it.
    three = explain(analyse([*BASE, 19, 20, 19], baseline=12, direction="increase"))
    assert three.variation_sentence == (
        "Special cause of improvement: 3 of the last 3 weeks are close to the upper process limit."
    )
    two = explain(analyse([*BASE, 19, 12, 20], baseline=12, direction="increase"))
    assert "2 of the last 3 weeks" in two.variation_sentence


def test_a_target_on_a_limit_is_hit_and_miss() -> None:
    # The upper limit is exactly 2873/200 = 14.365 in exact arithmetic; rounding gives
    # 14.364999999999998. A target there may be met or missed.
    result = analyse([3.7, 8.8, 7.8, 7.4, 0.9], direction="increase", screen=False, target=14.365)
    assert result.assurance == "inconsistent"
    assert explain(result).assurance_sentence.startswith("Hit and miss: the target (14.4)")  # type: ignore[union-attr]


def test_trend_points_take_the_next_step_when_the_next_point_is_in_a_trend_too() -> None:
    # As NHSRplotthedots: the top of an up-trend followed by a down-trend is labelled by the
    # step down out of it; the top of an up-trend followed by a drop and another up-trend is
    # labelled by that drop, because the next point is flagged by the second trend.
    peak = analyse(
        BASE + list(range(8, 15)) + list(range(13, 7, -1)), baseline=12, direction="increase"
    )
    assert peak.types[18] == "special_cause_concern"
    assert peak.types[17] == "special_cause_improvement"
    reversal = analyse(
        BASE + list(range(8, 15)) + list(range(10, 17)), baseline=12, direction="increase"
    )
    assert reversal.types[18] == "special_cause_concern"
    assert reversal.types[19] == "special_cause_improvement"
