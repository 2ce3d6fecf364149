"""Checking a staged table against its schema, and casting it to typed columns.

All work is SQL over the staging table, so it runs at DuckDB speed with bounded memory. Every
value that comes from a schema (formats, enum values, missing markers, bounds) is a bound
parameter, never text pasted into SQL; column names are generated (`c0`..) or checked.

A problem is recorded as (row, column, value, reason). The report says, for example:
"row 1,204, column closed_at: '31/02/2024' is not a date in the format DD/MM/YYYY".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from civicloop.datasets.engine.schema import (
    Field,
    FieldType,
    RuleOp,
    TableSchema,
    format_in_words,
)
from civicloop.datasets.engine.stage import StagedTable

ERRORS_KEPT_PER_CHECK = 10_000
HEADER_ROWS = 1  # row numbers are spreadsheet rows: the header is row 1
INTEGER_SHAPE = r"\s*[+-]?[0-9]+\s*"
NUMBER_SHAPE = r"\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*"

# Date formats people actually use, tried on failing values to say what the file really holds.
COMMON_DATE_FORMATS = (
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%m/%d/%y",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%Y / %m",
    "%Y-%m",
)


@dataclass(frozen=True)
class Problem:
    row: int | None  # None: the problem is with the file, not one row
    column: str
    value: str | None
    reason: str

    def __str__(self) -> str:
        if self.row is None:
            return f"{self.column}: {self.reason}" if self.column else self.reason
        if self.value is None:
            return f"row {self.row:,}, column {self.column}: {self.reason}"
        return f"row {self.row:,}, column {self.column}: {self.value!r} {self.reason}"


@dataclass
class Report:
    rows_checked: int = 0
    problems: list[Problem] = field(default_factory=list)  # the kept sample, in row order
    problem_count: int = 0  # all problems, including those not kept
    bad_rows: int = 0
    file_problems: list[Problem] = field(default_factory=list)  # header, empty file
    hints: list[str] = field(default_factory=list)  # likely causes, e.g. mixed date formats

    @property
    def ok(self) -> bool:
        return not self.file_problems and self.problem_count == 0

    def summary(self) -> str:
        if self.file_problems:
            return str(self.file_problems[0])
        if self.problem_count == 0:
            return f"{self.rows_checked:,} rows checked, no problems."
        return (
            f"{self.problem_count:,} problem{'s' if self.problem_count != 1 else ''} in "
            f"{self.bad_rows:,} of {self.rows_checked:,} rows."
        )


class Params:
    """Collects named parameters (`$p0`, `$p1`, ...) for one statement."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def __call__(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"${name}"


@dataclass(frozen=True)
class Mapping:
    """Which staging column holds each schema field."""

    columns: dict[str, str]  # field name -> staging column (c0, c1, ...)


def map_header(staged: StagedTable, schema: TableSchema) -> tuple[Mapping, list[Problem]]:
    """Match file columns to schema fields: exactly, else ignoring case and spaces."""
    problems: list[Problem] = []
    by_exact = {name: f"c{i}" for i, name in enumerate(staged.headers)}
    by_loose = {_loose(name): f"c{i}" for i, name in enumerate(staged.headers)}
    columns: dict[str, str] = {}
    for schema_field in schema.fields:
        column = by_exact.get(schema_field.name) or by_loose.get(_loose(schema_field.name))
        if column is None:
            problems.append(
                Problem(
                    None,
                    schema_field.name,
                    None,
                    "is in the schema but not in the file's header. Check the header "
                    f"row; the file has: {', '.join(staged.headers)}.",
                )
            )
        else:
            columns[schema_field.name] = column
    used = set(columns.values())
    extra = [name for i, name in enumerate(staged.headers) if f"c{i}" not in used]
    if extra:
        problems.append(
            Problem(
                None,
                "",
                None,
                f"The file has column{'s' if len(extra) > 1 else ''} not in the schema: "
                f"{', '.join(extra)}. Add {'them' if len(extra) > 1 else 'it'} to the "
                "schema, or remove from the file.",
            )
        )
    return Mapping(columns), problems


def _loose(name: str) -> str:
    return re.sub(r"[\s_]+", "", name).lower()


# --- expressions ----------------------------------------------------------------------------


