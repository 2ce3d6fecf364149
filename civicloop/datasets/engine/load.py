"""Loading a file as a new version of a dataset's warehouse table, all or nothing.

The whole load runs inside one warehouse write transaction: staging, validation, and the
CREATE of the new version table. If anything fails, or the process is killed, DuckDB rolls the
transaction back and the warehouse is exactly as it was: the previous version stays queryable
throughout, and is never modified (a new version is always a new table).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import duckdb

from civicloop.datasets.engine import fast
from civicloop.datasets.engine import stage as staging
from civicloop.datasets.engine.schema import TableSchema
from civicloop.datasets.engine.validate import (
    HEADER_ROWS,
    Mapping,
    Problem,
    Report,
    typed_select,
    validate,
)
from civicloop.warehouse import Warehouse, quote_identifier

PhaseProgress = Callable[[str, int, int], None]  # (phase, done, total)
STAGE = "_civicloop_stage"
ERRORS = "_civicloop_errors"


class LoadMode(StrEnum):
    REPLACE = "replace"
    APPEND = "append"
    UPSERT = "upsert"


class BadRows(StrEnum):
    REJECT = "reject"
    QUARANTINE = "quarantine"


class LoadRefused(Exception):
    """Nothing was loaded; the report says why, row by row."""

    def __init__(self, report: Report, message: str = "") -> None:
        super().__init__(message or report.summary())
        self.report = report


@dataclass
class LoadRequest:
    source: Path
    source_format: staging.SourceFormat
    schema: TableSchema
    target_table: str
    work_dir: Path
    previous_table: str | None = None
    mode: LoadMode = LoadMode.REPLACE
    bad_rows: BadRows = BadRows.REJECT
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    quarantine_table: str | None = None
    fast: bool = True  # try the one-pass path for clean files (tests compare both paths)


@dataclass
class LoadOutcome:
    report: Report
    rows_in_file: int
    rows_loaded: int  # rows in the new version
    rows_quarantined: int = 0
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    problems_csv: Path | None = None
    notes: list[str] = field(default_factory=list)


def run_load(
    warehouse: Warehouse, request: LoadRequest, progress: PhaseProgress | None = None
) -> LoadOutcome:
    """Stage, validate and write a new version; raises LoadRefused or SourceError otherwise."""
    quote_identifier(request.target_table)  # checked before anything is written
    if request.fast and fast.eligible(
        request.source_format, request.schema, request.mode == LoadMode.REPLACE
    ):
        try:
            with warehouse.write() as cursor:
                clean = fast.load_clean(
                    cursor,
                    request.source,
                    request.schema,
                    request.target_table,
                    request.encoding,
                    request.delimiter,
                    progress,
                )
        except fast.NotClean:
            pass  # rolled back; the staged path below finds and reports every problem
        else:
            _phase(progress, "writing", 1, 1)
            return LoadOutcome(
                report=Report(rows_checked=clean.rows),
                rows_in_file=clean.rows,
                rows_loaded=clean.rows,
                encoding=clean.encoding,
                delimiter=clean.delimiter,
                notes=["Checked and loaded in one pass."],
            )
    report = Report()
    with warehouse.write() as cursor:
        staged, sheet = _stage(cursor, request, progress)
        _phase(progress, "checking", 0, 1)
        keep = 2**62 if request.bad_rows == BadRows.QUARANTINE else 10_000
        report, mapping = validate(cursor, staged, request.schema, ERRORS, keep_per_check=keep)
        if mapping is None:
            raise LoadRefused(report)
        typed = _typed_rows(request.schema, mapping)
        if request.mode != LoadMode.REPLACE:
            _check_against_previous(cursor, request, report, typed)
        problems_csv = _write_problems(cursor, request, report) if report.problem_count else None
        if report.problem_count and request.bad_rows == BadRows.REJECT:
            raise LoadRefused(report)
        _phase(progress, "writing", 0, 1)
        quarantined = _write_quarantine(cursor, request, staged) if report.problem_count else 0
        loaded = _write_version(cursor, request, typed, has_problems=report.problem_count > 0)
        if loaded == 0:
            raise LoadRefused(report, "Every row has a problem: nothing would be loaded.")
        _phase(progress, "writing", 1, 1)
    return LoadOutcome(
        report=report,
        rows_in_file=staged.rows,
        rows_loaded=loaded,
        rows_quarantined=quarantined,
        encoding=staged.encoding,
        delimiter=staged.delimiter,
        sheet=sheet,
        problems_csv=problems_csv,
    )


def _phase(progress: PhaseProgress | None, phase: str, done: int, total: int) -> None:
    if progress:
        progress(phase, done, total)


def _stage(
    cursor: duckdb.DuckDBPyConnection, request: LoadRequest, progress: PhaseProgress | None
) -> tuple[staging.StagedTable, str | None]:
    def reading(done: int, total: int) -> None:
        _phase(progress, "reading", done, total)

    fmt = request.source_format
    size = request.source.stat().st_size
    reading(0, size)
    sheet = None
    if fmt == staging.SourceFormat.CSV:
        staged = staging.stage_csv(
            cursor,
            request.source,
            STAGE,
            request.work_dir,
            request.encoding,
            request.delimiter,
            reading,
        )
    elif fmt == staging.SourceFormat.XLSX:
        from civicloop.datasets.engine.excel import xlsx_to_csv

        converted = request.work_dir / "sheet.csv"
        sheet, _ = xlsx_to_csv(request.source, converted, sheet=request.sheet)
        staged = staging.stage_csv(cursor, converted, STAGE, request.work_dir, "utf-8", ",")
    elif fmt == staging.SourceFormat.PARQUET:
        staged = staging.stage_parquet(cursor, request.source, STAGE)
    else:
        staged = staging.stage_json(
            cursor, request.source, STAGE, newline_delimited=fmt == staging.SourceFormat.NDJSON
        )
    reading(size, size)
    return staged, sheet


@dataclass(frozen=True)
class TypedRows:
    """SQL selecting the staged rows cast to the schema's columns, with its parameters.

    Used inline rather than materialised: the version table is written straight from the
    staging data in one pass, so a load copies the data once, not three times.
    """

    sql: str
    params: dict[str, object]


def _typed_rows(schema: TableSchema, mapping: Mapping) -> TypedRows:
    select, params = typed_select(schema, mapping)
    return TypedRows(f"SELECT _row AS _r, {select} FROM {STAGE}", params)


def _columns(schema: TableSchema) -> str:
    return ", ".join(quote_identifier(f.column) for f in schema.fields)


def _check_against_previous(
    cursor: duckdb.DuckDBPyConnection, request: LoadRequest, report: Report, typed: TypedRows
) -> None:
    """Append and upsert need the previous version's columns; append refuses existing keys."""
    if request.previous_table is None:
        return
    previous = quote_identifier(request.previous_table)
    have = [r[0] for r in cursor.execute(f"DESCRIBE {previous}").fetchall()]
    want = [f.column for f in request.schema.fields]
    if have != want:
        report.file_problems.append(
            Problem(
                None,
                "",
                None,
                f"{request.mode.value.capitalize()} needs the same columns as the current "
                f"version ({', '.join(have)}); this schema has {', '.join(want)}. Load with "
                "replace instead.",
            )
        )
        raise LoadRefused(report)
    if request.mode == LoadMode.UPSERT and not request.schema.primary_key:
        report.file_problems.append(
            Problem(
                None,
                "",
                None,
                "Upsert updates rows by their primary key, and the schema has none. Declare a "
                "primary key, or load with append or replace.",
            )
        )
        raise LoadRefused(report)
    if request.mode == LoadMode.APPEND and request.schema.primary_key:
        keys = [
            quote_identifier(request.schema.field(n).column) for n in request.schema.primary_key
        ]
        join = " AND ".join(f"t.{k} = p.{k}" for k in keys)
        label = ", ".join(request.schema.primary_key)
        clashing = f"FROM ({typed.sql}) t JOIN {previous} p ON {join}"
        clashes = int(cursor.execute(f"SELECT count(*) {clashing}", typed.params).fetchall()[0][0])
        if clashes:
            cursor.execute(
                f"INSERT INTO {ERRORS} SELECT t._r + {HEADER_ROWS + 1}, $label, "
                f"CAST(t.{keys[0]} AS VARCHAR), "
                "'is already in the current version (load with upsert to update it)' "
                f"{clashing}",
                {**typed.params, "label": label},
            )
            report.problem_count += clashes
            report.bad_rows = int(
                cursor.execute(f"SELECT count(DISTINCT row) FROM {ERRORS}").fetchall()[0][0]
            )


