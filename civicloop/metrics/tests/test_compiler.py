"""The engine on DuckDB, with tables small enough to check every number by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from civicloop.datasets.engine.schema import schema_from_arrow
from civicloop.metrics import compiler
from civicloop.metrics.definition import DefinitionError, Grain, parse_definition
from civicloop.metrics.engines import Engine, duckdb_engine

# Requests: two in the week of Mon 6 Jan 2025, none in the next, three in the week of 20 Jan,
# one on Wed 1 Jan (a partial week) and one on Mon 27 Jan (the data ends that day).
REQUESTS = pa.table(
    {
        "request_id": ["a", "b", "c", "d", "e", "f", "g"],
        "district": ["North", "South", "North", "North", "South", "North", "South"],
        "opened_at": [
            datetime(2025, 1, 1, 9),
            datetime(2025, 1, 6, 9),
            datetime(2025, 1, 8, 9),
            datetime(2025, 1, 20, 9),
            datetime(2025, 1, 21, 9),
            datetime(2025, 1, 22, 9),
            datetime(2025, 1, 27, 9),
        ],
        "closed_at": [
            datetime(2025, 1, 2, 9),
            datetime(2025, 1, 8, 9),  # 2 days
            datetime(2025, 1, 12, 9),  # 4 days
            datetime(2025, 1, 21, 9),  # 1 day
            None,
            datetime(2025, 1, 29, 21),  # 7.5 days
            None,
        ],
        "bags": [1, 2, 3, 4, 5, 6, 7],
    }
)
POPULATION = pa.table({"district": ["North", "South"], "population": [20_000, 30_000]})


@pytest.fixture
def engine() -> Iterator[Engine]:
    connection = duckdb.connect()
    connection.register("incoming", REQUESTS)
    connection.execute("CREATE TABLE requests AS SELECT * FROM incoming")
    connection.register("incoming_population", POPULATION)
    connection.execute("CREATE TABLE population AS SELECT * FROM incoming_population")
    yield duckdb_engine(connection)
    connection.close()


def definition(**changes: Any) -> Any:
    data: dict[str, Any] = {
        "id": "requests-weekly",
        "name": "Requests per week",
        "question": "How many?",
        "team": "t",
        "owner": "o",
        "dataset": "requests",
        "measure": {"aggregate": "count"},
        "time": {"column": "opened_at", "grain": "week"},
        "breakdowns": ["district"],
    }
    data.update(changes)
    return parse_definition(data)


def compute(engine: Engine, d: Any, data_as_of: date | None = None) -> compiler.SeriesResult:
    table = engine.table("requests")
    coverage = compiler.measure_coverage(engine, table, d.time.column, data_as_of, date(2026, 1, 1))
    return compiler.compute_series(d, engine, table, coverage, engine.table("population"))


def values(result: compiler.SeriesResult, breakdown: str = "", value: str = "") -> list[Any]:
    series = next(s for s in result.series if s.breakdown == breakdown and s.value == value)
    return [(p.period, p.value) for p in series.points]


def test_counts_keep_complete_weeks_and_zero_fill_the_empty_one(engine: Engine) -> None:
    result = compute(engine, definition())
    # 1 Jan is a Wednesday (partial week, dropped); 27 Jan is the last day (partial, dropped).
    assert values(result) == [
        (date(2025, 1, 6), 2.0),
        (date(2025, 1, 13), 0.0),
        (date(2025, 1, 20), 3.0),
    ]
    assert values(result, "district", "South") == [
        (date(2025, 1, 6), 1.0),
        (date(2025, 1, 13), 0.0),
        (date(2025, 1, 20), 1.0),
    ]
    assert result.coverage.complete_through == date(2025, 1, 27)


def test_data_as_of_decides_when_the_last_period_is_complete(engine: Engine) -> None:
    result = compute(engine, definition(), data_as_of=date(2025, 2, 2))
    assert values(result)[-1] == (date(2025, 1, 27), 1.0)


def test_partial_periods_appear_when_asked_for(engine: Engine) -> None:
    d = definition(time={"column": "opened_at", "grain": "week", "complete_periods_only": False})
    assert values(compute(engine, d))[0] == (date(2024, 12, 30), 1.0)


def test_median_duration_in_days_over_closed_requests(engine: Engine) -> None:
    d = definition(
        filter="closed_at IS NOT NULL",
        measure={"aggregate": "median", "duration": {"start": "opened_at", "end": "closed_at"}},
    )
    result = compute(engine, d)
    # Week of 6 Jan: 2 and 4 days -> 3; week of 13 Jan: none (a gap, not a zero); 20 Jan: 1, 7.5.
    assert values(result) == [
        (date(2025, 1, 6), 3.0),
        (date(2025, 1, 13), None),
        (date(2025, 1, 20), 4.25),
    ]


def test_percentile_interpolates_like_the_textbook(engine: Engine) -> None:
    d = definition(measure={"aggregate": "percentile", "p": 90, "column": "bags"})
    assert values(compute(engine, d))[2] == (date(2025, 1, 20), pytest.approx(5.8))


def test_ratio_keeps_both_parts_and_a_zero_denominator_is_an_empty_point(engine: Engine) -> None:
    d = definition(
        measure={
            "ratio": {
                "numerator": {
                    "aggregate": "count",
                    "filter": "days_between(opened_at, closed_at) <= 2",
                },
                "denominator": {"aggregate": "count"},
                "multiplier": 100,
            }
        }
    )
    result = compute(engine, d)
    total = result.total().points
    assert [(p.value, p.numerator, p.denominator) for p in total] == [
        (50.0, 1.0, 2.0),
        (None, 0.0, 0.0),
        (pytest.approx(100 / 3), 1.0, 3.0),
    ]
    assert any("denominator is zero in 1 period" in w for w in result.warnings)


def test_rate_per_population_uses_each_districts_own_population(engine: Engine) -> None:
    d = definition(
        measure={
            "rate": {
                "of": {"aggregate": "count"},
                "population": {"dataset": "population", "column": "population", "by": ["district"]},
                "per": 10000,
            }
        }
    )
    result = compute(engine, d)
    assert values(result)[0] == (date(2025, 1, 6), pytest.approx(2 / 50_000 * 10_000))
    assert values(result, "district", "North")[2] == (date(2025, 1, 20), 1.0)  # 2 per 20k


def test_count_distinct_and_sum_by_month(engine: Engine) -> None:
    d = definition(
        measure={"aggregate": "sum", "column": "bags"},
        time={"column": "opened_at", "grain": "month"},
    )
    # January is not complete (the data ends on the 27th) unless someone says it is.
    assert values(compute(engine, d)) == []
    assert values(compute(engine, d, data_as_of=date(2025, 1, 31))) == [(date(2025, 1, 1), 28.0)]
    distinct = definition(
        measure={"aggregate": "count_distinct", "column": "district"},
        time={"column": "opened_at", "grain": "month"},
    )
    assert values(compute(engine, distinct, data_as_of=date(2025, 1, 31))) == [
        (date(2025, 1, 1), 2.0)
    ]


def test_schema_check_names_the_field_and_the_fix() -> None:
    schema = {"requests": schema_from_arrow(REQUESTS)}
    bad = definition(
        filter="distrct = 'North'",
        measure={"aggregate": "sum", "column": "district"},
        time={"column": "bags", "grain": "week"},
        breakdowns=["ward"],
    )
    with pytest.raises(DefinitionError) as error:
        compiler.check_against_schema(bad, schema)
    found = dict(error.value.problems)
    assert "did you mean 'district'" in found["filter"]
    assert "district holds text; this needs a column of" in found["measure.column"]
    assert "bags holds whole numbers" in found["time.column"]
    assert "'ward' is not a column of requests" in found["breakdowns[0]"]


def test_a_rate_by_district_needs_the_population_by_district() -> None:
    schemas = {"requests": schema_from_arrow(REQUESTS), "population": schema_from_arrow(POPULATION)}
    d = definition(
        measure={
            "rate": {
                "of": {"aggregate": "count"},
                "population": {"dataset": "population", "column": "population"},
                "per": 1000,
            }
        }
    )
    with pytest.raises(DefinitionError) as error:
        compiler.check_against_schema(d, schemas)
    assert "needs the population by district" in dict(error.value.problems)["breakdowns[0]"]


def test_an_engine_that_only_approximates_medians_says_so_at_definition_time() -> None:
    schema = {"requests": schema_from_arrow(REQUESTS)}
    d = definition(measure={"aggregate": "median", "column": "bags"})
    compiler.check_against_schema(d, schema, "duckdb")
    with pytest.raises(DefinitionError, match="computes median only approximately"):
        compiler.check_against_schema(d, schema, "trino")


def test_data_grain_is_read_from_the_values(engine: Engine) -> None:
    connection = engine.backend.con
    connection.execute(
        "CREATE TABLE monthly AS SELECT DATE '2024-01-01' + INTERVAL (i) MONTH AS m "
        "FROM range(14) t(i)"
    )
    connection.execute(
        "CREATE TABLE weekly AS SELECT DATE '2024-01-01' + INTERVAL (7 * i) DAY AS w "
        "FROM range(10) t(i)"
    )
    assert compiler.infer_data_grain(engine, engine.table("monthly"), "m") is Grain.MONTH
    assert compiler.infer_data_grain(engine, engine.table("weekly"), "w") is Grain.WEEK
    assert compiler.infer_data_grain(engine, engine.table("requests"), "opened_at") is Grain.DAY


def test_fiscal_quarters_in_sql_match_the_python_arithmetic(engine: Engine) -> None:
    connection = engine.backend.con
    connection.execute(
        "CREATE TABLE days AS SELECT CAST(DATE '2023-01-01' + INTERVAL (i) DAY AS DATE) AS d "
        "FROM range(800) t(i)"
    )
    from civicloop.metrics.periods import period_start

    table = engine.table("days")
    for grain in (Grain.WEEK, Grain.MONTH, Grain.QUARTER, Grain.YEAR):
        for fiscal in (1, 4, 7, 11):
            expression = table.select(
                d=table.d, p=compiler.period_expression(table.d, grain, fiscal)
            )
            rows = engine.execute(expression).to_pylist()
            for row in rows:
                assert row["p"] == period_start(row["d"], grain, fiscal), (grain, fiscal, row)
