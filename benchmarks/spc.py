"""SPC engine benchmark: the vectorised engine beside a plain per-series Python reference.

The benchmark

1. generates synthetic weekly series (10,000 of 156 points by default, seeded): noise around a
   level, some with a shift, a trend, outliers or autocorrelation injected, some counts, some
   rounded to one decimal (ties, points on the mean), a few missing values; each series has one
   rebase at a random position (40 to 116 of 156 points), direction "increase" and a target;
2. times `civicloop.spc.analyse_many` on the whole batch, one call (best and median of
   `--repeat 5`), and separately reading every series' result back (`batch[i]`);
3. times the baseline, `civicloop.spc.reference.reference_analyse` (pure Python, written per
   series as an analyst would) in a Python loop over every series (best of
   `--reference-repeat 3`);
4. times, for honesty, the engine's single-series `analyse` called in a Python loop (NumPy per
   series, best of `--single-repeat 1`);
5. checks that the engine and the reference agree: every point's type, each series' variation
   and assurance, and the centre, process and near limits within 1e-9 relative; differences are
   printed as MISMATCH lines and the run exits non-zero;
6. prints a table and writes it into docs/performance.md, section "## SPC engine (issue 5)"
   (only that section is replaced; a run smaller than the default size or with `--no-doc`
   leaves the file alone).

Everything runs in this one process (NumPy is imported either way); wall times are
`time.perf_counter` around the calls, the inputs prepared beforehand and not timed.

    python -m benchmarks spc                  # 10,000 series x 156 points, about 20 s on 2 CPUs
    python -m benchmarks spc --series 200     # a quick check of the numbers, docs untouched
    python -m benchmarks.spc --help           # the same module, run directly
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from benchmarks.doc import replace_section
from benchmarks.ingest import DEFAULT_OUT, DOC, ROOT, machine

SECTION = "## SPC engine (issue 5)"
SERIES = 10_000
POINTS = 156
SEED = 2026
GOAL_SECONDS = 1.0
GOAL_SPEEDUP = 20.0
RELATIVE = 1e-9
LIMIT_FIELDS = ("mean", "lpl", "upl", "nlpl", "nupl")
SHOW_MISMATCHES = 20

# --- the series ------------------------------------------------------------------------------

#: What is injected into a series, and how often (fractions of the series).
KINDS = (
    ("noise", 0.35),
    ("shift", 0.20),
    ("trend", 0.15),
    ("outliers", 0.15),
    ("autocorrelated", 0.10),
    ("counts", 0.05),
)


def generate(series: int, points: int, seed: int) -> dict[str, Any]:
    """Synthetic weekly series: a 2-D array (NaN for missing), rebase positions and targets."""
    import numpy as np

    rng = np.random.default_rng(seed)
    names = [k for k, _ in KINDS]
    kinds = rng.choice(len(KINDS), size=series, p=[p for _, p in KINDS])
    values = np.empty((series, points), dtype=float)
    targets = np.empty(series, dtype=float)
    # One rebase per series, at 40..116 of 156 points (scaled for other lengths).
    low = max(1, round(points * 40 / POINTS))
    high = max(low, min(points - 1, round(points * 116 / POINTS)))
    rebase = rng.integers(low, high + 1, size=series)
    rounded = rng.random(series) < 0.4
    missing = 0
    t = np.arange(points, dtype=float)
    for i in range(series):
        kind = names[int(kinds[i])]
        level = rng.uniform(50, 500)
        sd = level * rng.uniform(0.02, 0.15)
        y = level + rng.normal(0, sd, points)
        if kind == "shift":
            at = int(rng.integers(10, points - 10)) if points > 20 else 0
            y[at:] += rng.choice([-1, 1]) * rng.uniform(1, 3) * sd
        elif kind == "trend":
            span = int(rng.integers(8, 41))
            start = int(rng.integers(0, max(1, points - span)))
            slope = rng.choice([-1, 1]) * rng.uniform(2, 5) * sd / span
            ramp = np.clip(t - start, 0, span) * slope
            y += ramp
        elif kind == "outliers":
            count = int(rng.integers(1, 5))
            where = rng.choice(points, size=min(count, points), replace=False)
            y[where] += rng.choice([-1, 1], size=len(where)) * rng.uniform(3.5, 7, len(where)) * sd
        elif kind == "autocorrelated":
            phi = rng.uniform(0.5, 0.8)
            e = rng.normal(0, sd, points)
            for k in range(1, points):
                e[k] += phi * e[k - 1]
            y = level + e
        elif kind == "counts":
            level = rng.uniform(3, 30)
            y = rng.poisson(level, points).astype(float)
        if rounded[i] and kind != "counts":
            y = np.round(y, 1)
        if rng.random() < 0.25:
            gaps = rng.choice(points, size=min(int(rng.integers(1, 7)), points), replace=False)
            y[gaps] = np.nan
            missing += len(gaps)
        values[i] = y
        targets[i] = level * rng.uniform(0.85, 1.25)
    return {
        "values": values,
        "rebase": rebase,
        "targets": targets,
        "kinds": dict(Counter(names[int(k)] for k in kinds)),
        "missing": missing,
    }


# --- the candidates --------------------------------------------------------------------------


def _timed(run: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    """Run `run` `repeat` times; return the wall times and the last run's result."""
    times: list[float] = []
    result: Any = None
    for _ in range(max(1, repeat)):
        result = None  # let the previous result go before the next run
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return times, result


