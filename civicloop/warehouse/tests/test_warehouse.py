"""The warehouse handle: one writer, atomic swaps, and a clear word when another process has it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from civicloop.warehouse import Warehouse, WarehouseError, quote_identifier


def test_replace_is_atomic_and_names_are_checked(tmp_path: Path) -> None:
    warehouse = Warehouse.open(tmp_path / "w.duckdb")
    try:
        assert warehouse.replace_table("t", pa.table({"a": [1, 2]})) == 2
        with pytest.raises(RuntimeError), warehouse.write() as cursor:
            cursor.execute("DELETE FROM t")
            raise RuntimeError("crash half-way")
        assert warehouse.row_count("t") == 2  # the half-done write was rolled back
        with pytest.raises(WarehouseError, match="not a valid table or column name"):
            quote_identifier('t"; DROP TABLE t; --')
    finally:
        warehouse.close()


def test_a_second_process_is_told_who_holds_the_warehouse(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('ready', flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseError) as caught:
            Warehouse(path)
        message = str(caught.value)
        assert f"in use by another civicloop process (PID {holder.pid})" in message
        assert "upload through the browser" in message
    finally:
        holder.kill()
        holder.wait()
