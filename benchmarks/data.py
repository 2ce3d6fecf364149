"""Benchmark inputs: service-request CSVs of an exact row count, and their Table Schema.

The rows come from the demo generator (`civicloop.demo.citydata`), run at a scale a little above
the one needed and trimmed to the exact count. Request ids are sequential, so trimming keeps the
primary key unique and every row valid. Files are cached: a rerun reuses them.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path
from typing import Any

SEED = 2026
AS_OF = date(2025, 6, 30)  # fixed, so every machine benchmarks the same rows
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"  # ISO 8601, what Table Schema's datetime expects
SCHEMA_NAME = "service_requests.schema.json"


def schema_descriptor() -> dict[str, Any]:
    """The Table Schema of the service-request file (civicloop's rule extension included)."""
    from civicloop.demo.citydata import CHANNELS, DISTRICTS, REQUEST_TYPES

    return {
        "fields": [
            {"name": "request_id", "type": "string", "constraints": {"required": True}},
            {
                "name": "request_type",
                "type": "string",
                "constraints": {"enum": list(REQUEST_TYPES)},
            },
            {"name": "district", "type": "string", "constraints": {"enum": list(DISTRICTS)}},
            {"name": "opened_at", "type": "datetime", "constraints": {"required": True}},
            {"name": "closed_at", "type": "datetime"},
            {"name": "channel", "type": "string", "constraints": {"enum": list(CHANNELS)}},
            {"name": "status", "type": "string", "constraints": {"enum": ["open", "closed"]}},
        ],
        "missingValues": [""],
        "primaryKey": ["request_id"],
        "civicloop:rules": ["closed_at >= opened_at"],
    }


def write_schema(folder: Path) -> Path:
    path = folder / SCHEMA_NAME
    text = json.dumps(schema_descriptor(), indent=2) + "\n"
    if not path.exists() or path.read_text("utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def csv_path(folder: Path, rows: int) -> Path:
    return folder / f"service_requests_{rows}.csv"


def ensure_csv(folder: Path, rows: int, log: Any = print) -> Path:
    """The cached CSV of exactly `rows` rows, generated once."""
    folder.mkdir(parents=True, exist_ok=True)
    path = csv_path(folder, rows)
    done_marker = path.with_suffix(".csv.ok")
    if path.exists() and done_marker.exists():
        return path
    import duckdb

    started = time.perf_counter()
    log(f"Generating {rows:,} service requests (cached in {path}) ...")
    table = _requests(rows)
    partial = path.with_suffix(".csv.partial")
    with duckdb.connect() as con:
        con.execute("SET enable_progress_bar = false")
        con.register("requests", table)
        con.execute(
            f"COPY (SELECT * FROM requests) TO '{partial}' "
            f"(HEADER, DELIMITER ',', TIMESTAMPFORMAT '{TIMESTAMP_FORMAT}')"
        )
    del table
    partial.rename(path)
    done_marker.write_text(f"{rows}\n", encoding="utf-8")
    size = path.stat().st_size
    log(f"  wrote {size / 1e6:,.0f} MB in {time.perf_counter() - started:,.0f} s")
    return path


def _requests(rows: int) -> Any:
    """Exactly `rows` service requests: generate a little more than needed, keep the first."""
    from civicloop.demo.citydata import generate_city_data

    per_scale = generate_city_data(SEED, 1.0, AS_OF)["service_requests"].num_rows
    scale = rows / per_scale * 1.02
    while True:
        table = generate_city_data(SEED, scale, AS_OF)["service_requests"]
        if table.num_rows >= rows:
            return table.slice(0, rows)
        scale *= 1.05


def main() -> None:
    """`python -m benchmarks.data --out DIR ROWS...`: write the schema and the cached CSVs.

    The benchmark runs this as a child process, so that the parent stays small: a child's peak
    memory as the kernel reports it can include its parent's at the time it was started.
    """
    parser = argparse.ArgumentParser(prog="python -m benchmarks.data")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("rows", type=int, nargs="+")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    write_schema(args.out)
    for rows in args.rows:
        ensure_csv(args.out, rows)


if __name__ == "__main__":
    main()
