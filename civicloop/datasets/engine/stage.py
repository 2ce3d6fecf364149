"""Reading a source file into a staging table of text columns, row order kept.

Every format lands the same way, as one VARCHAR column per source column (`c0`, `c1`, ...) in
file order, so that validation can report the original value of a bad cell and the row it was
on. Row numbers are spreadsheet-style: the header is row 1, the first record row 2.

CSV is read by DuckDB in strict mode with the dialect we sniffed, so a ragged row, an
unterminated quote or bytes in the wrong encoding stop the load with the line they are on,
instead of being silently "repaired". Files in encodings DuckDB cannot read natively are
transcoded to UTF-8 in a streaming pass (bounded memory).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import duckdb

SAMPLE_BYTES = 1 << 20  # 1 MiB is plenty to sniff a dialect and guess an encoding
CHUNK_BYTES = 8 << 20
DELIMITERS = ",;\t|"


class SourceFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    PARQUET = "parquet"
    JSON = "json"
    NDJSON = "ndjson"


class SourceError(ValueError):
    """The file cannot be read as declared. The message says where and what to do."""


Progress = Callable[[int, int], None]  # (bytes done, bytes total)


@dataclass(frozen=True)
class StagedTable:
    table: str
    headers: list[str]  # column names as written in the source
    rows: int
    encoding: str | None = None
    delimiter: str | None = None

    @property
    def staging_columns(self) -> list[str]:
        return [f"c{i}" for i in range(len(self.headers))]


def format_from_name(name: str) -> SourceFormat:
    suffix = Path(name).suffix.lower().lstrip(".")
    aliases = {"tsv": "csv", "txt": "csv", "jsonl": "ndjson", "parq": "parquet"}
    try:
        return SourceFormat(aliases.get(suffix, suffix))
    except ValueError:
        raise SourceError(
            f"{name}: unrecognised file type .{suffix}. civicloop reads .csv, .tsv, .txt, "
            ".xlsx, .parquet, .json and .ndjson/.jsonl."
        ) from None


# --- encodings ----------------------------------------------------------------------------

# Encodings DuckDB's CSV reader decodes itself; anything else is transcoded first.
NATIVE_ENCODINGS = {"utf-8": "utf-8", "utf-16": "utf-16", "latin-1": "latin-1"}
ENCODING_ALIASES = {
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8",
    "utf_8": "utf-8",
    "utf16": "utf-16",
    "utf-16": "utf-16",
    "utf-16le": "utf-16",
    "utf-16be": "utf-16",
    "latin1": "latin-1",
    "latin-1": "latin-1",
    "iso-8859-1": "latin-1",
    "iso8859-1": "latin-1",
    "cp1252": "windows-1252",
    "windows-1252": "windows-1252",
    "win1252": "windows-1252",
}


def normalise_encoding(name: str) -> str:
    key = name.strip().lower().replace(" ", "")
    if key in ENCODING_ALIASES:
        return ENCODING_ALIASES[key]
    try:
        return codecs.lookup(key).name
    except LookupError:
        raise SourceError(
            f"Unknown encoding {name!r}. Use utf-8, utf-16, windows-1252 or latin-1."
        ) from None


def detect_encoding(path: Path) -> str:
    """BOMs first; then UTF-8 if the sample decodes; else Windows-1252, else Latin-1."""
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if _decodes(sample, "utf-8"):
        return "utf-8"
    if _decodes(sample, "cp1252"):
        return "windows-1252"
    return "latin-1"


def _decodes(sample: bytes, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        decoder.decode(sample, final=False)  # a character cut at the sample's end is fine
    except UnicodeDecodeError:
        return False
    return True


def transcode_to_utf8(source: Path, encoding: str, dest: Path, progress: Progress | None) -> Path:
    """Stream `source` into a UTF-8 copy; a bad byte names its offset and a likelier encoding."""
    total = source.stat().st_size
    decoder = codecs.getincrementaldecoder(encoding)()
    done = 0
    with source.open("rb") as raw, dest.open("w", encoding="utf-8", newline="") as out:
        while chunk := raw.read(CHUNK_BYTES):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as error:
                offset = done + error.start
                bad = chunk[error.start : error.start + 1]
                raise SourceError(
                    f"Byte {offset:,} of the file ({bad!r}) is not "
                    f"valid {encoding}. Check the file's encoding; "
                    f"{_encoding_hint(source)}"
                ) from None
            out.write(text.lstrip("\ufeff") if done == 0 else text)
            done += len(chunk)
            if progress:
                progress(done, total)
        try:
            out.write(decoder.decode(b"", final=True))
        except UnicodeDecodeError:
            raise SourceError(
                f"The file ends in the middle of a {encoding} character: it may be truncated."
            ) from None
    return dest


def _encoding_hint(path: Path) -> str:
    guess = detect_encoding(path)
    return f"it looks like {guess}." if guess else "try utf-8 or windows-1252."


# --- CSV ----------------------------------------------------------------------------------


def sniff_dialect(text: str, delimiter: str | None) -> tuple[str, list[str]]:
    """The delimiter and the header row, from a decoded sample of the file's start."""
    if not text.strip():
        raise SourceError("The file is empty: there is no header row and no data.")
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:65536], delimiters=DELIMITERS).delimiter
        except csv.Error:
            first_line = text.splitlines()[0]
            counts = {d: first_line.count(d) for d in DELIMITERS}
            delimiter = max(counts, key=lambda d: counts[d]) if max(counts.values()) else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as error:
        raise SourceError(f"The header row cannot be read: {error}.") from None
    header = [name.strip().lstrip("\ufeff") for name in header]
    _check_header(header)
    return delimiter, header


