"""The public face of the engine: `analyse` one series, `analyse_many` a batch in one pass.

Results keep NumPy arrays (NaN where a point has no value or no limit) and turn codes into the
names users see (`common_cause`, `special_cause_concern`, ...) only when asked.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from civicloop.spc import engine
from civicloop.spc.constants import CHARTS, DIRECTIONS, MIN_RELIABLE_POINTS, RELATIVE_TOLERANCE
from civicloop.spc.engine import (
    ASSURANCE_NAMES,
    ATTRIBUTE_CHARTS,
    FAIL,
    INCONSISTENT,
    MISSING,
    PASS,
    RULE_NAMES,
    TYPE_NAMES,
    Floats,
    SpcInputError,
)

DIRECTION_SIGN = {"increase": 1, "decrease": -1, "neutral": 0}


@dataclass(frozen=True)
class RunSignal:
    """One rebase group of a run chart: Anhøj's longest run and crossings, and their limits."""

    group: int
    useful_points: int
    longest_run: int
    longest_run_max: int
    crossings: int
    crossings_min: int

    @property
    def long_run(self) -> bool:
        return self.longest_run > self.longest_run_max

    @property
    def few_crossings(self) -> bool:
        return self.crossings < self.crossings_min


@dataclass(frozen=True)
class SpcResult:
    """One series analysed: per-point arrays, the icons and the caveats."""

    chart: str
    direction: str
    target: float | None
    y: Floats
    mean: Floats
    lpl: Floats
    upl: Floats
    nlpl: Floats
    nupl: Floats
    type_codes: NDArray[np.int8]
    rule_codes: NDArray[np.int8]
    group_ids: NDArray[np.int64]
    variation: str | None
    assurance: str | None
    numerators: Floats | None = None
    denominators: Floats | None = None
    baseline: int | None = None
    screen: bool = True
    run_signals: tuple[RunSignal, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.y)

    @property
    def types(self) -> list[str | None]:
        return [TYPE_NAMES[int(c)] for c in self.type_codes]

    @property
    def rules(self) -> list[str | None]:
        return [RULE_NAMES[int(c)] for c in self.rule_codes]

    @property
    def groups(self) -> list[int]:
        return [int(g) for g in self.group_ids]

    def scaled(self, factor: float) -> SpcResult:
        """The same analysis in other units (values, lines and target times `factor`): a
        proportion as a percentage, a rate per N people."""
        if factor == 1.0:
            return self
        return dataclasses.replace(
            self,
            y=self.y * factor,
            mean=self.mean * factor,
            lpl=self.lpl * factor,
            upl=self.upl * factor,
            nlpl=self.nlpl * factor,
            nupl=self.nupl * factor,
            target=None if self.target is None else self.target * factor,
        )

    def last_index(self) -> int | None:
        known = np.flatnonzero(self.type_codes != MISSING)
        return int(known[-1]) if len(known) else None

    def point(self, i: int) -> dict[str, Any]:
        """Point i as plain data (None for NaN)."""
        return {
            "y": _num(self.y[i]),
            "mean": _num(self.mean[i]),
            "lpl": _num(self.lpl[i]),
            "upl": _num(self.upl[i]),
            "nlpl": _num(self.nlpl[i]),
            "nupl": _num(self.nupl[i]),
            "type": TYPE_NAMES[int(self.type_codes[i])],
            "rule": RULE_NAMES[int(self.rule_codes[i])],
            "group": int(self.group_ids[i]),
        }


