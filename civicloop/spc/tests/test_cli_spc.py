"""`civicloop spc FILE.csv` as an analyst runs it: real files, real encodings, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from civicloop.cli import main

REAL = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "real"
DSNY = REAL / "dsny_monthly_tonnage.csv"

TYPES = {
    "common_cause",
    "special_cause_improvement",
    "special_cause_concern",
    "special_cause_neutral_high",
    "special_cause_neutral_low",
}
ASSURANCES = {"consistent_pass", "consistent_fail", "inconsistent", None}

# Twenty stable months, then a collapse: higher is better, so the last point is a concern.
STABLE = [50, 52, 49, 51, 50, 53, 48, 50, 51, 49, 52, 50, 51, 49, 50, 52, 48, 51, 50, 49]
CONCERN_SERIES = [*STABLE, 30]


def months(n: int, start: int = 2022) -> list[str]:
    return [f"{start + i // 12}-{i % 12 + 1:02d}-01" for i in range(n)]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def series_csv(tmp_path: Path, values: list[Any], name: str = "series.csv") -> Path:
    lines = ["date,value"] + [f"{d},{v}" for d, v in zip(months(len(values)), values, strict=True)]
    return write(tmp_path / name, "\n".join(lines) + "\n")


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["spc", *map(str, args)], catch_exceptions=False)


def run_json(*args: str | Path) -> dict[str, Any]:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.stderr

    def refuse(constant: str) -> None:
        raise AssertionError(f"not valid JSON: {constant}")

    return json.loads(result.stdout, parse_constant=refuse)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# JSON


def test_json_is_exactly_the_schema(tmp_path: Path) -> None:
    path = series_csv(tmp_path, CONCERN_SERIES)
    out = run_json(
        path, "--date", "date", "--value", "value", "--direction", "increase", "--target", "60"
    )
    assert list(out) == ["points", "variation", "assurance"]
    assert out["variation"] == "special_cause_concern"
    assert out["assurance"] == "consistent_fail"
    assert len(out["points"]) == len(CONCERN_SERIES)
    for point, x, y in zip(out["points"], months(len(CONCERN_SERIES)), CONCERN_SERIES, strict=True):
        assert list(point) == ["x", "y", "mean", "lpl", "upl", "type"]
        assert point["x"] == x
        assert point["y"] == y and isinstance(point["y"], float)
        assert all(isinstance(point[k], float) for k in ("mean", "lpl", "upl"))
        assert point["lpl"] < point["mean"] < point["upl"]
        assert point["type"] in TYPES
    assert out["points"][-1]["type"] == "special_cause_concern"
    assert out["points"][0]["type"] == "common_cause"


def test_json_without_dates_numbers_the_points_and_nulls_missing_values(tmp_path: Path) -> None:
    path = write(tmp_path / "v.csv", "value\n5\n6\nNA\n\n7\n-\nN/A\n6\n")
    # The blank line is no row at all; NA, - and N/A are missing values.
    out = run_json(path, "--value", "value")
    assert [p["x"] for p in out["points"]] == [1, 2, 3, 4, 5, 6, 7]
    assert [p["y"] for p in out["points"]] == [5.0, 6.0, None, 7.0, None, None, 6.0]
    assert out["points"][2] == {
        "x": 3,
        "y": None,
        "mean": None,
        "lpl": None,
        "upl": None,
        "type": None,
    }
    assert out["assurance"] is None


def test_json_stdout_holds_only_json_and_warnings_go_to_stderr(tmp_path: Path) -> None:
    path = series_csv(tmp_path, [5, 6, 7, 6, 5])
    result = run(path, "--date", "date", "--value", "value", "--json")
    assert result.exit_code == 0
    json.loads(result.stdout)
    assert "fewer than 12 are unreliable" in result.stderr


# ---------------------------------------------------------------------------------------------
# Every chart


def attribute_csv(tmp_path: Path) -> Path:
    counts = [12, 15, 11, 14, 13, 16, 12, 14, 13, 15, 12, 14, 13, 40]
    cases = [100, 110, 95, 105, 100, 120, 98, 102, 100, 115, 97, 104, 101, 100]
    lines = ["month,late,cases"] + [
        f"{d[:7]},{c},{n}" for d, c, n in zip(months(len(counts)), counts, cases, strict=True)
    ]
    return write(tmp_path / "late.csv", "\n".join(lines) + "\n")


@pytest.mark.parametrize("chart", ["xmr", "run", "p", "p_prime", "u", "u_prime", "c"])
def test_each_chart(tmp_path: Path, chart: str) -> None:
    path = attribute_csv(tmp_path)
    args: list[str | Path] = [path, "--date", "month", "--value", "late", "--chart", chart]
    if chart in ("p", "p_prime", "u", "u_prime"):
        args += ["--denominator", "cases"]
    out = run_json(*args)
    points = out["points"]
    assert len(points) == 14
    assert points[0]["x"] == "2022-01-01"
    if chart in ("p", "p_prime", "u", "u_prime"):
        assert points[0]["y"] == pytest.approx(12 / 100)
        assert points[-1]["y"] == pytest.approx(0.4)
    else:
        assert points[0]["y"] == 12
    if chart == "run":
        assert all(p["lpl"] is None and p["upl"] is None for p in points)
        assert points[0]["mean"] == 13.5  # the median
        assert out["variation"] == "common_cause"
    else:
        assert all(p["upl"] is not None for p in points)
        assert out["variation"] == "special_cause_neutral_high"
    table = run(*args)
    assert table.exit_code == 0
    assert "Variation:" in table.stdout


def test_run_chart_table_shows_the_anhoj_figures(tmp_path: Path) -> None:
    path = series_csv(tmp_path, [*STABLE, 60, 61, 62, 63, 64, 65, 66, 67])
    result = run(path, "--date", "date", "--value", "value", "--chart", "run")
    assert result.exit_code == 0
    assert "median" in result.stdout
    line = next(x for x in result.stdout.splitlines() if x.startswith("Anhøj rules"))
    assert "longest run" in line and "signal above" in line
    assert "crossings" in line and "signal below" in line


def test_p_chart_sums_numerators_and_denominators(tmp_path: Path) -> None:
    lines = ["day,area,done,all"]
    for i in range(14):
        lines += [f"2024-01-{i + 1:02d},north,{i},20", f"2024-01-{i + 1:02d},south,1,10"]
    path = write(tmp_path / "days.csv", "\n".join(lines) + "\n")
    args = ["--date", "day", "--value", "done", "--denominator", "all", "--chart", "p"]
    out = run_json(path, *args, "--sum")
    assert [p["y"] for p in out["points"]][:3] == pytest.approx([1 / 30, 2 / 30, 3 / 30])
    north = run_json(path, *args, "--where", "area=north")
    assert north["points"][1]["y"] == pytest.approx(1 / 20)


# ---------------------------------------------------------------------------------------------
# Regular dates: a period with no rows is a gap, as a blank cell is


def test_missing_months_are_gaps_exactly_as_blank_cells_are(tmp_path: Path) -> None:
    values: list[Any] = [*STABLE[:6], 80, *STABLE[6:]]
    dates = months(len(values))
    # The same series twice: once with two months' rows left out, once with them blank.
    gone = [2, 7]
    rows_left_out = write(
        tmp_path / "left_out.csv",
        "date,value\n"
        + "".join(
            f"{d},{v}\n"
            for k, (d, v) in enumerate(zip(dates, values, strict=True))
            if k not in gone
        ),
    )
    blank = write(
        tmp_path / "blank.csv",
        "date,value\n"
        + "".join(
            f"{d},{'' if k in gone else v}\n"
            for k, (d, v) in enumerate(zip(dates, values, strict=True))
        ),
    )
    left_out = run(rows_left_out, "--date", "date", "--value", "value", "--json")
    assert left_out.exit_code == 0
    assert json.loads(left_out.stdout) == run_json(blank, "--date", "date", "--value", "value")
    points = json.loads(left_out.stdout)["points"]
    assert [p["x"] for p in points] == dates
    assert points[2] == {
        "x": "2022-03-01",
        "y": None,
        "mean": points[2]["mean"],
        "lpl": points[2]["lpl"],
        "upl": points[2]["upl"],
        "type": None,
    }
    assert "note: 2 months with no rows (first 2022-03-01) are gaps in the chart" in left_out.stderr
    table = run(rows_left_out, "--date", "date", "--value", "value")
    assert "no rows" in table.stdout


@pytest.mark.parametrize(
    ("cells", "filled", "note"),
    [
        # Weekly: every date a whole number of weeks from the others.
        (
            ["2024-01-01", "2024-01-08", "2024-01-22", "2024-01-29"],
            ["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-22", "2024-01-29"],
            "1 week with no rows (first 2024-01-15) is a gap in the chart",
        ),
        # Monthly, read from YYYY / MM.
        (
            ["2024 / 01", "2024 / 04", "2024 / 05"],
            ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01"],
            "2 months with no rows (first 2024-02) are gaps in the chart",
        ),
        # Quarterly and yearly: first days of months three or twelve months apart.
        (
            ["2023-01-01", "2023-04-01", "2023-10-01"],
            ["2023-01-01", "2023-04-01", "2023-07-01", "2023-10-01"],
            "1 quarter with no rows (first 2023-07-01) is a gap in the chart",
        ),
        (
            ["2019-01-01", "2020-01-01", "2023-01-01"],
            ["2019-01-01", "2020-01-01", "2021-01-01", "2022-01-01", "2023-01-01"],
            "2 years with no rows (first 2021-01-01) are gaps in the chart",
        ),
        # Daily, weekends and all.
        (
            ["2024-01-05", "2024-01-06", "2024-01-08"],
            ["2024-01-05", "2024-01-06", "2024-01-07", "2024-01-08"],
            "1 day with no rows (first 2024-01-07) is a gap in the chart",
        ),
    ],
)
def test_regular_grains_get_their_missing_periods(
    tmp_path: Path, cells: list[str], filled: list[str], note: str
) -> None:
    path = write(tmp_path / "d.csv", "d,v\n" + "".join(f"{c},{i}\n" for i, c in enumerate(cells)))
    result = run(path, "--date", "d", "--value", "v", "--json")
    assert [p["x"] for p in json.loads(result.stdout)["points"]] == filled
    assert f"note: {note}" in result.stderr


@pytest.mark.parametrize(
    "cells",
    [
        ["2024-01-03", "2024-01-17", "2024-02-20", "2024-05-09"],  # irregular
        ["2024-01-01", "2024-03-01", "2024-07-01"],  # first days, but not a regular step
        # Working days only: a weekend is not a missing day.
        ["2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09", "2024-01-12", "2024-01-15"],
    ],
)
def test_irregular_dates_are_kept_as_they_are(tmp_path: Path, cells: list[str]) -> None:
    path = write(tmp_path / "d.csv", "d,v\n" + "".join(f"{c},{i}\n" for i, c in enumerate(cells)))
    result = run(path, "--date", "d", "--value", "v", "--json")
    assert [p["x"] for p in json.loads(result.stdout)["points"]] == cells
    assert "gap" not in result.stderr


def test_no_date_says_the_points_are_in_file_order(tmp_path: Path) -> None:
    path = series_csv(tmp_path, STABLE)
    assert (
        "note: no --date: points are in file order"
        in run(path, "--value", "value", "--json").stderr
    )
    assert "Note: no --date: points are in file order" in run(path, "--value", "value").stdout
    dated = run(path, "--date", "date", "--value", "value", "--json")
    assert "file order" not in dated.stderr


# ---------------------------------------------------------------------------------------------
# --sum: totals from fewer rows than most dates


def areas_csv(tmp_path: Path, short: dict[int, int], n: int = 14) -> Path:
    """Three areas a month for n months; month k (from 0) has only short[k] of them."""
    lines = ["month,area,n"]
    for k, d in enumerate(months(n)):
        for area in ("north", "south", "east")[: short.get(k, 3)]:
            lines.append(f"{d[:7]},{area},{10 + k % 3}")
    return write(tmp_path / "areas.csv", "\n".join(lines) + "\n")


def test_sum_names_a_date_from_fewer_rows(tmp_path: Path) -> None:
    path = areas_csv(tmp_path, {5: 2})
    result = run(path, "--date", "month", "--value", "n", "--sum", "--json")
    assert (
        "note: 2022-06 adds up 2 rows where most dates have 3: a partial period?" in result.stderr
    )
    assert "latest" not in result.stderr


def test_sum_names_three_dates_and_counts_the_rest(tmp_path: Path) -> None:
    path = areas_csv(tmp_path, {1: 2, 4: 1, 6: 2, 8: 2, 9: 1})
    result = run(path, "--date", "month", "--value", "n", "--sum", "--json")
    assert (
        "note: 5 dates add up fewer rows than most dates (3): 2022-02 (2 rows), 2022-05 (1), "
        "2022-07 (2) and 2 more: partial periods?"
    ) in result.stderr
    two = run(
        areas_csv(tmp_path, {1: 2, 4: 1}), "--date", "month", "--value", "n", "--sum", "--json"
    )
    assert "2 dates add up fewer rows than most dates (3): 2022-02 (2 rows) and 2022-05 (1):" in (
        two.stderr
    )


def test_sum_says_when_the_latest_point_may_be_incomplete(tmp_path: Path) -> None:
    path = areas_csv(tmp_path, {13: 1})
    result = run(path, "--date", "month", "--value", "n", "--sum", "--json")
    assert "2023-02 adds up 1 row where most dates have 3: a partial period?" in result.stderr
    assert (
        "the latest point, 2023-02, may be incomplete (1 row where most dates have 3): the "
        "variation icon is read from it; remove its rows"
    ) in result.stderr
    table = run(path, "--date", "month", "--value", "n", "--sum")
    assert "the variation icon is read from it" in table.stdout.replace("\n", " ")


# ---------------------------------------------------------------------------------------------
# Rebase, baseline, screening


def test_rebase_starts_a_group_at_the_first_point_on_or_after_the_date(tmp_path: Path) -> None:
    path = series_csv(tmp_path, [*STABLE[:12], *(v + 30 for v in STABLE[:12])])
    # 2023-01-15 falls between the 2023-01-01 and 2023-02-01 points: the group starts at February.
    out = run_json(path, "--date", "date", "--value", "value", "--rebase", "2023-01-15")
    means = [p["mean"] for p in out["points"]]
    assert len(set(means[:13])) == 1 and len(set(means[13:])) == 1
    assert means[0] == pytest.approx(sum([*STABLE[:12], STABLE[0] + 30]) / 13)
    assert means[-1] == pytest.approx(sum(v + 30 for v in STABLE[1:12]) / 11)
    table = run(path, "--date", "date", "--value", "value", "--rebase", "2023-01-15=new rota")
    assert "rebased at 2023-02-01 (new rota)" in table.stdout


def test_baseline_fixes_the_mean_on_the_first_points(tmp_path: Path) -> None:
    values = [*STABLE[:12], *(v + 20 for v in STABLE[:12])]
    path = series_csv(tmp_path, values)
    out = run_json(path, "--date", "date", "--value", "value", "--baseline", "12")
    assert out["points"][-1]["mean"] == pytest.approx(sum(values[:12]) / 12)
    assert out["points"][-1]["type"] == "special_cause_neutral_high"
    everything = run_json(path, "--date", "date", "--value", "value")
    assert everything["points"][0]["mean"] == pytest.approx(sum(values) / len(values))


def test_no_screen_widens_the_limits_when_there_is_an_outlier(tmp_path: Path) -> None:
    path = series_csv(tmp_path, [*STABLE[:10], 120, *STABLE[10:]])
    screened = run_json(path, "--date", "date", "--value", "value")
    unscreened = run_json(path, "--date", "date", "--value", "value", "--no-screen")
    s, u = screened["points"][0], unscreened["points"][0]
    assert s["mean"] == u["mean"]
    assert u["upl"] - u["lpl"] > 1.5 * (s["upl"] - s["lpl"])


# ---------------------------------------------------------------------------------------------
# Reading files as analysts have them


def test_windows_1252_file_with_an_accent_in_a_header(tmp_path: Path) -> None:
    text = "Période;Durée moyenne\n" + "".join(
        f"{d[8:10]}/{d[5:7]}/{d[:4]};{v},5\n" for d, v in zip(months(14), STABLE, strict=False)
    )
    path = write(tmp_path / "export.csv", text, "cp1252")
    assert "é".encode("cp1252") in path.read_bytes()
    out = run_json(
        path, "--date", "Période", "--value", "Durée moyenne", "--date-format", "%d/%m/%Y"
    )
    assert out["points"][0]["y"] == 50.5  # a decimal comma in a semicolon file
    table = run(path, "--date", "Période", "--value", "Durée moyenne", "--date-format", "%d/%m/%Y")
    assert table.exit_code == 0
    assert "Windows-1252" in table.stdout and "semicolon" in table.stdout
    assert "decimal comma" in table.stdout


def test_utf8_bom_file_and_thousands_separators(tmp_path: Path) -> None:
    text = "Month,Tons\n" + "".join(
        f'{d[:7]},"1,{v:03d}.5"\n' for d, v in zip(months(14), STABLE, strict=False)
    )
    path = write(tmp_path / "bom.csv", "\ufeff" + text)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    out = run_json(path, "--date", "Month", "--value", "Tons")
    assert (out["points"][0]["x"], out["points"][0]["y"]) == ("2022-01-01", 1050.5)
    table = run(path, "--date", "Month", "--value", "Tons")
    assert "UTF-8 with a byte-order mark" in table.stdout
    assert "2022-01" in table.stdout and "1,050.5" in table.stdout


def test_tab_delimited_and_rows_sorted_by_date(tmp_path: Path) -> None:
    text = "when\tn\n2024-01-03\t3\n2024-01-01\t1\n2024-01-02\t2\n"
    path = write(tmp_path / "t.tsv", text)
    out = run_json(path, "--date", "when", "--value", "n")
    assert [p["x"] for p in out["points"]] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert [p["y"] for p in out["points"]] == [1, 2, 3]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["05/01/2024", "13/01/2024", "20/02/2024"], ["2024-01-05", "2024-01-13", "2024-02-20"]),
        (["01/05/2024", "01/13/2024", "02/20/2024"], ["2024-01-05", "2024-01-13", "2024-02-20"]),
        (["2024 / 01", "2024 / 02", "2023 / 12"], ["2023-12-01", "2024-01-01", "2024-02-01"]),
        (["2024-01", "2024-02", "2024-03"], ["2024-01-01", "2024-02-01", "2024-03-01"]),
    ],
)
def test_date_shapes(tmp_path: Path, cells: list[str], expected: list[str]) -> None:
    path = write(tmp_path / "d.csv", "d,v\n" + "".join(f"{c},{i}\n" for i, c in enumerate(cells)))
    out = run_json(path, "--date", "d", "--value", "v")
    assert [p["x"] for p in out["points"]] == expected


def test_date_format_forces_an_ambiguous_column(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "d,v\n03/04/2024,1\n04/04/2024,2\n")
    day_first = run_json(path, "--date", "d", "--value", "v", "--date-format", "%d/%m/%Y")
    assert [p["x"] for p in day_first["points"]] == ["2024-04-03", "2024-04-04"]
    month_first = run_json(path, "--date", "d", "--value", "v", "--date-format", "%m/%d/%Y")
    assert [p["x"] for p in month_first["points"]] == ["2024-03-04", "2024-04-04"]


# ---------------------------------------------------------------------------------------------
# Errors: one line, the right exit status, and no chart written


def bad_files(tmp_path: Path) -> dict[str, Path]:
    good = series_csv(tmp_path, STABLE, "good.csv")
    values = [str(v) for v in STABLE]
    values[6] = "12a"
    return {
        "good": good,
        "bad_number": series_csv(tmp_path, values, "bad_number.csv"),
        "bad_date": write(tmp_path / "bad_date.csv", "date,value\n2024-01-01,1\n2024-02-30,2\n"),
        "ambiguous": write(tmp_path / "ambiguous.csv", "date,value\n03/04/2024,1\n04/05/2024,2\n"),
        "mixed": write(tmp_path / "mixed.csv", "date,value\n2024-01-01,1\n01/02/2024,2\n"),
        "duplicate": write(
            tmp_path / "duplicate.csv", "date,value\n2024-01-01,1\n2024-02-01,2\n2024-01-01,3\n"
        ),
        "empty": write(tmp_path / "empty.csv", "date,value\n"),
        "over": write(tmp_path / "over.csv", "date,n,d\n2024-01-01,1,10\n2024-02-01,11,10\n"),
        "text": write(
            tmp_path / "text.csv",
            "date,area,n\n2024-01-01,,5\n2024-02-01,north,6\n2024-03-01,south,7\n",
        ),
        "first_bad": write(
            tmp_path / "first_bad.csv", "date,value\n2024-01-01,n/k\n2024-02-01,6\n2024-03-01,x\n"
        ),
    }


ERRORS = [
    # (file, extra arguments, exit status, words the message must contain)
    ("good", ["--value", "valeu"], 2, ["--value valeu", "did you mean 'value'?", "'date'"]),
    ("good", ["--value", "value", "--date", "Date"], 2, ["did you mean 'date'?"]),
    ("bad_number", ["--value", "value"], 1, ["row 8", "column 'value'", "'12a'", "leave it blank"]),
    ("bad_date", ["--value", "value"], 1, ["row 3", "'2024-02-30'", "not a real date"]),
    ("ambiguous", ["--value", "value"], 1, ["--date-format %d/%m/%Y", "--date-format %m/%d/%Y"]),
    ("mixed", ["--value", "value"], 1, ["row 3", "not written like the dates"]),
    ("duplicate", ["--value", "value"], 1, ["rows 2 and 4", "2024-01-01", "--sum"]),
    ("good", ["--value", "value", "--rebase", "2019-05-01"], 2, ["2022-01-01 to 2023-08-01"]),
    ("good", ["--value", "value", "--rebase", "2030-01-01"], 2, ["outside the data"]),
    (
        "good",
        ["--value", "value", "--rebase", "2022-01"],
        2,
        ["--rebase 2022-01: that is the first date", "changes nothing", "give a later date"],
    ),
    # A text column (the first two values not numbers; a blank cell is passed over) ...
    (
        "text",
        ["--value", "area"],
        2,
        [
            "column 'area' is not numeric (row 3 has 'north')",
            "choose a column of numbers for --value",
        ],
    ),
    (
        "text",
        ["--value", "n", "--chart", "p", "--denominator", "area"],
        2,
        ["column 'area' is not numeric", "for --denominator"],
    ),
    # ... but one bad cell in a numeric column is named by its row and column.
    ("first_bad", ["--value", "value"], 1, ["row 2, column 'value': 'n/k' is not a number"]),
    ("good", ["--value", "value", "--rebase", "soon"], 2, ["--rebase soon", "YYYY-MM-DD"]),
    ("good", ["--value", "value", "--baseline", "5"], 2, ["--baseline", "5", "12"]),
    ("good", ["--value", "value", "--chart", "p"], 2, ["p chart needs --denominator"]),
    ("good", ["--value", "value", "--chart", "pie"], 2, ["--chart", "'pie'"]),
    ("over", ["--value", "n", "--chart", "p", "--denominator", "d"], 1, ["2024-02-01 (row 3)"]),
    ("good", ["--value", "value", "--where", "area=north"], 2, ["--where", "no such column"]),
    ("good", ["--value", "value", "--where", "value=5O"], 2, ["no row has '5O'", "did you mean"]),
    ("good", ["--value", "value", "--target", "nan"], 2, ["--target"]),
    ("over", ["--value", "n", "--chart", "p", "--denominator", "d", "--target", "90"], 2, ["0.95"]),
    (
        "good",
        ["--value", "value", "--where", "value=50", "--where", "date=2022-02-01"],
        1,
        ["no row"],
    ),
    ("empty", ["--value", "value"], 1, ["empty.csv has a header but no data rows"]),
    ("good", ["--value", "value", "--sum", "--denominator", "value"], 2, ["--denominator is for"]),
]


@pytest.mark.parametrize(("name", "args", "status", "words"), ERRORS)
def test_errors_are_one_line_with_the_right_status_and_write_nothing(
    tmp_path: Path, name: str, args: list[str], status: int, words: list[str]
) -> None:
    path = bad_files(tmp_path)[name]
    svg = tmp_path / "chart.svg"
    date = [] if "--date" in args else ["--date", "date"]
    result = run(path, *date, *args, "--svg", svg)
    assert result.exit_code == status, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for word in words:
        assert word in lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert not svg.exists()
    assert list(tmp_path.glob(".chart.svg*")) == []


def test_options_that_need_a_date_column(tmp_path: Path) -> None:
    path = series_csv(tmp_path, STABLE)
    result = run(path, "--value", "value", "--rebase", "2022-06-01", "--svg", tmp_path / "c.svg")
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: --rebase, --svg need --date COL"


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run(tmp_path / "nope.csv", "--value", "v")
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "nope.csv" in result.stderr


# ---------------------------------------------------------------------------------------------
# Output


def test_svg_is_written(tmp_path: Path) -> None:
    path = series_csv(tmp_path, CONCERN_SERIES)
    svg = tmp_path / "chart.svg"
    result = run(
        path,
        "--date",
        "date",
        "--value",
        "value",
        "--direction",
        "increase",
        "--svg",
        svg,
        "--title",
        "Repairs on time",
    )
    assert result.exit_code == 0, result.stderr
    text = svg.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<svg") and text.rstrip().endswith("</svg>")
    assert "Repairs on time" in text
    assert f"Wrote {svg}" in result.stdout.replace("\n", "")


def test_table_says_what_was_read_and_names_the_types(tmp_path: Path) -> None:
    path = series_csv(tmp_path, CONCERN_SERIES)
    args = ["--date", "date", "--value", "value", "--direction", "increase", "--target", "60"]
    result = CliRunner(env={"COLUMNS": "120"}).invoke(main, ["spc", str(path), *args])
    assert result.exit_code == 0
    out = result.stdout
    assert "series.csv: UTF-8, comma-delimited, 21 data rows; dates read as YYYY-MM-DD" in out
    for heading in ("date", "value", "mean", "lower limit", "upper limit", "type", "rule"):
        assert heading in out
    # The product's words (civicloop.spc.describe), not the engine's codes: short in the
    # table's type column, whole in the lines under it.
    assert "Special cause of concern" in out and "│ Common cause" in out and "│ Concern" in out
    assert "beyond a limit" in out
    assert "neutral" not in out and "common_cause" not in out
    assert "Variation: Special cause of concern, the type of the last point (2023-09-01)" in out
    assert "Assurance: Consistently fails the target" in out
    # The sentences the web app shows, under the table, with the table's figures.
    table_end = out.index("Variation:")
    assert (
        "Special cause of concern: the latest month (30) is below the lower process limit (43.55)."
        in out[:table_end]
    )
    assert (
        "Consistently fails the target: the target (60) lies above the upper process limit "
        "(55.03), so it will not be met without a change to the process." in out
    )


def test_sentences_count_points_without_dates_and_percentages_on_a_p_chart(
    tmp_path: Path,
) -> None:
    path = series_csv(tmp_path, CONCERN_SERIES)
    wide = CliRunner(env={"COLUMNS": "200"})
    plain = wide.invoke(main, ["spc", str(path), "--value", "value", "--direction", "increase"])
    assert "Special cause of concern: the latest point (30) is below the lower" in plain.stdout
    args = ["--date", "month", "--value", "late", "--denominator", "cases", "--chart", "p"]
    p_chart = wide.invoke(main, ["spc", str(attribute_csv(tmp_path)), *args])
    assert "Special cause (high): the latest month (40%) is above the upper process limit (" in (
        p_chart.stdout
    )


@pytest.mark.parametrize("columns", [80, 60])
def test_numbers_are_never_cut_or_wrapped_in_a_narrow_terminal(
    tmp_path: Path, columns: int
) -> None:
    # Six-figure tonnages with a decimal, and a low outlier: at 80 columns the type and rule
    # columns wrap, but every figure is whole, on one line; at 60 the table cannot fit, and
    # runs past the edge rather than lose a figure or a word.
    values = [f"{216_000 + 137.3 * (i % 5):.1f}" for i in range(20)] + ["62886.8"]
    path = series_csv(tmp_path, values)
    args = ["spc", str(path), "--date", "date", "--value", "value"]
    out = CliRunner(env={"COLUMNS": str(columns)}).invoke(main, args).stdout
    data = run_json(path, "--date", "date", "--value", "value")
    assert "…" not in out
    for point in data["points"]:
        for key in ("y", "mean", "lpl", "upl"):
            assert f"{point[key]:,.1f}" in out, (key, point[key])
    last = next(line for line in out.splitlines() if line.lstrip().startswith("2023-09-01"))
    assert "62,886.8" in last
    assert "Low" in last and "beyond" in last  # the words wrap in their own columns
    if columns == 80:
        assert all(len(line) <= 80 for line in out.splitlines() if "│" in line)


def test_the_command_does_not_set_up_django(tmp_path: Path) -> None:
    path = series_csv(tmp_path, STABLE)
    svg = tmp_path / "c.svg"
    script = (
        "import sys\n"
        "from civicloop.cli import main\n"
        f"main(['spc', {str(path)!r}, '--date', 'date', '--value', 'value', '--svg', "
        f"{str(svg)!r}], standalone_mode=False)\n"
        "print('django loaded' if 'django' in sys.modules else 'no django')\n"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("CIVICLOOP_", "DJANGO"))}
    environ["CIVICLOOP_DATA_DIR"] = str(tmp_path / "must-not-be-created")
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("no django")
    assert svg.exists()
    assert not (tmp_path / "must-not-be-created").exists()


# ---------------------------------------------------------------------------------------------
# Real data: NYC's DSNY monthly tonnage


@pytest.mark.skipif(not DSNY.exists(), reason="the real DSNY file is not here")
def test_dsny_citywide_refuse_by_month() -> None:
    args = ["--date", "MONTH", "--value", "REFUSETONSCOLLECTED", "--sum"]
    out = run_json(DSNY, *args)
    points = out["points"]
    # 1990-01 to 2020-06: 366 months, 4 of them (1990-02 to 1990-05) with no rows, as gaps.
    assert len(points) == 366
    assert points[0]["x"] == "1990-01-01" and points[-1]["x"] == "2020-06-01"
    assert [p["x"] for p in points[1:5]] == ["1990-02-01", "1990-03-01", "1990-04-01", "1990-05-01"]
    assert all(p["y"] is None and p["type"] is None for p in points[1:5])
    assert [p["x"] for p in points] == sorted(p["x"] for p in points)
    assert out["variation"] in TYPES
    assert out["assurance"] is None
    table = run(DSNY, *args)
    said = table.stdout.replace("\n", " ")
    assert "--sum added up 20,871 rows into 362 dates" in said
    assert "4 months with no rows (first 1990-02) are gaps in the chart" in said
    assert (
        "14 dates add up fewer rows than most dates (59): 1990-01 (3 rows), 1990-06 (3), "
        "1990-07 (3) and 11 more: partial periods?"
    ) in said
    # 2020-06 has all 59 rows (its tonnage is low, not its rows): no word about the latest point.
    assert "the latest point" not in said
    narrow = CliRunner(env={"COLUMNS": "80"}).invoke(main, ["spc", str(DSNY), *args]).stdout
    assert "216,666.7" in narrow and "…" not in narrow


@pytest.mark.skipif(not DSNY.exists(), reason="the real DSNY file is not here")
def test_dsny_one_community_district() -> None:
    args = ["--date", "MONTH", "--value", "REFUSETONSCOLLECTED"]
    where = ["--where", "BOROUGH=Bronx", "--where", "COMMUNITYDISTRICT=01"]
    out = run_json(DSNY, *args, *where)
    assert len(out["points"]) == 351
    assert out["points"][0]["x"] == "1991-04-01"
    assert out["variation"] in TYPES
    # Without --where the districts share months.
    clash = run(DSNY, *args)
    assert clash.exit_code == 1
    assert "both have the date" in clash.stderr and "--sum" in clash.stderr