def _write_version(
    cursor: duckdb.DuckDBPyConnection, request: LoadRequest, typed: TypedRows, has_problems: bool
) -> int:
    """One pass from staging to the new version; the staging order is the file's order."""
    target = quote_identifier(request.target_table)
    columns = _columns(request.schema)
    good = (
        f" WHERE _r NOT IN (SELECT row - {HEADER_ROWS + 1} FROM {ERRORS})" if has_problems else ""
    )
    new_rows = f"SELECT {columns} FROM ({typed.sql}){good}"
    if request.mode == LoadMode.REPLACE or request.previous_table is None:
        body = new_rows
    elif request.mode == LoadMode.APPEND:
        previous = quote_identifier(request.previous_table)
        body = f"SELECT {columns} FROM {previous} UNION ALL {new_rows}"
    else:
        previous = quote_identifier(request.previous_table)
        keys = ", ".join(
            quote_identifier(request.schema.field(n).column) for n in request.schema.primary_key
        )
        body = (
            f"WITH incoming AS ({new_rows}) "
            f"SELECT {columns} FROM {previous} WHERE ({keys}) NOT IN "
            f"(SELECT ({keys}) FROM incoming) UNION ALL SELECT {columns} FROM incoming"
        )
    cursor.execute(f"CREATE TABLE {target} AS {body}", typed.params)
    return int(cursor.execute(f"SELECT count(*) FROM {target}").fetchall()[0][0])


