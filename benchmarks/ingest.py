"""Ingest benchmark: civicloop's full ingest beside DuckDB's floor and frictionless-py.

For each file size (1M and 10M service requests by default), three candidates run one after the
other, each in a fresh process so that peak memory is its own:

- civicloop: `civicloop ingest FILE --dataset sr --owner ... --schema ... --data-dir D`, the
  command a user runs (archive + SHA-256, validate, load as a new version). The data folder is
  prepared beforehand with `civicloop demo --no-serve --scale 0.01` (not timed).
- floor: DuckDB's `CREATE TABLE t AS SELECT * FROM read_csv(..., columns = {typed})` into a
  fresh database file: what a competent analyst would write, as fast as DuckDB goes.
- peer: `frictionless.validate(resource)` with the same Table Schema, the cross-field rule
  expressed as its `row_constraint` check. It is stopped after `--peer-cap` seconds; its
  rows per second are then measured over the rows it got through. It runs a second time
  without the rule (`--peer-bare-cap`), which costs it more than half its speed.

Then civicloop's ingest is run once more in-process with every SQL statement timed (see
`profile_ingest.py`), to show where the time goes. Results are printed, saved as JSON in the
output folder, and written into docs/performance.md between its generated-results markers.

    python -m benchmarks                      # everything, about 15 minutes
    python -m benchmarks.ingest --help        # options (sizes, caps, output folder)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.data import SCHEMA_NAME, csv_path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "out"
DOC = ROOT / "docs" / "performance.md"
SIZES = (1_000_000, 10_000_000)
OWNER = "customer-services"  # an organization of the demo city
PEER_RULE = "closed_at == None or closed_at >= opened_at"  # frictionless row_constraint
START, END = "<!-- results:start -->", "<!-- results:end -->"
FLOOR_COLUMNS = {
    "request_id": "VARCHAR",
    "request_type": "VARCHAR",
    "district": "VARCHAR",
    "opened_at": "TIMESTAMP",
    "closed_at": "TIMESTAMP",
    "channel": "VARCHAR",
    "status": "VARCHAR",
}
GOAL_FLOOR_RATIO = 2.0
GOAL_PEER_SPEEDUP = 10.0
GOAL_PEAK_MB = 1024


@dataclass
class Result:
    candidate: str
    rows: int  # rows in the file
    file_mb: float
    wall_s: float  # process start to exit, as measured by the parent
    cpu_s: float  # user + system CPU of the process
    peak_rss_mb: float
    rows_done: int  # rows the candidate got through (less than `rows` if it was stopped)
    rate_s: float  # the seconds `rows_done` is divided by for rows per second
    complete: bool
    ok: bool
    load_before: float  # 1-minute load average when it started: other work on the machine
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float:
        return self.rows_done / self.rate_s if self.rate_s else 0.0


# --- measuring a child process --------------------------------------------------------------


def measure(
    cmd: list[str], log: Path, timeout: float | None = None
) -> tuple[float, float, float, int]:
    """Run `cmd`; return wall seconds, CPU seconds, peak RSS (MB) and exit status.

    `os.wait4` gives this child's own resource usage, so peak memory is per candidate. Linux
    counts the memory a child had when it was forked, i.e. this process's, so this process
    imports nothing heavy (no DuckDB, pyarrow or Django) to keep that floor near 20 MB.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "100"}
    with log.open("w", encoding="utf-8") as out:
        started = time.perf_counter()
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        timer = threading.Timer(timeout, process.kill) if timeout else None
        if timer:
            timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            if timer:
                timer.cancel()
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024, process.returncode


