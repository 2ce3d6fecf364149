"""Invariants of the engine on random series (Hypothesis).

Series are integer valued (|y| <= 10_000, up to 80 points, about one in ten missing) so the
arithmetic is near exact; the engine's comparisons allow a relative slack
(constants.RELATIVE_TOLERANCE x the group's largest |y|), far below the gaps integer data leave.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicloop.spc import CHARTS, analyse, analyse_many, reference
from civicloop.spc.analysis import SpcResult

COMMON = "common_cause"
IMPROVEMENT = "special_cause_improvement"
CONCERN = "special_cause_concern"
NEUTRAL_TYPES = {COMMON, "special_cause_neutral_high", "special_cause_neutral_low", None}

SETTINGS = settings(max_examples=200, deadline=None)


@st.composite
def series(draw: st.DrawFn, min_size: int = 1, max_size: int = 80) -> list[int | None]:
    """Integer values, some missing. Noise alone rarely trips a rule, so some series are random
    walks, level steps or stretches that only rise or fall: every rule fires often enough."""
    scale = draw(st.sampled_from([3, 20, 1_000, 5_000]))
    kind = draw(st.sampled_from(["noise", "walk", "steps", "trends"]))
    n = draw(st.integers(min_size, max_size))
    noise = draw(st.lists(st.integers(-scale, scale), min_size=n, max_size=n))
    if kind == "walk":
        raw = [sum(noise[: i + 1]) // max(1, n // 4) for i in range(n)]
    elif kind == "steps":
        levels = draw(st.lists(st.integers(-2 * scale, 2 * scale), min_size=1, max_size=4))
        raw = [levels[i * len(levels) // n] + v // 3 for i, v in enumerate(noise)]
    elif kind == "trends":
        slope = draw(st.integers(1, max(1, scale // 5)))
        raw = [
            (i % 12 if (i // 12) % 2 == 0 else 12 - i % 12) * slope + v // 10
            for i, v in enumerate(noise)
        ]
    else:
        raw = noise
    raw = [max(-10_000, min(10_000, v)) for v in raw]
    keep = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    return [None if k == 0 else v for v, k in zip(raw, keep, strict=True)]


def rebases(length: int) -> st.SearchStrategy[list[int]]:
    # Positions past the ends too: those are ignored.
    return st.lists(st.integers(-1, length + 1), max_size=3)


baselines = st.one_of(st.none(), st.integers(2, 30))


def scale_of(values: list[int | None]) -> float:
    return max([1.0] + [abs(v) for v in values if v is not None])


def assert_close(a: np.ndarray, b: np.ndarray, scale: float) -> None:
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * scale, equal_nan=True)


def assert_same(a: SpcResult, b: SpcResult, scale: float) -> None:
    assert a.types == b.types
    assert a.rules == b.rules
    for name in ("y", "mean", "lpl", "upl", "nlpl", "nupl"):
        assert_close(getattr(a, name), getattr(b, name), scale)
    assert a.variation == b.variation
    assert a.assurance == b.assurance
    assert a.groups == b.groups
    assert a.run_signals == b.run_signals
    assert a.warnings == b.warnings


def shifted(values: list[int | None], c: int) -> list[int | None]:
    return [None if v is None else v + c for v in values]


def scaled(values: list[int | None], k: int) -> list[int | None]:
    return [None if v is None else v * k for v in values]


@SETTINGS
@given(values=series(), baseline=baselines, screen=st.booleans())
def test_xmr_limits_are_symmetric_about_the_mean(
    values: list[int | None], baseline: int | None, screen: bool
) -> None:
    r = analyse(values, baseline=baseline, screen=screen)
    known = ~np.isnan(r.upl)
    scale = scale_of(values)
    assert_close((r.upl - r.mean)[known], (r.mean - r.lpl)[known], scale)
    assert_close((r.nupl - r.mean)[known], (r.mean - r.nlpl)[known], scale)
    assert np.all(r.upl[known] >= r.nupl[known])
    assert np.all(r.nupl[known] >= r.mean[known])


@SETTINGS
@given(data=st.data())
def test_rebasing_isolates_groups(data: st.DataObject) -> None:
    values = data.draw(series())
    rebase = data.draw(rebases(len(values)))
    baseline = data.draw(baselines)
    screen = data.draw(st.booleans())
    direction = data.draw(st.sampled_from(["increase", "decrease", "neutral"]))
    chart = data.draw(st.sampled_from(["xmr", "run", "c"]))
    if chart == "c":
        values = [None if v is None else abs(v) for v in values]
    whole = analyse(
        values, rebase=rebase, baseline=baseline, screen=screen, direction=direction, chart=chart
    )
    bounds = [0, *sorted({p for p in rebase if 0 < p < len(values)}), len(values)]
    scale = scale_of(values)
    for group, (a, b) in enumerate(itertools.pairwise(bounds)):
        alone = analyse(
            values[a:b], baseline=baseline, screen=screen, direction=direction, chart=chart
        )
        assert whole.types[a:b] == alone.types
        assert whole.rules[a:b] == alone.rules
        assert whole.groups[a:b] == [group] * (b - a)
        for name in ("mean", "lpl", "upl", "nlpl", "nupl"):
            assert_close(getattr(whole, name)[a:b], getattr(alone, name), scale)
        if chart == "run":
            assert whole.run_signals[group] == dataclasses.replace(
                alone.run_signals[0], group=group
            )


@SETTINGS
@given(
    values=series(),
    c=st.integers(-10_000, 10_000),
    baseline=baselines,
    screen=st.booleans(),
    direction=st.sampled_from(["increase", "decrease", "neutral"]),
)
def test_adding_a_constant_shifts_mean_and_limits(
    values: list[int | None], c: int, baseline: int | None, screen: bool, direction: str
) -> None:
    r = analyse(values, baseline=baseline, screen=screen, direction=direction)
    s = analyse(shifted(values, c), baseline=baseline, screen=screen, direction=direction)
    assert s.types == r.types
    assert s.rules == r.rules
    scale = scale_of(values) + abs(c)
    for name in ("mean", "lpl", "upl", "nlpl", "nupl"):
        assert_close(getattr(s, name), getattr(r, name) + c, scale)


@SETTINGS
@given(
    values=series(),
    k=st.one_of(st.integers(1, 50), st.sampled_from([2**-10, 2**-3, 2**7, 2**20])),
    baseline=baselines,
    screen=st.booleans(),
    direction=st.sampled_from(["increase", "decrease", "neutral"]),
)
def test_multiplying_by_a_positive_constant_scales_the_limits(
    values: list[int | None], k: float, baseline: int | None, screen: bool, direction: str
) -> None:
    r = analyse(values, baseline=baseline, screen=screen, direction=direction)
    s = analyse(
        [None if v is None else v * k for v in values],
        baseline=baseline,
        screen=screen,
        direction=direction,
    )
    assert s.types == r.types
    assert s.rules == r.rules
    scale = scale_of(values) * k
    for name in ("mean", "lpl", "upl", "nlpl", "nupl"):
        assert_close(getattr(s, name), getattr(r, name) * k, scale)


@SETTINGS
@given(values=series(), baseline=baselines, rebase=st.lists(st.integers(0, 80), max_size=2))
def test_flipping_direction_swaps_improvement_and_concern(
    values: list[int | None], baseline: int | None, rebase: list[int]
) -> None:
    up = analyse(values, direction="increase", baseline=baseline, rebase=rebase)
    down = analyse(values, direction="decrease", baseline=baseline, rebase=rebase)
    swap = {IMPROVEMENT: CONCERN, CONCERN: IMPROVEMENT, COMMON: COMMON, None: None}
    assert down.types == [swap[t] for t in up.types]
    assert down.rules == up.rules
    assert down.variation == swap[up.variation]


@SETTINGS
@given(values=series(), chart=st.sampled_from(["xmr", "run"]))
def test_neutral_gives_only_neutral_types(values: list[int | None], chart: str) -> None:
    r = analyse(values, chart=chart)
    assert set(r.types) <= NEUTRAL_TYPES
    up = analyse(values, chart=chart, direction="increase")
    # The same points are flagged, whatever the direction.
    assert [t == COMMON for t in r.types] == [t == COMMON for t in up.types]


@SETTINGS
@given(values=series(), chart=st.sampled_from(CHARTS), data=st.data())
def test_missing_points_have_no_type_and_no_limits(
    values: list[int | None], chart: str, data: st.DataObject
) -> None:
    numerators, denominators = attribute_inputs(values, chart, data)
    r = analyse(numerators, denominators=denominators, chart=chart)
    missing = np.isnan(r.y)
    for i, v in enumerate(numerators):
        if v is None or (denominators is not None and denominators[i] in (None, 0)):
            assert missing[i]
    assert [t is None for t in r.types] == list(missing)
    for name in ("mean", "lpl", "upl", "nlpl", "nupl"):
        assert np.isnan(getattr(r, name)[missing]).all()
    assert not np.isnan(r.mean[~missing]).any()


def attribute_inputs(
    values: list[int | None], chart: str, data: st.DataObject
) -> tuple[list[int | None], list[int | None] | None]:
    """Numerators (and denominators, at least the numerator) for a chart of the given kind."""
    if chart in ("xmr", "run"):
        return values, None
    counts = [None if v is None else abs(v) for v in values]
    if chart == "c":
        return counts, None
    denominators: list[int | None] = []
    for v in counts:
        if v == 0 and data.draw(st.booleans()):
            denominators.append(0)  # 0 out of 0: a missing point
        else:
            denominators.append((v or 0) + data.draw(st.integers(1 if v is None else 0, 1_000)))
    return counts, denominators


@st.composite
def batches(draw: st.DrawFn) -> dict[str, Any]:
    chart = draw(st.sampled_from(CHARTS))
    n = draw(st.integers(1, 6))
    data = draw(st.data())
    values, dens = [], []
    for _ in range(n):
        v, d = attribute_inputs(draw(series(max_size=40)), chart, data)
        values.append(v)
        dens.append(d)
    return {
        "values": values,
        "denominators": None if dens[0] is None else dens,
        "chart": chart,
        "direction": [draw(st.sampled_from(["increase", "decrease", "neutral"])) for _ in values],
        "target": [draw(st.one_of(st.none(), st.integers(-50, 50))) for _ in values],
        "baseline": [draw(baselines) for _ in values],
        "screen": [draw(st.booleans()) for _ in values],
        "rebase": [draw(rebases(len(v))) for v in values],
    }


def one(batch: dict[str, Any], i: int) -> SpcResult:
    return analyse(
        batch["values"][i],
        denominators=None if batch["denominators"] is None else batch["denominators"][i],
        chart=batch["chart"],
        direction=batch["direction"][i],
        target=batch["target"][i],
        baseline=batch["baseline"][i],
        screen=batch["screen"][i],
        rebase=batch["rebase"][i],
    )


def batch_scale(batch: dict[str, Any]) -> float:
    if batch["chart"] in ("xmr", "run", "c"):
        return max(scale_of(v) for v in batch["values"])
    return 1.0  # proportions and rates of at most 1 (u: counts <= denominators here)


@SETTINGS
@given(batch=batches())
def test_analyse_many_equals_analyse_on_each(batch: dict[str, Any]) -> None:
    many = analyse_many(**batch)
    assert len(many) == len(batch["values"])
    scale = batch_scale(batch)
    for i in range(len(many)):
        assert_same(many[i], one(batch, i), scale)


@SETTINGS
@given(batch=batches(), data=st.data())
def test_permuting_a_batch_permutes_the_results(batch: dict[str, Any], data: st.DataObject) -> None:
    order = data.draw(st.permutations(range(len(batch["values"]))))
    permuted: dict[str, Any] = {
        key: value if key == "chart" or value is None else [value[i] for i in order]
        for key, value in batch.items()
    }
    before = analyse_many(**batch)
    after = analyse_many(**permuted)
    scale = batch_scale(batch)
    for position, original in enumerate(order):
        assert_same(after[position], before[original], scale)


# --- Differential: the vectorised engine against the plain per-series reference ---------------


def _ref_array(values: list[float | None]) -> np.ndarray:
    return np.asarray([np.nan if v is None else v for v in values], dtype=float)


def assert_matches_reference(
    values: list[int | None],
    denominators: list[int | None] | None,
    **options: Any,
) -> None:
    engine_result = analyse(values, denominators=denominators, **options)
    ref = reference.reference_analyse(values, denominators=denominators, **options)
    assert engine_result.types == ref.types
    chart = options["chart"]
    scale = scale_of(values) if chart in ("xmr", "run", "c") else 1.0
    for name in ("mean", "lpl", "upl", "nlpl", "nupl"):
        assert_close(getattr(engine_result, name), _ref_array(getattr(ref, name)), scale)
    present = [t is not None for t in ref.types]
    assert [g for g, p in zip(engine_result.groups, present, strict=True) if p] == [
        g for g, p in zip(ref.groups, present, strict=True) if p
    ]
    assert engine_result.variation == ref.variation
    assert engine_result.assurance == ref.assurance
    if chart == "run":
        for mine, theirs in zip(engine_result.run_signals, ref.run_signals, strict=True):
            if theirs["longest_run_max"] is None:
                assert mine.useful_points == 0
                continue
            assert {
                "longest_run": mine.longest_run,
                "longest_run_max": mine.longest_run_max,
                "crossings": mine.crossings,
                "crossings_min": mine.crossings_min,
            } == theirs


@SETTINGS
@given(
    values=series(),
    chart=st.sampled_from(CHARTS),
    direction=st.sampled_from(["increase", "decrease", "neutral"]),
    target=st.one_of(st.none(), st.integers(-100, 100), st.floats(0, 1)),
    baseline=baselines,
    screen=st.booleans(),
    data=st.data(),
)
def test_engine_matches_reference(
    values: list[int | None],
    chart: str,
    direction: str,
    target: float | None,
    baseline: int | None,
    screen: bool,
    data: st.DataObject,
) -> None:
    numerators, denominators = attribute_inputs(values, chart, data)
    rebase = data.draw(rebases(len(values)))
    assert_matches_reference(
        numerators,
        denominators,
        chart=chart,
        direction=direction,
        target=target,
        baseline=baseline,
        screen=screen,
        rebase=rebase,
    )


def test_engine_and_reference_break_moving_ranges_at_a_gap() -> None:
    # The moving ranges are 4 and 4 (5 -> missing -> 100 is none): AMR 4, limits 52.5 +/- 10.64.
    r = analyse([1, 5, None, 100, 104])
    assert r.upl[0] == pytest.approx(52.5 + 2.66 * 4)
    assert math.isnan(r.upl[2])
    assert_matches_reference([1, 5, None, 100, 104], None, chart="xmr")


@pytest.mark.parametrize("chart", ["p_prime", "u_prime"])
def test_laney_all_zero_without_neighbours(chart: str) -> None:
    # Every count 0 and no two neighbours: no moving range, but each point's sigma is 0, so the
    # limits sit on the centre line (0), as on a p or u chart. With non-zero counts there is no
    # sigma_z and so no limits.
    assert_matches_reference([0, None, 0], [5, 5, 5], chart=chart)
    r = analyse([0, None, 0], denominators=[5, 5, 5], chart=chart)
    assert (r.upl[[0, 2]] == 0).all()
    assert np.isnan(analyse([1, None, 2], denominators=[5, 5, 5], chart=chart).upl).all()
    assert_matches_reference([1, None, 2], [5, 5, 5], chart=chart)