def is_missing(column: str, schema: TableSchema, p: Params) -> str:
    """Empty cells arrive as NULL from every reader; markers such as "NA" are listed.

    No trim() here or below: it doubles the cost of a load (measured in
    docs/performance.md), and DuckDB's casts already accept surrounding spaces. A cell of
    spaces only is therefore a value, and in a typed column it is reported as not parsing.
    """
    markers = [m for m in schema.missing_values if m != ""]
    if not markers:
        return f"({column} IS NULL)"
    return f"({column} IS NULL OR {column} IN ({', '.join(p(m) for m in markers)}))"


def typed_expression(schema_field: Field, column: str, p: Params) -> str:
    """SQL turning the text in `column` into the field's type, NULL where it does not parse."""
    t = schema_field.type
    if t == FieldType.STRING:
        return column
    if t in (FieldType.INTEGER, FieldType.NUMBER, FieldType.YEAR):
        number = column
        if schema_field.group_char:
            number = f"replace({number}, {p(schema_field.group_char)}, '')"
        if schema_field.decimal_char != ".":
            number = f"replace({number}, {p(schema_field.decimal_char)}, '.')"
        # DuckDB's cast rounds '40.6' to 41 and reads 'inf': check the shape first.
        if t == FieldType.NUMBER:
            shape, sql_type = NUMBER_SHAPE, "DOUBLE"
        else:
            shape, sql_type = INTEGER_SHAPE, "BIGINT"
        return (
            f"CASE WHEN regexp_full_match({number}, '{shape}') "
            f"THEN TRY_CAST({number} AS {sql_type}) END"
        )
    if t == FieldType.BOOLEAN:
        trues = ", ".join(p(v.lower()) for v in schema_field.true_values)
        falses = ", ".join(p(v.lower()) for v in schema_field.false_values)
        text = f"lower(trim({column}))"
        return f"(CASE WHEN {text} IN ({trues}) THEN true WHEN {text} IN ({falses}) THEN false END)"
    if t == FieldType.DATETIME:
        if schema_field.format is None:
            return f"TRY_CAST({column} AS TIMESTAMP)"
        return f"TRY_STRPTIME({column}, {p(schema_field.format)})"
    if t in (FieldType.DATE, FieldType.YEARMONTH):
        if schema_field.format is None and t == FieldType.DATE:
            return f"TRY_CAST({column} AS DATE)"
        return f"CAST(TRY_STRPTIME({column}, {p(schema_field.pattern)}) AS DATE)"
    raise AssertionError(f"unhandled type {t}")


def type_reason(schema_field: Field) -> str:
    t = schema_field.type
    if t in (FieldType.DATE, FieldType.DATETIME, FieldType.YEARMONTH):
        kind = {"date": "a date", "datetime": "a date and time", "yearmonth": "a month"}[t.value]
        if schema_field.format is None and t != FieldType.YEARMONTH:
            iso = "YYYY-MM-DD" if t == FieldType.DATE else "YYYY-MM-DD hh:mm:ss"
            return f"is not {kind} in the format {iso}"
        return f"is not {kind} in the format {format_in_words(schema_field.pattern)}"
    if t == FieldType.INTEGER:
        return "is not a whole number"
    if t == FieldType.YEAR:
        return "is not a year"
    if t == FieldType.NUMBER:
        return "is not a number"
    if t == FieldType.BOOLEAN:
        return (
            f"is not yes/no (use one of {', '.join(schema_field.true_values)} or "
            f"{', '.join(schema_field.false_values)})"
        )
    return "is not valid"


# --- the checks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    column_label: str
    condition: str  # SQL: true for a bad row
    value_sql: str  # SQL: the value to show
    reason_sql: str  # SQL: the reason (a parameter, or built per row)
    params: dict[str, Any]
    source: str = "{table}"  # what the check reads: the staging table, or a query over it
    row_sql: str = "_row"
    count_sql: str = ""  # a cheaper exact count, for checks with their own source

    def inner(self, table: str) -> str:
        """One row per staged row: its position, shown value, reason and whether it is bad."""
        source = self.source.replace("{table}", table)
        return (
            f"SELECT {self.row_sql} AS _r, CAST({self.value_sql} AS VARCHAR) AS value, "
            f"{self.reason_sql} AS reason, ({self.condition}) AS bad FROM {source}"
        )


def build_checks(schema: TableSchema, mapping: Mapping) -> list[Check]:
    checks: list[Check] = []
    for schema_field in schema.fields:
        column = mapping.columns[schema_field.name]
        checks.extend(_field_checks(schema, schema_field, column))
    if schema.primary_key:
        checks.append(_primary_key_check(schema, mapping))
    for rule in schema.rules:
        checks.append(_rule_check(schema, mapping, rule.left, rule.op, rule.right, rule.describe()))
    return checks