def run_engine(data: dict[str, Any]) -> Any:
    from civicloop.spc import analyse_many

    return analyse_many(
        data["values"],
        chart="xmr",
        direction="increase",
        target=data["targets"],
        baseline=None,
        screen=True,
        rebase=[[int(r)] for r in data["rebase"]],
    )


def run_single(data: dict[str, Any]) -> list[Any]:
    from civicloop.spc import analyse

    values, targets, rebase = data["values"], data["targets"], data["rebase"]
    return [
        analyse(
            values[i],
            chart="xmr",
            direction="increase",
            target=float(targets[i]),
            baseline=None,
            screen=True,
            rebase=[int(rebase[i])],
        )
        for i in range(len(values))
    ]


def run_reference(rows: list[list[float]], targets: list[float], rebase: list[int]) -> list[Any]:
    from civicloop.spc.reference import reference_analyse

    return [
        reference_analyse(
            row,
            chart="xmr",
            direction="increase",
            target=target,
            baseline=None,
            screen=True,
            rebase=[at],
        )
        for row, target, at in zip(rows, targets, rebase, strict=True)
    ]


# --- the check -------------------------------------------------------------------------------


def _none(value: float | None) -> float | None:
    return None if value is None or value != value else value


def compare(engine: Sequence[Any], reference: Sequence[Any], name: str) -> dict[str, Any]:
    """Point-by-point comparison of engine results with the reference's."""
    shown = bad_series = bad_values = 0
    max_rel = 0.0
    if len(engine) != len(reference):
        print(f"MISMATCH {name}: {len(engine)} results, reference {len(reference)}")
        bad_series = abs(len(engine) - len(reference))
    for i, (got, want) in enumerate(zip(engine, reference, strict=False)):
        problems, rel = _differences(got, want)
        max_rel = max(max_rel, rel)
        if problems:
            bad_series += 1
            bad_values += len(problems)
        for what, point, a, b in problems:
            if shown < SHOW_MISMATCHES:
                where = f" point {point}" if point is not None else ""
                print(f"MISMATCH {name}: series {i}{where} {what}: {a!r}, reference {b!r}")
                shown += 1
    if bad_values > shown:
        print(f"MISMATCH {name}: ... and {bad_values - shown:,} more")
    return {
        "series": len(reference),
        "mismatched_series": bad_series,
        "mismatched_values": bad_values,
        "max_rel_diff": max_rel,
        "identical": bad_series == 0,
    }


Problem = tuple[str, int | None, Any, Any]  # what, point (or None), engine's, reference's