def _write_quarantine(
    cursor: duckdb.DuckDBPyConnection, request: LoadRequest, staged: staging.StagedTable
) -> int:
    if request.quarantine_table is None:
        return 0
    table = quote_identifier(request.quarantine_table)
    raw = ", ".join(f"s.c{i} AS {staging.quote(name)}" for i, name in enumerate(staged.headers))
    cursor.execute(
        f"CREATE TABLE {table} AS SELECT e.row AS source_row, "
        f"string_agg(e.col || ': ' || e.reason, '; ' ORDER BY e.col) AS problems, {raw} "
        f"FROM {STAGE} s JOIN {ERRORS} e ON s._row = e.row - {HEADER_ROWS + 1} "
        f"GROUP BY ALL ORDER BY e.row"
    )
    return int(cursor.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def _write_problems(
    cursor: duckdb.DuckDBPyConnection, request: LoadRequest, report: Report
) -> Path:
    """The validation report as CSV, safe to open in a spreadsheet."""
    from civicloop.datasets.engine.export import neutralise

    path = request.work_dir / "problems.csv"
    result = cursor.execute(
        f"SELECT row, col, value, reason FROM {ERRORS} ORDER BY row, col LIMIT 1000000"
    )
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "column", "value", "problem"])
        while batch := result.fetchmany(10_000):
            writer.writerows([neutralise(v) for v in row] for row in batch)
    # Keep the sample in the report in step with what was added after validation.
    rows = cursor.execute(
        f"SELECT row, col, value, reason FROM {ERRORS} ORDER BY row, col LIMIT 1000"
    ).fetchall()
    report.problems = [Problem(r[0], r[1], r[2], r[3]) for r in rows]
    return path
