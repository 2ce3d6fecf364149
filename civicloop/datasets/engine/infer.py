"""Guessing a schema from a staged file, for the user to confirm or edit.

Each column gets the narrowest type that every non-missing value in a sample parses as:
whole number, number (also with thousands separators), yes/no, date or date-time in one of the
formats people use, month (`2020 / 06`), else text. A column with no missing values in the
sample is marked required. Nothing stricter (allowed values, bounds) is guessed: those are
decisions for the data's steward.
"""

from __future__ import annotations

import duckdb

from civicloop.datasets.engine.schema import (
    DEFAULT_FALSE,
    DEFAULT_TRUE,
    Field,
    FieldType,
    TableSchema,
)
from civicloop.datasets.engine.stage import SourceError, StagedTable
from civicloop.datasets.engine.validate import INTEGER_SHAPE, NUMBER_SHAPE

SAMPLE_ROWS = 200_000
GROUPED_SHAPE = r"-?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?|-?[0-9]+(\.[0-9]+)?"

DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d", "%d-%m-%Y", "%d.%m.%Y", "%m/%d/%y")
DATETIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S.%f",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M",
)
MONTH_FORMATS = ("%Y-%m", "%Y / %m", "%Y/%m", "%m/%Y")


def infer_schema(connection: duckdb.DuckDBPyConnection, staged: StagedTable) -> TableSchema:
    fields = []
    sample = f"(SELECT * FROM {staged.table} LIMIT {SAMPLE_ROWS})"
    for index, header in enumerate(staged.headers):
        fields.append(_infer_field(connection, sample, f"c{index}", header))
    columns: dict[str, str] = {}
    for f in fields:
        if f.column in columns:
            raise SourceError(
                f"Columns {columns[f.column]!r} and {f.name!r} would both be stored as "
                f"{f.column!r}. Rename one of them in the file's header."
            )
        columns[f.column] = f.name
    return TableSchema(tuple(fields), primary_key=_guess_key(connection, sample, staged, fields))


def _infer_field(
    connection: duckdb.DuckDBPyConnection, sample: str, column: str, header: str
) -> Field:
    present = f"{column} IS NOT NULL AND trim({column}) <> ''"
    total, missing = connection.execute(
        f"SELECT count(*), count(*) FILTER (WHERE NOT ({present})) FROM {sample}"
    ).fetchall()[0]
    required = total > 0 and missing == 0
    if total == missing:
        return Field(header, FieldType.STRING)

    def all_parse(expression: str, params: dict[str, object] | None = None) -> bool:
        bad = connection.execute(
            f"SELECT count(*) FROM {sample} WHERE {present} AND ({expression}) IS NULL",
            params or {},
        ).fetchall()[0][0]
        return int(bad) == 0

    text = f"trim({column})"
    integer = f"CASE WHEN regexp_full_match({{x}}, '{INTEGER_SHAPE}') THEN 1 END"
    number = f"CASE WHEN regexp_full_match({{x}}, '{NUMBER_SHAPE}') THEN 1 END"
    grouped = f"replace({text}, ',', '')"
    if all_parse(integer.format(x=text)):
        return Field(header, FieldType.INTEGER, required=required)
    if all_parse(number.format(x=text)):
        return Field(header, FieldType.NUMBER, required=required)
    if all_parse(f"CASE WHEN regexp_full_match({text}, '{GROUPED_SHAPE}') THEN 1 END"):
        whole = all_parse(integer.format(x=grouped))
        return Field(
            header,
            FieldType.INTEGER if whole else FieldType.NUMBER,
            required=required,
            group_char=",",
        )
    words = [*DEFAULT_TRUE, *DEFAULT_FALSE]
    if all_parse(
        f"CASE WHEN lower({text}) IN $words THEN 1 END", {"words": words}
    ) and not all_parse(f"CASE WHEN {text} IN ('0', '1') THEN 1 END"):
        return Field(header, FieldType.BOOLEAN, required=required)
    for field_type, formats in (
        (FieldType.DATE, DATE_FORMATS),
        (FieldType.DATETIME, DATETIME_FORMATS),
        (FieldType.YEARMONTH, MONTH_FORMATS),
    ):
        for fmt in formats:
            if all_parse(f"TRY_STRPTIME({text}, $fmt)", {"fmt": fmt}):
                iso = field_type == FieldType.DATE and fmt == "%Y-%m-%d"
                return Field(header, field_type, format=None if iso else fmt, required=required)
    return Field(header, FieldType.STRING, required=required)


def _guess_key(
    connection: duckdb.DuckDBPyConnection,
    sample: str,
    staged: StagedTable,
    fields: list[Field],
) -> tuple[str, ...]:
    """A required column named like an id whose values are all distinct in the sample."""
    for index, f in enumerate(fields):
        lowered = f.name.lower()
        if not f.required or not (
            lowered == "id" or lowered.endswith(("_id", " id", "key", "_key"))
        ):
            continue
        column = f"c{index}"
        total, distinct = connection.execute(
            f"SELECT count(*), count(DISTINCT {column}) FROM {sample}"
        ).fetchall()[0]
        if total == distinct == staged.rows or (total == distinct and staged.rows > total):
            return (f.name,)
    return ()