def last_json(log: Path) -> dict[str, Any]:
    for line in reversed(log.read_text("utf-8", errors="replace").splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    return {}


def civicloop_command() -> list[str]:
    script = Path(sys.executable).with_name("civicloop")
    return [str(script)] if script.exists() else [sys.executable, "-m", "civicloop.cli"]


def prepare_data_dir(work: Path, name: str) -> Path:
    """A fresh civicloop data folder with the demo organizations (untimed)."""
    data_dir = work / name
    shutil.rmtree(data_dir, ignore_errors=True)
    cmd = [
        *civicloop_command(),
        "demo",
        "--no-serve",
        "--scale",
        "0.01",
        "--data-dir",
        str(data_dir),
    ]
    log = work / f"{name}-demo.log"
    *_, code = measure(cmd, log)
    if code != 0:
        raise SystemExit(f"`{' '.join(cmd)}` failed; see {log}")
    return data_dir


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


# --- the candidates -------------------------------------------------------------------------


def run_civicloop(file: Path, schema: Path, rows: int, work: Path) -> Result:
    data_dir = prepare_data_dir(work, f"civicloop-{rows}")
    log = work / f"civicloop-{rows}.log"
    cmd = [
        *civicloop_command(),
        "ingest",
        str(file),
        "--dataset",
        "sr",
        "--owner",
        OWNER,
        "--schema",
        str(schema),
        "--data-dir",
        str(data_dir),
    ]
    load = os.getloadavg()[0]
    wall, cpu, peak, code = measure(cmd, log)
    text = log.read_text("utf-8", errors="replace")
    ok = code == 0 and f"Loaded {rows:,} rows" in text
    extra = {
        "warehouse_mb": round((data_dir / "warehouse.duckdb").stat().st_size / 1e6, 1),
        "archive_mb": round(folder_mb(data_dir / "archive"), 1),
    }
    shutil.rmtree(data_dir, ignore_errors=True)
    note = "" if ok else f"FAILED (exit {code}); see {log}"
    return Result(
        candidate="civicloop ingest",
        rows=rows,
        file_mb=mb(file),
        wall_s=wall,
        cpu_s=cpu,
        peak_rss_mb=peak,
        rows_done=rows if ok else 0,
        rate_s=wall,
        complete=ok,
        ok=ok,
        load_before=load,
        note=note,
        extra=extra,
    )


def run_floor(file: Path, rows: int, work: Path) -> Result:
    database = work / f"floor-{rows}.duckdb"
    database.unlink(missing_ok=True)
    log = work / f"floor-{rows}.log"
    cmd = [sys.executable, "-m", "benchmarks.ingest", "floor", str(file), str(database)]
    load = os.getloadavg()[0]
    wall, cpu, peak, code = measure(cmd, log)
    child = last_json(log)
    ok = code == 0 and child.get("rows") == rows
    extra = {"in_process_s": child.get("seconds"), "database_mb": round(mb(database), 1)}
    database.unlink(missing_ok=True)
    note = "" if ok else f"FAILED (exit {code}); see {log}"
    return Result(
        candidate="DuckDB read_csv (floor)",
        rows=rows,
        file_mb=mb(file),
        wall_s=wall,
        cpu_s=cpu,
        peak_rss_mb=peak,
        rows_done=rows if ok else 0,
        rate_s=wall,
        complete=ok,
        ok=ok,
        load_before=load,
        note=note,
        extra=extra,
    )


def run_peer(file: Path, schema: Path, rows: int, work: Path, cap: float, rule: bool) -> Result:
    suffix = "" if rule else "-norule"
    log = work / f"frictionless-{rows}{suffix}.log"
    cmd = [sys.executable, "-m", "benchmarks.ingest", "peer", str(file), str(schema)]
    cmd += ["--cap", str(cap)] + ([] if rule else ["--no-rule"])
    load = os.getloadavg()[0]
    wall, cpu, peak, code = measure(cmd, log, timeout=cap + 300)
    child = last_json(log)
    done = int(child.get("rows_done", 0))
    complete = bool(child.get("complete")) and done == rows
    ok = code == 0 and bool(child) and (not complete or bool(child.get("valid")))
    if not ok:
        note = f"FAILED (exit {code}); see {log}"
    elif complete:
        note = "whole file"
    else:
        note = f"stopped after {cap:.0f} s at row {done:,} of {rows:,}; rate over those rows"
    name = "frictionless validate" + ("" if rule else " (no row rule)")
    rate_s = wall if complete else float(child.get("seconds", wall))
    extra = {"version": child.get("version"), "errors": child.get("errors")}
    return Result(
        candidate=name,
        rows=rows,
        file_mb=mb(file),
        wall_s=wall,
        cpu_s=cpu,
        peak_rss_mb=peak,
        rows_done=done,
        rate_s=rate_s,
        complete=complete,
        ok=ok,
        load_before=load,
        note=note,
        extra=extra,
    )


def run_profile(file: Path, schema: Path, rows: int, work: Path) -> dict[str, Any]:
    data_dir = prepare_data_dir(work, f"profile-{rows}")
    out = work / f"profile-{rows}.json"
    log = work / f"profile-{rows}.log"
    cmd = [sys.executable, "-m", "benchmarks.profile_ingest", str(file), str(schema)]
    cmd += [str(data_dir), "--json", str(out)]
    wall, _, peak, code = measure(cmd, log)
    shutil.rmtree(data_dir, ignore_errors=True)
    if code != 0:
        return {"rows": rows, "error": f"profile failed (exit {code}); see {log}"}
    profile = dict(json.loads(out.read_text("utf-8")))
    profile.pop("statements", None)
    profile["wall_s"], profile["peak_rss_mb_process"] = wall, peak
    return profile


def mb(path: Path) -> float:
    return path.stat().st_size / 1e6 if path.exists() else 0.0


# --- children: the floor and the peer, each run as `python -m benchmarks.ingest ...` ----------


def child_floor(file: Path, database: Path) -> None:
    import duckdb

    started = time.perf_counter()
    with duckdb.connect(str(database)) as con:
        con.execute("SET enable_progress_bar = false")
        con.execute(
            "CREATE TABLE t AS SELECT * FROM read_csv(?, header = true, columns = ?)",
            [str(file), FLOOR_COLUMNS],
        )
        rows = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
    print(json.dumps({"rows": rows, "seconds": time.perf_counter() - started}))


class TimeUp(BaseException):
    """Raised by the alarm; a BaseException so the validator cannot turn it into a report."""


def child_peer(file: Path, schema_file: Path, cap: float, rule: bool) -> None:
    import attrs
    import frictionless
    from frictionless import Check, Checklist, Resource, Schema, checks, validate

    seen = [0]

    @attrs.define(kw_only=True, repr=False)
    class RowCounter(Check):
        """Counts rows as they are validated, so a run stopped early can say how far it got."""

        type = "benchmark-row-counter"

        def validate_row(self, row: Any) -> Any:
            seen[0] += 1
            yield from ()

    descriptor = json.loads(schema_file.read_text("utf-8"))
    descriptor.pop("civicloop:rules", None)  # expressed below as frictionless's row_constraint
    resource = Resource(
        path=file.name, basepath=str(file.parent), schema=Schema.from_descriptor(descriptor)
    )
    peer_checks: list[Check] = [RowCounter()]
    if rule:
        peer_checks.insert(0, checks.row_constraint(formula=PEER_RULE))

    def alarm(signum: int, frame: Any) -> None:
        raise TimeUp

    signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, cap)
    started = time.perf_counter()
    report = None
    try:
        report = validate(resource, checklist=Checklist(checks=peer_checks))
    except TimeUp:
        pass
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    seconds = time.perf_counter() - started
    summary: dict[str, Any] = {
        "version": frictionless.__version__,
        "rows_done": seen[0],
        "seconds": seconds,
        "complete": report is not None,
    }
    if report is not None:
        summary["valid"] = report.valid
        summary["errors"] = report.stats["errors"]
        summary["first_errors"] = report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]
    print(json.dumps(summary))


