"""From a checked definition to numbers: an Ibis expression per breakdown, run on any engine.

`check_against_schema` refuses, field by field, what the dataset cannot support (unknown
columns, wrong types, a filter that does not parse, a measure the engine cannot compute
exactly). `compute_series` builds the expressions, runs them on the engine, keeps complete
periods only, zero-fills counts and returns one series for the total and one per breakdown
value.

Pure: no Django. The engine is an `Engine` from `engines.py`; tables are looked up by name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from civicloop.datasets.engine.schema import FieldType, TableSchema, column_name
from civicloop.metrics import filters
from civicloop.metrics.definition import (
    Aggregate,
    CalculationKind,
    DefinitionError,
    Grain,
    Measure,
    MetricDefinition,
)
from civicloop.metrics.periods import complete_range, period_start, periods_between

TEMPORAL = (FieldType.DATE, FieldType.DATETIME, FieldType.YEARMONTH)
NUMERIC = (FieldType.INTEGER, FieldType.NUMBER, FieldType.YEAR)
GROUPABLE = (
    FieldType.STRING,
    FieldType.INTEGER,
    FieldType.BOOLEAN,
    FieldType.YEAR,
    FieldType.DATE,
    FieldType.YEARMONTH,
)
TOTAL = ""  # the breakdown name of the citywide series

# Measures each engine computes exactly. DuckDB, PostgreSQL and Spark compute exact
# interpolated percentiles; Trino and BigQuery only approximate ones.
APPROXIMATE_ONLY: dict[str, set[Aggregate]] = {
    "trino": {Aggregate.MEDIAN, Aggregate.PERCENTILE},
    "bigquery": {Aggregate.MEDIAN, Aggregate.PERCENTILE},
}


def columns_of(schema: TableSchema) -> dict[str, FieldType]:
    return {f.column: f.type for f in schema.fields}


_IBIS_TYPES = {
    FieldType.STRING: "string",
    FieldType.INTEGER: "int64",
    FieldType.NUMBER: "float64",
    FieldType.BOOLEAN: "boolean",
    FieldType.DATE: "date",
    FieldType.DATETIME: "timestamp",
    FieldType.YEARMONTH: "date",  # a month is stored as its first day
    FieldType.YEAR: "int64",
}


def ibis_schema(schema: TableSchema) -> ibis.Schema:
    """The Ibis schema of a version table, from the schema it was loaded with."""
    return ibis.schema({f.column: _IBIS_TYPES[f.type] for f in schema.fields})


def _type_words(kind: FieldType) -> str:
    return {
        FieldType.STRING: "text",
        FieldType.INTEGER: "whole numbers",
        FieldType.NUMBER: "numbers",
        FieldType.BOOLEAN: "true/false",
        FieldType.DATE: "dates",
        FieldType.DATETIME: "date-times",
        FieldType.YEARMONTH: "months",
        FieldType.YEAR: "years",
    }[kind]


class _Checker:
    def __init__(self, dataset: str, columns: Mapping[str, FieldType]) -> None:
        self.dataset = dataset
        self.columns = columns
        self.problems: list[tuple[str, str]] = []

    def column(self, path: str, name: str, allowed: Sequence[FieldType] = ()) -> str | None:
        resolved = column_name(name) if name else name
        if resolved not in self.columns:
            import difflib

            close = difflib.get_close_matches(resolved, list(self.columns), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.problems.append(
                (
                    path,
                    f"{name!r} is not a column of {self.dataset}{hint}. Its columns: "
                    f"{', '.join(self.columns)}",
                )
            )
            return None
        kind = self.columns[resolved]
        if allowed and kind not in allowed:
            wanted = " or ".join(sorted({_type_words(a) for a in allowed}))
            self.problems.append(
                (path, f"{name} holds {_type_words(kind)}; this needs a column of {wanted}")
            )
            return None
        return resolved

    def filter_text(self, path: str, text: str) -> None:
        if not text:
            return
        try:
            filters.check_filter(filters.parse_filter(text), self.columns)
        except filters.FilterError as error:
            self.problems.append((path, str(error)))

    def measure(self, path: str, measure: Measure) -> None:
        aggregate = measure.aggregate
        if measure.duration is not None:
            self.column(f"{path}.duration.start", measure.duration.start, TEMPORAL)
            self.column(f"{path}.duration.end", measure.duration.end, TEMPORAL)
        elif measure.column:
            if aggregate is Aggregate.COUNT_DISTINCT:
                allowed: Sequence[FieldType] = ()
            elif aggregate in (Aggregate.MIN, Aggregate.MAX):
                allowed = (*NUMERIC, *TEMPORAL)
            else:
                allowed = NUMERIC
            self.column(f"{path}.column", measure.column, allowed)
        self.filter_text(f"{path}.filter", measure.filter)


def check_against_schema(
    definition: MetricDefinition,
    schemas: Mapping[str, TableSchema],
    engine_name: str = "duckdb",
) -> None:
    """Refuse what the dataset (and engine) cannot support; DefinitionError names each field."""
    if definition.dataset not in schemas:
        raise DefinitionError([("dataset", f"there is no dataset called {definition.dataset!r}")])
    check = _Checker(definition.dataset, columns_of(schemas[definition.dataset]))
    check.column("time.column", definition.time.column, TEMPORAL)
    for index, name in enumerate(definition.breakdowns):
        check.column(f"breakdowns[{index}]", name, GROUPABLE)
    check.filter_text("filter", definition.filter)
    calc = definition.calculation
    if calc.kind is CalculationKind.RATIO:
        assert calc.denominator is not None
        check.measure("measure.ratio.numerator", calc.measure)
        check.measure("measure.ratio.denominator", calc.denominator)
    elif calc.kind is CalculationKind.RATE:
        check.measure("measure.rate.of", calc.measure)
    else:
        check.measure("measure", calc.measure)
    if calc.population is not None:
        _check_population(definition, schemas, check)
    approximate = APPROXIMATE_ONLY.get(engine_name, set())
    for measure in calc.measures():
        if measure.aggregate in approximate:
            check.problems.append(
                (
                    "measure",
                    f"the {engine_name} engine computes {measure.aggregate.value} only "
                    "approximately, so its numbers would differ from other engines'. Use mean, "
                    "or compute this metric on DuckDB, PostgreSQL or Spark",
                )
            )
    if check.problems:
        raise DefinitionError(check.problems)


def _check_population(
    definition: MetricDefinition, schemas: Mapping[str, TableSchema], check: _Checker
) -> None:
    population = definition.calculation.population
    assert population is not None
    path = "measure.rate.population"
    if population.dataset not in schemas:
        check.problems.append(
            (f"{path}.dataset", f"there is no dataset called {population.dataset!r}")
        )
        return
    pop = _Checker(population.dataset, columns_of(schemas[population.dataset]))
    pop.column(f"{path}.column", population.column, NUMERIC)
    for index, name in enumerate(population.by):
        pop.column(f"{path}.by[{index}]", name, GROUPABLE)
        check.column(f"{path}.by[{index}]", name, GROUPABLE)
    by = {column_name(b) for b in population.by}
    for index, name in enumerate(definition.breakdowns):
        if column_name(name) not in by:
            check.problems.append(
                (
                    f"breakdowns[{index}]",
                    f"a rate by {name} needs the population by {name}: add {name} to "
                    f"{path}.by (and to the {population.dataset} dataset), or drop this breakdown",
                )
            )
    check.problems.extend(pop.problems)


# --- the expressions ------------------------------------------------------------------------


def period_expression(value: ir.Value, grain: Grain, fiscal_year_start: int) -> ir.DateValue:
    """The start date of the period a date or timestamp falls in, the same on every engine."""
    day = value.cast("date")
    if grain is Grain.DAY:
        return day
    if grain is Grain.WEEK:
        return day.truncate("W")
    if grain is Grain.MONTH:
        return day.truncate("M")
    # Quarters and years count months from the fiscal-year start: whole-number arithmetic
    # rather than interval maths, which engines disagree about.
    size = 3 if grain is Grain.QUARTER else 12
    shift = fiscal_year_start - 1 if grain is Grain.YEAR or fiscal_year_start != 1 else 0
    months = day.year() * 12 + day.month() - 1 - shift
    start = (months - months % size) + shift
    return ibis.date(start // 12, start % 12 + 1, 1)


def _value_expression(table: ir.Table, measure: Measure) -> ir.Value | None:
    if measure.duration is not None:
        start = table[column_name(measure.duration.start)].cast("timestamp")
        end = table[column_name(measure.duration.end)].cast("timestamp")
        return (end.epoch_seconds() - start.epoch_seconds()) / measure.duration.unit.seconds
    if measure.column:
        return table[column_name(measure.column)]
    return None


def _aggregate(table: ir.Table, measure: Measure) -> ir.Scalar:
    where = (
        filters.compile_filter(filters.parse_filter(measure.filter), table)
        if measure.filter
        else None
    )
    value = _value_expression(table, measure)
    agg = measure.aggregate
    if agg is Aggregate.COUNT:
        return table.count(where=where)
    assert value is not None
    if agg is Aggregate.COUNT_DISTINCT:
        return value.nunique(where=where)
    if agg is Aggregate.SUM:
        return value.cast("float64").sum(where=where)
    if agg is Aggregate.MEAN:
        return value.cast("float64").mean(where=where)
    if agg is Aggregate.MEDIAN:
        return value.cast("float64").quantile(0.5, where=where)
    if agg is Aggregate.PERCENTILE:
        assert measure.p is not None
        return value.cast("float64").quantile(measure.p / 100, where=where)
    if agg is Aggregate.MIN:
        return value.min(where=where)
    return value.max(where=where)


def build_expression(
    definition: MetricDefinition, table: ir.Table, breakdowns: Sequence[str] = (TOTAL,)
) -> ir.Table:
    """One query for every grouping asked for: rows of (level, period, breakdown value,
    part_0[, part_1]), where `level` is the grouping's index in `breakdowns` ("" = the total).

    The groupings are a UNION ALL over one filtered relation, which Ibis writes as a common
    table expression, so the engine filters the data once. Completeness of periods is decided
    after, from the data's coverage.
    """
    if definition.filter:
        table = table.filter(filters.compile_filter(filters.parse_filter(definition.filter), table))
    spec = definition.time
    period = period_expression(table[column_name(spec.column)], spec.grain, spec.fiscal_year_start)
    parts = {
        f"part_{index}": _aggregate(table, measure)
        for index, measure in enumerate(definition.calculation.measures())
    }
    branches = []
    for level, breakdown in enumerate(breakdowns):
        value = (
            table[column_name(breakdown)].cast("string")
            if breakdown
            else ibis.null().cast("string")
        )
        grouped = table.group_by(period=period, breakdown_value=value).aggregate(**parts)
        branches.append(
            grouped.select(
                level=ibis.literal(level, "int16"),
                period=grouped.period,
                breakdown_value=grouped.breakdown_value,
                **{name: grouped[name] for name in parts},
            )
        )
    return branches[0] if len(branches) == 1 else ibis.union(*branches)


def coverage_expression(table: ir.Table, time_column: str) -> ir.Table:
    column = table[column_name(time_column)]
    return table.aggregate(first=column.min(), last=column.max(), rows=table.count())


# --- the numbers ----------------------------------------------------------------------------


@dataclass
class Point:
    period: date
    value: float | None
    numerator: float | None = None
    denominator: float | None = None


@dataclass
class Series:
    breakdown: str  # "" for the total
    value: str  # "" for the total
    points: list[Point]


@dataclass
class Coverage:
    first_day: date | None
    last_day: date | None
    rows: int
    complete_through: date | None  # the last day the data is complete for


@dataclass
class SeriesResult:
    series: list[Series]
    coverage: Coverage
    periods: list[date]
    warnings: list[str] = field(default_factory=list)

    def total(self) -> Series:
        return next(s for s in self.series if not s.breakdown)


def _as_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()
    return date.fromisoformat(str(value)[:10])


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def measure_coverage(
    engine: Any,
    table: ir.Table,
    time_column: str,
    data_as_of: date | None,
    loaded_on: date | None,
) -> Coverage:
    """Which days the data is complete for.

    The first day is the earliest record's. The last is the dataset version's `data_as_of`
    when a person said it; otherwise the latest record's day, but never the load day itself or
    later (a day still in progress is not complete).
    """
    row = engine.execute(coverage_expression(table, time_column)).to_pylist()[0]
    first, last = _as_date(row["first"]), _as_date(row["last"])
    through = data_as_of
    if through is None and last is not None:
        through = last
        if loaded_on is not None:
            through = min(through, loaded_on - timedelta(days=1))
    return Coverage(first, last, int(row["rows"] or 0), through)


def _combine(
    definition: MetricDefinition, parts: Sequence[float | None], population: float | None
) -> tuple[float | None, float | None, float | None]:
    calc = definition.calculation
    first = parts[0]
    if calc.kind is CalculationKind.SIMPLE:
        return first, None, None
    if calc.kind is CalculationKind.RATIO:
        numerator, denominator = first, parts[1]
    else:
        numerator, denominator = first, population
    if numerator is None or denominator is None or denominator == 0:
        return None, numerator, denominator
    return numerator / denominator * calc.multiplier, numerator, denominator


def compute_series(
    definition: MetricDefinition,
    engine: Any,
    table: ir.Table,
    coverage: Coverage,
    population: ir.Table | None = None,
) -> SeriesResult:
    """Every series of the metric: the total first, then each breakdown value's."""
    spec = definition.time
    calc = definition.calculation
    if coverage.first_day is None or coverage.complete_through is None:
        return SeriesResult([Series(TOTAL, TOTAL, [])], coverage, [], ["The dataset has no rows."])
    if spec.complete_periods_only:
        span = complete_range(
            coverage.first_day, coverage.complete_through, spec.grain, spec.fiscal_year_start
        )
    else:
        last_day = coverage.last_day or coverage.first_day
        span = (
            period_start(coverage.first_day, spec.grain, spec.fiscal_year_start),
            period_start(last_day, spec.grain, spec.fiscal_year_start),
        )
    if span is None:
        return SeriesResult(
            [Series(TOTAL, TOTAL, [])],
            coverage,
            [],
            [f"The data covers no complete {spec.grain.value} yet."],
        )
    periods = periods_between(span[0], span[1], spec.grain)
    first, last = periods[0], periods[-1]
    populations = _populations(definition, engine, population)
    warnings: list[str] = []
    result: list[Series] = []
    part_count = len(calc.measures())
    # Counts and sums add up: the total is a breakdown's cells summed, not another grouping.
    additive = all(m.aggregate in (Aggregate.COUNT, Aggregate.SUM) for m in calc.measures())
    roll_up = additive and bool(definition.breakdowns)
    asked = list(definition.breakdowns) if roll_up else [TOTAL, *definition.breakdowns]
    groupings = _cells(definition, engine, table, asked, first, last, part_count)
    grouped = {breakdown: groupings[breakdown] for breakdown in definition.breakdowns}
    total = _roll_up(grouped[definition.breakdowns[0]], part_count) if roll_up else groupings[TOTAL]
    for breakdown, by_value in ((TOTAL, total), *grouped.items()):
        if not breakdown and not by_value:
            by_value[TOTAL] = {}
        for value in sorted(by_value):
            cells = by_value[value]
            pop = (
                populations.get((column_name(breakdown), value))
                if breakdown
                else populations.get(("", ""))
            )
            points: list[Point] = []
            zero_periods: list[date] = []
            for period in periods:
                parts = cells.get(period)
                if parts is None:
                    parts = [0.0 if spec.zero_fill else None] * part_count
                elif spec.zero_fill:
                    parts = [0.0 if p is None else p for p in parts]
                result_value, numerator, denominator = _combine(definition, parts, pop)
                if calc.kind is not CalculationKind.SIMPLE and denominator == 0:
                    zero_periods.append(period)
                points.append(Point(period, result_value, numerator, denominator))
            if zero_periods:
                where = f"{breakdown} {value}" if breakdown else "the total"
                warnings.append(
                    f"The denominator is zero in {len(zero_periods)} period(s) for {where} "
                    f"(first {zero_periods[0].isoformat()}): those points are left empty."
                )
            result.append(Series(column_name(breakdown) if breakdown else TOTAL, value, points))
    return SeriesResult(result, coverage, periods, warnings)


