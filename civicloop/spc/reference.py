"""A plain, per-series SPC implementation: the reference the vectorised engine is checked against.

Written the way an analyst would write the rules for one series at a time: lists, loops and
`math`, no NumPy. It is independent of `civicloop.spc.engine` on purpose (same rules, same
constants, separate code), so the benchmark and the tests can compare the two point by point.

The rules are NHS England's Making Data Count (XmR chart), the Anhøj rules (run chart) and the
attribute charts p, u, c with Laney's p' and u' (see docs and DOMAIN.md section 1).

    result = reference_analyse([12.0, 14.0, None, 13.5, ...], direction="increase", target=15)
    result.types[-1], result.variation, result.assurance
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from civicloop.spc.constants import (
    CHARTS,
    D2,
    DIRECTIONS,
    LIMIT,
    NEAR_LIMIT,
    RELATIVE_TOLERANCE,
    SCREEN,
    SHIFT_POINTS,
    TREND_POINTS,
)

RATIO_CHARTS = ("p", "p_prime", "u", "u_prime")

COMMON = "common_cause"
#: A run chart group with no point off the median: nothing to test.
NO_RUN_SIGNALS: dict[str, int | None] = {
    "longest_run": 0,
    "longest_run_max": None,
    "crossings": None,
    "crossings_min": None,
}
LABELS = {
    # direction: (label for a high flag, label for a low flag)
    "increase": ("special_cause_improvement", "special_cause_concern"),
    "decrease": ("special_cause_concern", "special_cause_improvement"),
    "neutral": ("special_cause_neutral_high", "special_cause_neutral_low"),
}


@dataclass(frozen=True)
class ReferenceResult:
    """Per-point lists, as long as the input; None where a point is missing or has no value."""

    mean: list[float | None]
    lpl: list[float | None]
    upl: list[float | None]
    nlpl: list[float | None]
    nupl: list[float | None]
    types: list[str | None]
    groups: list[int | None]
    variation: str | None
    assurance: str | None
    #: Run charts only (empty otherwise): per group, {"longest_run", "longest_run_max",
    #: "crossings", "crossings_min"}; the last three are None for a group with no useful point.
    run_signals: list[dict[str, int | None]] = field(default_factory=list)


@dataclass
class _Limits:
    """One group's centre and limits, per point of the group (None: no limits)."""

    centre: float
    lpl: list[float | None]
    upl: list[float | None]
    nlpl: list[float | None]
    nupl: list[float | None]


def _missing(value: Any) -> bool:
    """None or NaN (a float, a NumPy float or anything else that is not equal to itself)."""
    return value is None or bool(value != value)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    half = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[half]
    return (ordered[half - 1] + ordered[half]) / 2


def _group_starts(rebase: Sequence[int], length: int) -> list[int]:
    return sorted({int(r) for r in rebase if 0 < int(r) < length})


# --- limits ---------------------------------------------------------------------------------


def _xmr_limits(y: list[float], base: int, screen: bool, at: list[int]) -> _Limits:
    """`at` holds each value's position in the series: a missing point between two values
    breaks their moving range (as NHSRplotthedots does)."""
    centre = _mean(y[:base])
    ranges = [abs(y[i] - y[i - 1]) for i in range(1, base) if at[i] == at[i - 1] + 1]
    amr: float | None = _mean(ranges) if ranges else None
    if amr is not None and screen and amr > 0:
        kept = [r for r in ranges if r < SCREEN * amr]
        amr = _mean(kept)
    n = len(y)
    if amr is None:
        none: list[float | None] = [None] * n
        return _Limits(centre, none, list(none), list(none), list(none))
    return _Limits(
        centre,
        [centre - LIMIT * amr] * n,
        [centre + LIMIT * amr] * n,
        [centre - NEAR_LIMIT * amr] * n,
        [centre + NEAR_LIMIT * amr] * n,
    )


def _sigma(chart: str, centre: float, n: float) -> float:
    """One point's sigma for a p or u chart (and their Laney forms), before any Laney factor."""
    if chart in ("p", "p_prime"):
        # A "proportion" above 1 (numerator > denominator) is a data error; its variance would
        # be negative: treat it as no spread rather than failing.
        return math.sqrt(max(0.0, centre * (1 - centre)) / n)
    return math.sqrt(max(0.0, centre) / n)