# --- reporting ------------------------------------------------------------------------------


def fmt_rows(n: float) -> str:
    return f"{n:,.0f}"


def table(results: list[Result]) -> list[str]:
    lines = [
        "| file | candidate | wall time | rows/s | CPU time | peak RSS | notes |",
        "|---|---|--:|--:|--:|--:|---|",
    ]
    for r in results:
        wall = f"{r.wall_s:,.1f} s" if r.complete else f"({r.wall_s:,.0f} s, stopped)"
        rate = fmt_rows(r.rows_per_s) if r.ok else "—"
        note = r.note
        if r.load_before >= 1.5:
            note = (note + "; " if note else "") + f"load avg {r.load_before:.1f} at start"
        lines.append(
            f"| {r.rows / 1e6:g}M rows ({r.file_mb:,.0f} MB) | {r.candidate} | {wall} | {rate} "
            f"| {r.cpu_s:,.1f} s | {r.peak_rss_mb:,.0f} MB | {note} |"
        )
    return lines


def pick(results: list[Result], rows: int, prefix: str, exact: str | None = None) -> Result | None:
    for r in results:
        if r.rows == rows and (r.candidate == exact if exact else r.candidate.startswith(prefix)):
            return r
    return None


def ratios(results: list[Result], sizes: list[int]) -> list[str]:
    lines = [
        "| file | civicloop time ÷ floor time | civicloop rows/s ÷ frictionless rows/s "
        "| ÷ frictionless without the row rule |",
        "|---|--:|--:|--:|",
    ]
    for rows in sizes:
        civ = pick(results, rows, "civicloop")
        floor = pick(results, rows, "DuckDB")
        peer = pick(results, rows, "", "frictionless validate")
        bare = pick(results, rows, "", "frictionless validate (no row rule)")

        def speedup(other: Result | None, civ: Result | None = civ) -> str:
            if not (civ and civ.ok and other and other.ok and other.rows_per_s):
                return "—"
            return f"{civ.rows_per_s / other.rows_per_s:,.0f}x faster"

        slower = (
            f"{civ.wall_s / floor.wall_s:.2f}x" if civ and floor and civ.ok and floor.ok else "—"
        )
        lines.append(f"| {rows / 1e6:g}M rows | {slower} | {speedup(peer)} | {speedup(bare)} |")
    return lines


