"""`civicloop spc FILE.csv`: analyse any CSV with the SPC engine, from the command line.

Pure: no Django, no civicloop data folder. It reads a CSV the way an analyst has it (UTF-8 with
or without a byte-order mark, else Windows-1252; comma, semicolon or tab; dates in the usual
shapes), builds one series, runs `civicloop.spc.analyse` and prints a table, JSON, or a chart.

Errors are one line: exit status 2 when the command line needs changing (an unknown column, a
bad option value), 1 when the file's contents do (a cell that is not a number, duplicate dates).
"""

from __future__ import annotations

import csv
import difflib
import io
import itertools
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from civicloop.spc import CHARTS, DIRECTIONS, SpcInputError, SpcResult, analyse
from civicloop.spc.describe import ASSURANCE_WORDS, POINT_WORDS, VARIATION_WORDS, explain

RATIO_CHARTS = ("p", "p_prime", "u", "u_prime")
CHART_NAMES = {
    "xmr": "XmR chart",
    "run": "run chart",
    "p": "p chart",
    "p_prime": "p-prime chart (Laney)",
    "u": "u chart",
    "u_prime": "u-prime chart (Laney)",
    "c": "c chart",
}
TYPE_STYLES = {
    "common_cause": "grey50",
    "special_cause_improvement": "bold blue",
    "special_cause_concern": "bold dark_orange",
    "special_cause_neutral_high": "bold magenta",
    "special_cause_neutral_low": "bold magenta",
}
RULE_WORDS = {
    "outside_limits": "beyond a limit",
    "trend": "trend (7 up or down)",
    "two_in_three": "2 of 3 near a limit",
    "shift": "shift (7 one side)",
    "long_run": "long run (Anhøj)",
}
# A regular grain of dates, as the word for one period (the engine's sentences say "the latest
# month") and its plural.
GRAIN_PLURALS = {
    "day": "days",
    "week": "weeks",
    "month": "months",
    "quarter": "quarters",
    "year": "years",
}
MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}
DAYS_IN = {"day": 1, "week": 7}
MISSING_TOKENS = {"", "na", "n/a", "-", "#n/a", "nan", "null", "none"}
ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with a byte-order mark",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252",
    "latin-1": "Latin-1",
}
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}

_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_COMMA_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_DOT_THOUSANDS = re.compile(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?")

_ISO_TIME = r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_US_TIME = r"(?:\s+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[AaPp][Mm])?)?"
DATE_SHAPES: dict[str, tuple[re.Pattern[str], str]] = {
    "iso": (re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})" + _ISO_TIME), "YYYY-MM-DD"),
    "ymd": (re.compile(r"(\d{4})([/.])(\d{1,2})\2(\d{1,2})" + _US_TIME), "YYYY/MM/DD"),
    "ym": (re.compile(r"(\d{4})-(\d{1,2})"), "YYYY-MM"),
    "ym_slash": (re.compile(r"(\d{4})\s*/\s*(\d{1,2})"), "YYYY / MM"),
    "two_part": (re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})" + _US_TIME), "DD/MM/YYYY"),
}


class UsageProblem(click.ClickException):
    """The command line needs changing: one line on standard error, exit status 2."""

    exit_code = 2


class DataProblem(click.ClickException):
    """The file's contents need changing: one line on standard error, exit status 1."""

    exit_code = 1