def _num(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


@dataclass(frozen=True)
class BatchChunk:
    """Consecutive series of a batch, analysed together in one pass."""

    chart: str
    directions: tuple[str, ...]
    targets: Floats
    lengths: NDArray[np.int64]
    offsets: NDArray[np.int64]
    y: Floats
    numerators: Floats | None
    denominators: Floats | None
    index: NDArray[np.int64]  # flat position of each known (compact) point
    # centre, lpl, upl, nlpl, nupl: per known point, or per segment (then `compact_segment`
    # gives each known point's segment)
    compact: tuple[Floats, Floats, Floats, Floats, Floats]
    compact_by_segment: bool
    compact_segment: NDArray[np.int64]
    type_codes: NDArray[np.int8]
    rule_codes: NDArray[np.int8]
    segment_start: NDArray[np.int64]
    variation_codes: NDArray[np.int8]
    assurance_codes: NDArray[np.int8]
    baselines: tuple[int | None, ...]
    screens: tuple[bool, ...]
    segment_series: NDArray[np.int64]
    segment_group: NDArray[np.int64]
    segment_points: NDArray[np.int64]
    segment_baseline_points: NDArray[np.int64]
    segment_spread: Floats
    segment_flat: NDArray[np.bool_]  # limits collapsed on the centre (a baseline AMR of 0)
    segment_screened_flat: NDArray[np.bool_]  # ... because screening set aside every range
    run: engine.RunSignals | None

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> SpcResult:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        a = int(self.offsets[i])
        b = a + int(self.lengths[i])
        target = float(self.targets[i])
        first, end = np.searchsorted(self.segment_series, [i, i + 1])
        segs = np.arange(first, end)
        mean, lpl, upl, nlpl, nupl = (self._expand(k, a, b) for k in range(5))
        groups = (
            np.searchsorted(self.segment_start[first:end], np.arange(a, b), side="right") - 1
        ).astype(np.int64)
        run_signals: tuple[RunSignal, ...] = ()
        if self.run is not None:
            run_signals = tuple(
                RunSignal(
                    group=int(self.segment_group[k]),
                    useful_points=int(self.run.useful[k]),
                    longest_run=int(self.run.longest_run[k]),
                    longest_run_max=int(self.run.longest_run_max[k]),
                    crossings=int(self.run.crossings[k]),
                    crossings_min=int(self.run.crossings_min[k]),
                )
                for k in segs
            )
        return SpcResult(
            chart=self.chart,
            direction=self.directions[i],
            target=None if np.isnan(target) else target,
            y=self.y[a:b],
            mean=mean,
            lpl=lpl,
            upl=upl,
            nlpl=nlpl,
            nupl=nupl,
            type_codes=self.type_codes[a:b],
            rule_codes=self.rule_codes[a:b],
            group_ids=groups,
            variation=TYPE_NAMES[int(self.variation_codes[i])],
            assurance=ASSURANCE_NAMES[int(self.assurance_codes[i])],
            numerators=None if self.numerators is None else self.numerators[a:b],
            denominators=None if self.denominators is None else self.denominators[a:b],
            baseline=self.baselines[i],
            screen=self.screens[i],
            run_signals=run_signals,
            warnings=tuple(self._warnings(segs)),
        )

    def _expand(self, which: int, a: int, b: int) -> Floats:
        """Flat points a..b of one of the compact arrays, NaN where a point is missing."""
        values = self.compact[which]
        if len(self.index) == len(self.y):
            lo, hi = a, b
        else:
            lo, hi = np.searchsorted(self.index, [a, b])
        known = values[self.compact_segment[lo:hi]] if self.compact_by_segment else values[lo:hi]
        if hi - lo == b - a:
            return known
        out = np.full(b - a, np.nan)
        out[self.index[lo:hi] - a] = known
        return out

    def flat(self, which: int) -> Floats:
        return self._expand(which, 0, len(self.y))

    def _warnings(self, segs: NDArray[np.int64]) -> list[str]:
        out: list[str] = []
        if not len(segs):
            return ["no values to analyse"]
        several = len(segs) > 1
        for k in segs:
            where = f"group {int(self.segment_group[k]) + 1}: " if several else ""
            points = int(self.segment_points[k])
            base = int(self.segment_baseline_points[k])
            if points == 0:
                out.append(f"{where}no values to analyse")
                continue
            elif points == 1 and self.chart != "run":
                out.append(f"{where}a single point has no limits; add more data")
            elif base < MIN_RELIABLE_POINTS and self.chart == "run":
                out.append(
                    f"{where}the median comes from {base} points: with fewer than "
                    f"{MIN_RELIABLE_POINTS}, the run rules can miss a real change"
                )
            elif base < MIN_RELIABLE_POINTS:
                out.append(
                    f"{where}the centre line and limits come from {base} points: fewer than "
                    f"{MIN_RELIABLE_POINTS} are unreliable; a run chart may be the better choice "
                    "for now"
                )
            if points > 1 and self.segment_spread[k] == 0:
                out.append(
                    f"{where}every value is the same: there is no variation to judge, so the "
                    "limits sit on the centre line and no point is a signal"
                )
            elif points > 1 and self.segment_flat[k] and self.segment_screened_flat[k]:
                out.append(
                    f"{where}screening set aside every moving range that was not 0, so the "
                    "limits sit on the centre line and every point off it is a signal; turn "
                    "screening off for this series"
                )
            elif points > 1 and self.segment_flat[k]:
                out.append(
                    f"{where}the baseline does not vary from point to point, so the limits sit "
                    "on the centre line and every point off it is a signal; a longer baseline "
                    "would give real limits"
                )
        return out


class SpcBatch:
    """Many series analysed together; `batch[i]` is series i as an SpcResult.

    Per-point arrays over the whole batch (`type_codes`, `mean`, ...) and per-series codes
    (`variation_codes`, `assurance_codes`) are joined from the chunks on first use.
    """

    def __init__(self, chunks: list[BatchChunk]) -> None:
        self.chunks = chunks
        self.chart = chunks[0].chart
        sizes = [len(c) for c in chunks]
        self._starts = np.cumsum([0, *sizes])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, i: int) -> SpcResult:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        k = int(np.searchsorted(self._starts, i, side="right") - 1)
        return self.chunks[k][i - int(self._starts[k])]

    def _join(self, name: str) -> NDArray[Any]:
        parts = [getattr(c, name) for c in self.chunks]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    @cached_property
    def variation_codes(self) -> NDArray[np.int8]:
        return self._join("variation_codes")

    @cached_property
    def assurance_codes(self) -> NDArray[np.int8]:
        return self._join("assurance_codes")

    @cached_property
    def type_codes(self) -> NDArray[np.int8]:
        return self._join("type_codes")

    @cached_property
    def rule_codes(self) -> NDArray[np.int8]:
        return self._join("rule_codes")

    def _join_flat(self, which: int) -> Floats:
        parts = [c.flat(which) for c in self.chunks]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    @cached_property
    def mean(self) -> Floats:
        return self._join_flat(0)

    @cached_property
    def lpl(self) -> Floats:
        return self._join_flat(1)

    @cached_property
    def upl(self) -> Floats:
        return self._join_flat(2)