def goals(results: list[Result], sizes: list[int]) -> list[str]:
    biggest = max(sizes)
    civ = pick(results, biggest, "civicloop")
    floor = pick(results, biggest, "DuckDB")
    peers = [pick(results, rows, "", "frictionless validate") for rows in sizes]
    lines = ["| goal | figure | met? |", "|---|---|---|"]
    label = f"{biggest / 1e6:g}M rows"
    if civ and floor and civ.ok and floor.ok:
        ratio = civ.wall_s / floor.wall_s
        lines.append(
            f"| within {GOAL_FLOOR_RATIO:g}x of DuckDB's floor ({label}) | {civ.wall_s:,.1f} s vs "
            f"{floor.wall_s:,.1f} s = {ratio:.2f}x | {met(ratio <= GOAL_FLOOR_RATIO)} |"
        )
    speedups = [
        (p.rows, civ_p.rows_per_s / p.rows_per_s)
        for p in peers
        if p and p.ok and p.rows_per_s
        for civ_p in [pick(results, p.rows, "civicloop")]
        if civ_p and civ_p.ok
    ]
    if speedups:
        worst = min(s for _, s in speedups)
        figures = ", ".join(f"{s:,.0f}x at {n / 1e6:g}M" for n, s in speedups)
        lines.append(
            f"| ≥ {GOAL_PEER_SPEEDUP:g}x faster than frictionless-py | {figures} "
            f"| {met(worst >= GOAL_PEER_SPEEDUP)} |"
        )
    if civ and civ.ok:
        lines.append(
            f"| peak memory < 1 GB ({label}) | {civ.peak_rss_mb:,.0f} MB "
            f"| {met(civ.peak_rss_mb < GOAL_PEAK_MB)} |"
        )
    for big in results:
        if big.rows > biggest and big.candidate.startswith("civicloop") and big.ok:
            lines.append(
                f"| bounded memory: a {big.file_mb / 1000:,.1f} GB file "
                f"({big.rows / 1e6:g}M rows) loads in < 1 GB | {big.peak_rss_mb:,.0f} MB "
                f"| {met(big.peak_rss_mb < GOAL_PEAK_MB)} |"
            )
    return lines


