"""Where civicloop's ingest spends its time: every SQL statement of a load, timed.

Runs the same code path as `civicloop ingest` (create the dataset, archive + hash, validate,
write the version) in this process, with the warehouse's write cursor wrapped so each
statement the engine executes is timed and labelled. The engine itself is not modified.

    python -m benchmarks.profile_ingest FILE SCHEMA DATA_DIR [--json OUT]

DATA_DIR must already hold an app database with the demo organizations (the benchmark runs
`civicloop demo --no-serve --scale 0.01` there first).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

OWNER = "customer-services"


class TimedCursor:
    """Forwards to a DuckDB cursor, timing `execute` (and the fetch that follows it)."""

    def __init__(self, cursor: Any, log: list[dict[str, Any]]) -> None:
        self._cursor = cursor
        self._log = log

    def execute(self, sql: str, *args: Any) -> TimedCursor:
        started = time.perf_counter()
        self._cursor.execute(sql, *args)
        self._log.append({"sql": sql, "seconds": time.perf_counter() - started})
        return self

    def _timed_fetch(self, name: str, *args: Any) -> Any:
        started = time.perf_counter()
        result = getattr(self._cursor, name)(*args)
        if self._log:
            self._log[-1]["seconds"] += time.perf_counter() - started
        return result

    def fetchall(self) -> Any:
        return self._timed_fetch("fetchall")

    def fetchone(self) -> Any:
        return self._timed_fetch("fetchone")

    def fetchmany(self, *args: Any) -> Any:
        return self._timed_fetch("fetchmany", *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def label(sql: str) -> str:
    """A short name for an engine statement, by what it does (works on the engine's SQL as it
    was when the benchmark was written and as it is now)."""
    s = " ".join(sql.split())
    if s in ("BEGIN TRANSACTION", "COMMIT", "ROLLBACK"):
        return s.split()[0].lower()
    if "read_csv(" in s and "TEMP TABLE" in s:
        return "stage: read_csv into a VARCHAR temp table"
    if s.startswith("SELECT count(*), coalesce(min(rowid)"):
        return "stage: count rows, min(rowid)"
    if "TEMP VIEW" in s:
        return "stage: numbering view"
    if "TEMP TABLE _civicloop_errors" in s:
        return "validate: create the errors table"
    if "_civicloop_typed AS" in s:
        return "typed: temp table of typed columns" + (" ORDER BY _row" if "ORDER BY" in s else "")
    if s.startswith('CREATE TABLE "ds_'):
        extras = [w for w in ("NOT IN", "ORDER BY") if w in s]
        return "write: CREATE TABLE version AS SELECT typed" + (
            f" ({', '.join(extras)})" if extras else ""
        )
    if s.startswith('SELECT count(*) FROM "ds_'):
        return "write: count the new version"
    if s.startswith("INSERT INTO _civicloop_errors"):
        return "check (problems found): record them: " + _check_name(s)
    if "count(DISTINCT row)" in s or "ORDER BY row, col LIMIT" in s:
        return "validate: report"
    if s.startswith("CREATE OR REPLACE VIEW"):
        return "view: point the dataset's view"
    if "FILTER (WHERE" in s or "count_if(" in s:
        return f"check: every simple check, counted in one scan ({s.count('FILTER (WHERE')})"
    if "- count(DISTINCT" in s:
        return "check: primary key unique (count - count DISTINCT)"
    if s.startswith("SELECT count(*) FROM (SELECT"):
        return "check: " + _check_name(s)
    return s[:70]


def _check_name(sql: str) -> str:
    """Which check a per-check statement is (the engine's older one-scan-per-check form)."""
    if "PARTITION BY" in sql:
        return "primary key unique (window PARTITION BY key)"
    if " vs " in sql:
        return "cross-field rule"
    column = re.search(r"SELECT _row AS _r, CAST\((c\d+) AS VARCHAR\)", sql)
    col = column.group(1) if column else "?"
    if "NOT IN (" in sql:
        kind = "enum"
    elif "TRY_CAST" in sql or "TRY_STRPTIME" in sql or "regexp_full_match" in sql:
        kind = "type"
    else:
        kind = "required"
    return f"{kind} {col}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("schema", type=Path)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--json", type=Path, default=None, help="Write the profile here.")
    args = parser.parse_args()
    profile = run(args.file.resolve(), args.schema.resolve(), args.data_dir.resolve())
    for step in profile["steps"]:
        print(f"{step['seconds']:9.2f} s  {step['label']}")
    print(f"{profile['total_seconds']:9.2f} s  total (in-process, without Python/Django start-up)")
    if args.json:
        args.json.write_text(json.dumps(profile, indent=2), encoding="utf-8")


def run(file: Path, schema_file: Path, data_dir: Path) -> dict[str, Any]:
    os.environ["CIVICLOOP_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicloop.settings")
    import django

    django.setup()
    from civicloop.datasets import services
    from civicloop.datasets.engine.schema import schema_from_descriptor
    from civicloop.organizations.models import Organization
    from civicloop.warehouse import Warehouse

    log: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    warehouse = Warehouse.default()
    original_write = Warehouse.write

    @contextmanager
    def timed_write(self: Warehouse) -> Iterator[Any]:
        holder: dict[str, float] = {}
        with original_write(self) as cursor:
            yield TimedCursor(cursor, log)
            holder["start"] = time.perf_counter()
        log.append({"sql": "COMMIT", "seconds": time.perf_counter() - holder["start"]})

    original_archive = services.archive_source

    def timed_archive(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = original_archive(*args, **kwargs)
        steps.append({"label": "archive: copy + SHA-256", "seconds": time.perf_counter() - started})
        return result

    Warehouse.write = timed_write  # type: ignore[method-assign,assignment]
    services.archive_source = timed_archive  # type: ignore[assignment]
    schema = schema_from_descriptor(json.loads(schema_file.read_text("utf-8")))
    slug = f"sr_profile_{int(time.time())}"
    started = time.perf_counter()
    dataset = services.create_dataset(
        slug=slug,
        name=slug,
        owner=Organization.objects.get(slug=OWNER),
        schema=schema,
        schema_confirmed=True,
    )
    run = services.queue_load(dataset, file, file.name, None)
    load_started = time.perf_counter()
    run = services.run_load_now(run, warehouse)
    total = time.perf_counter() - started
    if run.status != "succeeded":
        raise SystemExit(f"the load did not succeed: {run.summary}")
    in_sql = sum(entry["seconds"] for entry in log)
    for entry in log:
        steps.append({"label": label(entry["sql"]), "seconds": entry["seconds"]})
    steps.append(
        {
            "label": "other (Django records, sniffing, Python)",
            "seconds": max(0.0, time.perf_counter() - load_started - in_sql),
        }
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "file": str(file),
        "rows": run.rows_in_file,
        "total_seconds": total,
        "peak_rss_mb": peak_mb,
        "steps": [s for s in steps if s["seconds"] >= 0.005],
        "statements": log,
    }


if __name__ == "__main__":
    main()
