"""Metric refresh benchmark: `civicloop refresh --force` beside hand-written DuckDB SQL and pandas.

For each demo scale (about 1M and 10M service requests by default) the benchmark

1. builds the demo city in a fresh data folder with `civicloop demo --no-serve --scale S`
   (not timed; the demo's 41 metric definitions come with it);
2. times `civicloop refresh --force --data-dir D`, the command a user runs, as a subprocess:
   wall time, CPU time and the child's own peak RSS (`os.wait4`), best of `--repeat` runs;
3. times the floor: one hand-written DuckDB query per metric (GROUPING SETS for the total and
   every breakdown at once, FILTER clauses for ratio parts, quantile_cont for medians and
   percentiles, complete periods only, zero-fill from a generated period series LEFT JOINed),
   run against the same warehouse file opened read-only, in one process, best of `--repeat`;
4. times pandas, what an analyst does today: read each table once from the warehouse into a
   DataFrame (the read is timed too), then groupby per metric and breakdown;
5. checks that the three give the same numbers: every metric, every series (the total and each
   breakdown value), every period, within 1e-9 relative. civicloop's numbers are read back from
   the app database (the latest SeriesRun of each metric); any difference is listed by metric,
   series and period and the benchmark exits non-zero;
6. profiles one more refresh in-process (start-up, Django, Ibis build and compile, DuckDB,
   SQLite writes), prints a table and writes the figures into docs/performance.md, section
   "## Metric refresh (issue 4)" (only that section is replaced).

The floor and pandas are independent of civicloop's metric code: the definitions are written
out again below (METRICS), as an analyst would write them, in SQL and in pandas. The set of
metric ids is checked against the app database, so a changed demo shows up as a mismatch.

    python -m benchmarks metrics                 # 1M and 10M rows, about 5 minutes on 2 CPUs
    python -m benchmarks metrics --smoke         # scale 0.2 (about 60k rows): correctness, 1 min
    python -m benchmarks metrics --scales 3.21   # 1M rows only
    python -m benchmarks.metrics --help          # the same module, run directly
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.data import AS_OF
from benchmarks.doc import replace_section
from benchmarks.ingest import DEFAULT_OUT, DOC, ROOT, civicloop_command, machine, measure

if TYPE_CHECKING:
    import pandas as pd

SCALES = (3.21, 32.1)  # about 1,000,000 and 10,000,000 service requests (as of 2025-06-30)
SMOKE_SCALE = 0.2
SECTION = "## Metric refresh (issue 4)"
GOAL_FLOOR_RATIO = 1.5
GOAL_PANDAS_SPEEDUP = 5.0
RELATIVE = 1e-9
SQLITE = "SQLite statements (all, commits aside)"
REFRESH_LINE = re.compile(
    r"Computed (\d+) metric\(s\), (\d+) up to date, (\d+) failed, in ([\d.]+) s"
)

# --- the metrics, written out again as an analyst would ------------------------------------
#
# Each metric is a table, a time column and grain, a row filter (SQL, and the same in pandas),
# breakdown columns and one or two parts (aggregates), combined as the value itself, a ratio
# (part 0 / part 1 x multiplier) or a rate (part 0 / population x multiplier). Counts and sums
# are zero-filled; means, medians and percentiles are not.

Frame = Any  # a pandas DataFrame; pandas is imported by the pandas child only
Mask = Callable[[Frame], Any]

REQUEST_TYPES = (
    "Illegal dumping",
    "Encampment",
    "Graffiti",
    "Pothole",
    "Streetlight out",
    "Abandoned vehicle",
    "Missed collection",
    "Noise complaint",
    "Blocked sidewalk",
    "Tree maintenance",
)
DAYS_SQL = '(epoch("closed_at") - epoch("opened_at")) / 86400'  # days from opening to closing


@dataclass(frozen=True)
class Part:
    sql: str  # an aggregate over the metric's rows
    kind: str  # the pandas side: count, count_if, sum, mean or quantile
    column: str = ""  # sum, mean, quantile: the column ("days" is derived, see pandas_frames)
    q: float = 0.0  # quantile
    mask: Mask | None = None  # count_if: which rows count


@dataclass(frozen=True)
class Spec:
    id: str
    table: str
    time: str
    grain: str  # week (Monday), month, quarter
    parts: tuple[Part, ...]
    where: str = ""  # SQL condition on the table's rows
    keep: Mask | None = None  # the same condition in pandas
    breakdowns: tuple[str, ...] = ()
    combine: str = "value"  # value, ratio or rate
    multiplier: float = 1.0
    fiscal_start: int = 1  # quarters counted from this month
    population_by: tuple[str, ...] = ()  # rate: district_population summed by these columns

    @property
    def zero_fill(self) -> bool:
        # Counts only: a sum of measurements over no records is missing, not zero.
        return all(p.kind in ("count", "count_if") for p in self.parts)


COUNT = Part("count(*)", "count")
MEDIAN_DAYS = Part(f"quantile_cont({DAYS_SQL}, 0.5)", "quantile", "days", 0.5)
SR = "service_requests"
SURVEY = "satisfaction_survey"


def _slug(kind: str) -> str:
    return kind.lower().replace(" ", "-")


def _kind_is(kind: str) -> Mask:
    return lambda df: df["request_type"] == kind


def _kind_closed(kind: str) -> Mask:
    return lambda df: (df["request_type"] == kind) & df["closed_at"].notna()


def _type_metrics() -> list[Spec]:
    out: list[Spec] = []
    for kind in REQUEST_TYPES:
        quoted = kind.replace("'", "''")
        out.append(
            Spec(
                f"{_slug(kind)}-requests-weekly",
                SR,
                "opened_at",
                "week",
                (COUNT,),
                f"request_type = '{quoted}'",
                _kind_is(kind),
                ("district", "channel"),
            )
        )
        out.append(
            Spec(
                f"{_slug(kind)}-days-to-close-monthly",
                SR,
                "opened_at",
                "month",
                (MEDIAN_DAYS,),
                f"request_type = '{quoted}' AND closed_at IS NOT NULL",
                _kind_closed(kind),
                ("district",),
            )
        )
    return out


def _within(days: float, strict: bool = False) -> Part:
    """Requests closed within `days` of opening (still open: not counted)."""

    def mask(df: Frame) -> Any:
        return df["days"] < days if strict else df["days"] <= days

    op = "<" if strict else "<="
    return Part(f"count(*) FILTER (WHERE {DAYS_SQL} {op} {days})", "count_if", mask=mask)


DUMPING = "request_type = 'Illegal dumping'"
DUMPING_CLOSED = "request_type = 'Illegal dumping' AND closed_at IS NOT NULL"
ES = "program = 'Emergency shelter'"

METRICS: tuple[Spec, ...] = (
    *_type_metrics(),
    Spec(
        "dumping-days-to-close-weekly",
        SR,
        "opened_at",
        "week",
        (MEDIAN_DAYS,),
        DUMPING_CLOSED,
        _kind_closed("Illegal dumping"),
        ("district",),
    ),
    Spec(
        "dumping-p90-days-to-close-monthly",
        SR,
        "opened_at",
        "month",
        (Part(f"quantile_cont({DAYS_SQL}, 0.9)", "quantile", "days", 0.9),),
        DUMPING_CLOSED,
        _kind_closed("Illegal dumping"),
        ("district",),
    ),
    Spec(
        "dumping-closed-within-5-days",
        SR,
        "opened_at",
        "month",
        (_within(5), COUNT),
        DUMPING,
        _kind_is("Illegal dumping"),
        ("district",),
        "ratio",
        100,
    ),
    Spec(
        "dumping-requests-per-10k-residents",
        SR,
        "opened_at",
        "month",
        (COUNT,),
        DUMPING,
        _kind_is("Illegal dumping"),
        ("district",),
        "rate",
        10_000,
        population_by=("district",),
    ),
    Spec(
        "missed-collections-weekly",
        "refuse_collection",
        "week_start",
        "week",
        (Part('sum("missed_collections")', "sum", "missed_collections"),),
        breakdowns=("district",),
    ),
    Spec(
        "missed-collections-per-10k-carts",
        "refuse_collection",
        "week_start",
        "week",
        (
            Part('sum("missed_collections")', "sum", "missed_collections"),
            Part('sum("scheduled_collections")', "sum", "scheduled_collections"),
        ),
        breakdowns=("district",),
        combine="ratio",
        multiplier=10_000,
    ),
    Spec(
        "missed-collections-fixed-within-2-days",
        SR,
        "opened_at",
        "month",
        (_within(2), COUNT),
        "request_type = 'Missed collection'",
        _kind_is("Missed collection"),
        ("district",),
        "ratio",
        100,
    ),
    Spec(
        "requests-weekly",
        SR,
        "opened_at",
        "week",
        (COUNT,),
        breakdowns=("district", "channel", "request_type"),
    ),
    Spec(
        "requests-per-fiscal-quarter",
        SR,
        "opened_at",
        "quarter",
        (COUNT,),
        breakdowns=("district",),
        fiscal_start=7,
    ),
    Spec(
        "app-share-monthly",
        SR,
        "opened_at",
        "month",
        (
            Part(
                "count(*) FILTER (WHERE channel = 'Mobile app')",
                "count_if",
                mask=lambda df: df["channel"] == "Mobile app",
            ),
            COUNT,
        ),
        breakdowns=("district",),
        combine="ratio",
        multiplier=100,
    ),
    Spec(
        "requests-per-1000-residents-weekly",
        SR,
        "opened_at",
        "week",
        (COUNT,),
        breakdowns=("district",),
        combine="rate",
        multiplier=1_000,
        population_by=("district",),
    ),
    Spec(
        "duplicates-closed-within-an-hour",
        SR,
        "opened_at",
        "month",
        (_within(0.0417, strict=True), COUNT),
        breakdowns=("channel",),
        combine="ratio",
        multiplier=100,
    ),
    Spec(
        "customer-satisfaction-monthly",
        SURVEY,
        "responded_on",
        "month",
        (
            Part("count(*) FILTER (WHERE satisfied)", "count_if", mask=lambda df: df["satisfied"]),
            COUNT,
        ),
        breakdowns=("district", "channel"),
        combine="ratio",
        multiplier=100,
    ),
    Spec(
        "mean-satisfaction-score-weekly",
        SURVEY,
        "responded_on",
        "week",
        (Part('avg("score")', "mean", "score"),),
        breakdowns=("district",),
    ),
    Spec(
        "dumping-satisfaction-monthly",
        SURVEY,
        "responded_on",
        "month",
        (
            Part("count(*) FILTER (WHERE satisfied)", "count_if", mask=lambda df: df["satisfied"]),
            COUNT,
        ),
        DUMPING,
        _kind_is("Illegal dumping"),
        ("district",),
        "ratio",
        100,
    ),
    Spec(
        "shootings-weekly",
        "shootings",
        "week_start",
        "week",
        (Part('sum("shootings")', "sum", "shootings"),),
        breakdowns=("district",),
    ),
    Spec(
        "homicides-monthly",
        "shootings",
        "week_start",
        "month",
        (Part('sum("homicides")', "sum", "homicides"),),
    ),
    Spec(
        "shootings-per-100k-quarterly",
        "shootings",
        "week_start",
        "quarter",
        (Part('sum("shootings")', "sum", "shootings"),),
        breakdowns=("district",),
        combine="rate",
        multiplier=100_000,
        population_by=("district",),
    ),
    Spec(
        "people-housed-monthly",
        "housing",
        "month",
        "month",
        (Part('sum("placements")', "sum", "placements"),),
        "program IN ('Rapid rehousing', 'Permanent supportive housing')",
        lambda df: df["program"].isin(["Rapid rehousing", "Permanent supportive housing"]),
        ("program",),
    ),
    Spec(
        "shelter-entries-monthly",
        "housing",
        "month",
        "month",
        (Part('sum("placements")', "sum", "placements"),),
        ES,
        lambda df: df["program"] == "Emergency shelter",
    ),
    Spec(
        "people-sheltered-month-end",
        "housing",
        "month",
        "month",
        (Part('sum("people_sheltered")', "sum", "people_sheltered"),),
        ES,
        lambda df: df["program"] == "Emergency shelter",
    ),
)


# --- periods: complete ones only (the analyst's own arithmetic, not civicloop's) ------------


def period_of(day: date, grain: str, fiscal_start: int = 1) -> date:
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    months = day.year * 12 + day.month - 1 - (fiscal_start - 1)
    start = months - months % 3 + (fiscal_start - 1)
    return date(start // 12, start % 12 + 1, 1)


def following(start: date, grain: str) -> date:
    if grain == "week":
        return start + timedelta(days=7)
    months = start.year * 12 + start.month - 1 + (1 if grain == "month" else 3)
    return date(months // 12, months % 12 + 1, 1)


def complete_periods(first_day: date, through: date, grain: str, fiscal_start: int) -> list[date]:
    """The periods wholly inside [first_day, through]."""
    first = period_of(first_day, grain, fiscal_start)
    if first < first_day:
        first = following(first, grain)
    last = period_of(through, grain, fiscal_start)
    if following(last, grain) - timedelta(days=1) > through:
        last = period_of(last - timedelta(days=1), grain, fiscal_start)
    out = []
    while first <= last:
        out.append(first)
        first = following(first, grain)
    return out


def complete_through(last_day: date, dataset: dict[str, Any]) -> date:
    """The last day the data is complete for: the stated as-of day, else the latest record's
    day but never the load day or later (that day was still in progress)."""
    if dataset.get("data_as_of"):
        return date.fromisoformat(dataset["data_as_of"])
    return min(last_day, date.fromisoformat(dataset["loaded_on"]) - timedelta(days=1))


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return value.to_pydatetime().date()  # a pandas Timestamp


# --- the floor: DuckDB SQL, one query per metric ---------------------------------------------


def period_sql(column: str, grain: str, fiscal_start: int) -> str:
    col = f'"{column}"'
    if grain in ("week", "month") or fiscal_start == 1:
        return f"date_trunc('{grain}', {col})::DATE"
    shift = fiscal_start - 1  # fiscal quarters: whole months counted from the fiscal year start
    months = f"(year({col}) * 12 + month({col}) - 1 - {shift})"
    start = f"({months} - {months} % 3 + {shift})"
    return f"make_date({start} // 12, {start} % 12 + 1, 1)"


def floor_sql(spec: Spec) -> str:
    """The metric's every series in one query: the total and each breakdown via GROUPING SETS,
    complete periods only, zero-filled from a generated period series."""
    cols = [f'"{c}"' for c in spec.breakdowns]
    sets = ", ".join(["(period)", *(f"(period, {c})" for c in cols)])
    if cols:
        named = zip(cols, spec.breakdowns, strict=True)
        name = " ".join(f"WHEN GROUPING({c}) = 0 THEN '{b}'" for c, b in named)
        value = " ".join(
            f"WHEN GROUPING({c}) = 0 THEN coalesce({c}::VARCHAR, '(blank)')" for c in cols
        )
        name, value = f"CASE {name} ELSE '' END", f"CASE {value} ELSE '' END"
    else:
        name = value = "''"
    parts = ", ".join(f"{p.sql} AS p{i}" for i, p in enumerate(spec.parts))
    filled = [f"coalesce(p{i}, 0)" if spec.zero_fill else f"p{i}" for i in range(len(spec.parts))]
    if spec.combine == "ratio":
        result = f"{filled[0]} / nullif({filled[1]}, 0) * {spec.multiplier}"
    elif spec.combine == "rate":
        result = f"{filled[0]} / nullif(people, 0) * {spec.multiplier}"
    else:
        result = filled[0]
    step = {"week": "7 DAY", "month": "1 MONTH", "quarter": "3 MONTH"}[spec.grain]
    where = f"WHERE {spec.where}" if spec.where else ""
    population, join = "", ""
    if spec.combine == "rate":
        by = " ".join(
            f"UNION ALL SELECT '{b}', coalesce(\"{b}\"::VARCHAR, '(blank)'), sum(population) "
            f'FROM district_population GROUP BY "{b}"'
            for b in spec.population_by
        )
        population = (
            ", population AS (SELECT '' AS breakdown, '' AS value, sum(population) AS people "
            f"FROM district_population {by})"
        )
        join = "LEFT JOIN population USING (breakdown, value)"
    return f"""
