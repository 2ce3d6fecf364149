"""A definition in plain language: the card people read instead of the YAML.

Pure: no Django. Each sentence is built from the definition alone, so the card can never say
something the engine does not do.
"""

from __future__ import annotations

import calendar

from civicloop.metrics.definition import (
    Aggregate,
    CalculationKind,
    Direction,
    Grain,
    Measure,
    MetricDefinition,
)

_GRAIN_WORDS = {
    Grain.DAY: "day",
    Grain.WEEK: "week (Monday to Sunday)",
    Grain.MONTH: "month",
    Grain.QUARTER: "quarter",
    Grain.YEAR: "year",
}


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,g}"


def describe_measure(measure: Measure) -> str:
    source = measure.source
    words = {
        Aggregate.COUNT: "the number of records",
        Aggregate.COUNT_DISTINCT: f"the number of distinct values of {source}",
        Aggregate.SUM: f"the total of {source}",
        Aggregate.MEAN: f"the mean of {source}",
        Aggregate.MEDIAN: f"the median of {source}",
        Aggregate.PERCENTILE: f"the {_number(measure.p or 0)}th percentile of {source}",
        Aggregate.MIN: f"the smallest {source}",
        Aggregate.MAX: f"the largest {source}",
    }[measure.aggregate]
    if measure.filter:
        words += f" where {measure.filter}"
    return words


def describe(definition: MetricDefinition) -> list[str]:
    """Sentences, in the order a reader needs them."""
    calc = definition.calculation
    out: list[str] = []
    if calc.kind is CalculationKind.RATIO:
        assert calc.denominator is not None
        scale = (
            " times 100 (a percentage)"
            if calc.multiplier == 100
            else (f" times {_number(calc.multiplier)}" if calc.multiplier != 1 else "")
        )
        out.append(
            f"Each period's value is {describe_measure(calc.measure)}, divided by "
            f"{describe_measure(calc.denominator)}{scale}. Both parts are kept with the number."
        )
    elif calc.kind is CalculationKind.RATE:
        assert calc.population is not None
        by = f", matched by {', '.join(calc.population.by)}" if calc.population.by else ""
        out.append(
            f"Each period's value is {describe_measure(calc.measure)} per "
            f"{_number(calc.multiplier)} people, using the total of {calc.population.column} in "
            f"{calc.population.dataset}{by}."
        )
    else:
        out.append(f"Each period's value is {describe_measure(calc.measure)}.")
    if definition.filter:
        out.append(f"Only records where {definition.filter} are counted.")
    time = definition.time
    fiscal = ""
    if time.fiscal_year_start != 1 and time.grain in (Grain.QUARTER, Grain.YEAR):
        fiscal = f", in fiscal years starting in {_MONTHS[time.fiscal_year_start - 1]}"
    out.append(
        f"Each record counts in the {_GRAIN_WORDS[time.grain]} its {time.column} falls in{fiscal}."
    )
    if time.complete_periods_only:
        out.append(
            f"Only complete {time.grain.value}s are shown: the current {time.grain.value} "
            "appears once the data covers all of it."
        )
    if time.zero_fill:
        out.append(f"A {time.grain.value} with no records counts as zero.")
    if definition.breakdowns:
        out.append(f"Also shown for each {' and each '.join(definition.breakdowns)}.")
    if definition.direction is not Direction.NEUTRAL:
        better = "Higher" if definition.direction is Direction.HIGHER_IS_BETTER else "Lower"
        out.append(f"{better} is better.")
    if definition.target is not None:
        if definition.target.trajectory:
            steps = "; ".join(
                f"{_number(s.value)} from {s.starts:%d %b %Y}" for s in definition.target.trajectory
            )
            out.append(f"Target: {steps}.")
        elif definition.target.value is not None:
            out.append(
                f"Target: {_number(definition.target.value)} {definition.unit}.".replace(" .", ".")
            )
    for rebase in definition.chart.rebases:
        where = f" for {rebase.value} ({rebase.breakdown})" if rebase.breakdown else ""
        out.append(
            f"The chart starts a new baseline{where} on {rebase.on:%d %b %Y}: {rebase.reason}."
        )
    if definition.suppress_below and definition.public:
        out.append(
            f"On public pages, counts below {definition.suppress_below} are hidden to protect "
            "the people they are about."
        )
    return out


_MONTHS = tuple(calendar.month_name[1:])
