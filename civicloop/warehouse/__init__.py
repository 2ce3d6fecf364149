"""The warehouse: departments' data and computed series, in DuckDB by default.

One `Warehouse` per file per process. DuckDB allows one read-write handle per file, so all work
goes through a single connection: reads take their own cursor (cheap, thread-safe), and every
write goes through `write()`, which serialises writers and wraps them in an explicit transaction,
so a reader never sees half a load.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class WarehouseError(RuntimeError):
    """Something about the warehouse a user can act on; the message says what."""


def quote_identifier(name: str) -> str:
    """Table and column names are checked, never pasted in raw from user text."""
    if not IDENTIFIER.match(name):
        raise WarehouseError(
            f"{name!r} is not a valid table or column name: use lower-case letters, digits and "
            "underscores, starting with a letter or underscore (at most 63 characters)."
        )
    return f'"{name}"'


class Warehouse:
    _instances: dict[Path, Warehouse] = {}
    _instances_lock = threading.Lock()

    def __init__(
        self, path: Path, memory_limit: str | None = None, temp_directory: Path | None = None
    ) -> None:
        self.path = path
        self._write_lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        # A memory limit makes DuckDB spill big loads to the temp folder instead of growing
        # without bound (its default is 80% of the machine's memory).
        config: dict[str, str | bool | int | float | list[str]] = {}
        if memory_limit:
            config["memory_limit"] = memory_limit
        if temp_directory is not None:
            temp_directory.mkdir(parents=True, exist_ok=True)
            config["temp_directory"] = str(temp_directory)
        try:
            self._connection = duckdb.connect(str(path), config=config)
        except duckdb.IOException as error:
            holder = re.search(r"\(PID (\d+)\)", str(error))
            if holder:
                raise WarehouseError(
                    f"The warehouse ({path}) is in use by another civicloop process (PID "
                    f"{holder.group(1)}), probably `civicloop serve`. DuckDB lets one process "
                    "write it at a time: upload through the browser, or stop that process and "
                    "run this again."
                ) from None
            raise WarehouseError(f"Cannot open the warehouse at {path}: {error}") from None

    @classmethod
    def open(
        cls, path: Path, memory_limit: str | None = None, temp_directory: Path | None = None
    ) -> Warehouse:
        """The process's one handle on this file."""
        path = path.resolve()
        with cls._instances_lock:
            warehouse = cls._instances.get(path)
            if warehouse is None:
                warehouse = cls._instances[path] = cls(path, memory_limit, temp_directory)
            return warehouse

    @classmethod
    def default(cls) -> Warehouse:
        from django.conf import settings

        return cls.open(
            Path(settings.WAREHOUSE_PATH),
            settings.WAREHOUSE_MEMORY_LIMIT,
            Path(settings.DATA_DIR) / "warehouse-tmp",
        )

    def close(self) -> None:
        with self._instances_lock:
            self._instances.pop(self.path, None)
        self._connection.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of one's own for a long-lived reader (the metric engine); close it after."""
        return self._connection.cursor()

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cursor = self._connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One writer at a time, all or nothing."""
        with self._write_lock:
            cursor = self._connection.cursor()
            try:
                cursor.execute("BEGIN TRANSACTION")
                try:
                    yield cursor
                except BaseException:
                    cursor.execute("ROLLBACK")
                    raise
                cursor.execute("COMMIT")
            finally:
                cursor.close()

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.read() as cursor:
            return cursor.execute(sql, list(parameters)).fetchall()

    def stream(
        self, sql: str, parameters: Sequence[Any] = (), batch_size: int = 50_000
    ) -> tuple[list[str], Iterator[list[tuple[Any, ...]]]]:
        """Column names and an iterator of row batches: exports never hold a table in memory."""
        cursor = self._connection.cursor()
        result = cursor.execute(sql, list(parameters))
        header = [d[0] for d in result.description or []]

        def batches() -> Iterator[list[tuple[Any, ...]]]:
            try:
                while batch := result.fetchmany(batch_size):
                    yield batch
            finally:
                cursor.close()

        return header, batches()

    def tables(self) -> list[str]:
        rows = self.query(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' ORDER BY table_name"
        )
        return [row[0] for row in rows]

    def row_count(self, table: str) -> int:
        # Identifiers cannot be bound as parameters; quote_identifier has checked this one.
        sql = f"SELECT count(*) FROM {quote_identifier(table)}"  # noqa: S608
        return int(self.query(sql)[0][0])

    def replace_table(self, table: str, data: Any) -> int:
        """Swap in a whole table (a pyarrow Table) atomically; returns its row count."""
        name = quote_identifier(table)
        with self.write() as cursor:
            cursor.register("incoming_table", data)
            try:
                cursor.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM incoming_table")  # noqa: S608
            finally:
                cursor.unregister("incoming_table")
            count_sql = f"SELECT count(*) FROM {name}"  # noqa: S608  (name is checked above)
            return int(cursor.execute(count_sql).fetchall()[0][0])