WITH records AS (
    SELECT {period_sql(spec.time, spec.grain, spec.fiscal_start)} AS period, *
    FROM {spec.table} {where}
), cells AS (
    SELECT {name} AS breakdown, {value} AS value, period, {parts}
    FROM records
    WHERE period BETWEEN $first AND $last
    GROUP BY GROUPING SETS ({sets})
), series AS (
    SELECT DISTINCT breakdown, value FROM cells UNION SELECT '', ''
), grid AS (
    SELECT breakdown, value, period::DATE AS period
    FROM series, generate_series($first::TIMESTAMP, $last::TIMESTAMP, INTERVAL {step}) g(period)
){population}
SELECT breakdown, value, period, {result} AS v
FROM grid LEFT JOIN cells USING (breakdown, value, period) {join}
"""


def child_floor(data_dir: Path, meta_file: Path, out_file: Path) -> None:
    started = time.perf_counter()
    import duckdb

    datasets = json.loads(meta_file.read_text("utf-8"))["datasets"]
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    connected = time.perf_counter()
    queries = 0
    coverage: dict[str, tuple[date, date]] = {}
    for table in sorted({(s.table, s.time) for s in METRICS}):
        first, last = con.execute(
            f'SELECT min("{table[1]}")::DATE, max("{table[1]}")::DATE FROM {table[0]}'
        ).fetchone()
        coverage[f"{table[0]}.{table[1]}"] = (first, complete_through(last, datasets[table[0]]))
        queries += 1
    results: dict[str, Any] = {}
    for spec in METRICS:
        first_day, through = coverage[f"{spec.table}.{spec.time}"]
        periods = complete_periods(first_day, through, spec.grain, spec.fiscal_start)
        if not periods:
            results[spec.id] = {"periods": [], "series": [["", "", []]]}
            continue
        rows = con.execute(floor_sql(spec), {"first": periods[0], "last": periods[-1]}).fetchall()
        queries += 1
        series: dict[tuple[str, str], dict[date, float | None]] = {}
        for breakdown, value, period, number in rows:
            series.setdefault((breakdown, value), {})[period] = (
                None if number is None else float(number)
            )
        results[spec.id] = {
            "periods": [p.isoformat() for p in periods],
            "series": [[b, v, [cells.get(p) for p in periods]] for (b, v), cells in series.items()],
        }
    seconds = time.perf_counter() - connected
    con.close()
    out_file.write_text(json.dumps({"metrics": results}), encoding="utf-8")
    summary = {"seconds": seconds, "since_start": time.perf_counter() - started}
    print(json.dumps(summary | {"queries": queries}))


# --- pandas: what an analyst does today ------------------------------------------------------


def pandas_period(frame: Frame, column: str, grain: str, fiscal_start: int) -> Any:
    """The period start of every row, the pandas way (weeks end on Sunday: start Monday)."""
    months = ("DEC", "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV")
    freq = {"week": "W", "month": "M"}.get(grain) or f"Q-{months[fiscal_start - 1]}"
    return frame[column].dt.to_period(freq).dt.start_time


def pandas_metric(
    spec: Spec,
    frame: Frame,
    periods: list[date],
    populations: dict[tuple[str, str], float],
) -> dict[str, Any]:
    import pandas as pd

    key = f"{spec.time}:{spec.grain}:{spec.fiscal_start}"
    if key not in frame.columns:  # an analyst adds the period column once per table
        frame[key] = pandas_period(frame, spec.time, spec.grain, spec.fiscal_start)
    index = pd.DatetimeIndex([pd.Timestamp(p) for p in periods])
    rows = frame if spec.keep is None else frame[spec.keep(frame)]
    rows = rows[(rows[key] >= index[0]) & (rows[key] <= index[-1])]
    masks = {}
    for i, part in enumerate(spec.parts):
        if part.kind == "count_if":
            assert part.mask is not None
            masks[f"_m{i}"] = part.mask(rows)
    if masks:
        rows = rows.assign(**masks)
    out: list[list[Any]] = []
    for breakdown in ("", *spec.breakdowns):
        keys = [breakdown, key] if breakdown else key
        groups = rows.groupby(keys, dropna=False, sort=True)
        parts: dict[str, Any] = {}
        for i, part in enumerate(spec.parts):
            if part.kind == "count":
                parts[f"p{i}"] = groups.size()
            elif part.kind == "count_if":
                parts[f"p{i}"] = groups[f"_m{i}"].sum()
            elif part.kind == "sum":
                parts[f"p{i}"] = groups[part.column].sum(min_count=1)
            elif part.kind == "mean":
                parts[f"p{i}"] = groups[part.column].mean()
            else:
                parts[f"p{i}"] = groups[part.column].quantile(part.q)
        table = pd.DataFrame(parts)
        if breakdown:
            values = list(table.index.get_level_values(0).unique())
            grid = pd.MultiIndex.from_product([values, index])
            series = [(breakdown, v, "(blank)" if pd.isna(v) else str(v)) for v in values]
        else:
            grid, series = index, [("", None, "")]
        table = table.reindex(grid)
        if spec.zero_fill:
            table = table.fillna(0)
        for name, raw, label in series:
            cells = table.loc[raw] if name else table
            first = cells["p0"].astype(float)
            if spec.combine == "ratio":
                below = cells["p1"].astype(float)
                result = first / below.where(below != 0) * spec.multiplier
            elif spec.combine == "rate":
                people = populations.get((name, label))
                result = first / people * spec.multiplier if people else first * math.nan
            else:
                result = first
            out.append([name, label, [None if math.isnan(x) else float(x) for x in result]])
    return {"periods": [p.isoformat() for p in periods], "series": out}


def child_pandas(data_dir: Path, meta_file: Path, out_file: Path) -> None:
    started = time.perf_counter()
    import duckdb

    datasets = json.loads(meta_file.read_text("utf-8"))["datasets"]
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    read_started = time.perf_counter()
    names = sorted({s.table for s in METRICS} | {"district_population"})
    frames: dict[str, pd.DataFrame] = {
        name: con.execute(f"SELECT * FROM {name}").df() for name in names
    }
    con.close()
    read_seconds = time.perf_counter() - read_started
    requests = frames[SR]
    requests["days"] = (requests["closed_at"] - requests["opened_at"]).dt.total_seconds() / 86400
    people = frames["district_population"]
    populations = {("", ""): float(people["population"].sum())}
    for district, total in people.groupby("district")["population"].sum().items():
        populations[("district", str(district))] = float(total)
    results: dict[str, Any] = {}
    for spec in METRICS:
        frame = frames[spec.table]
        first_day = _as_date(frame[spec.time].min())
        through = complete_through(_as_date(frame[spec.time].max()), datasets[spec.table])
        periods = complete_periods(first_day, through, spec.grain, spec.fiscal_start)
        if not periods:
            results[spec.id] = {"periods": [], "series": [["", "", []]]}
            continue
        results[spec.id] = pandas_metric(spec, frame, periods, populations)
    seconds = time.perf_counter() - read_started
    out_file.write_text(json.dumps({"metrics": results}), encoding="utf-8")
    summary = {"seconds": seconds, "read_seconds": read_seconds}
    print(json.dumps(summary | {"since_start": time.perf_counter() - started}))


# --- civicloop's side: the app database, and a profiled refresh ------------------------------


def _django(data_dir: Path) -> None:
    os.environ["CIVICLOOP_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "civicloop.settings"
    import django

    django.setup()


def child_meta(data_dir: Path, out_file: Path, with_series: bool) -> None:
    """Each dataset's load day and as-of day; with_series, every metric's stored series."""
    _django(data_dir)
    from django.utils import timezone

    from civicloop.datasets.models import Dataset
    from civicloop.metrics.models import Metric
    from civicloop.metrics.services import latest_run

    datasets: dict[str, Any] = {}
    for dataset in Dataset.objects.select_related("current_version"):
        version = dataset.current_version
        if version is None:
            continue
        datasets[dataset.slug] = {
            "table": version.table_name,
            "loaded_on": timezone.localtime(version.created_at).date().isoformat(),
            "data_as_of": version.data_as_of.isoformat() if version.data_as_of else None,
            "rows": version.row_count,
        }
    metrics: dict[str, Any] = {}
    if with_series:
        for metric in Metric.objects.exclude(current_version=None).order_by("slug"):
            run = latest_run(metric)
            if run is None:
                metrics[metric.slug] = {"periods": [], "series": [], "missing": True}
                continue
            series = list(run.series.all())
            metrics[metric.slug] = {
                "periods": series[0].periods if series else [],
                "series": [[s.breakdown, s.value, s.values] for s in series],
                "computed_at": run.computed_at.isoformat(),
                "periods_per_series": sorted({len(s.periods) for s in series}),
            }
    out_file.write_text(json.dumps({"datasets": datasets, "metrics": metrics}), encoding="utf-8")
    print(json.dumps({"datasets": len(datasets), "metrics": len(metrics)}))


def child_profile(data_dir: Path, out_file: Path, cprofile: Path | None) -> None:
    """`civicloop refresh --force` in-process, its steps timed by wrapping (not changing) the
    functions it calls: where the time goes, and how many queries each metric costs."""
    steps: dict[str, float] = {}
    counts: dict[str, int] = {}
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        steps[name] = now - mark
        mark = now

    os.environ["CIVICLOOP_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "civicloop.settings"
    import django

    from civicloop import cli

    lap("import civicloop.cli (click, rich, Django)")
    django.setup()
    lap("django.setup()")
    cli.migrate_quietly()
    lap("migration check")
    from civicloop.warehouse import Warehouse

    Warehouse.default()
    lap("open the warehouse")
    from ibis.backends.duckdb import Backend

    from civicloop.metrics import compiler, engines, services
    from civicloop.metrics.models import Metric

    lap("import ibis and civicloop.metrics")

    def wrap(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                steps[label] = steps.get(label, 0.0) + time.perf_counter() - started
                counts[label] = counts.get(label, 0) + 1

        setattr(owner, name, timed)

    wrap(compiler, "build_expression", "ibis: build series expressions")
    wrap(Backend, "compile", "ibis: compile to SQL")
    wrap(engines.Engine, "execute", "engine.execute (compile + DuckDB + Arrow)")
    wrap(compiler, "measure_coverage", "coverage (min/max query)")
    wrap(compiler, "_populations", "populations (sum queries)")
    wrap(services, "table_for", "table lookups")
    wrap(services, "store_result", "store series (SQLite)")
    from django.db import connection

    def count_sql(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            steps[SQLITE] = steps.get(SQLITE, 0.0) + time.perf_counter() - started
            counts[SQLITE] = counts.get(SQLITE, 0) + 1

    profiler = None
    if cprofile is not None:
        import cProfile

        profiler = cProfile.Profile()
    chosen = Metric.objects.exclude(current_version=None)
    loop_started = time.perf_counter()
    with connection.execute_wrapper(count_sql):
        if profiler is not None:
            profiler.enable()
        report = services.refresh(chosen, force=True)
        if profiler is not None:
            profiler.disable()
    steps["refresh loop (services.refresh)"] = time.perf_counter() - loop_started
    if profiler is not None and cprofile is not None:
        profiler.dump_stats(str(cprofile))
    assert not report.failed, report.failed
    result = {
        "steps": steps,
        "counts": counts,
        "metrics": len(report.computed),
        "refresh_seconds": report.seconds,
    }
    out_file.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result))


# --- checking: the same numbers everywhere ---------------------------------------------------


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if a == b:
        return True
    return abs(a - b) <= RELATIVE * max(abs(a), abs(b))


def _difference(a: float | None, b: float | None) -> float:
    if a is None or b is None or a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def compare(reference: dict[str, Any], other: dict[str, Any], name: str) -> Iterator[str]:
    """Every way `other` differs from civicloop's stored numbers, in words."""
    for metric in sorted(set(reference) | set(other)):
        if metric not in other:
            yield f"{metric}: computed by civicloop, missing from {name}"
            continue
        if metric not in reference:
            yield f"{metric}: computed by {name}, but civicloop has no such metric"
            continue
        ours, theirs = reference[metric], other[metric]
        if ours["periods"] != theirs["periods"]:
            yield (
                f"{metric}: periods differ: civicloop {_span(ours['periods'])}, "
                f"{name} {_span(theirs['periods'])}"
            )
            continue
        mine = {(b, v): values for b, v, values in ours["series"]}
        yours = {(b, v): values for b, v, values in theirs["series"]}
        for key in sorted(set(mine) | set(yours)):
            label = f"{key[0]}={key[1]}" if key[0] else "total"
            if key not in yours or key not in mine:
                where = name if key not in yours else "civicloop"
                yield f"{metric} [{label}]: series missing from {where}"
                continue
            for period, a, b in zip(ours["periods"], mine[key], yours[key], strict=True):
                if not _close(a, b):
                    yield f"{metric} [{label}] {period}: civicloop {a!r}, {name} {b!r}"