def _attribute_limits(
    chart: str, y: list[float], x: list[float], n: list[float], base: int, at: list[int]
) -> _Limits:
    if chart == "c":
        centre = _mean(y[:base])
        sigmas = [math.sqrt(max(0.0, centre))] * len(y)
    else:
        centre = sum(x[:base]) / sum(n[:base])
        sigmas = [_sigma(chart, centre, ni) for ni in n]
    factor: float | None = 1.0
    if chart in ("p_prime", "u_prime"):
        # Laney: the spread of the z-scores between neighbours, as an XmR chart of z would see it.
        # A baseline of one point has no neighbours: no limits at all, as for an XmR chart.
        # Otherwise a point with no spread (centre 0, or 1 for p') has its limits on the centre.
        if base < 2:
            nothing: list[float | None] = [None] * len(y)
            return _Limits(centre, nothing, list(nothing), list(nothing), list(nothing))
        z = [(yi - centre) / s if s > 0 else None for yi, s in zip(y, sigmas, strict=True)]
        steps = [
            abs(z[i] - z[i - 1])  # type: ignore[operator]
            for i in range(1, base)
            if z[i] is not None and z[i - 1] is not None and at[i] == at[i - 1] + 1
        ]
        factor = _mean(steps) / D2 if steps else None
    clip_high = chart in ("p", "p_prime")
    lpl: list[float | None] = []
    upl: list[float | None] = []
    nlpl: list[float | None] = []
    nupl: list[float | None] = []
    for s in sigmas:
        if s == 0:
            spread: float | None = 0.0
        else:
            spread = s * factor if factor is not None else None
        if spread is None:
            lpl.append(None)
            upl.append(None)
            nlpl.append(None)
            nupl.append(None)
            continue
        high, near_high = centre + 3 * spread, centre + 2 * spread
        if clip_high:
            high, near_high = min(1.0, high), min(1.0, near_high)
        upl.append(high)
        nupl.append(near_high)
        lpl.append(max(0.0, centre - 3 * spread))
        nlpl.append(max(0.0, centre - 2 * spread))
    return _Limits(centre, lpl, upl, nlpl, nupl)


# --- rules ----------------------------------------------------------------------------------


def _sign(difference: float, tol: float) -> int:
    if difference > tol:
        return 1
    if difference < -tol:
        return -1
    return 0


def _control_rules(y: list[float], lim: _Limits, tol: float) -> list[int]:
    """Flags of one group's points: +1 high, -1 low, 0 common cause."""
    n = len(y)
    side = [_sign(v - lim.centre, tol) for v in y]

    outside = [False] * n
    near = [False] * n
    for i, v in enumerate(y):
        upper, lower = lim.upl[i], lim.lpl[i]
        if upper is not None and lower is not None:
            outside[i] = v - upper > tol or lower - v > tol
        near_upper, near_lower = lim.nupl[i], lim.nlpl[i]
        if near_upper is not None and near_lower is not None and not outside[i]:
            near[i] = v - near_upper > tol or near_lower - v > tol

    # Trend: step[i] is the step into point i (step[0] does not exist).
    step = [0] + [_sign(y[i] - y[i - 1], tol) for i in range(1, n)]
    step_in_trend = [False] * n  # the step into point i belongs to a trend
    start = 1
    while start < n:
        end = start
        while end + 1 < n and step[end + 1] == step[start]:
            end += 1
        if step[start] != 0 and end - start + 1 >= TREND_POINTS - 1:
            for i in range(start, end + 1):
                step_in_trend[i] = True
        start = end + 1
    trend = [step_in_trend[i] or (i + 1 < n and step_in_trend[i + 1]) for i in range(n)]

    # Two of three beyond a near-limit line, all three on the same side.
    two_of_three = [False] * n
    for i in range(n - 2):
        window = range(i, i + 3)
        if side[i] != 0 and side[i] == side[i + 1] == side[i + 2]:
            close = [j for j in window if near[j]]
            if len(close) >= 2:
                for j in close:
                    two_of_three[j] = True

    # Shift: a run of points on the same side of the centre.
    shift = [False] * n
    start = 0
    while start < n:
        end = start
        while end + 1 < n and side[end + 1] == side[start]:
            end += 1
        if side[start] != 0 and end - start + 1 >= SHIFT_POINTS:
            for i in range(start, end + 1):
                shift[i] = True
        start = end + 1

    flags = [0] * n
    for i in range(n):
        if outside[i]:
            flags[i] = side[i]
        elif trend[i]:
            # As NHSRplotthedots: when the next point is flagged by a trend too (this trend, or
            # another one starting there), the step out of this point; otherwise the step in.
            if i + 1 < n and trend[i + 1] and step[i + 1] != 0:
                flags[i] = step[i + 1]
            else:
                flags[i] = step[i]
        elif two_of_three[i] or shift[i]:
            flags[i] = side[i]
    return flags


def _binomial_quantile_05(trials: int) -> int:
    """qbinom(0.05, trials, 0.5): the smallest k with P(Binomial(trials, 1/2) <= k) >= 0.05."""
    total = 2**trials
    cumulative = 0
    for k in range(trials + 1):
        cumulative += math.comb(trials, k)
        if 20 * cumulative >= total:
            return k
    return trials


def _run_rules(
    y: list[float], centre: float, tol: float
) -> tuple[list[int], dict[str, int | None]]:
    """Anhøj rules for one group: per-point flags (runs too long) and the group's figures."""
    side = [_sign(v - centre, tol) for v in y]
    useful = [i for i, s in enumerate(side) if s != 0]
    flags = [0] * len(y)
    count = len(useful)
    if count == 0:
        return flags, dict(NO_RUN_SIGNALS)
    longest_max = round(math.log2(count)) + 3
    runs: list[list[int]] = []
    for i in useful:
        if runs and side[runs[-1][-1]] == side[i]:
            runs[-1].append(i)
        else:
            runs.append([i])
    for run in runs:
        if len(run) > longest_max:
            for i in run:
                flags[i] = side[i]
    signals: dict[str, int | None] = {
        "longest_run": max(len(run) for run in runs),
        "longest_run_max": longest_max,
        "crossings": len(runs) - 1,
        "crossings_min": _binomial_quantile_05(count - 1),
    }
    return flags, signals