def _check_header(header: list[str]) -> None:
    blanks = [i + 1 for i, name in enumerate(header) if not name]
    if blanks:
        raise SourceError(
            f"Header column {', '.join(map(str, blanks))} has no name. Give every column a "
            "name in the first row."
        )
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name in seen:
            raise SourceError(
                f"Column name {name!r} appears twice in the header (columns {seen[name]} and "
                f"{position}). Rename one."
            )
        seen[name] = position


def stage_csv(
    connection: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    work_dir: Path,
    encoding: str | None = None,
    delimiter: str | None = None,
    progress: Progress | None = None,
) -> StagedTable:
    if path.stat().st_size == 0:
        raise SourceError("The file is empty (0 bytes).")
    declared = normalise_encoding(encoding) if encoding else None
    chosen = declared or detect_encoding(path)
    readable = path
    duck_encoding = NATIVE_ENCODINGS.get(chosen)
    if duck_encoding is None or chosen == "utf-16":
        # Transcoding also normalises UTF-16 (either byte order) to UTF-8 for the sniffer.
        readable = transcode_to_utf8(path, chosen, work_dir / "utf8.csv", progress)
        duck_encoding = "utf-8"
    sample = _read_sample(readable, duck_encoding)
    delimiter, header = sniff_dialect(sample, delimiter)
    columns = {f"c{i}": "VARCHAR" for i in range(len(header))}
    try:
        connection.execute(
            f"CREATE OR REPLACE TEMP TABLE {table}_raw AS SELECT * FROM read_csv("
            "?, columns = ?, header = true, delim = ?, quote = '\"', escape = '\"', "
            "strict_mode = true, auto_detect = false, encoding = ?, null_padding = false)",
            [str(readable), columns, delimiter, duck_encoding],
        )
    except duckdb.Error as error:
        raise SourceError(explain_csv_error(str(error), chosen, declared is not None)) from None
    rows = number_rows(connection, table)
    if progress:
        size = path.stat().st_size
        progress(size, size)
    return StagedTable(table, header, rows, chosen, delimiter)


def _read_sample(path: Path, encoding: str) -> str:
    with path.open("rb") as handle:
        raw = handle.read(SAMPLE_BYTES)
    python_encoding = {"utf-8": "utf-8-sig", "latin-1": "latin-1"}.get(encoding, encoding)
    decoder = codecs.getincrementaldecoder(python_encoding)()
    try:
        text = decoder.decode(raw, final=False)
    except UnicodeDecodeError as error:
        raise SourceError(
            f"Byte {error.start:,} of the file is not valid {encoding}. "
            f"{_encoding_hint(path).capitalize()} Declare the encoding when loading."
        ) from None
    if len(raw) == SAMPLE_BYTES and "\n" in text:
        text = text[: text.rfind("\n") + 1]  # do not sniff a half line
    return text