Cells = dict[str, dict[date, list[float | None]]]  # breakdown value -> period -> parts


def _cells(
    definition: MetricDefinition,
    engine: Any,
    table: ir.Table,
    breakdowns: Sequence[str],
    first: date,
    last: date,
    part_count: int,
) -> dict[str, Cells]:
    """Each grouping's values' parts per period, inside [first, last], from one query."""
    rows = engine.execute(build_expression(definition, table, breakdowns)).to_pylist()
    out: dict[str, Cells] = {breakdown: {} for breakdown in breakdowns}
    for row in rows:
        period = _as_date(row["period"])
        if period is None or not first <= period <= last:
            continue
        breakdown = breakdowns[row["level"]]
        value = row["breakdown_value"] if breakdown else TOTAL
        key = "(blank)" if value is None else str(value)
        out[breakdown].setdefault(key, {})[period] = [
            _number(row[f"part_{i}"]) for i in range(part_count)
        ]
    return out


def _roll_up(by_value: Cells, part_count: int) -> Cells:
    """The total of additive parts across every value (blanks included), per period. Like SQL's
    SUM, missing parts are skipped and a period with none stays missing."""
    total: dict[date, list[float | None]] = {}
    for cells in by_value.values():
        for period, parts in cells.items():
            into = total.setdefault(period, [None] * part_count)
            for index, part in enumerate(parts):
                if part is not None:
                    current = into[index]
                    into[index] = part if current is None else current + part
    return {TOTAL: total} if total else {}


