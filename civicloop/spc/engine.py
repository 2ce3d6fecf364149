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

ATTRIBUTE_CHARTS = ("p", "p_prime", "u", "u_prime", "c")

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
    count: int  # number of segments (some may hold no compact point)
    seg_series: Ints  # series of each segment
    seg_group: Ints  # rebase group (0, 1, ...) of each segment within its series
    seg_start: Ints  # flat position where each segment starts
    follows: Bools  # compact point directly follows the previous one (no missing point between)
    starts: Ints  # compact index of the first point of each segment that has points
    nonempty: Ints  # those segments' numbers
    sizes: Ints  # and their numbers of compact points

    # Segments are contiguous runs of the compact arrays, so a segment-wise reduction is a
    # reduceat over their starts, and a per-segment value goes back to its points by repeat:
    # both sequential passes, much faster than scattering with bincount or gathering by index.

    def sum(self, values: Floats | Bools) -> Floats:
        out = np.zeros(self.count)
        if len(self.starts):
            out[self.nonempty] = np.add.reduceat(values, self.starts, dtype=np.float64)
        return out

    def max(self, values: Floats) -> Floats:
        out = np.zeros(self.count)
        if len(self.starts):
            out[self.nonempty] = np.maximum.reduceat(values, self.starts)
        return out

    def spread(self, per_segment: NDArray[Any]) -> NDArray[Any]:
        return np.repeat(per_segment[self.nonempty], self.sizes)

    def positions(self) -> Ints:
        """Each compact point's position within its segment (0-based)."""
        return np.arange(len(self.y), dtype=np.int64) - np.repeat(self.starts, self.sizes)


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
    # Segments start at each series' first point and at each rebase position.
    heads = [offsets[lengths > 0]]
    if rebase is not None:
        if len(rebase) != n_series:
            raise SpcInputError(
                f"rebase has {len(rebase)} entries for {n_series} series: give one list of "
                "positions per series (an empty list for none)"
            )
        rebase_starts = [
            offsets[i] + int(p)
            for i, positions in enumerate(rebase)
            for p in positions
            if 0 < int(p) < lengths[i]
        ]
        heads.append(np.asarray(rebase_starts, dtype=np.int64))
    seg_start = np.unique(np.concatenate(heads)).astype(np.int64)
    count = len(seg_start)
    seg_series = (np.searchsorted(offsets, seg_start, side="right") - 1).astype(np.int64)
    # A segment's group number: segments before it in its series.
    first_seg = np.searchsorted(seg_start, offsets)
    seg_group = np.arange(count, dtype=np.int64) - first_seg[seg_series]

    valid = ~np.isnan(flat)
    complete = bool(valid.all())
    if complete:
        index = np.arange(total, dtype=np.int64)
        y = flat
        counts = np.diff(np.append(seg_start, total))
    else:
        index = np.flatnonzero(valid).astype(np.int64)
        y = flat[index]
        counts = (
            np.add.reduceat(valid, seg_start, dtype=np.int64)
            if count
            else np.zeros(0, dtype=np.int64)
        )
    seg = np.repeat(np.arange(count, dtype=np.int64), counts)
    nonempty = np.flatnonzero(counts > 0)
    sizes = counts[nonempty]
    starts = (np.cumsum(counts) - counts)[nonempty]
    start = np.zeros(len(y), dtype=bool)
    start[starts] = True
    follows = ~start
    if not complete and len(index) > 1:
        follows[1:] &= np.diff(index) == 1
    return Segments(
        y,
        index,
        seg,
        start,
        count,
        seg_series,
        seg_group,
        seg_start,
        follows,
        starts,
        nonempty,
        sizes,
    )


@dataclass(frozen=True)
class Limits:
    """A chart's lines. `lines` is (centre, lpl, upl, nlpl, nupl): per compact point, or per
    segment when `by_segment` (XmR: one value per group, expanded to points only when read)."""

    centre: Floats  # per compact point: what the rules compare with
    tol: Floats  # per compact point: the segment's comparison slack
    lines: tuple[Floats, Floats, Floats, Floats, Floats]
    by_segment: bool = False
    # Per segment (XmR): screening left no moving range but zeros, so the limits collapsed.
    flattened_by_screening: Bools | None = None
    # Limits symmetric about the centre (XmR): |y - centre| beyond these is outside / near.
    outside_at: Floats | None = None
    near_at: Floats | None = None

    def at(self, which: int, points: Ints, s: Segments) -> Floats:
        """Line `which` (0 centre, 1 lpl, 2 upl, 3 nlpl, 4 nupl) at some compact points."""
        values = self.lines[which]
        return values[s.seg[points]] if self.by_segment else values[points]

    @property
    def upl(self) -> Floats:
        return self.lines[2]

    @property
    def lpl(self) -> Floats:
        return self.lines[1]

    @property
    def nupl(self) -> Floats:
        return self.lines[4]

    @property
    def nlpl(self) -> Floats:
        return self.lines[3]