def _span(periods: list[str]) -> str:
    return f"{len(periods)} ({periods[0]} to {periods[-1]})" if periods else "none"


def child_compare(civicloop_file: Path, others: list[Path], out_file: Path) -> None:
    reference = json.loads(civicloop_file.read_text("utf-8"))["metrics"]
    summary: dict[str, Any] = {
        "metrics": len(reference),
        "series": sum(len(m["series"]) for m in reference.values()),
        "points": sum(len(m["series"]) * len(m["periods"]) for m in reference.values()),
        "mismatches": {},
        "max_relative_difference": {},
    }
    for path in others:
        name = path.stem
        other = json.loads(path.read_text("utf-8"))["metrics"]
        problems = list(compare(reference, other, name))
        summary["mismatches"][name] = problems
        worst = 0.0
        for metric, ours in reference.items():
            if metric not in other or other[metric]["periods"] != ours["periods"]:
                continue
            theirs = {(b, v): values for b, v, values in other[metric]["series"]}
            for b, v, values in ours["series"]:
                for a, c in zip(values, theirs.get((b, v), values), strict=False):
                    worst = max(worst, _difference(a, c))
        summary["max_relative_difference"][name] = worst
        for line in problems[:40]:
            print(f"MISMATCH {name}: {line}")
        if len(problems) > 40:
            print(f"MISMATCH {name}: ... and {len(problems) - 40} more")
    summary["identical"] = not any(summary["mismatches"].values())
    out_file.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    print(json.dumps({k: v for k, v in summary.items() if k != "mismatches"}))
    if not summary["identical"]:
        raise SystemExit(1)