def _field_checks(schema: TableSchema, schema_field: Field, column: str) -> list[Check]:
    checks = []
    if schema_field.required:
        p = Params()
        checks.append(
            Check(
                schema_field.name,
                is_missing(column, schema, p),
                column,
                p("is empty, but a value is required"),
                p.values,
            )
        )
    if schema_field.type != FieldType.STRING:
        p = Params()
        missing = is_missing(column, schema, p)
        typed = typed_expression(schema_field, column, p)
        checks.append(
            Check(
                schema_field.name,
                f"NOT {missing} AND {typed} IS NULL",
                column,
                p(type_reason(schema_field)),
                p.values,
            )
        )
    if schema_field.enum is not None:
        p = Params()
        missing = is_missing(column, schema, p)
        allowed = ", ".join(p(v) for v in schema_field.enum)
        shown = ", ".join(schema_field.enum[:12]) + (", ..." if len(schema_field.enum) > 12 else "")
        checks.append(
            Check(
                schema_field.name,
                f"NOT {missing} AND {column} NOT IN ({allowed})",
                column,
                p(f"is not one of the allowed values: {shown}"),
                p.values,
            )
        )
    for bound, op, words in (
        (schema_field.minimum, "<", "below the minimum"),
        (schema_field.maximum, ">", "above the maximum"),
    ):
        if bound is None:
            continue
        p = Params()
        typed = typed_expression(schema_field, column, p)
        limit = p(bound)
        if schema_field.type in (FieldType.DATE, FieldType.YEARMONTH):
            limit = f"CAST({limit} AS DATE)"
        elif schema_field.type == FieldType.DATETIME:
            limit = f"CAST({limit} AS TIMESTAMP)"
        checks.append(
            Check(
                schema_field.name,
                f"{typed} {op} {limit}",
                column,
                p(f"is {words} {bound}"),
                p.values,
            )
        )
    return checks


def _primary_key_check(schema: TableSchema, mapping: Mapping) -> Check:
    key_columns = [mapping.columns[name] for name in schema.primary_key]
    key = " || '|' || ".join(f"coalesce({c}, '')" for c in key_columns)
    label = ", ".join(schema.primary_key)
    # The first occurrence is fine; each later one is reported, pointing back at the first.
    source = (
        f"(SELECT _row AS _rid, {key} AS _key, count(*) OVER w AS _n, "
        f"min(_row) OVER w AS _first FROM {{table}} WINDOW w AS (PARTITION BY {key}))"
    )
    reason = f"'duplicates the primary key of row ' || (_first + {HEADER_ROWS + 1})::VARCHAR"
    # Rows after the first of each key = rows - distinct keys: no window needed to count them.
    count = f"SELECT count(*) - count(DISTINCT {key}) FROM {{table}}"
    return Check(label, "_n > 1 AND _rid <> _first", "_key", reason, {}, source, "_rid", count)


def _rule_check(
    schema: TableSchema, mapping: Mapping, left: str, op: RuleOp, right: str, description: str
) -> Check:
    p = Params()
    left_sql = typed_expression(schema.field(left), mapping.columns[left], p)
    right_sql = typed_expression(schema.field(right), mapping.columns[right], p)
    negated = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "=": "<>", "!=": "="}[op.value]
    condition = f"({left_sql}) {negated} ({right_sql})"
    value = f"{mapping.columns[left]} || ' vs ' || {mapping.columns[right]}"
    reason = p(f"breaks the rule {description} ({left} vs {right})")
    return Check(f"{left}, {right}", condition, value, reason, p.values)


# --- running --------------------------------------------------------------------------------


def validate(
    connection: duckdb.DuckDBPyConnection,
    staged: StagedTable,
    schema: TableSchema,
    errors_table: str,
    keep_per_check: int = ERRORS_KEPT_PER_CHECK,
) -> tuple[Report, Mapping | None]:
    """Check every row; record problems in `errors_table` (row, column, value, reason)."""
    report = Report(rows_checked=staged.rows)
    mapping, header_problems = map_header(staged, schema)
    if header_problems:
        report.file_problems = header_problems
        return report, None
    if staged.rows == 0:
        report.file_problems = [
            Problem(None, "", None, "The file has a header but no rows of data.")
        ]
        return report, None
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE {errors_table} "
        "(row BIGINT, col VARCHAR, value VARCHAR, reason VARCHAR)"
    )
    checks = build_checks(schema, mapping)
    counts = _count_all(connection, staged.table, checks)
    for check, count in zip(checks, counts, strict=True):
        if count:
            _record(connection, staged.table, errors_table, check, keep_per_check)
            report.problem_count += count
    if report.problem_count:
        report.bad_rows = _count(connection, f"SELECT count(DISTINCT row) FROM {errors_table}")
        rows = connection.execute(
            f"SELECT row, col, value, reason FROM {errors_table} ORDER BY row, col LIMIT 1000"
        ).fetchall()
        report.problems = [Problem(r[0], r[1], r[2], r[3]) for r in rows]
        _add_format_hints(report, schema)
    return report, mapping