# --- one series -----------------------------------------------------------------------------


def reference_analyse(
    values: Sequence[float | None],
    *,
    chart: str = "xmr",
    direction: str = "neutral",
    target: float | None = None,
    baseline: int | None = None,
    screen: bool = True,
    rebase: Sequence[int] = (),
    denominators: Sequence[float | None] | None = None,
) -> ReferenceResult:
    """Analyse one series: centre line, limits and each point's type, per rebase group.

    `values` are the plotted values (xmr, run), the numerators (p, p_prime, u, u_prime) or the
    counts (c). `denominators` is required for p and u charts and ignored otherwise. A missing
    value (None or NaN) is left out and its outputs are None; a ratio point is missing when
    either part is missing or the denominator is not positive.
    """
    if chart not in CHARTS:
        raise ValueError(f"Unknown chart {chart!r}; expected one of {', '.join(CHARTS)}.")
    if direction not in DIRECTIONS:
        raise ValueError(f"Unknown direction {direction!r}; expected {', '.join(DIRECTIONS)}.")
    if baseline is not None and baseline < 1:
        raise ValueError("A baseline needs at least one point.")
    length = len(values)
    ratio = chart in RATIO_CHARTS
    if ratio and (denominators is None or len(denominators) != length):
        raise ValueError(f"A {chart} chart needs one denominator per value.")

    # Each present point: (position, plotted value, numerator, denominator).
    present: list[tuple[int, float, float, float]] = []
    for i, v in enumerate(values):
        if v is None or _missing(v):
            continue
        if ratio:
            d = denominators[i] if denominators is not None else None
            if d is None or _missing(d) or d <= 0:
                continue
            present.append((i, float(v) / float(d), float(v), float(d)))
        else:
            present.append((i, float(v), float(v), 1.0))

    mean: list[float | None] = [None] * length
    lpl: list[float | None] = [None] * length
    upl: list[float | None] = [None] * length
    nlpl: list[float | None] = [None] * length
    nupl: list[float | None] = [None] * length
    types: list[str | None] = [None] * length
    groups: list[int | None] = [None] * length
    run_signals: list[dict[str, int | None]] = []
    high, low = LABELS[direction]

    last_tol = 0.0  # the comparison slack of the last group with values
    bounds = [0, *_group_starts(rebase, length), length]
    for group, (first, stop) in enumerate(pairwise(bounds)):
        members = [p for p in present if first <= p[0] < stop]
        y = [p[1] for p in members]
        if not y:
            if chart == "run":
                run_signals.append(dict(NO_RUN_SIGNALS))
            continue
        base = len(y) if baseline is None else min(baseline, len(y))
        tol = RELATIVE_TOLERANCE * max(abs(v) for v in y)
        last_tol = tol

        if chart == "run":
            centre = _median(y[:base])
            flags, signals = _run_rules(y, centre, tol)
            run_signals.append(signals)
            nothing: list[float | None] = [None] * len(y)
            limits = _Limits(centre, nothing, nothing, nothing, nothing)
        else:
            at = [p[0] for p in members]
            if chart == "xmr":
                limits = _xmr_limits(y, base, screen, at)
            else:
                x = [p[2] for p in members]
                n = [p[3] for p in members]
                limits = _attribute_limits(chart, y, x, n, base, at)
            flags = _control_rules(y, limits, tol)

        for k, p in enumerate(members):
            i = p[0]
            groups[i] = group
            mean[i] = limits.centre
            lpl[i], upl[i] = limits.lpl[k], limits.upl[k]
            nlpl[i], nupl[i] = limits.nlpl[k], limits.nupl[k]
            types[i] = high if flags[k] > 0 else low if flags[k] < 0 else COMMON

    last = present[-1][0] if present else None
    variation = types[last] if last is not None else None
    assurance = None
    if (
        last is not None
        and target is not None
        and not _missing(target)
        and direction != "neutral"
        and chart != "run"
    ):
        upper, lower = upl[last], lpl[last]
        if upper is not None and lower is not None:
            good_above = direction == "increase"
            slack = max(last_tol, RELATIVE_TOLERANCE * abs(target))
            if target - upper > slack:
                assurance = "consistent_fail" if good_above else "consistent_pass"
            elif lower - target > slack:
                assurance = "consistent_pass" if good_above else "consistent_fail"
            else:
                assurance = "inconsistent"
    return ReferenceResult(
        mean=mean,
        lpl=lpl,
        upl=upl,
        nlpl=nlpl,
        nupl=nupl,
        types=types,
        groups=groups,
        variation=variation,
        assurance=assurance,
        run_signals=run_signals,
    )