# --- the parent: runs everything in children, keeps itself small -----------------------------


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    peak_mb: float
    load: float
    extra: dict[str, Any] = field(default_factory=dict)


def _last_json(log: Path) -> dict[str, Any]:
    for line in reversed(log.read_text("utf-8", errors="replace").splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    return {}


def _child(role: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "benchmarks.metrics", "--child", role, *args]


def _run(cmd: list[str], log: Path, what: str) -> Run:
    load = os.getloadavg()[0]
    wall, cpu, peak, code = measure(cmd, log)
    if code != 0:
        tail = "\n".join(log.read_text("utf-8", errors="replace").splitlines()[-15:])
        raise SystemExit(f"{what} failed (exit {code}); see {log}\n{tail}")
    return Run(wall, cpu, peak, load)


def _best(runs: list[Run]) -> dict[str, Any]:
    best = min(runs, key=lambda r: r.wall_s)
    return {
        "wall_s": best.wall_s,
        "cpu_s": best.cpu_s,
        "peak_mb": best.peak_mb,
        "load": best.load,
        "extra": best.extra,
        "walls": [r.wall_s for r in runs],
        "peaks": [r.peak_mb for r in runs],
    }


def run_scale(scale: float, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    tag = f"{scale:g}"
    data_dir = work / f"demo-{tag}"
    shutil.rmtree(data_dir, ignore_errors=True)
    demo = [*civicloop_command(), "demo", "--no-serve", "--scale", str(scale)]
    demo += ["--data-dir", str(data_dir), "--seed", "2026"]
    if args.as_of != "today":
        demo += ["--as-of", args.as_of]
    print(f"\n== scale {tag}: building the demo (not timed) ...", flush=True)
    built = _run(demo, work / f"demo-{tag}.log", "civicloop demo")
    meta = work / f"datasets-{tag}.json"
    _run(_child("meta", str(data_dir), str(meta)), work / f"meta-{tag}.log", "reading the app DB")
    datasets = json.loads(meta.read_text("utf-8"))["datasets"]
    rows = {slug: d["rows"] for slug, d in datasets.items()}
    print(f"   {rows.get('service_requests', 0):,} service requests in {built.wall_s:,.0f} s")
    refresh_cmd = [*civicloop_command(), "refresh", "--force", "--data-dir", str(data_dir)]
    refreshes, floors = [], []
    for round_number in range(args.repeat):
        log = work / f"refresh-{tag}-{round_number + 1}.log"
        run = _run(refresh_cmd, log, "civicloop refresh")
        found = REFRESH_LINE.search(log.read_text("utf-8", errors="replace"))
        if not found or int(found.group(3)) or not int(found.group(1)):
            raise SystemExit(f"civicloop refresh did not compute every metric; see {log}")
        run.extra = {"metrics": int(found.group(1)), "in_process_s": float(found.group(4))}
        refreshes.append(run)
        print(f"   refresh  {run.wall_s:6.2f} s  {run.peak_mb:6,.0f} MB", flush=True)
        log = work / f"floor-{tag}-{round_number + 1}.log"
        floor_out = work / f"floor-{tag}.json"
        run = _run(_child("floor", str(data_dir), str(meta), str(floor_out)), log, "the floor")
        child = _last_json(log)
        run.extra = {"in_process_s": child.get("seconds"), "queries": child.get("queries")}
        floors.append(run)
        print(f"   floor    {run.wall_s:6.2f} s  {run.peak_mb:6,.0f} MB", flush=True)
    pandas_runs = []
    for round_number in range(args.pandas_repeat):
        log = work / f"pandas-{tag}-{round_number + 1}.log"
        pandas_out = work / f"pandas-{tag}.json"
        run = _run(_child("pandas", str(data_dir), str(meta), str(pandas_out)), log, "pandas")
        child = _last_json(log)
        run.extra = {"in_process_s": child.get("seconds"), "read_s": child.get("read_seconds")}
        pandas_runs.append(run)
        print(f"   pandas   {run.wall_s:6.2f} s  {run.peak_mb:6,.0f} MB", flush=True)
    stored = work / f"civicloop-{tag}.json"
    cmd = _child("meta", str(data_dir), str(stored), "--series")
    _run(cmd, work / f"stored-{tag}.log", "reading the stored series")
    log = work / f"compare-{tag}.log"
    floor_copy, pandas_copy = work / "floor.json", work / "pandas.json"
    shutil.copyfile(work / f"floor-{tag}.json", floor_copy)
    shutil.copyfile(work / f"pandas-{tag}.json", pandas_copy)
    checked = work / f"compare-{tag}.json"
    cmd = _child("compare", str(stored), str(floor_copy), str(pandas_copy), str(checked))
    code = subprocess.call(cmd, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)
    comparison = json.loads(checked.read_text("utf-8")) if checked.exists() else {}
    comparison["exit"] = code
    print("   " + log.read_text("utf-8").strip().replace("\n", "\n   "))
    profile: dict[str, Any] = {}
    if not args.no_profile:
        out = work / f"profile-{tag}.json"
        cmd = _child("profile", str(data_dir), str(out))
        if args.cprofile:
            cmd += ["--cprofile", str(work / f"refresh-{tag}.prof")]
        run = _run(cmd, work / f"profile-{tag}.log", "the profiled refresh")
        profile = json.loads(out.read_text("utf-8")) | {"wall_s": run.wall_s}
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "scale": scale,
        "rows": rows,
        "demo_s": built.wall_s,
        "refresh": _best(refreshes),
        "floor": _best(floors),
        "pandas": _best(pandas_runs),
        "comparison": comparison,
        "profile": profile,
    }


# --- the report ------------------------------------------------------------------------------


def _mb(value: float) -> str:
    return f"{value:,.0f} MB"


def _rows(result: dict[str, Any]) -> str:
    n = result["rows"].get("service_requests", 0)
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:,.0f}k"