def _differences(got: Any, want: Any) -> tuple[list[Problem], float]:
    """What differs between one engine result and the reference's; the largest relative
    difference between limits that agree."""
    problems: list[Problem] = []
    max_rel = 0.0
    types = list(got.types)
    if len(types) != len(want.types):
        return [("length", None, len(types), len(want.types))], max_rel
    for k, (a, b) in enumerate(zip(types, want.types, strict=True)):
        if a != b:
            problems.append(("type", k, a, b))
    if got.variation != want.variation:
        problems.append(("variation", None, got.variation, want.variation))
    if got.assurance != want.assurance:
        problems.append(("assurance", None, got.assurance, want.assurance))
    for field in LIMIT_FIELDS:
        mine = getattr(got, field)
        mine = mine.tolist() if hasattr(mine, "tolist") else list(mine)
        for k, (a, b) in enumerate(zip(mine, getattr(want, field), strict=True)):
            a, b = _none(a), _none(b)
            if a is None or b is None:
                if a is not b:
                    problems.append((field, k, a, b))
            elif a != b:
                if math.isclose(a, b, rel_tol=RELATIVE, abs_tol=1e-12):
                    max_rel = max(max_rel, abs(a - b) / max(abs(a), abs(b)))
                else:
                    problems.append((field, k, a, b))
    return problems, max_rel


# --- the report ------------------------------------------------------------------------------


def _seconds(value: float) -> str:
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def _others(times: list[float]) -> str:
    rest = sorted(times)[1:]
    return f" ({', '.join(f'{t:.3f}' if t < 10 else f'{t:.1f}' for t in rest)})" if rest else ""