LINE = re.compile(r"CSV Error on Line: (\d+)")


def explain_csv_error(message: str, encoding: str, declared: bool) -> str:
    """DuckDB's parser errors, reworded for the person who made the file."""
    line_match = LINE.search(message)
    where = f"Line {int(line_match.group(1)):,}" if line_match else "The file"
    columns = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", message)
    if columns:
        expected, found = columns.groups()
        return (
            f"{where} has {found} values but the header has {expected}. The row may be cut "
            "short (a truncated file), have an extra delimiter, or contain an unquoted "
            "delimiter inside a value."
        )
    if "unterminated quote" in message:
        return (
            f"{where} opens a quoted value that never closes. The file may be truncated, or a "
            'value contains a stray double quote (write "" for a quote inside a value).'
        )
    if "Invalid unicode" in message or "not utf-8 encoded" in message:
        advice = (
            "The encoding you declared does not match the file"
            if declared
            else "The file is not valid UTF-8"
        )
        return f"{where}: {advice} ({encoding}). Try windows-1252 (Excel on Windows) or utf-16."
    first = message.strip().splitlines()[0] if message.strip() else "unreadable"
    return f"{where} cannot be read: {first}"


def number_rows(connection: duckdb.DuckDBPyConnection, table: str) -> int:
    """Expose `{table}_raw` as `{table}` with `_row`, the record's 0-based position in the file.

    Rows written inside an open transaction get rowids counted from a large base (DuckDB's
    transaction-local storage), so positions are taken relative to the smallest one; a single
    insert keeps the file's order, so they stay consecutive.
    """
    count, base = connection.execute(
        f"SELECT count(*), coalesce(min(rowid), 0) FROM {table}_raw"
    ).fetchall()[0]
    connection.execute(
        f"CREATE OR REPLACE TEMP VIEW {table} AS "
        f"SELECT rowid - {int(base)} AS _row, * FROM {table}_raw"
    )
    return int(count)


# --- other formats --------------------------------------------------------------------------


def stage_relation(
    connection: duckdb.DuckDBPyConnection, source_sql: str, parameters: list[object], table: str
) -> StagedTable:
    """Stage any DuckDB table function (Parquet, JSON) as text columns in source order."""
    try:
        described = connection.execute(f"DESCRIBE SELECT * FROM {source_sql}", parameters)
        header = [row[0] for row in described.fetchall()]
    except duckdb.Error as error:
        first = str(error).strip().splitlines()[0]
        raise SourceError(f"The file cannot be read: {first}") from None
    _check_header(header)
    casts = ", ".join(f"CAST({quote(name)} AS VARCHAR) AS c{i}" for i, name in enumerate(header))
    connection.execute(
        f"CREATE OR REPLACE TEMP TABLE {table}_raw AS SELECT {casts} FROM {source_sql}",
        parameters,
    )
    rows = number_rows(connection, table)
    return StagedTable(table, header, rows)


def quote(name: str) -> str:
    """Quote a source column name (from a file header) as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def stage_parquet(connection: duckdb.DuckDBPyConnection, path: Path, table: str) -> StagedTable:
    if path.stat().st_size == 0:
        raise SourceError("The file is empty (0 bytes).")
    return stage_relation(connection, "read_parquet(?)", [str(path)], table)


def stage_json(
    connection: duckdb.DuckDBPyConnection, path: Path, table: str, newline_delimited: bool
) -> StagedTable:
    if path.stat().st_size == 0:
        raise SourceError("The file is empty (0 bytes).")
    json_format = "newline_delimited" if newline_delimited else "array"
    return stage_relation(
        connection,
        "read_json(?, format = ?, records = true, maximum_object_size = 16777216)",
        [str(path), json_format],
        table,
    )