def render(results: list[dict[str, Any]], info: dict[str, Any], command: str) -> str:
    lines = [
        SECTION,
        "",
        f"_Generated by `{command}` on {info['date']} (whole run {info['minutes']:.1f} min). "
        f"Machine: {info['nproc']} CPUs ({info['cpu']}), {info['ram_gb']:g} GB RAM, shared with "
        f"other work; Python {info['python']}, DuckDB {info['duckdb']}, pandas {info['pandas']}, "
        f"Ibis {info['ibis']}. Demo as of {info['as_of']}, seed 2026._",
        "",
        "Issue 4's goals: `civicloop refresh` **within 1.5x of the DuckDB floor** and **at least "
        "5x faster than pandas**. Three ways of computing the demo city's "
        f"{results[0]['comparison'].get('metrics', 41)} shared metrics, every series (the total "
        "and one per breakdown value), complete periods only, counts and sums zero-filled:",
        "",
        "- **civicloop refresh**: `civicloop refresh --force --data-dir D`, as a user runs it: "
        "Python, Django and Ibis start-up, one Ibis expression per metric (its total and "
        "breakdowns as a UNION ALL over one filtered relation) compiled to SQL and run on the "
        "warehouse, the series stored in the app database.",
        "- **DuckDB floor**: hand-written SQL, one query per metric (GROUPING SETS for the total "
        "and every breakdown, FILTER for ratio parts, quantile_cont, zero-fill by a generated "
        "period series LEFT JOINed) plus one min/max query per table, on the same warehouse file "
        "opened read-only, in one Python process.",
        "- **pandas**: each table read once from the warehouse into a DataFrame (timed), then "
        "groupby per metric and breakdown, in one process.",
        "",
        f"Wall time from process start to exit, best of {info['repeat']} runs for refresh and the "
        f"floor, {info.get('pandas_repeat', 1)} for pandas, the rounds interleaved (the other "
        "runs in brackets); peak RSS is the process's own (`wait4`). The machine is shared with "
        "other sessions' tests (see the load average at each start): a whole run of this benchmark "
        "can be up to 2x slower than another, so compare the ratios within one run, and prefer "
        "CPU time, which is steadier. "
        "civicloop's DuckDB runs with its configured memory limit (CIVICLOOP_WAREHOUSE_MEMORY, "
        "600MB by default), the floor's with DuckDB's defaults; both use DuckDB's default "
        "threads (one per core).",
        "",
        "| service requests | candidate | wall time | CPU time | peak RSS | in-process | notes |",
        "|---|---|--:|--:|--:|--:|---|",
    ]
    for result in results:
        rows = _rows(result)
        for key, label in (
            ("refresh", "civicloop refresh"),
            ("floor", "DuckDB SQL (floor)"),
            ("pandas", "pandas"),
        ):
            run = result[key]
            others = sorted(run["walls"])[1:]
            spread = f" ({', '.join(f'{w:.1f}' for w in others)})" if others else ""
            extra = run["extra"]
            inside = extra.get("in_process_s")
            if key == "refresh":
                note = f"{extra.get('metrics')} metrics"
            elif key == "floor":
                note = f"{extra.get('queries')} queries"
            else:
                note = f"of which reading the tables {extra.get('read_s', 0):.1f} s"
            note += f"; load avg {run['load']:.1f} at start"
            lines.append(
                f"| {rows} | {label} | {run['wall_s']:,.2f} s{spread} | {run['cpu_s']:,.1f} s "
                f"| {_mb(run['peak_mb'])} | {inside or 0:,.2f} s | {note} |"
            )
    lines += [
        "",
        "_In-process: civicloop's own `Computed ... in N s` (the refresh loop, without start-up);"
        " for the floor, its queries after connecting; for pandas, the read and the compute._",
        "",
        "| service requests | refresh / floor (goal ≤ 1.5) | pandas / refresh (goal ≥ 5) | "
        "CPU time refresh / floor | in-process refresh / floor | metrics | series | points "
        "| identical |",
        "|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for result in results:
        refresh, floor, pandas = result["refresh"], result["floor"], result["pandas"]
        comparison = result["comparison"]
        ratio = refresh["wall_s"] / floor["wall_s"]
        speedup = pandas["wall_s"] / refresh["wall_s"]
        inside = (refresh["extra"].get("in_process_s") or 0) / (
            floor["extra"].get("in_process_s") or 1
        )
        same = "yes" if comparison.get("identical") else "**NO**"
        worst = max((comparison.get("max_relative_difference") or {"": 0}).values())
        lines.append(
            f"| {_rows(result)} | {ratio:.2f}x {'✓' if ratio <= GOAL_FLOOR_RATIO else '✗'} "
            f"| {speedup:.1f}x {'✓' if speedup >= GOAL_PANDAS_SPEEDUP else '✗'} "
            f"| {refresh['cpu_s'] / floor['cpu_s']:.2f}x | {inside:.2f}x "
            f"| {comparison.get('metrics', '?')} | {comparison.get('series', '?'):,} "
            f"| {comparison.get('points', '?'):,} | {same} (max rel. diff {worst:.1e}) |"
        )
    lines += ["", *goal_lines(results), "", *profile_lines(results)]
    return "\n".join(lines) + "\n"


def goal_lines(results: list[dict[str, Any]]) -> list[str]:
    lines = ["### Goals (issue 4)", ""]
    for result in results:
        refresh, floor, pandas = result["refresh"], result["floor"], result["pandas"]
        ratio = refresh["wall_s"] / floor["wall_s"]
        speedup = pandas["wall_s"] / refresh["wall_s"]
        words = []
        if ratio <= GOAL_FLOOR_RATIO:
            words.append(f"within {GOAL_FLOOR_RATIO}x of the floor ({ratio:.2f}x): met")
        else:
            target = floor["wall_s"] * GOAL_FLOOR_RATIO
            words.append(
                f"{ratio:.2f}x the floor: **missed**; {refresh['wall_s']:.1f} s against a goal of "
                f"{target:.1f} s ({refresh['wall_s'] - target:.1f} s too slow, "
                f"{ratio / GOAL_FLOOR_RATIO:.2f}x the goal){why_slow(result)}"
            )
        faster = (
            f"{speedup:.1f}x faster than pandas"
            if speedup >= 1
            else f"pandas takes {speedup:.2f}x refresh's time"
        )
        if speedup >= GOAL_PANDAS_SPEEDUP:
            words.append(f"{faster}: met")
        else:
            words.append(
                f"{faster}: **missed** (goal {GOAL_PANDAS_SPEEDUP:g}x faster; refresh would "
                f"need {pandas['wall_s'] / GOAL_PANDAS_SPEEDUP:.1f} s)"
            )
        sentences = ". ".join(w[0].upper() + w[1:] for w in words)
        lines.append(f"- {_rows(result)} rows: {sentences}.")
    return lines


def why_slow(result: dict[str, Any]) -> str:
    """The gap to the floor, split by the profiled run's figures (fixed costs first)."""
    profile = result.get("profile")
    if not profile:
        return ""
    steps = profile["steps"]
    gap = result["refresh"]["wall_s"] - result["floor"]["wall_s"]
    startup = (result.get("python_startup_s") or 0) + sum(
        steps.get(s, 0) for s in PROFILE_ORDER[1:6]
    )
    ibis = steps.get("ibis: compile to SQL", 0) + steps.get("ibis: build series expressions", 0)
    books = steps.get("table lookups", 0) + steps.get("store series (SQLite)", 0)
    rest = gap - startup - ibis - books
    queries = profile["counts"].get("engine.execute (compile + DuckDB + Arrow)", 0)
    floor = result["floor"]["extra"].get("queries")
    return (
        f". Of the {gap:.1f} s more than the floor, about {startup:.1f} s is start-up (Python, "
        f"Django, Ibis) and {ibis:.1f} s building and compiling Ibis "
        f"expressions, costs that do not grow with the data; {books:.1f} s table lookups and "
        f"SQLite writes; the remaining {rest:.1f} s is DuckDB running {queries} queries where "
        f"the floor runs {floor} (a UNION ALL of groupings where the floor uses GROUPING SETS, "
        "and a population query per rate), Python turning results into series, and "
        "measurement noise"
    )


PROFILE_ORDER = (
    "python start-up",
    "import civicloop.cli (click, rich, Django)",
    "django.setup()",
    "migration check",
    "open the warehouse",
    "import ibis and civicloop.metrics",
    "refresh loop (services.refresh)",
    "ibis: build series expressions",
    "ibis: compile to SQL",
    "engine.execute (compile + DuckDB + Arrow)",
    "coverage (min/max query)",
    "populations (sum queries)",
    "table lookups",
    "store series (SQLite)",
    SQLITE,
)


def profile_lines(results: list[dict[str, Any]]) -> list[str]:
    profiled = [r for r in results if r.get("profile")]
    if not profiled:
        return []
    lines = [
        "### Where the refresh spends its time",
        "",
        "One more `refresh --force`, in-process (`python -m benchmarks.metrics --child profile`), "
        "its steps timed by wrapping civicloop's functions (nothing changed). Indented rows are "
        "inside the refresh loop and overlap: `engine.execute` includes the compile, coverage and "
        "populations include their own executes. DuckDB time is execute minus compile.",
        "",
        "| step | " + " | ".join(f"{_rows(r)} rows" for r in profiled) + " |",
        "|---|" + "--:|" * len(profiled),
    ]
    for step in PROFILE_ORDER:
        cells = []
        for result in profiled:
            profile = result["profile"]
            seconds = profile["steps"].get(step)
            if step == "python start-up":
                seconds = result.get("python_startup_s")
            count = profile["counts"].get(step)
            cell = "" if seconds is None else f"{seconds:,.2f} s"
            if count:
                cell += f" ({count:,} calls)"
            cells.append(cell)
        inside = step not in PROFILE_ORDER[:7]
        lines.append(f"| {'&nbsp;&nbsp;' if inside else ''}{step} | " + " | ".join(cells) + " |")
    cells = []
    for result in profiled:
        steps = result["profile"]["steps"]
        duck = steps.get("engine.execute (compile + DuckDB + Arrow)", 0) - steps.get(
            "ibis: compile to SQL", 0
        )
        cells.append(f"{duck:,.2f} s")
    lines.append("| &nbsp;&nbsp;= DuckDB run + Arrow fetch | " + " | ".join(cells) + " |")
    lines.append("")
    for result in profiled:
        lines.append(f"- {_rows(result)} rows: " + profile_summary(result))
    return lines


def profile_summary(result: dict[str, Any]) -> str:
    profile = result["profile"]
    steps, counts = profile["steps"], profile["counts"]
    metrics = profile.get("metrics") or 1
    executes = counts.get("engine.execute (compile + DuckDB + Arrow)", 0)
    lookups = counts.get("table lookups", 0)
    startup = (result.get("python_startup_s") or 0) + sum(
        steps.get(s, 0) for s in PROFILE_ORDER[1:6]
    )
    compile_s = steps.get("ibis: compile to SQL", 0) + steps.get(
        "ibis: build series expressions", 0
    )
    duck = steps.get("engine.execute (compile + DuckDB + Arrow)", 0) - steps.get(
        "ibis: compile to SQL", 0
    )
    loop = steps.get("refresh loop (services.refresh)", 0)
    floor = result["floor"]
    floor_queries = floor["extra"].get("queries") or 0
    return (
        f"start-up (Python, Django, migration check, Ibis import) {startup:.1f} s; the loop "
        f"{loop:.1f} s for {metrics} metrics: {executes} engine queries ({executes / metrics:.1f} "
        f"per metric: one aggregation for all its series, plus a coverage min/max per table and "
        f"population sums for rates) and {lookups} table lookups (from the load's schema, no "
        f"query), against the floor's {floor_queries} queries; Ibis build + compile "
        f"{compile_s:.2f} s, DuckDB {duck:.2f} s (the floor's queries: "
        f"{floor['extra'].get('in_process_s') or 0:.2f} s), SQLite "
        f"{steps.get(SQLITE, 0):.2f} s."
    )


def write_doc(block: str) -> None:
    replace_section(SECTION, block, DOC)


# --- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks metrics",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--scales",
        default=",".join(f"{s:g}" for s in SCALES),
        help="comma-separated demo scales (default %(default)s: about 1M and 10M requests)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"scale {SMOKE_SCALE} only, one round, docs untouched: checks the numbers quickly",
    )
    parser.add_argument("--repeat", type=int, default=3, help="refresh and floor runs (best)")
    parser.add_argument("--pandas-repeat", type=int, default=2, help="pandas runs (best)")
    parser.add_argument("--as-of", default=AS_OF.isoformat(), help="demo's last day, or today")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="work folder")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled refresh")
    parser.add_argument("--cprofile", action="store_true", help="also save a cProfile .prof")
    parser.add_argument("--keep", action="store_true", help="keep the demo data folders")
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/performance.md")
    parser.add_argument("--from-json", type=Path, help="run nothing: render a saved result")
    args = parser.parse_args(argv)
    if args.from_json:
        saved = json.loads(args.from_json.read_text("utf-8"))
        block = render(saved["results"], saved["info"], saved["command"])
        print(block)
        if not args.no_doc:
            write_doc(block)
        return
    scales = [SMOKE_SCALE] if args.smoke else [float(s) for s in args.scales.split(",")]
    if args.smoke:
        args.repeat, args.no_doc = 1, True
    work = args.out.resolve() / "metrics"
    work.mkdir(parents=True, exist_ok=True)
    started, started_at = time.perf_counter(), datetime.now()
    from importlib.metadata import version

    info = machine() | {"pandas": version("pandas"), "ibis": version("ibis-framework")}
    info |= {"as_of": args.as_of, "repeat": args.repeat, "pandas_repeat": args.pandas_repeat}
    print(f"Machine: {info}")
    startup = measure([sys.executable, "-c", "pass"], work / "python.log")[0]
    results = []
    for scale in scales:
        result = run_scale(scale, args, work)
        result["python_startup_s"] = startup
        results.append(result)
    info["minutes"] = (time.perf_counter() - started) / 60
    info["date"] = f"{started_at:%Y-%m-%d %H:%M}"
    command = "python -m benchmarks metrics" + (f" {' '.join(argv)}" if argv else "")
    block = render(results, info, command)
    print()
    print(block)
    saved = work / f"results-{started_at:%Y%m%d-%H%M%S}.json"
    saved.write_text(
        json.dumps({"info": info, "command": command, "results": results}, indent=2), "utf-8"
    )
    print(f"Saved {saved}")
    if not args.no_doc:
        write_doc(block)
        print(f"Wrote {DOC.relative_to(ROOT)}")
    if not all(r["comparison"].get("identical") for r in results):
        raise SystemExit("The numbers differ: see the MISMATCH lines above.")


def child_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.metrics --child")
    parser.add_argument("role", choices=("floor", "pandas", "meta", "profile", "compare"))
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--series", action="store_true")
    parser.add_argument("--cprofile", type=Path, default=None)
    args = parser.parse_args(argv)
    paths = args.paths
    if args.role == "floor":
        child_floor(*paths)
    elif args.role == "pandas":
        child_pandas(*paths)
    elif args.role == "meta":
        child_meta(paths[0], paths[1], args.series)
    elif args.role == "profile":
        child_profile(paths[0], paths[1], args.cprofile)
    else:
        child_compare(paths[0], paths[1:-1], paths[-1])


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
    else:
        main(sys.argv[1:])