def met(flag: bool) -> str:
    return "**met**" if flag else "**not met**"


PHASES = (
    ("archive", "archive: copy the file + SHA-256"),
    ("stage", "reading/staging: read_csv into a VARCHAR temp table"),
    ("check", "validation checks (each below)"),
    ("typed", "typed copy: temp table of typed columns"),
    ("write", "writing the version table"),
    ("commit", "commit"),
    ("other", "other: Django records, sniffing, view, Python"),
)


def phase_table(profiles: list[dict[str, Any]]) -> list[str]:
    good = [p for p in profiles if "steps" in p]
    if not good:
        return ["(no profile)"]
    heads = " | ".join(f"{p['rows'] / 1e6:g}M rows" for p in good)
    lines = [f"| phase | {heads} |", "|---|" + "--:|" * len(good)]
    rows: list[tuple[str, list[float]]] = []
    for key, words in PHASES:
        rows.append((words, [_phase_sum(p, key) for p in good]))
        if key == "check":
            names = [s["label"] for s in good[-1]["steps"] if s["label"].startswith("check")]
            for name in dict.fromkeys(names):
                rows.append(
                    (f"&nbsp;&nbsp;{name.removeprefix('check: ')}", [_step(p, name) for p in good])
                )
    for words, values in rows:
        if not any(values):
            continue  # a phase this version of the engine does not have
        cells = " | ".join(
            f"{v:,.2f} s ({v / p['total_seconds']:.0%})" for v, p in zip(values, good, strict=True)
        )
        lines.append(f"| {words} | {cells} |")
    totals = " | ".join(f"**{p['total_seconds']:,.1f} s**" for p in good)
    lines.append(f"| **total in-process** (without Python/Django start-up) | {totals} |")
    peaks = " | ".join(f"{p['peak_rss_mb']:,.0f} MB" for p in good)
    lines.append(f"| peak RSS of the profiled process | {peaks} |")
    return lines


def _phase_of(label: str) -> str:
    first = label.split(" ")[0].rstrip(":")
    return first if first in {key for key, _ in PHASES} else "other"


def _phase_sum(profile: dict[str, Any], key: str) -> float:
    return sum(s["seconds"] for s in profile["steps"] if _phase_of(s["label"]) == key)


def _step(profile: dict[str, Any], label: str) -> float:
    return sum(s["seconds"] for s in profile["steps"] if s["label"] == label)


