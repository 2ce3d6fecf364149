"""Published worked examples: the engine must reproduce their numbers.

Sources: NHSRplotthedots' own tests and snapshots (the reference for the XmR chart, DOMAIN.md
section 1), Montgomery's "Introduction to Statistical Quality Control" (p, c and u charts), the
qicharts2 vignette (Anhøj's run chart limits) and Laney's definition of p' (no published numbers:
the defining identities are checked against a hand calculation).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pytest

from civicloop.spc import analyse, engine
from civicloop.spc.constants import D2

COMMON = "common_cause"
IMPROVEMENT = "special_cause_improvement"
CONCERN = "special_cause_concern"
HIGH = "special_cause_neutral_high"
LOW = "special_cause_neutral_low"

# --- NHSRplotthedots: tests/testthat/test-ptd_spc_standard.R --------------------------------

# R: set.seed(123); rnorm(20)
RNORM_20 = [
    -0.56047565,
    -0.23017749,
    1.55870831,
    0.07050839,
    0.12928774,
    1.71506499,
    0.46091621,
    -1.26506123,
    -0.68685285,
    -0.44566197,
    1.22408180,
    0.35981383,
    0.40077145,
    0.11068272,
    -0.55584113,
    1.78691314,
    0.49785048,
    -1.96661716,
    0.70135590,
    -0.47279141,
]


def with_outlier() -> list[float]:
    y = list(RNORM_20)
    y[14] = 10.0  # R's y[15] <- 10
    return y


def test_nhsr_r1_stable_series() -> None:
    r = analyse(RNORM_20)
    assert r.mean == pytest.approx([0.1416238] * 20, rel=1e-6)
    assert r.lpl == pytest.approx([-3.01138] * 20, rel=1e-5)
    assert r.upl == pytest.approx([3.294627] * 20, rel=1e-6)
    assert r.types == [COMMON] * 20
    assert r.variation == COMMON
    assert r.warnings == ()


def test_nhsr_r2_screening_drops_the_outliers_moving_ranges() -> None:
    r = analyse(with_outlier())
    assert r.mean == pytest.approx([0.6694159] * 20, rel=1e-6)
    assert r.lpl == pytest.approx([-2.383666] * 20, rel=1e-6)
    assert r.upl == pytest.approx([3.722497] * 20, rel=1e-6)
    assert r.types[14] == HIGH
    assert r.rules[14] == "outside_limits"
    assert r.types[:14] + r.types[15:] == [COMMON] * 19


def test_nhsr_r3_screening_off_keeps_the_big_moving_ranges() -> None:
    r = analyse(with_outlier(), screen=False)
    assert r.mean == pytest.approx([0.6694159] * 20, rel=1e-6)
    assert r.lpl == pytest.approx([-4.596625] * 20, rel=1e-6)
    assert r.upl == pytest.approx([5.935457] * 20, rel=1e-6)
    assert r.types[14] == HIGH


def test_nhsr_rebase_into_two_groups_of_ten() -> None:
    r = analyse(RNORM_20, rebase=[10])
    assert r.groups == [0] * 10 + [1] * 10
    # Published to 2-3 significant figures: allow half a unit in the last digit.
    assert r.mean[0] == pytest.approx(0.0746, abs=5e-5)
    assert r.lpl[0] == pytest.approx(-2.60, abs=5e-3)
    assert r.upl[0] == pytest.approx(2.75, abs=5e-3)
    assert r.mean[10] == pytest.approx(0.209, abs=5e-4)
    assert r.lpl[10] == pytest.approx(-3.28, abs=5e-3)
    assert r.upl[10] == pytest.approx(3.70, abs=5e-3)
    assert np.all(r.mean[:10] == r.mean[0])
    assert np.all(r.mean[10:] == r.mean[10])
    # Ten points a group: both groups are warned about.
    assert len(r.warnings) == 2
    assert all("fewer than 12" in w for w in r.warnings)


# --- The Making Data Count rules (NHSRplotthedots rule tests), on crafted series -------------
#
# A fixed baseline of 12 alternating points gives known limits that the points after it cannot
# move, so each rule can be exercised with points inside the process limits:
#   [0, 10] * 6: mean 5, AMR 10, limits 5 +/- 26.6 = (-21.6, 31.6),
#                near-limit lines 5 +/- 17.733 = (-12.733, 22.733).
#   [2, 0] * 6:  mean 1, AMR 2, limits 1 +/- 5.32, near-limit lines 1 +/- 3.547.
# (The same in the other order where the baseline's last point must not join a run or trend.)

WIDE = [0.0, 10.0] * 6
WIDE_LOW_END = [10.0, 0.0] * 6
NARROW = [2.0, 0.0] * 6
NARROW_HIGH_END = [0.0, 2.0] * 6


def tail(base: list[float], points: Sequence[float], **options: object) -> list[str | None]:
    """Types of `points` analysed after a fixed 12-point baseline."""
    r = analyse([*base, *points], baseline=12, **options)  # type: ignore[arg-type]
    assert r.types[:12] == [COMMON] * 12
    return r.types[12:]


def test_baselines_give_the_stated_limits() -> None:
    r = analyse(WIDE, baseline=12)
    assert (r.mean[0], r.lpl[0], r.upl[0]) == pytest.approx((5, -21.6, 31.6))
    assert (r.nlpl[0], r.nupl[0]) == pytest.approx((5 - 17.733333, 5 + 17.733333))
    r = analyse(NARROW, baseline=12)
    assert (r.mean[0], r.lpl[0], r.upl[0]) == pytest.approx((1, -4.32, 6.32))


def test_shift_of_seven_is_flagged() -> None:
    assert tail(NARROW, [2] * 7, direction="increase") == [IMPROVEMENT] * 7
    assert tail(NARROW_HIGH_END, [0] * 7, direction="increase") == [CONCERN] * 7


def test_six_on_one_side_is_not_a_shift() -> None:
    assert tail(NARROW, [2] * 6, direction="increase") == [COMMON] * 6


def test_a_point_on_the_mean_breaks_a_shift() -> None:
    assert tail(NARROW, [2, 2, 2, 1, 2, 2, 2, 2]) == [COMMON] * 8


def test_shift_of_eight_then_a_crossing() -> None:
    # NHSRplotthedots' shift test: 8 on one side, then one on the other.
    assert tail(NARROW, [2] * 8 + [0], direction="decrease") == [CONCERN] * 8 + [COMMON]


def test_trend_of_seven_increasing_is_flagged() -> None:
    # 1..7 sit inside the limits and cross the mean (5), so no shift either.
    points = [1.0, 2, 3, 4, 5, 6, 7]
    r = analyse(WIDE + points, baseline=12, direction="increase")
    assert r.types[12:] == [IMPROVEMENT] * 7
    assert r.rules[12:] == ["trend"] * 7


def test_trend_first_point_takes_the_trends_direction() -> None:
    # The step into the first trend point (10 -> 1) is down; the trend is up, and so is its label.
    types = tail(WIDE, [1, 2, 3, 4, 5, 6, 7], direction="decrease")
    assert types[0] == CONCERN
    assert types == [CONCERN] * 7


def test_a_tie_breaks_a_trend() -> None:
    assert tail(WIDE, [1, 2, 3, 3, 4, 5, 6], direction="increase") == [COMMON] * 7


def test_trend_of_seven_decreasing_is_flagged() -> None:
    assert tail(WIDE_LOW_END, [7, 6, 5, 4, 3, 2, 1], direction="increase") == [CONCERN] * 7
    assert tail(WIDE_LOW_END, [7, 6, 5, 4, 3, 2, 1]) == [LOW] * 7


def test_a_trend_can_start_in_the_baseline() -> None:
    # The baseline ends at 10, so 10, 7, 6, ..., 1 is a trend of eight: its first point too.
    r = analyse([*WIDE, 7, 6, 5, 4, 3, 2, 1], baseline=12)
    assert r.types[11:] == [LOW] * 8


def test_six_steps_make_a_trend_five_do_not() -> None:
    assert tail(WIDE, [2, 3, 4, 5, 6, 7]) == [COMMON] * 6


def test_outside_the_limits_takes_precedence_over_a_trend() -> None:
    # 40 is above the upper limit and starts a falling trend: it is labelled by its side (high),
    # the rest of the trend by its direction (low).
    r = analyse([*WIDE, 40, 30, 20, 10, 0, -10, -20], baseline=12, direction="decrease")
    assert r.rules[12:] == ["outside_limits"] + ["trend"] * 6
    assert r.types[12:] == [CONCERN] + [IMPROVEMENT] * 6


def test_two_of_three_beyond_the_near_limit() -> None:
    # 24 and 24 are beyond the upper near-limit line (22.73); 6 is above the mean but not near.
    r = analyse([*WIDE, 24, 6, 24], baseline=12, direction="increase")
    assert r.types[12:] == [IMPROVEMENT, COMMON, IMPROVEMENT]
    assert r.rules[12:] == ["two_in_three", None, "two_in_three"]


def test_three_of_three_near_are_all_flagged() -> None:
    assert tail(WIDE, [24, 25, 24]) == [HIGH] * 3


def test_two_of_three_low_side() -> None:
    assert tail(WIDE, [-14, 0, -15], direction="increase") == [CONCERN, COMMON, CONCERN]


def test_a_point_on_the_mean_spoils_the_two_of_three_window() -> None:
    assert tail(WIDE, [24, 5, 24]) == [COMMON] * 3


def test_close_points_on_opposite_sides_are_common_cause() -> None:
    assert tail(WIDE, [24, -14, 24]) == [COMMON] * 3


def test_a_point_outside_the_limits_is_not_near() -> None:
    r = analyse([*WIDE, 24, 6, 40], baseline=12)
    assert r.types[12:] == [COMMON, COMMON, HIGH]
    assert r.rules[12:] == [None, None, "outside_limits"]


# --- Assurance: target against the last point's limits ----------------------------------------


def series_with_limits(lpl: float, upl: float) -> list[float]:
    """Twelve alternating points whose XmR limits are (lpl, upl): mean +/- 2.66 x (2h) = +/- w."""
    mean = (lpl + upl) / 2
    h = (upl - lpl) / 2 / (2 * 2.66)
    return [mean - h, mean + h] * 6


@pytest.mark.parametrize(
    ("limits", "increase", "decrease"),
    [
        ((1, 3), "consistent_fail", "consistent_pass"),
        ((5, 7), "consistent_pass", "consistent_fail"),
        ((1, 5), "inconsistent", "inconsistent"),
    ],
)
def test_assurance_against_target_four(
    limits: tuple[float, float], increase: str, decrease: str
) -> None:
    y = series_with_limits(*limits)
    up = analyse(y, direction="increase", target=4)
    assert (up.lpl[-1], up.upl[-1]) == pytest.approx(limits)
    assert up.types == [COMMON] * 12
    assert up.assurance == increase
    assert analyse(y, direction="decrease", target=4).assurance == decrease
    assert analyse(y, direction="neutral", target=4).assurance is None
    assert analyse(y, direction="increase").assurance is None


# --- Montgomery, Introduction to Statistical Quality Control ----------------------------------


def test_montgomery_p_chart_orange_juice_cans() -> None:
    nonconforming = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22]
    nonconforming += [8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7, 13, 9, 6]
    r = analyse(nonconforming, denominators=[50] * 30, chart="p")
    assert r.mean[0] == pytest.approx(347 / 1500, rel=1e-12)
    assert r.mean[0] == pytest.approx(0.2313, abs=5e-5)
    assert r.upl[0] == pytest.approx(0.4102, abs=5e-5)
    assert r.lpl[0] == pytest.approx(0.0524, abs=5e-5)
    p = 347 / 1500
    assert r.upl[0] == pytest.approx(p + 3 * math.sqrt(p * (1 - p) / 50), rel=1e-12)
    outside = [i + 1 for i, rule in enumerate(r.rules) if rule == "outside_limits"]
    assert outside == [15, 23]
    assert r.types[14] == r.types[22] == HIGH
    # Samples 21 and 22 (0.40, 0.36) are beyond the upper 2-sigma line next to 23: the Making
    # Data Count two-in-three rule flags them too (Montgomery applies only the 3-sigma rule).
    assert [i + 1 for i, rule in enumerate(r.rules) if rule == "two_in_three"] == [21, 22]


def test_montgomery_c_chart_circuit_boards() -> None:
    counts = [21, 24, 16, 12, 15, 5, 28, 20, 31, 25, 20, 24, 16, 19, 10, 17, 13, 22, 18]
    counts += [39, 30, 24, 16, 19, 17, 15]
    r = analyse(counts, chart="c")
    assert r.mean[0] == pytest.approx(516 / 26, rel=1e-12)
    assert r.mean[0] == pytest.approx(19.85, abs=5e-3)
    # Montgomery rounds c-bar to 19.85 before adding 3 sqrt(19.85) = 13.37, printing 33.22; from
    # the exact c-bar the limit is 33.211. Compare at the printed precision (0.01).
    assert r.upl[0] == pytest.approx(33.22, abs=1e-2)
    assert r.lpl[0] == pytest.approx(6.48, abs=5e-3)
    c = 516 / 26
    assert r.upl[0] == pytest.approx(c + 3 * math.sqrt(c), rel=1e-12)
    outside = {i + 1: r.types[i] for i, rule in enumerate(r.rules) if rule == "outside_limits"}
    assert outside == {6: LOW, 20: HIGH}


def test_montgomery_u_chart_personal_computers() -> None:
    counts = [10, 12, 8, 14, 10, 16, 11, 7, 10, 15, 9, 5, 7, 11, 12, 6, 8, 10, 7, 5]
    r = analyse(counts, denominators=[5] * 20, chart="u")
    assert r.mean[0] == pytest.approx(1.93, rel=1e-12)
    assert r.upl[0] == pytest.approx(3.794, abs=5e-4)
    assert r.lpl[0] == pytest.approx(0.066, abs=5e-4)
    assert r.types == [COMMON] * 20


def test_p_chart_limits_vary_with_the_denominator() -> None:
    x = [5, 12, 3, 9, 20, 7]
    n = [50, 100, 40, 80, 150, 60]
    r = analyse(x, denominators=n, chart="p")
    p = sum(x) / sum(n)
    for i, ni in enumerate(n):
        s = math.sqrt(p * (1 - p) / ni)
        assert r.upl[i] == pytest.approx(p + 3 * s, rel=1e-12)
        assert r.lpl[i] == pytest.approx(max(0.0, p - 3 * s), rel=1e-12, abs=1e-15)
        assert r.nupl[i] == pytest.approx(p + 2 * s, rel=1e-12)


# --- Laney p' and u': the defining identities -------------------------------------------------

LANEY_X = [550, 640, 500, 610, 480, 700, 560, 590, 650, 520, 470, 680]
LANEY_N = [5000, 5200, 4800, 5100, 4900, 5300, 5050, 4950, 5150, 5000, 4850, 5250]


def laney_by_hand(u_chart: bool) -> tuple[float, list[float], float]:
    """Centre, each point's binomial (or Poisson) sigma, and Laney's sigma_z."""
    centre = sum(LANEY_X) / sum(LANEY_N)
    spread = centre if u_chart else centre * (1 - centre)
    sigmas = [math.sqrt(spread / n) for n in LANEY_N]
    z = [(x / n - centre) / s for x, n, s in zip(LANEY_X, LANEY_N, sigmas, strict=True)]
    ranges = [abs(b - a) for a, b in itertools.pairwise(z)]
    sigma_z = sum(ranges) / len(ranges) / D2
    return centre, sigmas, sigma_z


@pytest.mark.parametrize(("chart", "plain"), [("p_prime", "p"), ("u_prime", "u")])
def test_laney_limits_from_z_scores(chart: str, plain: str) -> None:
    centre, sigmas, sigma_z = laney_by_hand(u_chart=chart == "u_prime")
    assert D2 == 1.128
    assert sigma_z > 2  # over-dispersed: the proportions vary far more than binomial noise
    r = analyse(LANEY_X, denominators=LANEY_N, chart=chart)
    for i, s in enumerate(sigmas):
        assert r.mean[i] == pytest.approx(centre, rel=1e-12)
        assert r.upl[i] == pytest.approx(centre + 3 * s * sigma_z, rel=1e-9)
        assert r.lpl[i] == pytest.approx(max(0.0, centre - 3 * s * sigma_z), rel=1e-9)
        assert r.nupl[i] == pytest.approx(centre + 2 * s * sigma_z, rel=1e-9)
        assert r.nlpl[i] == pytest.approx(centre - 2 * s * sigma_z, rel=1e-9)
    q = analyse(LANEY_X, denominators=LANEY_N, chart=plain)
    assert np.all(r.upl > q.upl)
    assert np.all(r.lpl < q.lpl)
    # With large denominators the plain chart calls points outside its limits; Laney's does not.
    assert q.rules.count("outside_limits") >= 4
    assert r.types == [COMMON] * 12


# --- Anhøj run chart (qicharts2 vignette) ------------------------------------------------------

ANHOEJ_TABLE = {
    10: (6, 2),
    11: (6, 2),
    12: (7, 3),
    14: (7, 4),
    17: (7, 5),
    19: (7, 6),
    20: (7, 6),
    22: (7, 7),
    23: (8, 7),
    24: (8, 8),
    30: (8, 10),
    46: (9, 17),
    50: (9, 19),
}


@pytest.mark.parametrize(("useful", "expected"), sorted(ANHOEJ_TABLE.items()))
def test_anhoej_limits_table(useful: int, expected: tuple[int, int]) -> None:
    assert (engine.longest_run_max(useful), engine.crossings_min(useful)) == expected


def test_run_chart_long_run_flagged_and_median_points_skipped() -> None:
    # Nine points below the median (one point on the median in the middle of them, which neither
    # breaks nor counts in the run), then 27 in a high-high-low pattern: 36 useful points, 18 low
    # and 18 high, so the median is the 5 in the middle.
    y = [1] * 5 + [5] + [1] * 4 + [9, 9, 1] * 9
    r = analyse(y, chart="run", direction="increase")
    assert r.mean == pytest.approx([5] * len(y))
    assert np.isnan(r.upl).all() and np.isnan(r.lpl).all()
    (signal,) = r.run_signals
    assert signal.useful_points == 36
    assert signal.longest_run == 9
    assert signal.longest_run_max == 8  # round(log2(36)) + 3
    assert signal.long_run
    assert signal.crossings == 18
    assert signal.crossings_min == engine.crossings_min(36)
    assert not signal.few_crossings
    assert r.types[:10] == [CONCERN] * 5 + [COMMON] + [CONCERN] * 4
    assert r.types[10:] == [COMMON] * 27
    assert set(r.rules[:5]) == {"long_run"}


def test_run_chart_points_on_the_median_do_not_count() -> None:
    y = [10] * 10 + [0, 20] * 5
    r = analyse(y, chart="run")
    (signal,) = r.run_signals
    assert r.mean[0] == 10
    assert signal.useful_points == 10
    assert signal.longest_run == 1
    assert signal.crossings == 9
    assert r.types == [COMMON] * 20


def test_run_chart_few_crossings() -> None:
    # 1..11: the median 6 is dropped, leaving five below then five above: one crossing, fewer
    # than the two a random series of ten would give at least.
    r = analyse(list(range(1, 12)), chart="run")
    (signal,) = r.run_signals
    assert (signal.useful_points, signal.crossings, signal.crossings_min) == (10, 1, 2)
    assert signal.few_crossings
    assert not signal.long_run
