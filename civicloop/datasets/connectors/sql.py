"""A query against a department's own database: PostgreSQL or SQLite, read-only.

Only one SELECT (or WITH ... SELECT) statement is accepted. It runs in a read-only
transaction on PostgreSQL (and a read-only connection on SQLite), through a server-side cursor
read `batch_size` rows at a time, so memory stays bounded however many rows come back. Rows are
written as NDJSON, columns in the query's order.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import ipaddress
import json
import math
import re
import sqlite3
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ._common import (
    AtomicFile,
    ConnectorError,
    FetchResult,
    Progress,
    call_progress,
    check_positive,
    redact_url,
    scrub,
    url_secrets,
)

CURSOR_NAME = "civicloop_fetch"
CONNECT_TIMEOUT = 15


def fetch_sql(
    database_url: str,
    query: str,
    dest: Path,
    *,
    progress: Progress | None = None,
    batch_size: int = 50_000,
) -> FetchResult:
    """Run one read-only SELECT against `database_url` and write its rows to `dest` (NDJSON)."""
    check_positive("batch_size", batch_size)
    statement = check_query(query)
    url = (database_url or "").strip()
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme in ("postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        run = _postgres
    elif scheme == "sqlite":
        run = _sqlite
    else:
        shown = redact_url(url) if url else "(empty)"
        raise ConnectorError(
            f"'{shown}' is not a database address this connector reads. Use "
            "postgres://USER:PASSWORD@HOST:PORT/DATABASE for PostgreSQL or "
            "sqlite:///PATH (sqlite:////absolute/path) for a SQLite file."
        )
    secrets = url_secrets(url)
    shown = redact_url(url)
    try:
        with AtomicFile(dest) as out:
            rows, batches = run(url, statement, out, batch_size, progress)
            out.commit()
    except ConnectorError as exc:
        exc.message = scrub(exc.message, secrets)
        exc.args = (exc.message,)
        raise
    return FetchResult(Path(dest), "ndjson", rows, batches, shown, [])


# --- the query -----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<line_comment>--[^\n]*)
    | (?P<block_comment>/\*.*?(?:\*/|\Z))
    | (?P<string>[eE]?'(?:[^']|'')*(?:'|\Z))
    | (?P<ident>"(?:[^"]|"")*(?:"|\Z))
    | (?P<dollar>\$(?P<tag>[A-Za-z_][A-Za-z0-9_]*)?\$)
    | (?P<semicolon>;)
    | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def check_query(query: str) -> str:
    """The query, trailing semicolons removed, if it is a single SELECT or WITH statement;
    otherwise a ConnectorError that says why it was refused."""
    text = (query or "").strip()
    first: str | None = None
    end = len(text)
    i = 0
    while i < len(text):
        match = _TOKEN.match(text, i)
        assert match is not None  # `other` matches any character
        kind = match.lastgroup
        if kind == "dollar":  # PostgreSQL $tag$ ... $tag$ string: skip to its closing tag
            closing = text.find(match.group(0), match.end())
            i = len(text) if closing < 0 else closing + len(match.group(0))
            if first is None:
                first = "$"
            continue
        if kind == "semicolon":
            rest = text[match.end() :]
            if _only_comments(rest):
                end = match.start()
                break
            raise ConnectorError(
                "The query contains more than one statement (a ';' followed by more SQL). "
                "Give a single SELECT query."
            )
        if first is None and kind not in ("ws", "line_comment", "block_comment", "other"):
            first = match.group(0).upper() if kind == "word" else match.group(0)
        if first is None and kind == "other" and match.group(0) != "(":
            first = match.group(0)
        i = match.end()
    if first is None:
        raise ConnectorError("The query is empty. Give a SELECT query, like SELECT * FROM cases.")
    if first not in ("SELECT", "WITH"):
        raise ConnectorError(
            f"Only SELECT queries (and WITH ... SELECT) are accepted; this query starts with "
            f"'{first}'. This connector reads data and never changes it."
        )
    return text[:end].rstrip()


def _only_comments(text: str) -> bool:
    i = 0
    while i < len(text):
        match = _TOKEN.match(text, i)
        assert match is not None
        if match.lastgroup == "semicolon":
            i = match.end()
            continue
        if match.lastgroup not in ("ws", "line_comment", "block_comment"):
            return False
        i = match.end()
    return True


# --- values --------------------------------------------------------------------------------


def json_value(value: Any) -> Any:
    """A database value as written to NDJSON."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)  # exact: '12.50' stays '12.50'
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    if isinstance(value, uuid.UUID | ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    return str(value)


def _write_rows(
    out: AtomicFile,
    columns: Sequence[str],
    batches: Iterator[Sequence[Sequence[Any]]],
    progress: Progress | None,
) -> tuple[int, int]:
    duplicates = sorted({c for c in columns if columns.count(c) > 1})
    if duplicates:
        raise ConnectorError(
            "The query returns more than one column named "
            + ", ".join(f"'{c}'" for c in duplicates)
            + ". Give each column its own name with AS (for example: a.id AS case_id)."
        )
    rows = 0
    count = 0
    for batch in batches:
        count += 1
        lines = []
        for record in batch:
            obj = {column: json_value(v) for column, v in zip(columns, record, strict=True)}
            lines.append(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
        if lines:
            out.write(("\n".join(lines) + "\n").encode("utf-8", errors="replace"))
        rows += len(batch)
        call_progress(progress, rows, None)
    return rows, max(count, 1)


def _batches(fetch: Callable[[], Sequence[Sequence[Any]]]) -> Iterator[Sequence[Sequence[Any]]]:
    while batch := fetch():
        yield batch


# --- PostgreSQL ----------------------------------------------------------------------------


def _postgres(
    url: str, statement: str, out: AtomicFile, batch_size: int, progress: Progress | None
) -> tuple[int, int]:
    import psycopg

    shown = redact_url(url)
    conninfo = re.sub(r"^postgresql\+psycopg2?://", "postgresql://", url)
    try:
        conn = psycopg.connect(conninfo, connect_timeout=CONNECT_TIMEOUT, autocommit=False)
    except psycopg.Error as exc:
        raise ConnectorError(
            f"Could not connect to the database at {shown}: {_pg_reason(exc)}. Check the host, "
            "port, database name, user and password, and that the server accepts connections "
            "from this machine."
        ) from None
    try:
        conn.read_only = True  # every transaction is BEGIN READ ONLY
        with conn.transaction(), conn.cursor(name=CURSOR_NAME) as cursor:
            cursor.itersize = batch_size
            try:
                cursor.execute(statement)  # the text is checked above
                columns = [d.name for d in cursor.description or []]
                return _write_rows(
                    out, columns, _batches(lambda: cursor.fetchmany(batch_size)), progress
                )
            except psycopg.Error as exc:
                if _writes(exc):
                    raise ConnectorError(
                        f"The database at {shown} refused the query because it tries to change "
                        "data, and this connector only reads. Remove the INSERT, UPDATE, DELETE "
                        "or locking part of the query."
                    ) from None
                raise ConnectorError(
                    f"The database at {shown} refused the query: {_pg_reason(exc)}. "
                    "Check the query in a database client first."
                ) from None
    except psycopg.Error as exc:
        raise ConnectorError(
            f"The database at {shown} stopped answering: {_pg_reason(exc)}. Nothing was saved. "
            "Try again later."
        ) from None
    finally:
        conn.close()


def _writes(exc: Exception) -> bool:
    """Did PostgreSQL refuse the query because it would write?"""
    import psycopg

    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        return True
    return "data-modifying" in str(exc) or "read-only transaction" in str(exc)


def _pg_reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --- SQLite --------------------------------------------------------------------------------


def sqlite_path(url: str) -> Path:
    """sqlite:///relative/path.db or sqlite:////absolute/path.db -> the file's path."""
    rest = url.split(":", 1)[1]
    if not rest.startswith("///") or len(rest) <= 3:
        raise ConnectorError(
            f"'{url}' has no file path. Write sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db."
        )
    return Path(urllib.parse.unquote(rest[3:].split("?", 1)[0]))


@contextmanager
def _sqlite_connection(path: Path) -> Iterator[sqlite3.Connection]:
    if not path.is_file():
        raise ConnectorError(
            f"There is no SQLite database file at {path}. Check the path in the address "
            "(sqlite:////absolute/path.db for an absolute path)."
        )
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise ConnectorError(f"Could not open the SQLite database at {path}: {exc}.") from None
    try:
        conn.execute("PRAGMA query_only = ON")
        yield conn
    finally:
        conn.close()


def _sqlite(
    url: str, statement: str, out: AtomicFile, batch_size: int, progress: Progress | None
) -> tuple[int, int]:
    path = sqlite_path(url)
    with _sqlite_connection(path) as conn:
        try:
            cursor = conn.execute(statement)
            columns = [d[0] for d in cursor.description or []]
            return _write_rows(
                out, columns, _batches(lambda: cursor.fetchmany(batch_size)), progress
            )
        except sqlite3.Error as exc:
            text = str(exc)
            if "readonly" in text or "read-only" in text or "query_only" in text:
                raise ConnectorError(
                    f"The SQLite database at {path} refused the query because it tries to "
                    "change data, and this connector only reads. Remove the INSERT, UPDATE or "
                    "DELETE part of the query."
                ) from None
            raise ConnectorError(
                f"The SQLite database at {path} refused the query: {text}. "
                "Check the query in a database client first."
            ) from None