def engine_fingerprint() -> str:
    """A hash of the code a load runs, to tell if it changed while the benchmark ran."""
    import hashlib

    digest = hashlib.sha256()
    package = ROOT / "civicloop"
    paths = sorted((package / "datasets" / "engine").glob("*.py"))
    paths += [package / "datasets" / "services.py", package / "warehouse" / "__init__.py"]
    for path in paths:
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def machine() -> dict[str, Any]:
    """Where the figures come from. Versions are read without importing (keeps this small)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        peer_version = version("frictionless")
    except PackageNotFoundError:
        peer_version = "not installed"
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "duckdb": version("duckdb"),
        "frictionless": peer_version,
        "os": platform.platform(),
    }


def render(
    results: list[Result],
    profiles: list[dict[str, Any]],
    sizes: list[int],
    info: dict[str, Any],
    command: str,
    started: datetime,
    seconds: float,
) -> str:
    lines = [
        START,
        f"_Generated by `{command}` on {started:%Y-%m-%d %H:%M} "
        f"(whole run {seconds / 60:,.1f} min)._",
        "",
        f"**Machine:** {info['nproc']} CPUs ({info['cpu']}), {info['ram_gb']:g} GB RAM, "
        f"Python {info['python']}, DuckDB {info['duckdb']}, frictionless {info['frictionless']}, "
        f"{info['os']}. Engine code fingerprint {info['engine']} (SHA-256 of "
        "civicloop/datasets/engine/*.py, services.py and warehouse/__init__.py).",
        "",
        "### Timings",
        "",
        *table(results),
        "",
        "Wall time is from process start to exit (civicloop's includes starting Python and "
        "Django, about 2 s), and gives rows/s; for a frictionless run stopped at its cap, rows/s "
        "is the rows it validated over the time it validated. Peak RSS is each process's own "
        "maximum resident set size (`wait4`; it includes about 15 MB of the benchmark process "
        "it was forked from).",
        "",
        "### Ratios",
        "",
        *ratios(results, sizes),
        "",
        "### Goals (issue 3)",
        "",
        *goals(results, sizes),
        "",
        "### Where civicloop's ingest spends its time",
        "",
        "Every SQL statement of the same load, timed in-process by "
        "`python -m benchmarks.profile_ingest` (a separate run from the table above).",
        "",
        *phase_table(profiles),
        END,
    ]
    return "\n".join(lines) + "\n"


def write_doc(block: str) -> None:
    if DOC.exists():
        text = DOC.read_text("utf-8")
        if START in text and END in text:
            head, rest = text.split(START, 1)
            _, tail = rest.split(END, 1)
            DOC.write_text(head + block.rstrip("\n") + tail, encoding="utf-8")
            return
    DOC.write_text("# Performance\n\n" + block, encoding="utf-8")


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="cache and work folder")
    parser.add_argument(
        "--sizes",
        default=",".join(str(s) for s in SIZES),
        help="comma-separated row counts (default: %(default)s)",
    )
    parser.add_argument(
        "--peer-cap",
        type=float,
        default=300,
        help="stop frictionless after this many seconds per file (default: %(default)s)",
    )
    parser.add_argument(
        "--peer-bare-cap",
        type=float,
        default=120,
        help="cap for frictionless without the row rule (default: %(default)s); 0 skips it",
    )
    parser.add_argument(
        "--big",
        type=int,
        default=0,
        metavar="ROWS",
        help="also ingest a file of ROWS rows with civicloop only, for memory on a bigger file "
        "(22000000 is about 2 GB); default: skip",
    )
    parser.add_argument("--skip-peer", action="store_true", help="do not run frictionless")
    parser.add_argument("--skip-profile", action="store_true", help="do not profile the phases")
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/performance.md")
    parser.add_argument(
        "--from-json",
        type=Path,
        default=None,
        metavar="RESULTS",
        help="run nothing: render a saved results-*.json again (table layout changes)",
    )
    args = parser.parse_args(argv)
    if args.from_json:
        rerender(args.from_json, args.no_doc)
        return
    if not args.skip_peer and machine()["frictionless"] == "not installed":
        raise SystemExit(
            "frictionless is not installed: `pip install frictionless`, or --skip-peer"
        )
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(","))
    every_size = sizes + ([args.big] if args.big else [])
    out: Path = args.out.resolve()
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    started_at, started = datetime.now(), time.perf_counter()
    info = machine()
    info["engine"] = engine_fingerprint()
    print(f"Machine: {info}")
    # Generated in a child process: this one must stay small (see measure()).
    code = subprocess.call(
        [sys.executable, "-m", "benchmarks.data", "--out", str(out), *map(str, every_size)],
        cwd=ROOT,
    )
    if code != 0:
        raise SystemExit("generating the benchmark files failed")
    schema = out / SCHEMA_NAME
    files = {rows: csv_path(out, rows) for rows in every_size}
    results: list[Result] = []
    profiles: list[dict[str, Any]] = []
    for rows in sizes:
        file = files[rows]
        print(f"\n== {rows:,} rows: {file.name} ({mb(file):,.0f} MB)")
        candidates = [
            ("civicloop", lambda file=file, rows=rows: run_civicloop(file, schema, rows, work)),
            ("floor", lambda file=file, rows=rows: run_floor(file, rows, work)),
        ]
        if not args.skip_peer:
            candidates.append(
                (
                    "frictionless",
                    lambda file=file, rows=rows: run_peer(
                        file, schema, rows, work, args.peer_cap, True
                    ),
                )
            )
            if args.peer_bare_cap:
                candidates.append(
                    (
                        "frictionless (no row rule)",
                        lambda file=file, rows=rows: run_peer(
                            file, schema, rows, work, args.peer_bare_cap, False
                        ),
                    )
                )
        for name, run in candidates:
            print(f"  {name} ...", end="", flush=True)
            result = run()
            results.append(result)
            print(
                f" {result.wall_s:,.1f} s, {result.rows_per_s:,.0f} rows/s, "
                f"{result.peak_rss_mb:,.0f} MB {result.note}"
            )
        if not args.skip_profile:
            print("  profiling civicloop's phases ...", flush=True)
            profiles.append(run_profile(file, schema, rows, work))
    if args.big:
        file = files[args.big]
        print(f"\n== bigger file, civicloop only: {args.big:,} rows ({mb(file):,.0f} MB)")
        result = run_civicloop(file, schema, args.big, work)
        results.append(result)
        print(f"  {result.wall_s:,.1f} s, {result.peak_rss_mb:,.0f} MB {result.note}")
    seconds = time.perf_counter() - started
    if engine_fingerprint() != info["engine"]:
        info["engine"] += " (CHANGED during the run: the figures mix two versions of the engine)"
        print(f"WARNING: the engine's code changed during the run: {info['engine']}")
    command = "python -m benchmarks" + (f" {' '.join(argv)}" if argv else "")
    block = render(results, profiles, sizes, info, command, started_at, seconds)
    print()
    print(block.replace(START, "").replace(END, ""))
    stamp = started_at.strftime("%Y%m%d-%H%M%S")
    (out / f"results-{stamp}.json").write_text(
        json.dumps(
            {
                "machine": info,
                "command": command,
                "sizes": sizes,
                "started": started_at.isoformat(),
                "seconds": seconds,
                "schema": json.loads(schema.read_text("utf-8")),
                "results": [asdict(r) | {"rows_per_s": r.rows_per_s} for r in results],
                "profiles": profiles,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    if not args.no_doc:
        write_doc(block)
        print(f"Wrote {DOC.relative_to(ROOT)}")


def rerender(path: Path, no_doc: bool) -> None:
    saved = json.loads(path.read_text("utf-8"))
    fields = set(Result.__dataclass_fields__)
    results = [Result(**{k: v for k, v in r.items() if k in fields}) for r in saved["results"]]
    sizes = saved.get("sizes") or sorted({r.rows for r in results})
    block = render(
        results,
        saved["profiles"],
        sizes,
        saved["machine"],
        saved.get("command", "python -m benchmarks"),
        datetime.fromisoformat(saved["started"]),
        saved["seconds"],
    )
    print(block.replace(START, "").replace(END, ""))
    if not no_doc:
        write_doc(block)
        print(f"Wrote {DOC.relative_to(ROOT)}")


def child_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ingest")
    sub = parser.add_subparsers(dest="role", required=True)
    floor = sub.add_parser("floor")
    floor.add_argument("file", type=Path)
    floor.add_argument("database", type=Path)
    peer = sub.add_parser("peer")
    peer.add_argument("file", type=Path)
    peer.add_argument("schema", type=Path)
    peer.add_argument("--cap", type=float, default=600)
    peer.add_argument("--no-rule", action="store_true")
    args = parser.parse_args(argv)
    if args.role == "floor":
        child_floor(args.file, args.database)
    else:
        child_peer(args.file, args.schema, args.cap, not args.no_rule)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("floor", "peer"):
        child_main(sys.argv[1:])
    else:
        main(sys.argv[1:])