def _baseline_mask(s: Segments, baseline: Ints | None) -> Bools:
    if baseline is None:
        return np.ones(len(s.y), dtype=bool)
    return s.positions() < s.spread(baseline[s.seg_series])


def _tolerance(s: Segments, values: Floats) -> Floats:
    return s.spread(RELATIVE_TOLERANCE * s.max(np.abs(values)))


def _moving_ranges(s: Segments, values: Floats) -> Floats:
    """|y_i - y_(i-1)| where point i directly follows i-1: a missing point breaks the range."""
    mr = np.full(len(values), np.nan)
    if len(values) > 1:
        mr[1:] = np.abs(np.diff(values))
    mr[~s.follows] = np.nan
    return mr


def xmr_limits(s: Segments, baseline: Ints | None, screen: Bools) -> Limits:
    y = s.y
    # Moving ranges between directly consecutive points (a missing point breaks the range).
    mr = np.zeros(len(y))
    if len(y) > 1:
        np.abs(np.diff(y), out=mr[1:])
    if baseline is None:
        centre = _divide(s.sum(y), s.sum(np.ones(len(y))))
        mr_base = s.follows
    else:
        base = _baseline_mask(s, baseline)
        centre = _divide(s.sum(np.where(base, y, 0.0)), s.sum(base))
        mr_base = base & s.follows
    mr *= mr_base
    amr = _divide(s.sum(mr), s.sum(mr_base))
    screening = screen[s.seg_series] & (amr > 0)
    flattened = np.zeros(s.count, dtype=bool)
    if screening.any():
        keep = mr_base & ~(s.spread(screening) & (mr >= s.spread(SCREEN * amr)))
        amr = np.where(screening, _divide(s.sum(mr * keep), s.sum(keep)), amr)
        flattened = screening & (amr == 0)  # screening set aside every range that was not 0
    tol = RELATIVE_TOLERANCE * s.max(np.abs(y))
    return Limits(
        centre=s.spread(centre),
        tol=s.spread(tol),
        lines=(
            centre,
            centre - LIMIT * amr,
            centre + LIMIT * amr,
            centre - NEAR_LIMIT * amr,
            centre + NEAR_LIMIT * amr,
        ),
        by_segment=True,
        flattened_by_screening=flattened,
        outside_at=s.spread(LIMIT * amr + tol),
        near_at=s.spread(NEAR_LIMIT * amr + tol),
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
        n = s.sum(base)
        centre = _divide(s.sum(np.where(base, x, 0.0)), n)[s.seg]
        sigma = np.sqrt(np.maximum(centre, 0.0))
    else:
        centre = _divide(
            s.sum(np.where(base, x, 0.0)),
            s.sum(np.where(base, d, 0.0)),
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
                s.sum(np.where(mr_base, mr, 0.0)),
                s.sum(mr_base),
            )
            / D2
        )[s.seg]
        # No spread (a centre of 0, or 1 for p'): the limits sit on the centre line, whether or
        # not the z-scores have a moving range to measure.
        # A one-point baseline has no neighbours at all: no limits, as on an XmR chart.
        lone = s.spread(s.sum(base) < 2)
        sigma = np.where(sigma > 0, sigma * sigma_z, np.where(lone, np.nan, 0.0))
    upl = centre + 3 * sigma
    nupl = centre + 2 * sigma
    lpl = np.maximum(centre - 3 * sigma, 0.0)
    nlpl = np.maximum(centre - 2 * sigma, 0.0)
    if chart in ("p", "p_prime"):
        upl = np.minimum(upl, 1.0)
        nupl = np.minimum(nupl, 1.0)
    return Limits(centre, _tolerance(s, y), (centre, lpl, upl, nlpl, nupl))


def _sides(values: Floats, centre: Floats, tol: Floats) -> NDArray[np.int8]:
    diff = values - centre
    side: NDArray[np.int8] = (diff > tol).view(np.int8) - (diff < -tol).view(np.int8)
    return side


def _run_lengths(keys: NDArray[np.int8], breaks: Bools) -> Ints:
    """Length of the run each element belongs to; a run ends where the key changes or at a break."""
    if not len(keys):
        return np.zeros(0, dtype=np.int64)
    new = breaks.copy()
    new[1:] |= keys[1:] != keys[:-1]
    firsts = np.flatnonzero(new)
    lengths = np.diff(np.append(firsts, len(keys)))
    return np.repeat(lengths, lengths)