def _populations(
    definition: MetricDefinition, engine: Any, population: ir.Table | None
) -> dict[tuple[str, str], float]:
    """Population totals: ("", "") for everyone, (column, value) per breakdown value."""
    spec = definition.calculation.population
    if spec is None or population is None:
        return {}
    column = population[column_name(spec.column)].cast("float64")
    out: dict[tuple[str, str], float] = {}
    total = engine.execute(population.aggregate(total=column.sum())).to_pylist()[0]["total"]
    out[("", "")] = float(total or 0)
    for by in spec.by:
        name = column_name(by)
        rows = engine.execute(
            population.group_by(value=population[name].cast("string")).aggregate(total=column.sum())
        ).to_pylist()
        for row in rows:
            out[(name, "(blank)" if row["value"] is None else str(row["value"]))] = float(
                row["total"] or 0
            )
    return out


def infer_data_grain(engine: Any, table: ir.Table, time_column: str) -> Grain:
    """The finest grain the time column supports: a column holding only Mondays is weekly, only
    first days of months is monthly, and so on. Used to refuse a grain finer than the data."""
    day = table[column_name(time_column)].cast("date")
    raw = table[column_name(time_column)]
    checks = table.aggregate(
        rows=table.count(where=raw.notnull()),
        not_first=table.count(where=day.day() != 1),
        not_monday=table.count(where=day.day_of_week.index() != 0),
        not_quarter=table.count(where=(day.month() - 1) % 3 != 0),
        not_january=table.count(where=day.month() != 1),
        with_time=table.count(where=raw.cast("timestamp") != day.cast("timestamp")),
    )
    row = engine.execute(checks).to_pylist()[0]
    if not row["rows"] or row["with_time"]:
        return Grain.DAY
    if row["not_first"] == 0:
        if row["not_quarter"] == 0:
            return Grain.YEAR if row["not_january"] == 0 else Grain.QUARTER
        return Grain.MONTH
    if row["not_monday"] == 0:
        return Grain.WEEK
    return Grain.DAY