class OneLineCommand(click.Command):
    """Click's own usage errors (a missing option, a bad choice) as one line, exit status 2."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as error:
            raise UsageProblem(_one_line(error.format_message())) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            raise UsageProblem(_one_line(error.format_message())) from None


def _one_line(message: str) -> str:
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


# ----------------------------------------------------------------------------------------------
# Reading the file


@dataclass
class CsvFile:
    path: Path
    encoding: str
    delimiter: str
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (row number in the file, header = 1; cells)

    def describe(self) -> str:
        return (
            f"{self.path.name}: {ENCODING_NAMES.get(self.encoding, self.encoding)}, "
            f"{DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))}-delimited, "
            f"{len(self.rows):,} data row{'s' if len(self.rows) != 1 else ''}"
        )


def decode(raw: bytes) -> tuple[str, str]:
    """The text and the encoding used: UTF-8 (with or without BOM), UTF-16, else Windows-1252."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def sniff_delimiter(text: str) -> str:
    """Comma, semicolon or tab: the one that splits the first lines into the same, most fields."""
    sample = "\n".join(text.splitlines()[:50])
    best, best_score = ",", (False, 0.0, 0)
    for delimiter in (",", ";", "\t"):
        rows = [r for r in csv.reader(io.StringIO(sample), delimiter=delimiter) if r]
        if not rows:
            continue
        width = len(rows[0])
        same = sum(len(r) == width for r in rows) / len(rows)
        score = (width > 1, same, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_csv(path: Path) -> CsvFile:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataProblem(f"cannot read {path}: {error.strerror}") from None
    text, encoding = decode(raw)
    if "\x00" in text:
        raise DataProblem(f"{path.name} is not a text CSV file (it holds binary data)")
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        records = list(reader)
    except csv.Error as error:
        raise DataProblem(f"{path.name}, row {reader.line_num}: {error}") from None
    if not records or not any(cell.strip() for cell in records[0]):
        raise DataProblem(f"{path.name} has no header row: the first row must name the columns")
    header = [cell.strip() for cell in records[0]]
    rows = [
        (number, cells)
        for number, cells in enumerate(records[1:], start=2)
        if any(cell.strip() for cell in cells)
    ]
    return CsvFile(path, encoding, delimiter, header, rows)


def column_index(file: CsvFile, name: str, option: str) -> int:
    if name in file.header:
        positions = [i for i, h in enumerate(file.header) if h == name]
        if len(positions) > 1:
            where = " and ".join(str(i + 1) for i in positions)
            raise DataProblem(
                f"{option} {name}: the header names columns {where} {name!r}; rename one"
            )
        return positions[0]
    by_lower = {h.lower(): h for h in file.header}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    hint = f"; did you mean {by_lower[close[0]]!r}?" if close else ""
    columns = ", ".join(repr(h) for h in file.header)
    raise UsageProblem(
        f"{option} {name}: no such column in {file.path.name}{hint} Columns: {columns}"
    )


def cell(cells: list[str], index: int) -> str:
    return cells[index].strip() if index < len(cells) else ""


# ----------------------------------------------------------------------------------------------
# Numbers


def numbers(
    file: CsvFile, rows: list[tuple[int, list[str]]], index: int, option: str = "--value"
) -> tuple[list[float], int, bool]:
    """The column as floats (NaN for missing), the most decimals a cell shows, decimal comma?"""
    column = file.header[index]
    cells = [cell(c, index).replace("\u2212", "-") for _, c in rows]
    decimal_comma = file.delimiter != "," and any(
        _DECIMAL_COMMA.fullmatch(v) and not _COMMA_THOUSANDS.fullmatch(v) for v in cells
    )
    # A column whose first two values are not numbers is text (a name, a code): say so, rather
    # than ask for a cell to be corrected.
    first = [
        (number, value)
        for (number, _), value in zip(rows, cells, strict=True)
        if value.lower() not in MISSING_TOKENS
    ][:2]
    if len(first) == 2 and all(_number_text(v, decimal_comma) is None for _, v in first):
        raise UsageProblem(
            f"column {column!r} is not numeric (row {first[0][0]} has {first[0][1]!r}): choose "
            f"a column of numbers for {option}"
        )
    out: list[float] = []
    decimals = 0
    for (number, _), value in zip(rows, cells, strict=True):
        if value.lower() in MISSING_TOKENS:
            out.append(math.nan)
            continue
        text = _number_text(value, decimal_comma)
        if text is None:
            raise DataProblem(
                f"row {number}, column {column!r}: {value!r} is not a number; correct the cell, "
                "or leave it blank (or NA) for a missing value"
            )
        if "." in text and "e" not in text.lower():
            decimals = max(decimals, len(text.split(".", 1)[1]))
        out.append(float(text))
    return out, min(decimals, 6), decimal_comma


def _number_text(value: str, decimal_comma: bool) -> str | None:
    """The cell as Python would read the number (no separators, a decimal point), or None."""
    text = value
    if decimal_comma:
        if _DOT_THOUSANDS.fullmatch(text):
            text = text.replace(".", "")
        text = text.replace(",", ".")
    elif _COMMA_THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    return text if _PLAIN_NUMBER.fullmatch(text) else None


# ----------------------------------------------------------------------------------------------
# Dates


@dataclass
class Dates:
    values: list[date]
    described: str  # e.g. "MM/DD/YYYY (month first: 10/23/2019 on row 5)"
    monthly: bool


def parse_dates(
    file: CsvFile, rows: list[tuple[int, list[str]]], index: int, date_format: str | None
) -> Dates:
    column = file.header[index]
    cells = [(number, cell(c, index)) for number, c in rows]
    for number, value in cells:
        if not value:
            raise DataProblem(
                f"row {number}, column {column!r}: no date; fill it in, delete the row, or "
                "leave it out with --where"
            )
    if date_format:
        out = []
        for number, value in cells:
            try:
                out.append(datetime.strptime(value, date_format).date())
            except ValueError:
                raise DataProblem(
                    f"row {number}, column {column!r}: {value!r} does not match --date-format "
                    f"{date_format}"
                ) from None
        monthly = not any(code in date_format for code in ("%d", "%j", "%U", "%W"))
        return Dates(out, f"--date-format {date_format}", monthly)
    if not cells:
        return Dates([], "", False)

    first_number, first_value = cells[0]
    shape = _shape(first_value)
    if shape is None:
        raise DataProblem(
            f"row {first_number}, column {column!r}: {first_value!r} is not a date civicloop "
            "recognises (YYYY-MM-DD, DD/MM/YYYY, MM/DD/YYYY, YYYY-MM, YYYY / MM); give "
            "--date-format, e.g. --date-format %d.%m.%y"
        )
    pattern, label = DATE_SHAPES[shape]
    matches = []
    for number, value in cells:
        m = pattern.fullmatch(value)
        if m is None:
            raise DataProblem(
                f"row {number}, column {column!r}: {value!r} is not written like the dates "
                f"before it ({label}, as {first_value!r} on row {first_number}); make them the "
                "same, or give --date-format"
            )
        matches.append((number, value, m))

    described = label
    if shape == "two_part":
        day_first = next(((n, v) for n, v, m in matches if int(m.group(1)) > 12), None)
        month_first = next(((n, v) for n, v, m in matches if int(m.group(3)) > 12), None)
        sep = matches[0][2].group(2)
        if day_first and month_first:
            raise DataProblem(
                f"column {column!r} mixes day-first and month-first dates ({day_first[1]!r} on "
                f"row {day_first[0]}, {month_first[1]!r} on row {month_first[0]}); make them "
                "the same"
            )
        if not day_first and not month_first:
            raise DataProblem(
                f"column {column!r}: dates like {first_value!r} could be day-first or "
                f"month-first; say which with --date-format %d{sep}%m{sep}%Y (day first) or "
                f"--date-format %m{sep}%d{sep}%Y (month first)"
            )
        if day_first:
            described = f"DD{sep}MM{sep}YYYY (day first: {day_first[1]} on row {day_first[0]})"
        else:
            assert month_first is not None
            described = (
                f"MM{sep}DD{sep}YYYY (month first: {month_first[1]} on row {month_first[0]})"
            )

    out = []
    for number, value, m in matches:
        if shape in ("iso",):
            y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
        elif shape == "ymd":
            y, mo, d = int(m.group(1)), int(m.group(3)), int(m.group(4))
        elif shape in ("ym", "ym_slash"):
            y, mo, d = int(m.group(1)), int(m.group(2)), 1
        elif described.startswith("DD"):
            d, mo, y = int(m.group(1)), int(m.group(3)), int(m.group(4))
        else:
            mo, d, y = int(m.group(1)), int(m.group(3)), int(m.group(4))
        try:
            out.append(date(y, mo, d))
        except ValueError:
            raise DataProblem(
                f"row {number}, column {column!r}: {value!r} is not a real date ({described})"
            ) from None
    return Dates(out, described, shape in ("ym", "ym_slash"))


def _shape(value: str) -> str | None:
    for name, (pattern, _) in DATE_SHAPES.items():
        if pattern.fullmatch(value):
            return name
    return None


def parse_option_date(value: str, option: str, dates: Dates) -> date:
    """A date given on the command line: ISO (YYYY-MM-DD or YYYY-MM)."""
    for fmt in ("%Y-%m-%d", "%Y-%m"):
        try:
            return datetime.strptime(value.strip(), fmt).date()
        except ValueError:
            continue
    raise UsageProblem(f"{option} {value}: give the date as YYYY-MM-DD (or YYYY-MM)")


# ----------------------------------------------------------------------------------------------
# The series


@dataclass
class Series:
    x: list[date] | None
    values: list[float]
    denominators: list[float] | None
    rows: list[list[int]]  # the file rows behind each point; none for a period with no rows
    notes: list[str] = field(default_factory=list)
    grain: str | None = None  # "month", "week", …: a regular grain of dates, gaps filled in

    def label(self, i: int, monthly: bool = False) -> str:
        if self.x is None:
            return f"point {i + 1} (row {self.rows[i][0]})"
        when = _when(self.x[i], monthly)
        rows = self.rows[i]
        where = (
            "no rows" if not rows else f"row {rows[0]}" if len(rows) == 1 else f"{len(rows)} rows"
        )
        return f"{when} ({where})"


def _when(day: date, monthly: bool) -> str:
    return day.strftime("%Y-%m") if monthly else day.isoformat()


def parse_where(values: Iterable[str], file: CsvFile) -> dict[int, set[str]]:
    wanted: dict[int, set[str]] = {}
    for item in values:
        if "=" not in item:
            raise UsageProblem(
                f"--where {item}: write it as COLUMN=VALUE, e.g. --where BOROUGH=Bronx"
            )
        name, value = item.split("=", 1)
        index = column_index(file, name.strip(), "--where")
        wanted.setdefault(index, set()).add(value.strip())
    for index, accepted in wanted.items():
        present = {cell(c, index) for _, c in file.rows}
        for value in sorted(accepted):
            if value not in present:
                name = file.header[index]
                close = difflib.get_close_matches(value, sorted(present), n=1, cutoff=0.5)
                by_case = [p for p in present if p.lower() == value.lower()]
                same_number = [p for p in sorted(present) if _same_number(p, value)]
                suggestions = by_case or same_number or close
                hint = f"; did you mean {suggestions[0]!r}?" if suggestions else ""
                some = sorted(present)
                listed = ", ".join(repr(p) for p in some[:12]) + (" …" if len(some) > 12 else "")
                raise UsageProblem(
                    f"--where {name}={value}: no row has {value!r} in {name!r}{hint} "
                    f"Values: {listed}"
                )
    return wanted


def _same_number(a: str, b: str) -> bool:
    """'01' and '1' name the same district."""
    try:
        return float(a) == float(b)
    except ValueError:
        return False


def build_series(
    file: CsvFile,
    *,
    value: str,
    date_column: str | None,
    date_format: str | None,
    denominator: str | None,
    where: Sequence[str],
    add_up: bool,
) -> tuple[Series, Dates | None, int, bool]:
    """The series, its dates, the decimals the values show, and whether a decimal comma was read."""
    value_index = column_index(file, value, "--value")
    date_index = column_index(file, date_column, "--date") if date_column else None
    den_index = column_index(file, denominator, "--denominator") if denominator else None
    wanted = parse_where(where, file)
    rows = [
        (number, cells)
        for number, cells in file.rows
        if all(cell(cells, i) in accepted for i, accepted in wanted.items())
    ]
    if not file.rows:
        raise DataProblem(f"{file.path.name} has a header but no data rows: nothing to analyse")
    if not rows:
        described = " and ".join(f"{file.header[i]} in {sorted(v)}" for i, v in wanted.items())
        raise DataProblem(f"no row has {described}: nothing to analyse")
    ys, decimals, decimal_comma = numbers(file, rows, value_index)
    dens = numbers(file, rows, den_index, "--denominator")[0] if den_index is not None else None
    notes: list[str] = []
    if wanted:
        notes.append(
            f"kept {len(rows):,} of {len(file.rows):,} rows ({_describe_where(file, wanted)})"
        )
    if date_index is None:
        notes.append("no --date: points are in file order")
        return (
            Series(None, ys, dens, [[n] for n, _ in rows], notes),
            None,
            decimals,
            decimal_comma,
        )

    dates = parse_dates(file, rows, date_index, date_format)
    order = sorted(range(len(rows)), key=lambda i: (dates.values[i], i))
    x: list[date] = []
    values: list[float] = []
    denominators: list[float] = []
    behind: list[list[int]] = []
    partial: list[str] = []
    for i in order:
        when = dates.values[i]
        number = rows[i][0]
        den = dens[i] if dens is not None else math.nan
        if x and x[-1] == when:
            if not add_up:
                raise DataProblem(
                    f"rows {behind[-1][0]} and {number} both have the date "
                    f"{when.strftime('%Y-%m') if dates.monthly else when.isoformat()} "
                    f"in {file.header[date_index]!r}; add --sum to add up rows that share a "
                    "date, or keep one series with --where COLUMN=VALUE"
                )
            if math.isnan(ys[i]) != math.isnan(values[-1]) and when.isoformat() not in partial:
                partial.append(when.isoformat())
            values[-1] = _add(values[-1], ys[i])
            denominators[-1] = _add(denominators[-1], den)
            behind[-1].append(number)
        else:
            x.append(when)
            values.append(ys[i])
            denominators.append(den)
            behind.append([number])
    if add_up:
        notes += sum_notes(len(rows), x, values, behind, dates.monthly)
        if partial:
            notes.append(
                f"{len(partial)} date{'s' if len(partial) != 1 else ''} (first {partial[0]}) "
                "add up rows some of which have no value: those totals leave them out"
            )
    grain = detect_grain(x)
    if grain is not None:
        x, values, denominators, behind, gaps = fill_gaps(grain, x, values, denominators, behind)
        if gaps:
            word = grain if len(gaps) == 1 else GRAIN_PLURALS[grain]
            notes.append(
                f"{len(gaps)} {word} with no rows (first {_when(gaps[0], dates.monthly)}) "
                f"{'is a gap' if len(gaps) == 1 else 'are gaps'} in the chart"
            )
    series = Series(x, values, denominators if dens is not None else None, behind, notes, grain)
    return series, dates, decimals, decimal_comma


def sum_notes(
    rows: int, x: list[date], values: list[float], behind: list[list[int]], monthly: bool
) -> list[str]:
    """What --sum did, and the dates whose totals come from fewer rows than most: partial?"""
    notes = [f"--sum added up {rows:,} rows into {len(x):,} dates"]
    counts = [len(b) for b in behind]
    usual = _mode(counts)
    fewer = [i for i, count in enumerate(counts) if count < usual]
    if not fewer:
        return notes

    def rows_word(count: int) -> str:
        return f"{count} row{'s' if count != 1 else ''}"

    if len(fewer) == 1:
        i = fewer[0]
        notes.append(
            f"{_when(x[i], monthly)} adds up {rows_word(counts[i])} where most dates have "
            f"{usual}: a partial period?"
        )
    else:
        named = [
            f"{_when(x[i], monthly)} ({rows_word(counts[i]) if k == 0 else counts[i]})"
            for k, i in enumerate(fewer[:3])
        ]
        more = len(fewer) - len(named)
        listed = (
            ", ".join(named) + f" and {more} more"
            if more
            else ", ".join(named[:-1]) + f" and {named[-1]}"
        )
        notes.append(
            f"{len(fewer)} dates add up fewer rows than most dates ({usual}): {listed}: "
            "partial periods?"
        )
    last = len(x) - 1
    if fewer[-1] == last and not math.isnan(values[last]):
        notes.append(
            f"the latest point, {_when(x[last], monthly)}, may be incomplete "
            f"({rows_word(counts[last])} where most dates have {usual}): the variation icon is "
            "read from it; remove its rows from the file (or wait for the period to be complete) "
            "to read the icon from the last full period"
        )
    return notes


def detect_grain(x: list[date]) -> str | None:
    """The regular grain of sorted, distinct dates: first days of months a month, a quarter or a
    year apart; dates whole weeks apart; or days (when most days are there, weekends included).
    None for anything else: irregular dates are left as they are."""
    if len(x) < 2:
        return None
    if all(d.day == 1 for d in x):
        index = [d.year * 12 + d.month - 1 for d in x]
        step = math.gcd(*(b - a for a, b in itertools.pairwise(index)))
        return {1: "month", 3: "quarter", 12: "year"}.get(step)
    ordinals = [d.toordinal() for d in x]
    step = math.gcd(*(b - a for a, b in itertools.pairwise(ordinals)))
    if step == 7:
        return "week"
    if step == 1:
        span = ordinals[-1] - ordinals[0] + 1
        # Weekdays only (a working-day series) is not a gap every weekend; scattered event
        # dates are not a daily series with most days missing.
        weekends = span < 7 or any(d.weekday() >= 5 for d in x)
        if weekends and span - len(x) <= len(x):
            return "day"
    return None


def _periods(grain: str, first: date, last: date) -> list[date]:
    out = [first]
    if grain in MONTHS_IN:
        step = MONTHS_IN[grain]
        while out[-1] < last:
            months = out[-1].year * 12 + out[-1].month - 1 + step
            out.append(date(months // 12, months % 12 + 1, 1))
    else:
        days = timedelta(days=DAYS_IN[grain])
        while out[-1] < last:
            out.append(out[-1] + days)
    return out


def fill_gaps(
    grain: str,
    x: list[date],
    values: list[float],
    denominators: list[float],
    behind: list[list[int]],
) -> tuple[list[date], list[float], list[float], list[list[int]], list[date]]:
    """Every period from the first date to the last; one with no rows is a missing point, so a
    moving range never spans it (as a blank cell does not)."""
    at = {d: i for i, d in enumerate(x)}
    periods = _periods(grain, x[0], x[-1])
    gaps = [d for d in periods if d not in at]
    if not gaps:
        return x, values, denominators, behind, []
    return (
        periods,
        [values[at[d]] if d in at else math.nan for d in periods],
        [denominators[at[d]] if d in at else math.nan for d in periods],
        [behind[at[d]] if d in at else [] for d in periods],
        gaps,
    )


def _add(total: float, value: float) -> float:
    if math.isnan(total):
        return value
    if math.isnan(value):
        return total
    return total + value


def _mode(counts: list[int]) -> int:
    """The most common count (the larger, on a tie)."""
    values, frequency = np.unique(np.asarray(counts), return_counts=True)
    return int(values[frequency == frequency.max()].max())


def _describe_where(file: CsvFile, wanted: dict[int, set[str]]) -> str:
    parts = []
    for index, accepted in wanted.items():
        name = file.header[index]
        parts.append(" or ".join(f"{name}={v}" for v in sorted(accepted)))
    return ", ".join(parts)


def rebase_positions(rebase: Sequence[str], series: Series, dates: Dates) -> list[tuple[int, str]]:
    """Each --rebase DATE[=REASON] as (the position of its first point, the reason)."""
    assert series.x is not None
    if not series.x:
        return []
    first, last = series.x[0], series.x[-1]
    fmt = "%Y-%m" if dates.monthly else "%Y-%m-%d"
    span = f"{first.strftime(fmt)} to {last.strftime(fmt)}"
    positions: dict[int, tuple[str, str]] = {}
    for text in rebase:
        day, _, reason = text.partition("=")
        when = parse_option_date(day, "--rebase", dates)
        if when == first:
            raise UsageProblem(
                f"--rebase {text}: that is the first date; a rebase there changes nothing — "
                "give a later date"
            )
        if when < first or when > last:
            raise UsageProblem(
                f"--rebase {text}: outside the data, which runs from {span}; give a date after "
                "the first and on or before the last"
            )
        position = next(i for i, x in enumerate(series.x) if x >= when)
        if position in positions:
            raise UsageProblem(
                f"--rebase {positions[position][0]} and --rebase {text} both start the new group "
                f"at {series.x[position].strftime(fmt)}; give one"
            )
        positions[position] = (text, reason.strip() or f"from {series.x[position].strftime(fmt)}")
    return [(p, positions[p][1]) for p in sorted(positions)]


def explain_engine_error(error: SpcInputError, series: Series, monthly: bool) -> str:
    """The engine counts points from 1; say which date and file row instead."""

    def replace(match: re.Match[str]) -> str:
        i = int(match.group(1)) - 1
        return series.label(i, monthly) if 0 <= i < len(series.values) else match.group(0)

    return re.sub(r"\bpoint (\d+)", replace, str(error))


# ----------------------------------------------------------------------------------------------
# Output


def to_json(result: SpcResult, series: Series) -> str:
    points = []
    for i in range(len(result)):
        x: str | int = series.x[i].isoformat() if series.x is not None else i + 1
        points.append(
            {
                "x": x,
                "y": _num(result.y[i]),
                "mean": _num(result.mean[i]),
                "lpl": _num(result.lpl[i]),
                "upl": _num(result.upl[i]),
                "type": result.types[i],
            }
        )
    payload = {"points": points, "variation": result.variation, "assurance": result.assurance}
    return json.dumps(payload, allow_nan=False, ensure_ascii=False)


def _num(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def magnitude_decimals(values: np.ndarray[Any, Any]) -> int:
    known = np.abs(values[~np.isnan(values)])
    top = float(known.max()) if len(known) else 0.0
    if top == 0:
        return 2
    return int(min(6, max(0, 3 - math.floor(math.log10(top)))))


class Formatter:
    def __init__(self, result: SpcResult, value_decimals: int, decimals: int | None) -> None:
        self.percent = result.chart in ("p", "p_prime")
        if decimals is not None:
            self.value_decimals = self.decimals = decimals
        elif self.percent:
            self.value_decimals = self.decimals = 1
        else:
            ceiling = magnitude_decimals(np.concatenate([result.y, result.mean]))
            self.value_decimals = value_decimals if result.chart in ("xmr", "run", "c") else ceiling
            self.decimals = max(self.value_decimals, ceiling)

    def value(self, v: float) -> str:
        return self._format(v, self.value_decimals)

    def stat(self, v: float) -> str:
        return self._format(v, self.decimals)

    def _format(self, v: float, decimals: int) -> str:
        if math.isnan(v):
            return ""
        if self.percent:
            return f"{v * 100:,.{decimals}f}%"
        return f"{v:,.{decimals}f}"


def print_table(
    console: Console,
    result: SpcResult,
    series: Series,
    dates: Dates | None,
    formatter: Formatter,
    title: str,
) -> None:
    """Numbers are never cut or wrapped, whatever the width; the type and rule columns wrap."""
    run = result.chart == "run"
    ratio = result.numerators is not None and result.denominators is not None
    monthly = dates is not None and dates.monthly
    heading = {"p": "proportion", "p_prime": "proportion", "u": "rate", "u_prime": "rate"}
    # (heading, numeric?) in order.
    columns = [("month" if monthly else ("date" if series.x is not None else "#"), True)]
    if ratio:
        columns += [("count", True), ("out of", True)]
    columns.append((heading.get(result.chart, "value"), True))
    columns.append(("median" if run else "mean", True))
    if not run:
        columns += [("lower limit", True), ("upper limit", True)]
    columns += [("type", False), ("rule", False)]

    groups = result.groups
    types = result.types
    rules = result.rules
    rows: list[list[str]] = []
    for i in range(len(result)):
        x = str(i + 1) if series.x is None else _when(series.x[i], monthly)
        cells = [x]
        if ratio and result.numerators is not None and result.denominators is not None:
            cells.append(_count(result.numerators[i]))
            cells.append(_count(result.denominators[i]))
        cells.append(formatter.value(result.y[i]))
        cells.append(formatter.stat(result.mean[i]))
        if not run:
            cells += [formatter.stat(result.lpl[i]), formatter.stat(result.upl[i])]
        kind = types[i]
        if kind is None:
            missing = "no rows" if not series.rows[i] else "no value"
            cells += [f"[grey50]{missing}[/]", ""]
        else:
            cells.append(f"[{TYPE_STYLES[kind]}]{POINT_WORDS[kind]}[/]")
            rule = rules[i]
            cells.append(RULE_WORDS.get(rule, rule) if rule else "")
        rows.append(cells)

    # Widths by hand: rich shrinks columns evenly when a table is too wide, and crops what
    # still does not fit. Each numeric column is as wide as its widest figure (and its heading,
    # when the whole table then fits on one screen; else the heading wraps). Only the type and
    # rule columns shrink, wrapping at spaces, never below their longest word.
    figures = [[Text.from_markup(row[k]).plain for row in rows] for k in range(len(columns))]
    figure_widths = [max((cell_len(t) for t in texts), default=1) for texts in figures]
    heading_widths = [
        max(figure_widths[k], cell_len(name)) if numeric else 0
        for k, (name, numeric) in enumerate(columns)
    ]
    word_widths = [
        max((cell_len(w) for t in [*figures[k], name] for w in t.split()), default=1)
        for k, (name, _) in enumerate(columns)
    ]
    chrome = 3 * len(columns) - 1  # one space either side of each column, a rule between
    text_minimum = sum(word_widths[k] for k, (_, numeric) in enumerate(columns) if not numeric)
    roomy = sum(heading_widths) + text_minimum + chrome <= console.width
    numeric_minimum = sum(
        w for w, (_, numeric) in zip(figure_widths, columns, strict=True) if numeric
    )
    narrowest = numeric_minimum + text_minimum + chrome
    table = Table(
        title=escape(title),
        show_edge=False,
        header_style="bold",
        # Too narrow even for that: the table keeps its narrowest and runs past the edge.
        width=narrowest if narrowest > console.width else None,
    )
    for k, (name, numeric) in enumerate(columns):
        if numeric:
            table.add_column(
                Text(name, no_wrap=False),  # the heading may wrap ("lower / limit") ...
                justify="left" if k == 0 else "right",
                width=heading_widths[k] if roomy else figure_widths[k],
                no_wrap=True,  # ... the figures never do, and are never cut:
                overflow="fold",  # the column holds the widest ("ignore" loses the justify)
            )
        else:
            table.add_column(name, min_width=word_widths[k], overflow="fold")
    for i, cells in enumerate(rows):
        last_of_group = i + 1 < len(result) and groups[i + 1] != groups[i]
        table.add_row(*cells, end_section=last_of_group)
    console.print(table, crop=False)


def _count(v: float) -> str:
    if math.isnan(v):
        return ""
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


def explanation_lines(result: SpcResult, grain: str, unit: str, decimals: int) -> list[str]:
    """The product's sentences for the two icons (as the web app shows them), with the table's
    decimals (trailing zeros dropped), so their figures match the table's."""
    if result.chart in ("p", "p_prime"):
        # The table shows proportions as percentages; so do the sentences.
        result = result.scaled(100.0)
        unit = "%"
    said = explain(result, grain=grain, decimals=decimals, unit=unit)
    lines = [said.variation_sentence]
    if said.assurance_sentence:
        lines.append(said.assurance_sentence)
    return lines


def summary_lines(
    result: SpcResult, series: Series, target: float | None, direction: str, monthly: bool
) -> list[str]:
    lines = []
    variation = result.variation
    last = result.last_index()
    if variation is None or last is None:
        lines.append("Variation: none (no values to analyse)")
    else:
        when = series.label(last, monthly).split(" (")[0]
        lines.append(
            f"Variation: {VARIATION_WORDS[variation]}, the type of the last point ({when})"
        )
    if result.assurance is not None:
        lines.append(f"Assurance: {ASSURANCE_WORDS[result.assurance]}")
    elif target is None:
        lines.append(f"Assurance: {ASSURANCE_WORDS[None]} (no --target)")
    elif result.chart == "run":
        lines.append("Assurance: none (a run chart has no limits to judge a target against)")
    elif direction == "neutral":
        lines.append("Assurance: none (give --direction increase or decrease to judge the target)")
    else:
        lines.append("Assurance: none (no limits at the last point)")
    for signal in result.run_signals:
        group = f"group {signal.group + 1}: " if len(result.run_signals) > 1 else ""
        verdict = []
        if signal.long_run:
            verdict.append("a long run: a shift")
        if signal.few_crossings:
            verdict.append("too few crossings: a shift")
        lines.append(
            f"Anhøj rules, {group}{signal.useful_points} points off the median; longest run "
            f"{signal.longest_run} (signal above {signal.longest_run_max}); crossings "
            f"{signal.crossings} (signal below {signal.crossings_min}) — "
            + ("; ".join(verdict) if verdict else "no signal")
        )
    for warning in result.warnings:
        lines.append(f"Warning: {warning}")
    return lines


# ----------------------------------------------------------------------------------------------
# Charts


def render_charts(
    result: SpcResult,
    series: Series,
    *,
    title: str,
    unit: str,
    decimals: int | None,
    rebases: Sequence[tuple[int, str]],
    svg: Path | None,
    png: Path | None,
) -> list[tuple[Path, bytes]]:
    """Render every requested chart in memory first, so a failure writes nothing."""
    if svg is None and png is None:
        return []
    try:
        from civicloop.spc import chart
    except ImportError as error:  # pragma: no cover - the chart module ships with civicloop
        raise DataProblem(f"charts are not available: {error}") from None
    assert series.x is not None
    try:
        spec = chart.spc_spec(
            result,
            series.x,
            title=title,
            unit=unit,
            decimals=decimals,
            rebases=[(series.x[p], reason) for p, reason in rebases],
        )
        out: list[tuple[Path, bytes]] = []
        if svg is not None:
            out.append((svg, chart.render_svg(spec).encode("utf-8")))
        if png is not None:
            out.append((png, chart.render_png(spec)))
    except Exception as error:  # the renderer's own failures, as one line
        raise DataProblem(
            f"could not draw the chart: {_one_line(str(error)) or type(error).__name__}"
        ) from None
    return out


def write_atomically(path: Path, content: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        # mkstemp makes the file private; give it the mode a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _output_path(value: str | None, option: str) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if path.is_dir():
        raise UsageProblem(f"{option} {value}: that is a folder; give a file name")
    if not path.parent.is_dir():
        raise UsageProblem(f"{option} {value}: the folder {path.parent} does not exist")
    return path


# ----------------------------------------------------------------------------------------------
# The command


@click.command(name="spc", cls=OneLineCommand)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--value",
    "value",
    required=True,
    metavar="COL",
    help="Column of values (counts for p, u and c charts).",
)
@click.option(
    "--date",
    "date_column",
    metavar="COL",
    help="Column of dates; rows are sorted by it. Default: file order.",
)
@click.option(
    "--date-format",
    metavar="FORMAT",
    help="strptime format of --date, e.g. %d/%m/%Y. Default: detected.",
)
@click.option(
    "--chart",
    type=click.Choice(CHARTS),
    default="xmr",
    show_default=True,
    help="xmr, run, p, p_prime, u, u_prime or c.",
)
@click.option(
    "--denominator", metavar="COL", help="Column each count is out of (p, p_prime, u, u_prime)."
)
@click.option(
    "--direction",
    type=click.Choice(DIRECTIONS),
    default="neutral",
    show_default=True,
    help="Which way is better.",
)
@click.option("--target", type=float, default=None, help="Target value, for the assurance icon.")
@click.option(
    "--baseline",
    type=click.IntRange(min=12),
    default=None,
    metavar="N",
    help="Fix the centre and limits on the first N points of each group (12 or more, as "
    "Making Data Count asks). Default: all points.",
)
@click.option(
    "--no-screen", is_flag=True, help="Keep large moving ranges (XmR); as the MDC Excel tool."
)
@click.option(
    "--rebase",
    multiple=True,
    metavar="DATE[=REASON]",
    help="Start a new group at the first point on or after DATE, e.g. 2020-03-01='new rota' "
    "(repeatable; needs --date).",
)
@click.option(
    "--sum", "add_up", is_flag=True, help="Add up rows that share a date (and their denominators)."
)
@click.option(
    "--where",
    multiple=True,
    metavar="COL=VALUE",
    help="Keep only rows where COL equals VALUE (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON, and nothing else.")
@click.option("--svg", metavar="FILE", help="Write the chart as SVG (needs --date).")
@click.option("--png", metavar="FILE", help="Write the chart as PNG (needs --date).")
@click.option("--title", metavar="TEXT", help="Chart and table title. Default: the value column.")
@click.option("--unit", default="", metavar="TEXT", help="Unit for the chart's axis, e.g. tons.")
@click.option(
    "--decimals",
    type=click.IntRange(0, 6),
    default=None,
    metavar="N",
    help="Decimals shown. Default: from the data.",
)
def spc(
    file: Path,
    value: str,
    date_column: str | None,
    date_format: str | None,
    chart: str,
    denominator: str | None,
    direction: str,
    target: float | None,
    baseline: int | None,
    no_screen: bool,
    rebase: tuple[str, ...],
    add_up: bool,
    where: tuple[str, ...],
    as_json: bool,
    svg: str | None,
    png: str | None,
    title: str | None,
    unit: str,
    decimals: int | None,
) -> None:
    """Analyse a CSV column with statistical process control and print the result.

    Reads FILE (UTF-8 or Windows-1252; comma, semicolon or tab), sorts it by --date, and
    prints each point's mean, limits and type, then the variation and assurance icons.
    """
    # Command-line checks first: they need no file.
    if chart in RATIO_CHARTS and not denominator:
        raise UsageProblem(
            f"a {chart} chart needs --denominator COL: the column each count is out of"
        )
    if denominator and chart not in RATIO_CHARTS:
        raise UsageProblem(
            f"--denominator is for p, p_prime, u and u_prime charts, not {chart}; for an "
            "XmR chart of a rate, put the rate in a column of its own"
        )
    if target is not None and not math.isfinite(target):
        raise UsageProblem(f"--target {target}: give a finite number")
    if target is not None and chart in ("p", "p_prime") and not 0 <= target <= 1:
        raise UsageProblem(
            f"--target {target:g}: a {chart} chart plots proportions from 0 to 1; give e.g. "
            "--target 0.95 for 95%"
        )
    if not date_column:
        needs = [
            name
            for name, given in (
                ("--rebase", rebase),
                ("--sum", add_up),
                ("--date-format", date_format),
                ("--svg", svg),
                ("--png", png),
            )
            if given
        ]
        if needs:
            raise UsageProblem(
                f"{', '.join(needs)} need{'s' if len(needs) == 1 else ''} --date COL"
            )
    svg_path = _output_path(svg, "--svg")
    png_path = _output_path(png, "--png")

    csv_file = read_csv(file)
    series, dates, value_decimals, decimal_comma = build_series(
        csv_file,
        value=value,
        date_column=date_column,
        date_format=date_format,
        denominator=denominator,
        where=where,
        add_up=add_up,
    )
    positions = rebase_positions(rebase, series, dates) if rebase and dates else []
    monthly = dates is not None and dates.monthly
    try:
        result = analyse(
            series.values,
            denominators=series.denominators,
            chart=chart,
            direction=direction,
            target=target,
            baseline=baseline,
            screen=not no_screen,
            rebase=[p for p, _ in positions],
        )
    except SpcInputError as error:
        raise DataProblem(explain_engine_error(error, series, monthly)) from None

    heading = title or _default_title(value, csv_file, where)
    formatter = Formatter(result, value_decimals, decimals)
    charts = render_charts(
        result,
        series,
        title=heading,
        unit=unit,
        decimals=decimals,
        rebases=positions,
        svg=svg_path,
        png=png_path,
    )
    for path, content in charts:
        try:
            write_atomically(path, content)
        except OSError as error:
            raise DataProblem(f"cannot write {path}: {error.strerror}") from None

    notes = list(series.notes)
    if target is not None and direction == "neutral" and chart != "run":
        notes.append("a --target needs --direction increase or decrease to give assurance")
    if as_json:
        click.echo(to_json(result, series))
        for note in notes:
            click.echo(f"note: {note}", err=True)
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
        return

    console = Console(highlight=False)
    read = csv_file.describe()
    if decimal_comma:
        read += "; decimal comma in the values"
    if dates is not None:
        read += f"; dates read as {dates.described}"
    console.print(escape(read), soft_wrap=True)
    for note in notes:
        console.print(escape(f"Note: {note}"), soft_wrap=True)
    settings = [CHART_NAMES[chart], f"direction {direction}"]
    if target is not None:
        settings.append(f"target {target:g}")
    if baseline is not None:
        settings.append(f"baseline the first {baseline} points of each group")
    if chart == "xmr":
        settings.append("moving ranges screened" if not no_screen else "moving ranges not screened")
    if positions:
        assert series.x is not None
        fmt = "%Y-%m" if monthly else "%Y-%m-%d"
        settings.append(
            "rebased at "
            + ", ".join(f"{series.x[p].strftime(fmt)} ({reason})" for p, reason in positions)
        )
    console.print(escape("; ".join(settings)), soft_wrap=True)
    print_table(console, result, series, dates, formatter, heading)
    for line in explanation_lines(result, series.grain or "point", unit, formatter.decimals):
        console.print(escape(line), soft_wrap=True)
    for line in summary_lines(result, series, target, direction, monthly):
        console.print(escape(line), soft_wrap=True)
    for path, _ in charts:
        console.print(escape(f"Wrote {path}"), soft_wrap=True)


def _default_title(value: str, file: CsvFile, where: Sequence[str]) -> str:
    if not where:
        return value
    return f"{value} ({', '.join(w.strip() for w in where)})"
