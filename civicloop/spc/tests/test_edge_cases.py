"""Edge cases with defined behaviour: too little data, no variation, bad input, gaps, odd options.

There is no docs/spc.md yet; the behaviour pinned here is the engine's, checked against the
methods in DOMAIN.md section 1 (and NHSRplotthedots where the primer is silent).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from civicloop.spc import SpcInputError, analyse, analyse_many

COMMON = "common_cause"
HIGH = "special_cause_neutral_high"
LOW = "special_cause_neutral_low"
ATTRIBUTE = [("c", None), ("u", 5), ("p", 5), ("p_prime", 5), ("u_prime", 5)]


def limits(r: object, i: int = 0) -> tuple[float, float, float]:
    return (r.mean[i], r.lpl[i], r.upl[i])  # type: ignore[attr-defined]


# --- too little data -------------------------------------------------------------------------


@pytest.mark.parametrize("chart", ["xmr", "run", "c"])
def test_empty_series(chart: str) -> None:
    r = analyse([], chart=chart)
    assert len(r) == 0
    assert r.types == []
    assert r.variation is None
    assert r.assurance is None
    assert r.last_index() is None
    assert r.warnings == ("no values to analyse",)


def test_a_value_that_is_not_a_number_is_named() -> None:
    with pytest.raises(SpcInputError, match=r"series 2, point 3: 'n/a' is not a number"):
        analyse_many([[1, 2, 3], [1, 2, "n/a", 4]])


def test_empty_series_in_a_batch() -> None:
    batch = analyse_many([[], [1, 2, 3]])
    assert batch[0].types == []
    assert batch[1].types == [COMMON] * 3


def test_all_missing() -> None:
    r = analyse([None, float("nan"), None], direction="increase", target=3)
    assert r.types == [None, None, None]
    assert np.isnan(r.mean).all() and np.isnan(r.upl).all()
    assert r.variation is None
    assert r.assurance is None
    assert r.warnings == ("no values to analyse",)


def test_single_point_has_no_limits() -> None:
    r = analyse([5], direction="increase", target=10)
    assert r.types == [COMMON]
    assert r.mean[0] == 5
    assert math.isnan(r.upl[0]) and math.isnan(r.lpl[0])
    assert r.variation == COMMON
    assert r.assurance is None  # no limits to compare the target with
    assert r.warnings == ("a single point has no limits; add more data",)


def test_single_point_among_missing() -> None:
    r = analyse([None, 5, None])
    assert r.types == [None, COMMON, None]
    assert "single point" in r.warnings[0]


def test_two_points() -> None:
    r = analyse([5, 7])
    assert limits(r) == pytest.approx((6, 6 - 2.66 * 2, 6 + 2.66 * 2))
    assert r.types == [COMMON, COMMON]
    assert len(r.warnings) == 1
    assert "from 2 points: fewer than 12 are unreliable" in r.warnings[0]
    assert "run chart" in r.warnings[0]


def test_fewer_than_twelve_points_warns() -> None:
    r = analyse([1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3])
    assert r.warnings == (
        "the centre line and limits come from 11 points: fewer than 12 are unreliable; "
        "a run chart may be the better choice for now",
    )
    assert analyse([1, 2, 3, 2] * 3).warnings == ()


def test_few_points_on_a_run_chart_warns_without_suggesting_a_run_chart() -> None:
    (warning,) = analyse([1, 2, 3, 2, 1], chart="run").warnings
    assert "fewer than 12" in warning
    assert "run chart" not in warning


def test_a_short_baseline_warns_even_with_many_points() -> None:
    r = analyse([1, 2, 3, 2] * 6, baseline=6)
    assert r.warnings == (
        "the centre line and limits come from 6 points: fewer than 12 are unreliable; "
        "a run chart may be the better choice for now",
    )


# --- no variation ----------------------------------------------------------------------------


def test_constant_series() -> None:
    r = analyse([3] * 15, direction="increase")
    assert r.types == [COMMON] * 15
    assert (r.mean == 3).all() and (r.lpl == 3).all() and (r.upl == 3).all()
    assert (r.nlpl == 3).all() and (r.nupl == 3).all()
    assert r.warnings == (
        "every value is the same: there is no variation to judge, so the limits sit on the "
        "centre line and no point is a signal",
    )


def test_constant_series_with_a_target() -> None:
    assert analyse([3] * 15, direction="increase", target=4).assurance == "consistent_fail"
    assert analyse([3] * 15, direction="increase", target=3).assurance == "inconsistent"


@pytest.mark.parametrize(("chart", "n"), ATTRIBUTE)
def test_all_zero_counts(chart: str, n: int | None) -> None:
    r = analyse([0] * 15, denominators=None if n is None else [n] * 15, chart=chart)
    assert r.types == [COMMON] * 15
    assert (r.mean == 0).all() and (r.lpl == 0).all() and (r.upl == 0).all()
    assert any("every value is the same" in w for w in r.warnings)


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(("chart", "n"), ATTRIBUTE)
def test_negative_count_is_refused_naming_the_point(chart: str, n: int | None) -> None:
    with pytest.raises(SpcInputError, match=r"^point 2: the count is -2; a \w+ chart needs"):
        analyse([1, -2, 3], denominators=None if n is None else [n] * 3, chart=chart)


def test_negative_count_in_a_batch_names_the_series() -> None:
    with pytest.raises(SpcInputError, match=r"^series 2, point 3: the count is -1"):
        analyse_many([[1, 2, 3], [1, 2, -1]], chart="c")


def test_negative_values_are_fine_on_xmr() -> None:
    r = analyse([-1, -5, -3, -2])
    assert r.mean[0] == pytest.approx(-2.75)
    assert r.types == [COMMON] * 4


def test_negative_denominator_is_refused() -> None:
    with pytest.raises(SpcInputError, match=r"^point 2: the denominator is -1"):
        analyse([1, 2], denominators=[5, -1], chart="u")


@pytest.mark.parametrize("chart", ["p", "u", "p_prime", "u_prime"])
def test_zero_out_of_zero_is_a_missing_point(chart: str) -> None:
    r = analyse([1, 0, 3], denominators=[5, 0, 5], chart=chart)
    assert r.types[1] is None
    assert math.isnan(r.y[1]) and math.isnan(r.mean[1])
    assert r.mean[0] == pytest.approx(0.4)


def test_a_count_out_of_zero_is_refused() -> None:
    with pytest.raises(SpcInputError, match=r"^point 2: 2 out of a denominator of 0"):
        analyse([1, 2, 3], denominators=[5, 0, 5], chart="p")


@pytest.mark.parametrize("chart", ["p", "p_prime"])
def test_numerator_over_denominator_is_refused_on_p(chart: str) -> None:
    with pytest.raises(SpcInputError, match=r"^point 2: 6 out of 5 is more than all of them"):
        analyse([1, 6, 3], denominators=[5, 5, 5], chart=chart)


def test_numerator_over_denominator_is_fine_on_u() -> None:
    r = analyse([1, 6, 3], denominators=[5, 5, 5], chart="u")
    assert r.y[1] == pytest.approx(1.2)


@pytest.mark.parametrize("bad", [math.inf, -math.inf])
@pytest.mark.parametrize("chart", ["xmr", "run", "c"])
def test_infinite_value_is_refused(bad: float, chart: str) -> None:
    # On a c chart -inf is refused first as a negative count.
    with pytest.raises(SpcInputError, match=r"point 2: (infinite value|the count is -inf)"):
        analyse([1, bad, 2], chart=chart)


def test_infinite_rate_is_refused() -> None:
    with pytest.raises(SpcInputError, match=r"point 2: infinite value"):
        analyse([1, math.inf, 2], denominators=[5, 5, 5], chart="u")


@pytest.mark.parametrize("chart", ["p", "u", "p_prime", "u_prime"])
def test_infinite_denominator_is_refused(chart: str) -> None:
    # (It used to be accepted: the point became 0, the centre sum(x)/inf = 0, the limits 0.)
    with pytest.raises(SpcInputError, match=r"^point 2: infinite value"):
        analyse([1, 2, 2], denominators=[5, math.inf, 5], chart=chart)


def test_missing_denominators_are_refused() -> None:
    with pytest.raises(SpcInputError, match="a p chart needs denominators"):
        analyse([1, 2], chart="p")


def test_unknown_chart_and_direction_are_refused() -> None:
    with pytest.raises(SpcInputError, match="chart 'x' is not one of"):
        analyse([1, 2], chart="x")
    with pytest.raises(SpcInputError, match="direction 'up' is not one of"):
        analyse([1, 2], direction="up")


@pytest.mark.parametrize("baseline", [0, 1, 2.5, True])
def test_baseline_must_be_two_or_more_whole_points(baseline: object) -> None:
    with pytest.raises(SpcInputError, match="give a whole number of points, 2 or more"):
        analyse([1, 2, 3], baseline=baseline)  # type: ignore[arg-type]


def test_nan_is_missing() -> None:
    r = analyse([1, float("nan"), 2])
    assert r.types == [COMMON, None, COMMON]


# --- options beyond the data -----------------------------------------------------------------


def test_baseline_longer_than_the_series_uses_all_of_it() -> None:
    y = [1, 3, 2, 4, 2]
    r = analyse(y, baseline=50)
    assert limits(r) == pytest.approx(limits(analyse(y)))
    assert "from 5 points" in r.warnings[0]


def test_baseline_counts_known_points() -> None:
    # The baseline is the first 3 values, the missing point not counted.
    r = analyse([1, None, 3, 5, 100, 100], baseline=3)
    assert r.mean[0] == pytest.approx(3)


@pytest.mark.parametrize("rebase", [[0], [5], [9], [-1], [0, 5, 9, -1]])
def test_rebase_at_zero_or_beyond_the_end_is_ignored(rebase: list[int]) -> None:
    y = [1, 3, 2, 4, 2]
    r = analyse(y, rebase=rebase)
    assert r.groups == [0] * 5
    assert limits(r) == pytest.approx(limits(analyse(y)))


def test_repeated_and_unsorted_rebases() -> None:
    r = analyse([1, 2, 3, 4, 5, 6], rebase=[4, 2, 4])
    assert r.groups == [0, 0, 1, 1, 2, 2]


def test_a_rebase_group_with_no_values() -> None:
    r = analyse([1, 2, None, None, 3, 4], rebase=[2, 4])
    assert r.groups == [0, 0, 1, 1, 2, 2]
    assert r.types == [COMMON, COMMON, None, None, COMMON, COMMON]
    assert "group 2: no values to analyse" in r.warnings


# --- gaps ------------------------------------------------------------------------------------


def test_a_missing_point_breaks_the_moving_range() -> None:
    # Moving ranges 4 and 4; none across the gap (|100 - 5| would be 95).
    r = analyse([1, 5, None, 100, 104])
    assert limits(r) == pytest.approx((52.5, 52.5 - 2.66 * 4, 52.5 + 2.66 * 4))
    assert r.types == [LOW, LOW, None, HIGH, HIGH]


def test_a_missing_point_breaks_the_moving_range_on_laney_charts() -> None:
    x = [50, 60, 55, None, 70, 52, 58]
    n = [1000] * 7
    gap = analyse(x, denominators=n, chart="p_prime")
    centre = sum(v for v in x if v is not None) / 6000
    sigma = math.sqrt(centre * (1 - centre) / 1000)
    z = [None if v is None else (v / 1000 - centre) / sigma for v in x]
    ranges = [abs(b - a) for a, b in itertools.pairwise(z) if a is not None and b is not None]
    assert len(ranges) == 4
    sigma_z = sum(ranges) / len(ranges) / 1.128
    assert gap.upl[0] == pytest.approx(centre + 3 * sigma * sigma_z)


def test_a_shift_continues_across_a_gap() -> None:
    # A 12-point baseline (mean 1), then seven points above it with a gap in the middle.
    r = analyse([2, 0] * 6 + [2, 2, 2, None, 2, 2, 2, 2], baseline=12)
    assert r.types[12:] == [HIGH] * 3 + [None] + [HIGH] * 4


def test_a_trend_continues_across_a_gap() -> None:
    r = analyse([0, 10] * 6 + [1, 2, 3, None, 4, 5, 6, 7], baseline=12)
    assert r.rules[12:] == ["trend"] * 3 + [None] + ["trend"] * 4
    assert r.types[12:] == [HIGH] * 3 + [None] + [HIGH] * 4


def test_a_run_continues_across_a_gap_on_a_run_chart() -> None:
    y = [1] * 5 + [None] + [1] * 4 + [9, 9, 1] * 9 + [5]
    r = analyse(y, chart="run")
    assert r.run_signals[0].longest_run == 9
    assert r.types[:10] == [LOW] * 5 + [None] + [LOW] * 4


def test_variation_is_the_last_known_point() -> None:
    r = analyse([2, 0] * 6 + [2] * 7 + [None, None], baseline=12, direction="increase")
    assert r.variation == "special_cause_improvement"
    assert r.last_index() == 18


def test_screening_can_leave_zero_width_limits() -> None:
    # All moving ranges but one are 0: the one is screened out (>= 3.267 x AMR), AMR becomes 0,
    # the limits collapse on the mean and every point is a signal. NHSRplotthedots does the same;
    # with screening off the single range sets the limits.
    y = [1] * 6 + [0] * 6
    screened = analyse(y)
    assert screened.upl[0] == screened.mean[0] == pytest.approx(0.5)
    assert screened.types == [HIGH] * 6 + [LOW] * 6
    assert any("screening set aside every moving range" in w for w in screened.warnings)
    # A baseline that is constant by itself is a different story, told differently.
    constant = analyse([5] * 12 + [6, 7], baseline=12).warnings
    assert any("baseline does not vary" in w for w in constant)
    assert not any("screening" in w for w in constant)
    plain = analyse(y, screen=False)
    assert plain.upl[0] == pytest.approx(0.5 + 2.66 / 11)
