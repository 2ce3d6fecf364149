"""The vectorised SPC engine: every series of a batch analysed in one pass over flat arrays.

Series are laid end to end in one array. Each rebase group of each series is a *segment*: a run
of consecutive non-missing points that shares a centre line, limits and rules. Means, moving
ranges, screening, medians and the run-length rules are then segment-wise reductions
(``bincount``, ``cumsum``, shifted comparisons), so the cost is a few dozen NumPy passes over
all the points, whatever the number of series.

Pure Python + NumPy; no Django. The rules are documented in docs/spc.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from civicloop.spc.constants import (
    D2,
    LIMIT,
    NEAR_LIMIT,
    RELATIVE_TOLERANCE,
    SCREEN,
    SHIFT_POINTS,
    TREND_POINTS,
)

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]
Bools = NDArray[np.bool_]

CHARTS = ("xmr", "run", "p", "p_prime", "u", "u_prime", "c")
ATTRIBUTE_CHARTS = ("p", "p_prime", "u", "u_prime", "c")
DIRECTIONS = ("increase", "decrease", "neutral")

# Point type codes (int8 in the batch; names in results and output).
MISSING, COMMON, IMPROVEMENT, CONCERN, NEUTRAL_HIGH, NEUTRAL_LOW = -1, 0, 1, 2, 3, 4
TYPE_NAMES: dict[int, str | None] = {
    MISSING: None,
    COMMON: "common_cause",
    IMPROVEMENT: "special_cause_improvement",
    CONCERN: "special_cause_concern",
    NEUTRAL_HIGH: "special_cause_neutral_high",
    NEUTRAL_LOW: "special_cause_neutral_low",
}
# The rule that labels a flagged point (for the sentences that explain an icon).
NO_RULE, RULE_OUTSIDE, RULE_TREND, RULE_TWO_IN_THREE, RULE_SHIFT, RULE_RUN = 0, 1, 2, 3, 4, 5
RULE_NAMES = {
    NO_RULE: None,
    RULE_OUTSIDE: "outside_limits",
    RULE_TREND: "trend",
    RULE_TWO_IN_THREE: "two_in_three",
    RULE_SHIFT: "shift",
    RULE_RUN: "long_run",
}
# Assurance codes per series.
NO_ASSURANCE, PASS, FAIL, INCONSISTENT = 0, 1, 2, 3
ASSURANCE_NAMES: dict[int, str | None] = {
    NO_ASSURANCE: None,
    PASS: "consistent_pass",
    FAIL: "consistent_fail",
    INCONSISTENT: "inconsistent",
}


class SpcInputError(ValueError):
    """Input the methods cannot analyse; the message says which series and point, and the fix."""


@dataclass(frozen=True)
class Segments:
    """The compact (non-missing) points of a batch and the segment each belongs to."""

    y: Floats  # plotted value of each compact point
    index: Ints  # position of each compact point in the flat (all points) array
    seg: Ints  # segment number of each compact point
    start: Bools  # first compact point of its segment
    pos: Ints  # position of the point within its segment (0-based, compact)
    count: int  # number of segments (some may hold no compact point)
    seg_series: Ints  # series of each segment
    seg_group: Ints  # rebase group (0, 1, ...) of each segment within its series
    point_group: Ints  # rebase group of every point of the flat array, missing ones included
    follows: Bools  # compact point directly follows the previous one (no missing point between)


def _segment_sum(seg: Ints, weights: Floats | Bools, count: int) -> Floats:
    return np.bincount(seg, weights=weights, minlength=count).astype(np.float64)


def _divide(numerator: Floats, denominator: Floats) -> Floats:
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def build_segments(
    flat: Floats,
    lengths: Ints,
    rebase: Sequence[Sequence[int]] | None,
) -> Segments:
    n_series = len(lengths)
    total = int(lengths.sum())
    offsets = np.zeros(n_series, dtype=np.int64)
    if n_series > 1:
        np.cumsum(lengths[:-1], out=offsets[1:])
    marker = np.zeros(total + 1, dtype=np.int64)
    marker[offsets[lengths > 0]] = 1
    if rebase is not None:
        if len(rebase) != n_series:
            raise SpcInputError(
                f"rebase has {len(rebase)} entries for {n_series} series: give one list of "
                "positions per series (an empty list for none)"
            )
        starts = [
            offsets[i] + int(p)
            for i, positions in enumerate(rebase)
            for p in positions
            if 0 < int(p) < lengths[i]
        ]
        if starts:
            marker[np.asarray(starts, dtype=np.int64)] = 1
    seg_all = np.cumsum(marker[:total]) - 1
    count = int(seg_all[-1]) + 1 if total else 0
    series_of_point = np.repeat(np.arange(n_series, dtype=np.int64), lengths)
    seg_series = np.zeros(count, dtype=np.int64)
    seg_series[seg_all] = series_of_point
    # A segment's group number: segments so far in its series.
    first_seg = np.zeros(n_series, dtype=np.int64)
    has = lengths > 0
    first_seg[has] = seg_all[offsets[has]]
    seg_group = np.arange(count, dtype=np.int64) - first_seg[seg_series]

    valid = ~np.isnan(flat)
    index = np.flatnonzero(valid).astype(np.int64)
    y = flat[index]
    seg = seg_all[index]
    start = np.ones(len(seg), dtype=bool)
    if len(seg) > 1:
        start[1:] = seg[1:] != seg[:-1]
    first = np.maximum.accumulate(np.where(start, np.arange(len(seg)), 0))
    pos = np.arange(len(seg), dtype=np.int64) - first
    follows = ~start
    if len(index) > 1:
        follows[1:] &= np.diff(index) == 1
    point_group = seg_group[seg_all] if total else np.zeros(0, dtype=np.int64)
    return Segments(y, index, seg, start, pos, count, seg_series, seg_group, point_group, follows)


@dataclass(frozen=True)
class Limits:
    centre: Floats  # per compact point
    upl: Floats
    lpl: Floats
    nupl: Floats
    nlpl: Floats
    tol: Floats  # per compact point: the segment's comparison slack


def _baseline_mask(s: Segments, baseline: Ints | None) -> Bools:
    if baseline is None:
        return np.ones(len(s.y), dtype=bool)
    limit = baseline[s.seg_series[s.seg]]
    return s.pos < limit


def _tolerance(s: Segments, values: Floats) -> Floats:
    scale = np.zeros(s.count)
    if len(values):  # segments are contiguous: a segment maximum is a reduceat
        starts = np.flatnonzero(s.start)
        maxima = np.maximum.reduceat(np.abs(values), starts)
        scale[s.seg[starts]] = maxima
    return (RELATIVE_TOLERANCE * scale)[s.seg]


def _moving_ranges(s: Segments, values: Floats) -> Floats:
    """|y_i - y_(i-1)| where point i directly follows i-1: a missing point breaks the range."""
    mr = np.full(len(values), np.nan)
    if len(values) > 1:
        mr[1:] = np.abs(np.diff(values))
    mr[~s.follows] = np.nan
    return mr


def xmr_limits(s: Segments, baseline: Ints | None, screen: Bools) -> Limits:
    base = _baseline_mask(s, baseline)
    n = _segment_sum(s.seg, base, s.count)
    centre = _divide(_segment_sum(s.seg, np.where(base, s.y, 0.0), s.count), n)
    mr = _moving_ranges(s, s.y)
    mr_base = base & ~np.isnan(mr)
    mr_values = np.where(mr_base, mr, 0.0)
    amr = _divide(_segment_sum(s.seg, mr_values, s.count), _segment_sum(s.seg, mr_base, s.count))
    screening = screen[s.seg_series] & (amr > 0)
    if screening.any():
        keep = mr_base & ~(screening[s.seg] & (mr >= SCREEN * amr[s.seg]))
        screened = _divide(
            _segment_sum(s.seg, np.where(keep, mr, 0.0), s.count),
            _segment_sum(s.seg, keep, s.count),
        )
        amr = np.where(screening, screened, amr)
    c = centre[s.seg]
    a = amr[s.seg]
    return Limits(
        centre=c,
        upl=c + LIMIT * a,
        lpl=c - LIMIT * a,
        nupl=c + NEAR_LIMIT * a,
        nlpl=c - NEAR_LIMIT * a,
        tol=_tolerance(s, s.y),
    )


def attribute_limits(
    s: Segments,
    chart: str,
    numerators: Floats,
    denominators: Floats,
    baseline: Ints | None,
) -> Limits:
    """p, u and c charts (and Laney's p' and u'): limits from the binomial or Poisson sigma."""
    base = _baseline_mask(s, baseline)
    x = numerators
    d = denominators
    if chart == "c":
        n = _segment_sum(s.seg, base, s.count)
        centre = _divide(_segment_sum(s.seg, np.where(base, x, 0.0), s.count), n)[s.seg]
        sigma = np.sqrt(np.maximum(centre, 0.0))
    else:
        centre = _divide(
            _segment_sum(s.seg, np.where(base, x, 0.0), s.count),
            _segment_sum(s.seg, np.where(base, d, 0.0), s.count),
        )[s.seg]
        if chart in ("p", "p_prime"):
            sigma = np.sqrt(np.maximum(centre * (1 - centre), 0.0) / d)
        else:
            sigma = np.sqrt(np.maximum(centre, 0.0) / d)
    y = s.y
    if chart in ("p_prime", "u_prime"):
        z = np.zeros(len(y))
        np.divide(y - centre, sigma, out=z, where=sigma > 0)
        mr = _moving_ranges(s, z)
        mr_base = base & ~np.isnan(mr)
        sigma_z = (
            _divide(
                _segment_sum(s.seg, np.where(mr_base, mr, 0.0), s.count),
                _segment_sum(s.seg, mr_base, s.count),
            )
            / D2
        )[s.seg]
        sigma = sigma * sigma_z
    upl = centre + 3 * sigma
    nupl = centre + 2 * sigma
    lpl = np.maximum(centre - 3 * sigma, 0.0)
    nlpl = np.maximum(centre - 2 * sigma, 0.0)
    if chart in ("p", "p_prime"):
        upl = np.minimum(upl, 1.0)
        nupl = np.minimum(nupl, 1.0)
    return Limits(centre, upl, lpl, nupl, nlpl, _tolerance(s, y))


def _sides(values: Floats, centre: Floats, tol: Floats) -> NDArray[np.int8]:
    diff = values - centre
    side = np.zeros(len(values), dtype=np.int8)
    side[diff > tol] = 1
    side[diff < -tol] = -1
    return side


def _run_lengths(keys: NDArray[np.int8], breaks: Bools) -> Ints:
    """Length of the run each element belongs to; a run ends where the key changes or at a break."""
    new = breaks.copy()
    if len(keys) > 1:
        new[1:] |= keys[1:] != keys[:-1]
    run_id = np.cumsum(new) - 1
    return np.bincount(run_id)[run_id] if len(keys) else np.zeros(0, dtype=np.int64)


def apply_rules(s: Segments, lim: Limits) -> tuple[NDArray[np.int8], NDArray[np.int8]]:
    """The four Making Data Count rules; returns each point's label side (+1/-1/0) and rule."""
    y = s.y
    n = len(y)
    side = _sides(y, lim.centre, lim.tol)
    has_limits = ~np.isnan(lim.upl)
    above = has_limits & (y - lim.upl > lim.tol)
    below = has_limits & (lim.lpl - y > lim.tol)
    outside = above | below

    # Trend: steps into each point; a run of TREND_POINTS - 1 equal non-zero steps.
    step = np.zeros(n, dtype=np.int8)
    if n > 1:
        delta = np.diff(y)
        step[1:] = np.where(delta > lim.tol[1:], 1, np.where(delta < -lim.tol[1:], -1, 0))
    step[s.start] = 0
    step_runs = _run_lengths(step, s.start)
    step_in_trend = (step != 0) & (step_runs >= TREND_POINTS - 1)
    out_in_trend = np.zeros(n, dtype=bool)
    out_in_trend[:-1] = step_in_trend[1:]
    trend = step_in_trend | out_in_trend
    step_out = np.zeros(n, dtype=np.int8)
    step_out[:-1] = step[1:]
    trend_side = np.where(out_in_trend, step_out, step)

    # Two of three beyond the same near-limit line, all three on one side of the centre.
    near = has_limits & ~outside & ((y - lim.nupl > lim.tol) | (lim.nlpl - y > lim.tol))
    two = np.zeros(n, dtype=bool)
    if n >= 3:
        same_segment = s.seg[:-2] == s.seg[2:]
        same_side = (side[:-2] != 0) & (side[:-2] == side[1:-1]) & (side[1:-1] == side[2:])
        near_count = near[:-2].astype(np.int8) + near[1:-1] + near[2:]
        window = same_segment & same_side & (near_count >= 2)
        covered = np.zeros(n, dtype=bool)
        covered[:-2] |= window
        covered[1:-1] |= window
        covered[2:] |= window
        two = near & covered

    # Shift: SHIFT_POINTS or more in a row on one side; a point on the centre breaks the run.
    shift = (side != 0) & (_run_lengths(side, s.start) >= SHIFT_POINTS)

    rule = np.zeros(n, dtype=np.int8)
    rule[shift] = RULE_SHIFT
    rule[two] = RULE_TWO_IN_THREE
    rule[trend] = RULE_TREND
    rule[outside] = RULE_OUTSIDE
    label = np.where(rule == RULE_TREND, trend_side, side).astype(np.int8)
    label[rule == NO_RULE] = 0
    return label, rule


def _segment_medians(s: Segments, base: Bools) -> Floats:
    seg = s.seg[base]
    y = s.y[base]
    order = np.lexsort((y, seg))
    seg_sorted = seg[order]
    y_sorted = y[order]
    counts = np.bincount(seg_sorted, minlength=s.count)
    first = np.zeros(s.count, dtype=np.int64)
    if s.count > 1:
        np.cumsum(counts[:-1], out=first[1:])
    medians = np.full(s.count, np.nan)
    has = counts > 0
    lo = first[has] + (counts[has] - 1) // 2
    hi = first[has] + counts[has] // 2
    medians[has] = (y_sorted[lo] + y_sorted[hi]) / 2
    return medians


@lru_cache(maxsize=4096)
def crossings_min(useful: int) -> int:
    """qbinom(0.05, useful - 1, 0.5): fewest crossings expected of a random series (Anhøj)."""
    trials = max(useful - 1, 0)
    total = 1 << trials
    cumulative = 0
    for k in range(trials + 1):
        cumulative += math.comb(trials, k)
        if 20 * cumulative >= total:
            return k
    return trials


def longest_run_max(useful: int) -> int:
    """round(log2(n)) + 3: the longest run of a random series (Anhøj); n >= 1."""
    return round(math.log2(useful)) + 3 if useful > 0 else 0


@dataclass(frozen=True)
class RunSignals:
    """Per segment: the Anhøj run chart statistics."""

    useful: Ints
    longest_run: Ints
    longest_run_max: Ints
    crossings: Ints
    crossings_min: Ints


def run_chart(s: Segments, baseline: Ints | None) -> tuple[Limits, Any, Any, RunSignals]:
    base = _baseline_mask(s, baseline)
    medians = _segment_medians(s, base)[s.seg]
    tol = _tolerance(s, s.y)
    side = _sides(s.y, medians, tol)
    useful = side != 0
    u_seg = s.seg[useful]
    u_side = side[useful]
    u_start = np.ones(len(u_seg), dtype=bool)
    if len(u_seg) > 1:
        u_start[1:] = u_seg[1:] != u_seg[:-1]
    lengths = _run_lengths(u_side, u_start)
    n_useful = np.bincount(u_seg, minlength=s.count).astype(np.int64)
    run_start = u_start.copy()
    if len(u_side) > 1:
        run_start[1:] |= u_side[1:] != u_side[:-1]
    runs = np.bincount(u_seg, weights=run_start, minlength=s.count).astype(np.int64)
    longest = np.zeros(s.count, dtype=np.int64)
    if len(u_seg):
        firsts = np.flatnonzero(u_start)
        longest[u_seg[firsts]] = np.maximum.reduceat(lengths, firsts)
    lr_max = np.array([longest_run_max(int(k)) for k in n_useful], dtype=np.int64)
    cr_min = np.array([crossings_min(int(k)) if k else 0 for k in n_useful], dtype=np.int64)
    crossings = np.maximum(runs - 1, 0)
    flagged_useful = lengths > lr_max[u_seg]
    label = np.zeros(len(s.y), dtype=np.int8)
    rule = np.zeros(len(s.y), dtype=np.int8)
    idx = np.flatnonzero(useful)[flagged_useful]
    label[idx] = side[idx]
    rule[idx] = RULE_RUN
    nan = np.full(len(s.y), np.nan)
    limits = Limits(medians, nan, nan, nan, nan, tol)
    return limits, label, rule, RunSignals(n_useful, longest, lr_max, crossings, cr_min)


def point_types(label: NDArray[np.int8], direction: NDArray[np.int8]) -> NDArray[np.int8]:
    """+1/-1 label sides to type codes, given each point's direction (+1 up, -1 down, 0)."""
    types = np.full(len(label), COMMON, dtype=np.int8)
    flagged = label != 0
    good = flagged & (direction != 0) & (label == direction)
    bad = flagged & (direction != 0) & (label != direction)
    types[good] = IMPROVEMENT
    types[bad] = CONCERN
    neutral = flagged & (direction == 0)
    types[neutral & (label > 0)] = NEUTRAL_HIGH
    types[neutral & (label < 0)] = NEUTRAL_LOW
    return types