def _in_long_runs(keys: NDArray[np.int8], breaks: Bools, at_least: int) -> Bools:
    """Whether each element is in a run of `at_least` or more equal, non-zero keys (a run
    also ends at a break). Sliding windows of bytes, no run bookkeeping: a window of
    `at_least` elements ending at i qualifies when every neighbour pair in it continues the
    run; its elements are then the window's `at_least - 1` predecessors and i itself."""
    n = len(keys)
    if n < at_least:
        return np.zeros(n, dtype=bool)
    continues = np.zeros(n, dtype=bool)
    np.equal(keys[1:], keys[:-1], out=continues[1:])
    continues[1:] &= ~breaks[1:]
    ends = continues.copy()  # ends[i]: the at_least - 1 pairs ending at i all continue
    for back in range(1, at_least - 1):
        ends[back:] &= continues[:-back]
        ends[:back] = False
    ends &= keys != 0
    covered = ends.copy()
    for ahead in range(1, at_least):
        covered[:-ahead] |= ends[ahead:]
    return covered


def apply_rules(s: Segments, lim: Limits) -> tuple[NDArray[np.int8], NDArray[np.int8]]:
    """The four Making Data Count rules; returns each point's label side (+1/-1/0) and rule."""
    y = s.y
    n = len(y)
    tol = lim.tol
    if lim.outside_at is not None and lim.near_at is not None:
        d = y - lim.centre
        side = (d > tol).view(np.int8) - (d < -tol).view(np.int8)
        distance = np.abs(d)
        outside = distance > lim.outside_at  # False where there are no limits (NaN)
        near = (distance > lim.near_at) & ~outside
    else:
        side = _sides(y, lim.centre, tol)
        has_limits = ~np.isnan(lim.upl)
        outside = has_limits & ((y - lim.upl > tol) | (lim.lpl - y > tol))
        near = has_limits & ~outside & ((y - lim.nupl > tol) | (lim.nlpl - y > tol))

    # Trend: steps into each point; a run of TREND_POINTS - 1 equal non-zero steps.
    step = np.zeros(n, dtype=np.int8)
    if n > 1:
        delta = np.diff(y)
        within = ~s.start[1:]  # no step into the first point of a segment
        up = (delta > tol[1:]) & within
        down = (delta < -tol[1:]) & within
        step[1:] = up.view(np.int8) - down.view(np.int8)
    step_in_trend = _in_long_runs(step, s.start, TREND_POINTS - 1)
    out_in_trend = np.zeros(n, dtype=bool)
    out_in_trend[:-1] = step_in_trend[1:]
    trend = step_in_trend | out_in_trend
    # A trend point's side, as NHSRplotthedots: when the next point is flagged by a trend too
    # (this trend, or another starting there), the step out of it; otherwise the step in.
    step_out = np.zeros(n, dtype=np.int8)
    step_out[:-1] = step[1:]  # 0 into a segment's first point: never taken across groups
    next_trend = np.zeros(n, dtype=bool)
    next_trend[:-1] = trend[1:]
    trend_side = np.where(next_trend & (step_out != 0), step_out, step)

    # Two of three beyond the same near-limit line, all three on one side of the centre: every
    # window of three consecutive points of one segment, on byte arrays.
    two = np.zeros(n, dtype=bool)
    if n >= 3:
        same_side = side[:-2] == side[1:-1]
        same_side &= side[1:-1] == side[2:]
        same_side &= side[:-2] != 0
        same_side &= ~s.start[1:-1]  # the window stays in one segment
        same_side &= ~s.start[2:]
        near_bytes = near.view(np.int8)
        near_count = near_bytes[:-2] + near_bytes[1:-1]
        near_count += near_bytes[2:]
        window = same_side & (near_count >= 2)
        two[:-2] |= window
        two[1:-1] |= window
        two[2:] |= window
        two &= near

    # Shift: SHIFT_POINTS or more in a row on one side; a point on the centre breaks the run.
    shift = _in_long_runs(side, s.start, SHIFT_POINTS)

    # The rule that labels each point, by precedence; a trend point's side is the trend's.
    rule = shift.view(np.int8) * np.int8(RULE_SHIFT)
    rule = np.where(two, np.int8(RULE_TWO_IN_THREE), rule)
    rule = np.where(trend, np.int8(RULE_TREND), rule)
    rule = np.where(outside, np.int8(RULE_OUTSIDE), rule)
    label = np.where(rule == RULE_TREND, trend_side, side * (rule != NO_RULE).view(np.int8))
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
    limits = Limits(medians, tol, (medians, nan, nan, nan, nan))
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