def render(results: dict[str, Any], info: dict[str, Any], command: str) -> str:
    n = results["series"]
    rows = results["candidates"]
    ref_best = rows["reference"]["best_s"]
    engine_best = rows["engine"]["best_s"]
    speedup = ref_best / engine_best if engine_best else math.inf
    label = {
        "engine": "engine: `analyse_many`, one call for the batch",
        "read": "engine: reading every result back (`batch[i]`, all series)",
        "single": "engine: `analyse` per series, in a Python loop",
        "reference": "reference: `reference_analyse` per series, in a Python loop (baseline)",
    }
    lines = [
        SECTION,
        "",
        f"_Generated by `{command}` on {info['date']} (whole run {info['minutes']:.1f} min). "
        f"Machine: {info['nproc']} CPUs ({info['cpu']}), {info['ram_gb']:g} GB RAM, shared with "
        f"other work (load average {info['load']:.1f} at start); Python {info['python']}, "
        f"NumPy {info['numpy']}._",
        "",
        "Issue 5's goals: analyse **10,000 weekly series of 156 points in under 1 s**, and **at "
        "least 20x faster** than the same rules written per series in plain Python. The batch: "
        f"{n:,} series x {results['points']} points (seed {results['seed']}), XmR chart, "
        "direction increase, a target each, one rebase per series at a random point between "
        "the 40th and the 116th, baseline all points, screening on. Series: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(results["kinds"].items()))
        + f"; {results['missing']:,} missing points; 40% rounded to one decimal.",
        "",
        "The baseline is `civicloop/spc/reference.py`, written independently of the engine "
        "with the same rules and constants, as an analyst would write them for one series "
        "(lists, loops, `math`). Wall time in this one process, inputs prepared beforehand "
        "(the reference gets each series as a Python list); best run, the other runs in "
        "brackets.",
        "",
        "| candidate | total (best) | median | per series | vs reference | runs |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for key in ("engine", "read", "single", "reference"):
        row = rows.get(key)
        if row is None:
            continue
        best = row["best_s"]
        ratio = f"{ref_best / best:,.1f}x" if best and key != "read" else "—"
        lines.append(
            f"| {label[key]} | {_seconds(best)}{_others(row['times'])} | "
            f"{_seconds(statistics.median(row['times']))} | {best / n * 1e6:,.1f} µs | "
            f"{ratio} | {len(row['times'])} |"
        )
    lines.append("")
    checks = results["checks"]
    for key, what in (("engine", "`analyse_many`"), ("single", "`analyse` per series")):
        check = checks.get(key)
        if check is None:
            continue
        verdict = (
            f"identical (max rel. diff of the limits {check['max_rel_diff']:.1e})"
            if check["identical"]
            else f"**{check['mismatched_series']:,} series differ** "
            f"({check['mismatched_values']:,} values)"
        )
        lines.append(
            f"- {what} against the reference: {check['series']:,} series, every point's type, "
            f"variation, assurance, mean and limits: {verdict}."
        )
    stats = results["outcome"]
    lines.append(
        f"- The reference's verdicts: {stats['special_points']:,} special-cause points of "
        f"{stats['points']:,}; variation "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(stats["variation"].items()))
        + "; assurance "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(stats["assurance"].items()))
        + "."
    )
    lines += ["", "### Goals (issue 5)", ""]
    fast = engine_best < GOAL_SECONDS
    lines.append(
        f"- Under {GOAL_SECONDS:g} s for the batch: {engine_best:.3f} s, "
        + ("**met**." if fast else "**missed**.")
        + (
            ""
            if n == SERIES and results["points"] == POINTS
            else f" (This run was {n:,} x {results['points']}, not the goal's size.)"
        )
    )
    lines.append(
        f"- At least {GOAL_SPEEDUP:g}x faster than the reference: {speedup:,.1f}x, "
        + ("**met**." if speedup >= GOAL_SPEEDUP else "**missed**.")
    )
    if "single" in rows:
        single = rows["single"]["best_s"]
        slower = single > ref_best
        lines.append(
            f"- Per-series NumPy (`analyse` in a loop) takes {single / n * 1e6:,.0f} µs a "
            f"series, {single / ref_best:.2f}x the plain-Python reference's time"
            + (
                ": on a few hundred points NumPy's cost per call outweighs its speed; the "
                "gain comes from analysing the whole batch in one pass."
                if slower
                else f", {single / engine_best:,.0f}x the batch call's."
            )
        )
    lines.append(
        f"- {info['nproc']} cores on the machine. `analyse_many` splits a batch of 200,000 points "
        "or more into chunks of series of about 100,000 points and runs them in threads on "
        "every core (NumPy lets go of the interpreter lock inside its loops); the reference and "
        "the per-series loop run on one core, as a per-series script would."
    )
    return "\n".join(lines) + "\n"


def write_doc(block: str) -> None:
    replace_section(SECTION, block, DOC)


def outcome(reference: Sequence[Any]) -> dict[str, Any]:
    points = special = 0
    variation: Counter[str] = Counter()
    assurance: Counter[str] = Counter()
    for r in reference:
        known = [t for t in r.types if t is not None]
        points += len(known)
        special += sum(t != "common_cause" for t in known)
        variation[str(r.variation)] += 1
        assurance[str(r.assurance)] += 1
    return {
        "points": points,
        "special_points": special,
        "variation": dict(variation),
        "assurance": dict(assurance),
    }


