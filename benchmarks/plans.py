"""The engine's load beside the further changes proposed in docs/performance.md, on one file.

Each plan runs in a fresh process (peak memory is its own) against a fresh warehouse file, inside
one transaction as a load does, every one with the same DuckDB memory limit and temp folder (the
engine's default, CIVICLOOP_WAREHOUSE_MEMORY=600MB, unless --memory-limit says otherwise):

- `floor`: DuckDB's typed `read_csv` into a table, as in the ingest benchmark (its defaults, no
  memory limit), for a comparison under the same conditions.
- `engine`: the engine as it is, `civicloop.datasets.engine.load.run_load` (no Django): stage
  the file as text, check it, write the version table from the staging table.
- `engine-unlimited`: the same without a memory limit (DuckDB's default, 80% of the RAM).
- `streamed`: proposal B, no staging table for a clean file: one scan of `read_csv` counting
  every check, one counting duplicate keys, then the version table straight from `read_csv`.
- `typed`: proposal C, DuckDB's CSV reader does the casting (the floor's own path) and writes
  the version table in one pass, `store_rejects` catching values that do not parse; the other
  checks then run over the typed, columnar table.

B and C are sketches of the clean-file path only: a file with any problem would go down the
engine's present path for the row-by-row report (not timed here). Evidence, not an engine.

    python -m benchmarks.plans [--rows 10000000] [--memory-limit 600MB] [PLAN ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.data import SCHEMA_NAME, csv_path
from benchmarks.ingest import DEFAULT_OUT, DOC, ROOT, child_floor, measure

START, END = "<!-- plans:start -->", "<!-- plans:end -->"

PLANS = ("floor", "engine", "engine-unlimited", "streamed", "typed")


def used(params: dict[str, Any], sql: str) -> dict[str, Any]:
    return {k: v for k, v in params.items() if f"${k}" in sql}


def child(plan: str, file: Path, schema_file: Path, work: Path, memory_limit: str) -> None:
    if plan == "floor":
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        child_floor(file, work / "floor.duckdb")  # prints its own figures
        shutil.rmtree(work, ignore_errors=True)
        return
    from civicloop.datasets.engine import stage as staging
    from civicloop.datasets.engine.load import LoadRequest, run_load
    from civicloop.datasets.engine.schema import schema_from_descriptor
    from civicloop.datasets.engine.validate import build_checks, map_header, typed_select
    from civicloop.warehouse import Warehouse

    schema = schema_from_descriptor(json.loads(schema_file.read_text("utf-8")))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    warehouse = Warehouse.open(work / "warehouse.duckdb")
    connection = warehouse._connection  # the benchmark's own warehouse: settings only
    connection.execute("SET enable_progress_bar = false")
    if plan != "engine-unlimited":
        connection.execute("SET memory_limit = ?", [memory_limit])
        connection.execute("SET temp_directory = ?", [str(work / "spill")])
    steps: dict[str, float] = {}

    def timed(name: str, cursor: Any, sql: str, params: Any = None) -> list[Any]:
        started = time.perf_counter()
        rows = cursor.execute(sql, params or []).fetchall()
        steps[name] = steps.get(name, 0.0) + time.perf_counter() - started
        return list(rows)

    started = time.perf_counter()
    if plan in ("engine", "engine-unlimited"):
        request = LoadRequest(file, staging.SourceFormat.CSV, schema, "ds_1_v1", work)
        outcome = run_load(warehouse, request)
        assert outcome.rows_loaded > 0, outcome.report.summary()
    elif plan == "typed":
        with warehouse.write() as cursor:
            typed_plan(cursor, file, schema, timed)
            steps["commit"] = -time.perf_counter()
        steps["commit"] += time.perf_counter()
    else:
        with warehouse.write() as cursor:
            with file.open(encoding="utf-8-sig") as handle:
                _, header = staging.sniff_dialect(handle.read(65536).rsplit("\n", 1)[0], ",")
            staged = staging.StagedTable("_stage", header, 0)
            source = (
                "read_csv($file, columns = $cols, header = true, delim = ',', quote = '\"', "
                "escape = '\"', strict_mode = true, auto_detect = false, encoding = 'utf-8', "
                "null_padding = false)"
            )
            base = {"file": str(file), "cols": {f"c{i}": "VARCHAR" for i in range(len(header))}}
            mapping, problems = map_header(staged, schema)
            assert not problems, problems
            counts, params = [], dict(base)
            for i, check in enumerate(build_checks(schema, mapping)):
                if check.source != "{table}":
                    continue  # the primary key: below
                condition = re.sub(r"\$p(\d+)", rf"$k{i}_\1", check.condition)
                counts.append(f"count_if({condition})")
                params |= {f"k{i}_{k[1:]}": v for k, v in check.params.items()}
            sql = f"SELECT {', '.join(counts)} FROM {source}"
            bad = sum(timed("checks: one pass of counts", cursor, sql, used(params, sql))[0])
            key = " || '|' || ".join(
                f"coalesce({mapping.columns[n]}, '')" for n in schema.primary_key
            )
            sql = (
                f"SELECT count(*) FROM (SELECT {key} FROM {source} GROUP BY 1 HAVING count(*) > 1)"
            )
            bad += timed("check: duplicate keys (GROUP BY)", cursor, sql, base)[0][0]
            assert bad == 0, "the proposals are timed on a clean file only"
            select, typed_params = typed_select(schema, mapping)
            sql = f'CREATE TABLE "ds_1_v1" AS SELECT {select} FROM {source}'
            timed("write the version table", cursor, sql, used({**typed_params, **base}, sql))
            steps["commit"] = -time.perf_counter()
        steps["commit"] += time.perf_counter()
    seconds = time.perf_counter() - started
    rows = warehouse.row_count("ds_1_v1")
    first_last = warehouse.query(
        'SELECT first(request_id), last(request_id) FROM (SELECT request_id FROM "ds_1_v1")'
    )[0]
    warehouse.close()
    shutil.rmtree(work, ignore_errors=True)
    print(
        json.dumps(
            {
                "plan": plan,
                "rows": rows,
                "seconds": seconds,
                "steps": steps,
                "first_last": first_last,
                "peak_rss_mb_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def typed_plan(cursor: Any, file: Path, schema: Any, timed: Any) -> None:
    """Proposal C: DuckDB's CSV reader casts (the floor's path), then checks on typed columns.

    Columns whose schema type DuckDB's reader parses with the same meaning (text; dates and
    date-times in ISO form) are read typed, with `store_rejects` recording any value that does
    not parse; the version table is written in that one pass. The remaining checks (required,
    allowed values, the primary key, cross-field rules) then run over the typed, columnar
    table, which is cheap. Any reject or problem would send the load down the present staged
    path for the row-by-row report (not timed here: this is the clean-file path).
    """
    from civicloop.datasets.engine.schema import FieldType

    reader_types = {FieldType.STRING: "VARCHAR", FieldType.DATETIME: "TIMESTAMP"}
    reader_types[FieldType.DATE] = "DATE"
    columns = {}
    for f in schema.fields:
        if f.type not in reader_types or f.format is not None:
            raise NotImplementedError(f"{f.name}: the sketch handles text and ISO dates only")
        columns[f.name] = reader_types[f.type]
    timed(
        "write the version table (typed read_csv, store_rejects)",
        cursor,
        'CREATE TABLE "ds_1_v1" AS SELECT * FROM read_csv(?, header = true, columns = ?, '
        "auto_detect = false, delim = ',', quote = '\"', escape = '\"', strict_mode = true, "
        "store_rejects = true)",
        [str(file), columns],
    )
    bad = timed("rejects: count", cursor, "SELECT count(*) FROM reject_errors")[0][0]
    counts, params = [], []
    for f in schema.fields:
        column = f'"{f.column}"'
        if f.required:
            blank = f" OR trim({column}) = ''" if f.type == FieldType.STRING else ""
            counts.append(f"count_if({column} IS NULL{blank})")
        if f.enum is not None:
            counts.append(f"count_if({column} NOT IN ({', '.join('?' for _ in f.enum)}))")
            params += list(f.enum)
    ops = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "=": "<>", "!=": "="}
    for rule in schema.rules:
        left, right = schema.field(rule.left).column, schema.field(rule.right).column
        counts.append(f'count_if("{left}" {ops[rule.op.value]} "{right}")')
    sql = f'SELECT {", ".join(counts)} FROM "ds_1_v1"'
    bad += sum(timed("checks: one pass of counts over typed columns", cursor, sql, params)[0])
    keys = ", ".join(f'"{schema.field(n).column}"' for n in schema.primary_key)
    sql = f'SELECT count(*) FROM (SELECT {keys} FROM "ds_1_v1" GROUP BY ALL HAVING count(*) > 1)'
    bad += timed("check: duplicate keys (GROUP BY)", cursor, sql)[0][0]
    assert bad == 0, "the proposals are timed on a clean file only"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plans", description=__doc__)
    parser.add_argument("plans", nargs="*", help=f"any of {', '.join(PLANS)} (default: all)")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--memory-limit", default="600MB", help="for every plan but unlimited")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the fastest is shown")
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/performance.md")
    args = parser.parse_args(argv)
    unknown = set(args.plans) - set(PLANS)
    if unknown:
        parser.error(f"unknown plan {', '.join(sorted(unknown))}; choose from {', '.join(PLANS)}")
    out: Path = args.out.resolve()
    subprocess_args = [sys.executable, "-m", "benchmarks.data", "--out", str(out), str(args.rows)]
    *_, code = measure(subprocess_args, out / "plans-data.log")
    if code != 0:
        raise SystemExit(f"generating the file failed; see {out / 'plans-data.log'}")
    file, schema = csv_path(out, args.rows), out / SCHEMA_NAME
    repeat = f" --repeat {args.repeat}" if args.repeat > 1 else ""
    lines = [
        f"_`python -m benchmarks.plans --rows {args.rows}{repeat}`, "
        f"{time.strftime('%Y-%m-%d %H:%M')}: {file.name} ({file.stat().st_size / 1e6:,.0f} MB), "
        f"memory limit {args.memory_limit} for every plan but `engine-unlimited`. "
        + (
            f"Each plan ran {args.repeat} times, the rounds interleaved; the row shows the "
            "fastest wall time (with the slowest in brackets) and that run's other figures._"
            if args.repeat > 1
            else "_"
        ),
        "",
        "| plan | wall time | rows/s | CPU time | peak RSS | load avg at start | steps |",
        "|---|--:|--:|--:|--:|--:|---|",
    ]
    print("\n".join(lines), flush=True)
    plans = args.plans or list(PLANS)
    runs: dict[str, list[tuple[float, float, float, float, dict[str, Any]]]] = {}
    failed: dict[str, str] = {}
    for round_number in range(args.repeat):
        for plan in plans:
            if plan in failed:
                continue
            log = out / "work" / f"plan-{plan}-{args.rows}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            cmd = [sys.executable, "-m", "benchmarks.plans", "--child", plan, str(file)]
            cmd += [str(schema), str(out / "work" / f"plan-{plan}"), args.memory_limit]
            load = os.getloadavg()[0]
            wall, cpu, peak, code = measure(cmd, log)
            if code != 0:
                failed[plan] = f"| {plan} | failed (exit {code}); see {log} | | | | | |"
                continue
            result = json.loads(log.read_text("utf-8").strip().splitlines()[-1])
            assert result["rows"] == args.rows, result
            steps = result.get("steps", {})
            runs.setdefault(plan, []).append((wall, cpu, peak, load, steps))
            print(f"  round {round_number + 1}: {plan} {wall:,.1f} s, {peak:,.0f} MB", flush=True)
    for plan in plans:
        if plan in failed:
            lines.append(failed[plan])
            continue
        wall, cpu, peak, load, steps = min(runs[plan], key=lambda run: run[0])
        slowest = max(run[0] for run in runs[plan])
        spread = f" ({slowest:,.1f} s)" if len(runs[plan]) > 1 else ""
        words = "; ".join(f"{k} {v:,.1f} s" for k, v in steps.items())
        words = words or ("—" if plan == "floor" else "see the phase profile")
        lines.append(
            f"| {plan} | {wall:,.1f} s{spread} | {args.rows / wall:,.0f} | {cpu:,.1f} s "
            f"| {peak:,.0f} MB | {load:.1f} | {words} |"
        )
    print("\n".join(lines[-len(plans) :]))
    if not args.no_doc and DOC.exists():
        text = DOC.read_text("utf-8")
        if START in text and END in text:
            head, rest = text.split(START, 1)
            _, tail = rest.split(END, 1)
            DOC.write_text(head + START + "\n" + "\n".join(lines) + "\n" + END + tail, "utf-8")
            print(f"Wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        plan, file, schema, work, limit = sys.argv[2:7]
        child(plan, Path(file), Path(schema), Path(work), limit)
    else:
        main()