def _as_flat(values: Any, name: str) -> tuple[Floats, NDArray[np.int64]]:
    if isinstance(values, np.ndarray) and values.ndim == 2:
        flat = np.ascontiguousarray(values, dtype=np.float64).ravel()
        lengths = np.full(values.shape[0], values.shape[1], dtype=np.int64)
        return flat, lengths
    if isinstance(values, np.ndarray) and values.ndim != 1 and values.ndim != 2:
        raise SpcInputError(f"{name}: expected a list of series or a 2-D array")
    rows = [_as_row(row, i, name) for i, row in enumerate(values)]
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    flat = np.concatenate(rows) if rows else np.zeros(0)
    return flat, lengths


def _as_row(row: Any, series: int, name: str) -> Floats:
    try:
        if isinstance(row, np.ndarray):
            return row.astype(np.float64, copy=False)
        return np.asarray([np.nan if v is None else v for v in row], dtype=np.float64)
    except (TypeError, ValueError):
        for point, value in enumerate(row):
            try:
                float(np.nan if value is None else value)
            except (TypeError, ValueError):
                raise SpcInputError(
                    f"{name}: series {series + 1}, point {point + 1}: {value!r} is not a number "
                    "(leave it empty, None or NaN if it is missing)"
                ) from None
        raise SpcInputError(f"{name}: series {series + 1} is not a list of numbers") from None


def _per_series(value: Any, n: int, name: str) -> list[Any]:
    if isinstance(value, (str, bool, int, float)) or value is None:
        return [value] * n
    items = list(value)
    if len(items) != n:
        raise SpcInputError(f"{name} has {len(items)} entries for {n} series: give one per series")
    return items


