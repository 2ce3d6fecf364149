"""The fast path: a clean CSV, typed by DuckDB's reader in one pass, then checked.

Most loads are clean. For those, staging every value as text first and casting afterwards
costs a second copy of the data (measured in docs/performance.md). When every field is text or
an ISO date or date-time, DuckDB's own CSV reader parses them exactly as the staged path does,
so the new version is written straight from the file in one pass, and the remaining rules
(required, allowed values, bounds, cross-field rules, the primary key) are counted in one scan
of the typed table.

If anything at all is wrong (a value the reader rejects, a rule broken, a header that does not
match), the caller rolls this transaction back and loads through the staged path, which finds
and reports every problem by row and column. A clean file therefore costs one pass; a file with
problems costs the fast attempt plus the full check, and is never half loaded.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from civicloop.datasets.engine.schema import FieldType, TableSchema
from civicloop.datasets.engine.stage import (
    NATIVE_ENCODINGS,
    SourceError,
    SourceFormat,
    StagedTable,
    _read_sample,
    detect_encoding,
    normalise_encoding,
    sniff_dialect,
)
from civicloop.datasets.engine.validate import Params, map_header
from civicloop.warehouse import quote_identifier

READER_TYPES = {
    FieldType.STRING: "VARCHAR",
    FieldType.DATE: "DATE",
    FieldType.DATETIME: "TIMESTAMP",
}
REJECTS = "_civicloop_rejects"


class NotClean(Exception):
    """The fast path cannot vouch for this file; the staged path will say why."""


def eligible(source_format: SourceFormat, schema: TableSchema, replace: bool) -> bool:
    """Only where DuckDB's reader and the staged checks agree on every value."""
    if source_format != SourceFormat.CSV or not replace:
        return False
    # Integers, numbers and booleans are left out: the reader rounds 40.6 to 41 and has its
    # own yes/no words. Custom date formats are left out: the reader takes one per file.
    return all(f.type in READER_TYPES and f.format is None for f in schema.fields)


def load_clean(
    cursor: duckdb.DuckDBPyConnection,
    source: object,
    schema: TableSchema,
    target: str,
    encoding: str | None,
    delimiter: str | None,
    progress: Callable[[str, int, int], None] | None = None,
) -> StagedTable:
    """Write `target` from the file; raise NotClean for anything the staged path must explain."""
    from pathlib import Path

    path = Path(str(source))
    size = path.stat().st_size
    if size == 0:
        raise NotClean
    chosen = normalise_encoding(encoding) if encoding else detect_encoding(path)
    if chosen not in NATIVE_ENCODINGS or chosen == "utf-16":
        raise NotClean
    try:
        delimiter, header = sniff_dialect(_read_sample(path, chosen), delimiter)
    except SourceError:
        raise NotClean from None
    mapping, problems = map_header(StagedTable("_", header, 0), schema)
    if problems:
        raise NotClean
    by_column = {column: name for name, column in mapping.columns.items()}
    reader_types = {
        f"c{i}": READER_TYPES[schema.field(by_column[f"c{i}"]).type] for i in range(len(header))
    }
    select = ", ".join(
        f"{column} AS {quote_identifier(schema.field(name).column)}"
        for name, column in ((f.name, mapping.columns[f.name]) for f in schema.fields)
    )
    if progress:
        progress("reading", 0, size)
    cursor.execute(
        f"CREATE TABLE {quote_identifier(target)} AS SELECT {select} FROM read_csv("
        "?, columns = ?, header = true, delim = ?, quote = '\"', escape = '\"', "
        "strict_mode = true, auto_detect = false, encoding = ?, null_padding = false, "
        f"nullstr = ?, store_rejects = true, rejects_table = '{REJECTS}')",
        [str(path), reader_types, delimiter, chosen, list({"", *schema.missing_values})],
    )
    if progress:
        progress("checking", 0, 1)
    rejected = cursor.execute(f"SELECT count(*) FROM {REJECTS}").fetchall()[0][0]
    if rejected:
        raise NotClean
    rows = _check_typed(cursor, schema, quote_identifier(target))
    return StagedTable(target, header, rows, chosen, delimiter)


def _check_typed(cursor: duckdb.DuckDBPyConnection, schema: TableSchema, table: str) -> int:
    """One scan: the row count and how many rows break each rule (all must be zero)."""
    p = Params()
    counts = ["count(*)"]
    for f in schema.fields:
        column = quote_identifier(f.column)
        if f.required:
            counts.append(f"count(*) FILTER (WHERE {column} IS NULL)")
        if f.enum is not None:
            allowed = ", ".join(p(v) for v in f.enum)
            counts.append(f"count(*) FILTER (WHERE {column} NOT IN ({allowed}))")
        sql_type = READER_TYPES[f.type]
        for bound, op in ((f.minimum, "<"), (f.maximum, ">")):
            if bound is not None:
                counts.append(
                    f"count(*) FILTER (WHERE {column} {op} CAST({p(bound)} AS {sql_type}))"
                )
    for rule in schema.rules:
        left = quote_identifier(schema.field(rule.left).column)
        right = quote_identifier(schema.field(rule.right).column)
        negated = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "=": "<>", "!=": "="}
        counts.append(f"count(*) FILTER (WHERE {left} {negated[rule.op.value]} {right})")
    if schema.primary_key:
        keys = ", ".join(quote_identifier(schema.field(n).column) for n in schema.primary_key)
        # Rows after the first of each key: the staged path reports them one by one.
        counts.append(f"count(*) - count(DISTINCT ({keys}))")
    row = cursor.execute(f"SELECT {', '.join(counts)} FROM {table}", p.values).fetchall()[0]
    if row[0] == 0 or any(row[1:]):
        raise NotClean
    return int(row[0])