# --- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks spc",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--series", type=int, default=SERIES, help="series (%(default)s)")
    parser.add_argument("--points", type=int, default=POINTS, help="points a series (%(default)s)")
    parser.add_argument("--seed", type=int, default=SEED, help="generator seed (%(default)s)")
    parser.add_argument("--repeat", type=int, default=5, help="analyse_many runs (best, median)")
    parser.add_argument("--reference-repeat", type=int, default=3, help="reference loop runs")
    parser.add_argument("--single-repeat", type=int, default=1, help="analyse loop runs")
    parser.add_argument("--skip-single", action="store_true", help="leave out the analyse loop")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the JSON goes")
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/performance.md")
    parser.add_argument("--from-json", type=Path, help="run nothing: render a saved result")
    args = parser.parse_args(argv)
    if args.from_json:
        saved = json.loads(args.from_json.read_text("utf-8"))
        results = saved["results"]
        block = render(results, saved["info"], saved["command"])
        print(block)
        if not args.no_doc and (results["series"], results["points"]) == (SERIES, POINTS):
            write_doc(block)
        return
    if args.series < 1 or args.points < 3:
        parser.error("--series must be at least 1 and --points at least 3")
    full_size = args.series == SERIES and args.points == POINTS
    started, started_at = time.perf_counter(), datetime.now()
    from importlib.metadata import version

    info = machine() | {"numpy": version("numpy"), "load": os.getloadavg()[0]}
    print(f"Machine: {info['nproc']} CPUs ({info['cpu']}), load average {info['load']:.1f}")

    print(f"Generating {args.series:,} series x {args.points} points (seed {args.seed}) ...")
    data = generate(args.series, args.points, args.seed)
    rows = [[float(v) for v in row] for row in data["values"]]
    targets = [float(t) for t in data["targets"]]
    rebase = [int(r) for r in data["rebase"]]
    candidates: dict[str, dict[str, Any]] = {}

    def report(key: str, what: str, times: list[float]) -> None:
        candidates[key] = {"times": times, "best_s": min(times)}
        print(
            f"  {what}: best {min(times):.3f} s, median {statistics.median(times):.3f} s, "
            f"{min(times) / args.series * 1e6:,.1f} µs a series ({len(times)} runs)"
        )

    print("Timing the engine (analyse_many) ...")
    times, batch = _timed(lambda: run_engine(data), args.repeat)
    report("engine", "analyse_many", times)
    times, engine_results = _timed(lambda: [batch[i] for i in range(len(batch))], 1)
    report("read", "reading every batch[i]", times)
    print("Timing the reference (reference_analyse in a loop) ...")
    times, reference = _timed(lambda: run_reference(rows, targets, rebase), args.reference_repeat)
    report("reference", "reference_analyse loop", times)
    single_results = None
    if not args.skip_single:
        print("Timing the engine per series (analyse in a loop) ...")
        times, single_results = _timed(lambda: run_single(data), args.single_repeat)
        report("single", "analyse loop", times)

    print("Comparing with the reference ...")
    checks = {"engine": compare(engine_results, reference, "analyse_many")}
    if single_results is not None:
        checks["single"] = compare(single_results, reference, "analyse")
    for key, check in checks.items():
        print(
            f"  {key}: {check['mismatched_series']:,} of {check['series']:,} series differ "
            f"({check['mismatched_values']:,} values); max rel. diff {check['max_rel_diff']:.1e}"
        )

    results = {
        "series": args.series,
        "points": args.points,
        "seed": args.seed,
        "kinds": data["kinds"],
        "missing": data["missing"],
        "candidates": candidates,
        "checks": checks,
        "outcome": outcome(reference),
    }
    info["minutes"] = (time.perf_counter() - started) / 60
    info["date"] = f"{started_at:%Y-%m-%d %H:%M}"
    command = "python -m benchmarks spc" + (f" {' '.join(argv)}" if argv else "")
    block = render(results, info, command)
    print()
    print(block)
    work = args.out.resolve() / "spc"
    work.mkdir(parents=True, exist_ok=True)
    saved = work / f"results-{started_at:%Y%m%d-%H%M%S}.json"
    saved.write_text(
        json.dumps({"info": info, "command": command, "results": results}, indent=2), "utf-8"
    )
    print(f"Saved {saved}")
    if args.no_doc:
        pass
    elif not full_size:
        print(f"Not the default size ({SERIES:,} x {POINTS}): docs/performance.md left alone.")
    else:
        write_doc(block)
        print(f"Wrote {DOC.relative_to(ROOT)}")
    differ = [
        f"{k} on {c['mismatched_series']:,} series"
        for k, c in checks.items()
        if c["mismatched_series"]
    ]
    if differ:
        raise SystemExit(
            "The engine and the reference differ: " + "; ".join(differ) + " (MISMATCH lines above)."
        )


if __name__ == "__main__":
    main(sys.argv[1:])
