"""The engines metrics are computed on, chosen by URL, all through Ibis.

- `duckdb` (default): the warehouse's own DuckDB file, through its one connection.
- `postgres://user@host:port/db`: a PostgreSQL server.
- `spark://local[2]`: Spark in local mode (PySpark, with the machine's Java).

Loads always land in the DuckDB warehouse, where they are validated and versioned. A dataset
version is immutable, so an external engine gets a copy of each version table the first time a
metric needs it (`Engine.ensure_table`), under the same name, and keeps it.

Pure: no Django.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ibis
import ibis.expr.types as ir

from civicloop.warehouse import quote_identifier


class EngineError(RuntimeError):
    """The engine URL is wrong or the engine cannot be reached; the message says what to do."""


@dataclass
class Engine:
    name: str  # duckdb, postgres or pyspark
    backend: Any
    url: str = ""
    _known: set[str] = field(default_factory=set)
    _tables: dict[str, ir.Table] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def table(self, name: str) -> ir.Table:
        """A table by name; looked up once per engine (version tables never change)."""
        if name not in self._tables:
            quote_identifier(name)
            self._tables[name] = self.backend.table(name)
        return self._tables[name]

    def declared_table(self, name: str, schema: ibis.Schema) -> ir.Table:
        """A DuckDB warehouse table described by the schema it was loaded with, so no query
        is spent asking the warehouse for it (DuckDB expressions run as SQL, unbound)."""
        if self.name != "duckdb":
            return self.table(name)
        if name not in self._tables:
            quote_identifier(name)
            self._tables[name] = ibis.table(schema, name=name)
        return self._tables[name]

    def has_table(self, name: str) -> bool:
        if name in self._known:
            return True
        present = name in self.backend.list_tables()
        if present:
            self._known.add(name)
        return present

    def ensure_table(self, name: str, arrow: Callable[[], Any]) -> None:
        """Copy a version table here unless it is already (versions never change)."""
        quote_identifier(name)
        with self._lock:
            if self.has_table(name):
                return
            if self.name == "pyspark":
                _spark_view_from_arrow(self.backend._session, name, arrow())
            else:
                self.backend.create_table(name, arrow(), overwrite=True)
            self._known.add(name)

    def execute(self, expression: ir.Expr) -> Any:
        """Run an expression; the result as a pyarrow Table."""
        if self.name == "duckdb":
            # Straight to Arrow: Ibis's own result conversion imports pandas, which costs half
            # a second at start-up for nothing the engine needs.
            arrow = self.backend.con.sql(self.backend.compile(expression)).to_arrow_table()
            # DuckDB gives some expressions a wider type than Ibis declares (a week's start
            # as a timestamp): hand back the declared types, as Ibis itself would.
            return arrow.cast(expression.schema().to_pyarrow())
        return self.backend.to_pyarrow(expression)

    def close(self) -> None:
        if self.name == "pyspark":
            return  # the Spark session is shared by the process; Spark stops it at exit
        disconnect = getattr(self.backend, "disconnect", None)
        if disconnect is not None and self.name != "duckdb":
            disconnect()


def _spark_view_from_arrow(session: Any, name: str, data: Any) -> None:
    """Hand Spark the table as Parquet: timestamps stay zone-less (Spark reads them as
    TIMESTAMP_NTZ) instead of being shifted through the process's local time zone."""
    import pyarrow.parquet as pq

    folder = Path(session.conf.get("spark.sql.warehouse.dir").removeprefix("file:")) / "copies"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.parquet"
    pq.write_table(data, path)
    session.read.parquet(str(path)).createOrReplaceTempView(name)


def duckdb_engine(connection: Any) -> Engine:
    """An engine over an open DuckDB connection (the warehouse's)."""
    return Engine("duckdb", ibis.duckdb.from_connection(connection), "duckdb")


_spark_sessions: dict[str, Any] = {}


def spark_session(master: str) -> Any:
    """One local Spark session per process, quiet and bound to loopback only."""
    if master not in _spark_sessions:
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise EngineError(
                "The spark engine needs PySpark: pip install 'civicloop[spark]' (and Java 17+)."
            ) from None
        # Spark keeps managed tables in a folder: one of this process's own, removed at exit.
        warehouse_dir = tempfile.mkdtemp(prefix="civicloop-spark-")
        atexit.register(shutil.rmtree, warehouse_dir, ignore_errors=True)
        session = (
            SparkSession.builder.master(master)
            .config("spark.sql.warehouse.dir", warehouse_dir)
            .appName("civicloop")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            # Timestamps are wall-clock times without a zone: keep Spark and its JVM in UTC,
            # or a duration across a daylight-saving change gains or loses an hour.
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
            .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.ansi.enabled", "false")
            .config("spark.sql.parquet.inferTimestampNTZ.enabled", "true")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        _spark_sessions[master] = session
    return _spark_sessions[master]


def engine_name(url: str) -> str:
    """The engine a URL names (duckdb, postgres, pyspark), without connecting to it."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else url.lower()
    return {"": "duckdb", "postgresql": "postgres", "spark": "pyspark"}.get(scheme, scheme)


def connect_engine(url: str, duckdb_connection: Any = None) -> Engine:
    """The engine a URL names. An empty URL or `duckdb` means the warehouse's DuckDB."""
    name = engine_name(url)
    if name == "duckdb":
        if duckdb_connection is None:
            raise EngineError("The duckdb engine needs the warehouse's connection.")
        return duckdb_engine(duckdb_connection)
    if name == "postgres":
        try:
            backend = ibis.connect(url.replace("postgresql://", "postgres://", 1))
        except Exception as error:  # the driver's errors vary; the message is what matters
            raise EngineError(
                f"Cannot connect to the PostgreSQL engine at {_redacted(url)}: "
                f"{str(error).strip().splitlines()[0]}"
            ) from None
        return Engine("postgres", backend, url)
    if name == "pyspark":
        master = url.split("://", 1)[1] or "local[2]"
        if not master.startswith("local"):
            raise EngineError(
                f"spark://{master}: only Spark in local mode (spark://local[N]) is supported."
            )
        return Engine("pyspark", ibis.pyspark.connect(spark_session(master)), url)
    raise EngineError(
        f"{url!r} is not an engine this version knows: use duckdb (the default), "
        "postgres://user@host:port/database or spark://local[2]."
    )


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