def _check_attribute(
    chart: str, x: Floats, d: Floats, lengths: NDArray[np.int64], offsets: NDArray[np.int64]
) -> Floats:
    """Validate numerators and denominators; returns the plotted values (NaN where missing)."""

    def where(flat_index: int) -> str:
        series = int(np.searchsorted(offsets, flat_index, side="right") - 1)
        point = flat_index - int(offsets[series])
        prefix = f"series {series + 1}, " if len(lengths) > 1 else ""
        return f"{prefix}point {point + 1}"

    infinite = np.flatnonzero(np.isinf(x) | (np.isinf(d) if chart != "c" else False))
    if len(infinite):
        i = int(infinite[0])
        raise SpcInputError(f"{where(i)}: infinite value; give a finite count and denominator")
    known = ~np.isnan(x)
    negative = np.flatnonzero(known & (x < 0))
    if len(negative):
        i = int(negative[0])
        raise SpcInputError(
            f"{where(i)}: the count is {x[i]:g}; a {chart} chart needs counts of 0 or more "
            "(use an XmR chart for values that can be negative)"
        )
    if chart == "c":
        return x.copy()
    known_d = ~np.isnan(d)
    bad = np.flatnonzero(known_d & (d < 0))
    if len(bad):
        i = int(bad[0])
        raise SpcInputError(f"{where(i)}: the denominator is {d[i]:g}; it must be 0 or more")
    orphan = np.flatnonzero(known & known_d & (d == 0) & (x > 0))
    if len(orphan):
        i = int(orphan[0])
        raise SpcInputError(
            f"{where(i)}: {x[i]:g} out of a denominator of 0; check the denominator"
        )
    if chart in ("p", "p_prime"):
        over = np.flatnonzero(known & known_d & (x > d))
        if len(over):
            i = int(over[0])
            raise SpcInputError(
                f"{where(i)}: {x[i]:g} out of {d[i]:g} is more than all of them; a p chart "
                "needs numerator <= denominator (use a u chart for rates that can exceed 1)"
            )
    y = np.full(len(x), np.nan)
    ok = known & known_d & (d > 0)
    y[ok] = x[ok] / d[ok]
    return y


def analyse_many(
    values: Any,
    *,
    denominators: Any = None,
    chart: str = "xmr",
    direction: str | Sequence[str] = "neutral",
    target: float | Sequence[float | None] | None = None,
    baseline: int | Sequence[int | None] | None = None,
    screen: bool | Sequence[bool] = True,
    rebase: Sequence[Sequence[int]] | None = None,
) -> SpcBatch:
    """Analyse many series in one pass.

    `values` is a 2-D array (one series a row, NaN for missing) or a sequence of sequences
    (None or NaN for missing). For p and u charts `values` are the numerators and
    `denominators` has the same shape. `direction`, `target`, `baseline` and `screen` are one
    value for all series or one per series; `rebase` is one list of point positions per series,
    each starting a new group.
    """
    if chart not in CHARTS:
        raise SpcInputError(f"chart {chart!r} is not one of {', '.join(CHARTS)}")
    flat, lengths = _as_flat(values, "values")
    n = len(lengths)
    offsets = np.zeros(n, dtype=np.int64)
    if n > 1:
        np.cumsum(lengths[:-1], out=offsets[1:])
    directions = _per_series(direction, n, "direction")
    for d in directions:
        if d not in DIRECTIONS:
            raise SpcInputError(f"direction {d!r} is not one of {', '.join(DIRECTIONS)}")
    targets_list = _per_series(target, n, "target")
    targets = np.asarray([np.nan if t is None else float(t) for t in targets_list], dtype=float)
    baselines = _per_series(baseline, n, "baseline")
    for b in baselines:
        if b is not None and (isinstance(b, bool) or int(b) != b or b < 2):
            raise SpcInputError(f"baseline {b!r}: give a whole number of points, 2 or more")
    screens = [bool(s) for s in _per_series(screen, n, "screen")]

    numerators: Floats | None = None
    dens: Floats | None = None
    if chart in ATTRIBUTE_CHARTS:
        numerators = flat
        if chart == "c":
            dens = None
            y_flat = _check_attribute(chart, flat, flat, lengths, offsets)
        else:
            if denominators is None:
                raise SpcInputError(
                    f"a {chart} chart needs denominators (the number of cases each count is out "
                    "of); give them, or use an XmR or c chart"
                )
            dens, d_lengths = _as_flat(denominators, "denominators")
            if not np.array_equal(d_lengths, lengths):
                raise SpcInputError("denominators must have one value per value, series by series")
            y_flat = _check_attribute(chart, flat, dens, lengths, offsets)
    else:
        y_flat = flat
    if np.isinf(y_flat).any():
        i = int(np.flatnonzero(np.isinf(y_flat))[0])
        series = int(np.searchsorted(offsets, i, side="right") - 1)
        raise SpcInputError(
            f"series {series + 1}, point {i - int(offsets[series]) + 1}: infinite value"
        )

    if rebase is not None and len(rebase) != n:
        raise SpcInputError(
            f"rebase has {len(rebase)} entries for {n} series: give one list of positions per "
            "series (an empty list for none)"
        )
    rebases = [list(r) for r in rebase] if rebase is not None else [[] for _ in range(n)]
    chunks = _chunks(lengths)
    jobs = [
        (
            chart,
            y_flat[offsets[lo] : offsets[lo] + lengths[lo:hi].sum()],
            None
            if numerators is None
            else numerators[offsets[lo] : offsets[lo] + lengths[lo:hi].sum()],
            None if dens is None else dens[offsets[lo] : offsets[lo] + lengths[lo:hi].sum()],
            lengths[lo:hi],
            directions[lo:hi],
            targets[lo:hi],
            baselines[lo:hi],
            screens[lo:hi],
            rebases[lo:hi],
        )
        for lo, hi in chunks
    ]
    if len(jobs) == 1:
        return SpcBatch([_analyse_chunk(*jobs[0])])
    # NumPy lets go of the interpreter lock inside its loops, so chunks run on all cores.
    with ThreadPoolExecutor(max_workers=min(len(jobs), _workers())) as pool:
        return SpcBatch(list(pool.map(lambda job: _analyse_chunk(*job), jobs)))


