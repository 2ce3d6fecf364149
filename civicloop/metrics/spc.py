"""A metric's series through the SPC engine, with the metric's own chart settings.

The definition names the chart, baseline, screening and rebase dates (each change a new metric
version); its direction tells improvement from concern and its target (at the last period) sets
the assurance. p and u charts read the numerators and denominators a ratio keeps and are drawn
in the metric's units (times its multiplier: 100 for a percentage, per N people for a rate).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np

from civicloop.metrics.definition import ChartType, Direction, MetricDefinition, Rebase
from civicloop.spc import SpcResult, analyse_many
from civicloop.spc import chart as spc_chart
from civicloop.spc.describe import Explanation, explain

SPC_DIRECTION = {
    Direction.HIGHER_IS_BETTER: "increase",
    Direction.LOWER_IS_BETTER: "decrease",
    Direction.NEUTRAL: "neutral",
}


@dataclass(frozen=True)
class SeriesInput:
    """One series of a metric, as stored (values may be hidden as None by suppression)."""

    definition: MetricDefinition
    periods: Sequence[date]
    values: Sequence[float | None]
    numerators: Sequence[float | None] = ()
    denominators: Sequence[float | None] = ()
    # Judge assurance against this target (in the metric's units) instead of the definition's:
    # a key result's target. `own_direction` stands in for a neutral metric's direction.
    own_target: float | None = None
    own_direction: str | None = None
    # Which series this is ("" for the total): a rebase scoped to one breakdown value applies
    # to that value's series only.
    breakdown: str = ""
    value: str = ""

    def rebases(self) -> list[Rebase]:
        return [
            r for r in self.definition.chart.rebases if r.applies_to(self.breakdown, self.value)
        ]

    def target_at_end(self) -> float | None:
        if self.own_target is not None:
            return self.own_target
        target = self.definition.target
        last = self.periods[-1] if self.periods else None
        return target.value_on(last) if target is not None and last is not None else None

    def direction(self) -> str:
        direction = SPC_DIRECTION[self.definition.direction]
        if direction == "neutral" and self.own_direction:
            return self.own_direction
        return direction


@dataclass(frozen=True)
class MetricSpc:
    result: SpcResult
    explanation: Explanation
    targets: list[float | None]
    rebases: list[tuple[date, str]]
    applied_rebases: list[tuple[date, str]]  # those that start a group within the data


def rebase_positions(periods: Sequence[date], rebases: Sequence[date]) -> list[int]:
    """Each rebase date starts a new group at the first period on or after it."""
    positions = []
    for day in rebases:
        index = next((i for i, p in enumerate(periods) if p >= day), None)
        if index is not None and index > 0:
            positions.append(index)
    return sorted(set(positions))


def _inputs(item: SeriesInput) -> tuple[list[float], list[float] | None, float]:
    """Values for the engine: (values or numerators, denominators, scale back to units)."""
    d = item.definition
    chart = d.chart.type
    shown = [v is not None for v in item.values]
    if chart.needs_denominator and item.numerators and item.denominators:
        nums = [
            np.nan if n is None or not ok else float(n)
            for n, ok in zip(item.numerators, shown, strict=True)
        ]
        dens = [np.nan if x is None else float(x) for x in item.denominators]
        return nums, dens, d.calculation.multiplier
    return [np.nan if v is None else float(v) for v in item.values], None, 1.0


def analyse_series(items: Sequence[SeriesInput], *, grain: str | None = None) -> list[MetricSpc]:
    """Analyse many metric series; those sharing a chart type go through the engine together."""
    by_chart: dict[str, list[int]] = defaultdict(list)
    chart: ChartType
    prepared = [_inputs(item) for item in items]
    for index, (item, (_, dens, _)) in enumerate(zip(items, prepared, strict=True)):
        chart = item.definition.chart.type
        if chart.needs_denominator and dens is None:
            chart = ChartType.XMR  # the parts are hidden from this reader: judge the values
        by_chart[chart.value].append(index)
    out: dict[int, MetricSpc] = {}
    for chart_name, indexes in by_chart.items():
        group = [items[i] for i in indexes]
        targets = []
        for i, item in zip(indexes, group, strict=True):
            value = item.target_at_end()
            targets.append(None if value is None else value / prepared[i][2])
        batch = analyse_many(
            [prepared[i][0] for i in indexes],
            denominators=None
            if chart_name in ("xmr", "run", "c")
            else [prepared[i][1] for i in indexes],
            chart=chart_name,
            direction=[item.direction() for item in group],
            target=targets,
            baseline=[item.definition.chart.baseline_points for item in group],
            screen=[item.definition.chart.screening for item in group],
            rebase=[
                rebase_positions(item.periods, [r.on for r in item.rebases()]) for item in group
            ],
        )
        for k, (i, item) in enumerate(zip(indexes, group, strict=True)):
            result = batch[k].scaled(prepared[i][2])
            d = item.definition
            target_def = d.target
            out[i] = MetricSpc(
                result=result,
                explanation=explain(
                    result,
                    grain=grain or d.time.grain.value,
                    decimals=d.decimals,
                    unit=d.unit,
                ),
                targets=[
                    item.own_target
                    if item.own_target is not None
                    else (target_def.value_on(p) if target_def else None)
                    for p in item.periods
                ],
                rebases=[(r.on, r.reason) for r in item.rebases()],
                applied_rebases=[
                    (r.on, r.reason)
                    for r in item.rebases()
                    if rebase_positions(item.periods, [r.on])
                ],
            )
    return [out[i] for i in range(len(items))]


def analyse_one(item: SeriesInput) -> MetricSpc:
    return analyse_series([item])[0]


# Drawing a chart takes vl-convert about 40 ms; a page's spec only changes when its data,
# definition or annotations do, so the drawings of recent specs are kept.
@lru_cache(maxsize=256)
def chart_svg(spec_json: str) -> str:
    return spc_chart.render_svg(json.loads(spec_json))


@lru_cache(maxsize=64)
def chart_png(spec_json: str) -> bytes:
    return spc_chart.render_png(json.loads(spec_json))