def _count_all(connection: duckdb.DuckDBPyConnection, table: str, checks: list[Check]) -> list[int]:
    """How many rows fail each check, in as few scans as possible.

    Checks that read the staging table directly are counted together in one scan (a big
    load's staging data may have spilled to disk: one pass instead of one per check); checks
    over their own query (the primary key's window) are counted alone.
    """
    simple = [c for c in checks if c.source == "{table}"]
    counts: dict[int, int] = {}
    if simple:
        params: dict[str, Any] = {}
        filters = []
        for index, check in enumerate(simple):
            # Each check numbers its parameters from p0: rename those the condition uses.
            used = set(re.findall(r"\$(p[0-9]+)\b", check.condition))
            condition = re.sub(r"\$(p[0-9]+)\b", rf"$\1_{index}", check.condition)
            params.update({f"{name}_{index}": check.params[name] for name in used})
            filters.append(f"count(*) FILTER (WHERE {condition})")
        row = connection.execute(f"SELECT {', '.join(filters)} FROM {table}", params).fetchall()[0]
        counts.update({id(check): int(n) for check, n in zip(simple, row, strict=True)})
    for check in checks:
        if id(check) not in counts:
            sql = check.count_sql or f"SELECT count(*) FROM ({check.inner('{table}')}) WHERE bad"
            counts[id(check)] = _count(connection, sql.replace("{table}", table), check.params)
    return [counts[id(check)] for check in checks]


def _record(
    connection: duckdb.DuckDBPyConnection, table: str, errors_table: str, check: Check, keep: int
) -> None:
    inner = check.inner(table)
    connection.execute(
        f"INSERT INTO {errors_table} SELECT _r + {HEADER_ROWS + 1}, $label, value, reason "
        f"FROM ({inner}) WHERE bad ORDER BY _r LIMIT {int(keep)}",
        {**check.params, "label": check.column_label},
    )


def _count(
    connection: duckdb.DuckDBPyConnection,
    sql: str,
    params: dict[str, Any] | Sequence[Any] | None = None,
) -> int:
    return int(connection.execute(sql, params or []).fetchall()[0][0])


def _add_format_hints(report: Report, schema: TableSchema) -> None:
    """Where dates fail, say which format the failing values do match (mixed formats)."""
    for schema_field in schema.fields:
        if schema_field.type not in (FieldType.DATE, FieldType.DATETIME, FieldType.YEARMONTH):
            continue
        failing = [
            p.value
            for p in report.problems
            if p.column == schema_field.name and p.value and "format" in p.reason
        ]
        if not failing:
            continue
        seen = _formats_matching(failing[:50])
        if seen:
            words = " or ".join(format_in_words(f) for f in seen)
            report.hints.append(
                f"Column {schema_field.name}: some values look like {words} rather than "
                f"{format_in_words(schema_field.pattern or '%Y-%m-%d')}; the file may mix "
                "date formats. Fix those rows, or change the field's format if the whole "
                "column uses it."
            )


def _formats_matching(values: list[str]) -> list[str]:
    from datetime import datetime

    found: list[str] = []
    for fmt in COMMON_DATE_FORMATS:
        for value in values:
            try:
                datetime.strptime(value.strip(), fmt)
            except ValueError:
                continue
            found.append(fmt)
            break
    return found[:2]


def typed_select(schema: TableSchema, mapping: Mapping) -> tuple[str, dict[str, Any]]:
    """The SELECT list casting staging columns to the schema's types and column names."""
    p = Params()
    parts = []
    for schema_field in schema.fields:
        column = mapping.columns[schema_field.name]
        missing = is_missing(column, schema, p)
        typed = typed_expression(schema_field, column, p)
        parts.append(f'CASE WHEN {missing} THEN NULL ELSE {typed} END AS "{schema_field.column}"')
    return ", ".join(parts), p.values