#: Batches of at least this many points are split across the machine's cores.
PARALLEL_POINTS = 200_000
#: ... into chunks of about this many points: small enough that each chunk's temporary
#: arrays stay in the processor's cache and in memory already mapped, which is faster than
#: one pass over everything (fresh memory for each big temporary costs page faults).
CHUNK_POINTS = 100_000


def _chunks(lengths: NDArray[np.int64]) -> list[tuple[int, int]]:
    """Contiguous ranges of series with about equal numbers of points."""
    total = int(lengths.sum())
    workers = _workers()
    if workers < 2 or total < PARALLEL_POINTS or len(lengths) < 2:
        return [(0, len(lengths))]
    pieces = max(workers, -(-total // CHUNK_POINTS))
    cumulative = np.cumsum(lengths)
    cuts = np.searchsorted(cumulative, [total * k / pieces for k in range(1, pieces)])
    bounds = sorted({0, *[int(c) + 1 for c in cuts], len(lengths)})
    bounds = [b for b in bounds if 0 <= b <= len(lengths)]
    return [(lo, hi) for lo, hi in itertools.pairwise(bounds) if hi > lo]


def _workers() -> int:
    return min(os.cpu_count() or 1, 8)


def _analyse_chunk(
    chart: str,
    y_flat: Floats,
    numerators: Floats | None,
    dens: Floats | None,
    lengths: NDArray[np.int64],
    directions: list[str],
    targets: Floats,
    baselines: list[int | None],
    screens: list[bool],
    rebase: list[list[int]],
) -> BatchChunk:
    n = len(lengths)
    offsets = np.zeros(n, dtype=np.int64)
    if n > 1:
        np.cumsum(lengths[:-1], out=offsets[1:])
    flat = numerators if numerators is not None else y_flat
    segs = engine.build_segments(y_flat, lengths, rebase)
    base_arr = (
        None
        if all(b is None for b in baselines)
        else np.asarray(
            [np.iinfo(np.int64).max if b is None else int(b) for b in baselines], dtype=np.int64
        )
    )
    run_signals = None
    if chart == "xmr":
        lim = engine.xmr_limits(segs, base_arr, np.asarray(screens, dtype=bool))
        label, rule = engine.apply_rules(segs, lim)
    elif chart == "run":
        lim, label, rule, run_signals = engine.run_chart(segs, base_arr)
    else:
        x_c = flat[segs.index]
        d_c = np.ones(len(x_c)) if dens is None else dens[segs.index]
        lim = engine.attribute_limits(segs, chart, x_c, d_c, base_arr)
        label, rule = engine.apply_rules(segs, lim)

    sign = np.asarray([DIRECTION_SIGN[d] for d in directions], dtype=np.int8)
    codes_c = engine.point_types(label, segs.spread(sign[segs.seg_series]))

    total = len(y_flat)
    if len(segs.index) == total:  # no missing point: the compact arrays are the output
        type_codes, rule_codes = codes_c, rule
    else:
        type_codes = np.full(total, MISSING, dtype=np.int8)
        type_codes[segs.index] = codes_c
        rule_codes = np.zeros(total, dtype=np.int8)
        rule_codes[segs.index] = rule

    # The last known point of each series sets the variation icon and the assurance limits.
    variation = np.full(n, MISSING, dtype=np.int8)
    assurance = np.zeros(n, dtype=np.int8)
    if len(segs.starts):
        # The last segment with points of each series ends at that series' last known point.
        owner = segs.seg_series[segs.nonempty]
        last_of_series = np.r_[owner[1:] != owner[:-1], True]
        ends = (segs.starts + segs.sizes - 1)[last_of_series]
        who = owner[last_of_series]
        variation[who] = codes_c[ends]
        t = targets[who]
        up, lo = lim.at(2, ends, segs), lim.at(1, ends, segs)
        s = sign[who]
        ok = (~np.isnan(t)) & (s != 0) & ~np.isnan(up) & (chart != "run")
        # A target on a limit (in exact arithmetic) is hit and miss: the same slack as the rules.
        slack = np.maximum(lim.tol[ends], RELATIVE_TOLERANCE * np.abs(t))
        above = t - up > slack
        below = lo - t > slack
        code = np.where(
            above, np.where(s > 0, FAIL, PASS), np.where(below, np.where(s > 0, PASS, FAIL), 0)
        )
        code = np.where(ok & (code == 0), INCONSISTENT, code)
        assurance[who] = np.where(ok, code, 0)

    # Per segment facts for the warnings.
    seg_points = np.zeros(segs.count, dtype=np.int64)
    seg_points[segs.nonempty] = segs.sizes
    seg_base = seg_points if base_arr is None else np.minimum(seg_points, base_arr[segs.seg_series])
    seg_spread = segs.max(segs.y) + segs.max(-segs.y)
    seg_flat = np.zeros(segs.count, dtype=bool)
    if lim.by_segment:
        seg_flat = lim.lines[2] == lim.lines[0]  # upper limit on the centre: AMR 0

    return BatchChunk(
        chart=chart,
        directions=tuple(directions),
        targets=targets,
        lengths=lengths,
        offsets=offsets,
        y=y_flat,
        numerators=numerators,
        denominators=dens,
        index=segs.index,
        compact=lim.lines,
        compact_by_segment=lim.by_segment,
        compact_segment=segs.seg,
        type_codes=type_codes,
        rule_codes=rule_codes,
        segment_start=segs.seg_start,
        variation_codes=variation,
        assurance_codes=assurance,
        baselines=tuple(None if b is None else int(b) for b in baselines),
        screens=tuple(screens),
        segment_series=segs.seg_series,
        segment_group=segs.seg_group,
        segment_points=seg_points,
        segment_baseline_points=seg_base,
        segment_spread=seg_spread,
        segment_flat=seg_flat,
        segment_screened_flat=(
            lim.flattened_by_screening
            if lim.flattened_by_screening is not None
            else np.zeros(segs.count, dtype=bool)
        ),
        run=run_signals,
    )


def analyse(
    values: Sequence[float | None] | Floats,
    *,
    denominators: Sequence[float | None] | Floats | None = None,
    chart: str = "xmr",
    direction: str = "neutral",
    target: float | None = None,
    baseline: int | None = None,
    screen: bool = True,
    rebase: Sequence[int] = (),
) -> SpcResult:
    """Analyse one series (a batch of one)."""
    return analyse_many(
        [values],
        denominators=None if denominators is None else [denominators],
        chart=chart,
        direction=direction,
        target=target,
        baseline=baseline,
        screen=screen,
        rebase=[list(rebase)],
    )[0]
