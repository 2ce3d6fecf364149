"""Giving a dataset version back as CSV or Excel, in bounded memory.

Rows arrive in batches (for example DuckDB `fetchmany`), are written and forgotten. Both
writers are meant for spreadsheets, so text cells are *neutralised*: a text value that starts
with a character Excel or LibreOffice would read as the start of a formula (`=`, `+`, `-`, `@`,
tab, carriage return) gets a leading apostrophe and cannot execute. Only text is touched:
numbers, dates and blanks keep their values, so -5 stays a number while the text "-5" is
prefixed. In the .xlsx file every text cell is also written as a string cell, never parsed as
a formula, number or URL.
"""

from __future__ import annotations

import csv
import math
import tempfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]
from xlsxwriter.exceptions import (  # type: ignore[import-untyped]
    FileSizeError,
    XlsxInputError,
)

from civicloop.datasets.engine.excel import column_letter, value_text

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

EXCEL_MAX_ROWS = 1_048_576  # per sheet, the header row included
EXCEL_MAX_DATA_ROWS = EXCEL_MAX_ROWS - 1
EXCEL_MAX_COLUMNS = 16_384
EXCEL_MAX_TEXT = 32_767  # characters (UTF-16 code units) in one cell
EXCEL_EXACT_DIGITS = 15  # Excel keeps 15 significant digits; longer numbers go in as text
EXCEL_FIRST_DATE = date(1900, 1, 1)

Rows = Iterable[Iterable[Sequence[object]]]


class ExportError(ValueError):
    """The data cannot be written in the requested format. The message says what to do."""


def neutralise(value: object) -> object:
    """Prefix text that a spreadsheet would read as a formula with an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


# --- CSV ----------------------------------------------------------------------------------


def write_csv(
    dest: Path,
    header: list[str],
    batches: Rows,
    *,
    neutralise_text: bool = True,
    bom: bool = True,
) -> int:
    """Write a CSV (UTF-8 with a BOM so that Excel detects the encoding, CRLF line ends,
    minimal quoting). Dates and times are ISO 8601. Returns the number of data rows."""
    rows = 0
    encoding = "utf-8-sig" if bom else "utf-8"
    with dest.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        writer.writerow([csv_text(name, neutralise_text) for name in header])
        for batch in batches:
            lines = [[csv_text(value, neutralise_text) for value in row] for row in batch]
            writer.writerows(lines)
            rows += len(lines)
    return rows


def csv_text(value: object, neutralise_text: bool = True) -> str:
    if isinstance(value, str):
        return "'" + value if neutralise_text and value.startswith(FORMULA_PREFIXES) else value
    text = value_text(value)
    if neutralise_text and not _is_typed(value) and text.startswith(FORMULA_PREFIXES):
        return "'" + text  # the text form of some other object (a list, a UUID, ...)
    return text


def _is_typed(value: object) -> bool:
    return value is None or isinstance(value, int | float | Decimal | date | time | timedelta)


# --- Excel ----------------------------------------------------------------------------------


def write_xlsx(dest: Path, header: list[str], batches: Rows, *, sheet_name: str = "data") -> int:
    """Write an .xlsx workbook of one sheet in constant memory. Returns the number of data rows.

    Numbers are numbers, dates and times real Excel dates in an ISO-like format, booleans
    booleans, None a blank cell; text is always a string cell and neutralised. Integers and
    decimals with more significant digits than Excel keeps are written as text, and dates
    before 1900 and NaN / infinities (which Excel cannot represent) as text, so no value is
    silently changed.
    The header row is bold, frozen and has filter buttons. Raises ExportError when the data does
    not fit in a sheet; nothing is left at `dest` then.
    """
    if len(header) > EXCEL_MAX_COLUMNS:
        raise ExportError(
            f"The data has {len(header):,} columns; an Excel sheet holds at most "
            f"{EXCEL_MAX_COLUMNS:,}. Export it as CSV instead."
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".xlsx-export-") as scratch:
        workbook = xlsxwriter.Workbook(
            str(dest),
            {
                "constant_memory": True,  # rows go to a temporary file as they are written
                "tmpdir": scratch,
                "strings_to_formulas": False,
                "strings_to_numbers": False,
                "strings_to_urls": False,
                "remove_timezone": True,
            },
        )
        try:
            rows = _fill_workbook(workbook, header, batches, sheet_name)
            workbook.close()
        except BaseException as error:
            _abandon(workbook)
            dest.unlink(missing_ok=True)
            if isinstance(error, XlsxInputError):
                raise ExportError(f"The Excel file cannot be written: {error}") from None
            if isinstance(error, FileSizeError):
                raise ExportError(
                    "The data is too large for an Excel file. Export it as CSV instead."
                ) from None
            raise
    return rows


def _fill_workbook(workbook: Any, header: list[str], batches: Rows, sheet_name: str) -> int:
    worksheet = workbook.add_worksheet(sheet_name)
    writer = _CellWriter(workbook, worksheet)
    bold = workbook.add_format({"bold": True})
    for column, name in enumerate(header):
        worksheet.set_column(column, column, min(max(len(name) + 4, 10), 60))
    for column, name in enumerate(header):
        worksheet.write_string(0, column, writer.text(0, column, str(neutralise(name))), bold)
    worksheet.freeze_panes(1, 0)

    row = 0
    for batch in batches:
        for values in batch:
            row += 1
            if row > EXCEL_MAX_DATA_ROWS:
                raise ExportError(
                    f"The data has more than {EXCEL_MAX_DATA_ROWS:,} rows, the most an Excel "
                    "sheet can hold below its header. Export it as CSV instead."
                )
            for column, value in enumerate(values):
                writer.write(row, column, value)
    if header:
        worksheet.autofilter(0, 0, row, len(header) - 1)
    return row


class _CellWriter:
    def __init__(self, workbook: Any, worksheet: Any) -> None:
        self.worksheet = worksheet
        self.date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
        self.datetime_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.time_format = workbook.add_format({"num_format": "hh:mm:ss"})
        self.duration_format = workbook.add_format({"num_format": "[h]:mm:ss"})

    def write(self, row: int, column: int, value: object) -> None:
        sheet = self.worksheet
        if value is None:
            return  # a blank cell
        if isinstance(value, str):
            sheet.write_string(row, column, self.text(row, column, str(neutralise(value))))
        elif isinstance(value, bool):
            sheet.write_boolean(row, column, value)
        elif isinstance(value, int):
            if abs(value) < 10**EXCEL_EXACT_DIGITS:
                sheet.write_number(row, column, value)
            else:
                sheet.write_string(row, column, str(value))
        elif isinstance(value, float):
            if math.isfinite(value):
                sheet.write_number(row, column, value)
            else:
                sheet.write_string(row, column, value_text(value))  # NaN, INF, -INF
        elif isinstance(value, Decimal):
            if value.is_finite() and len(value.normalize().as_tuple().digits) <= 15:
                sheet.write_number(row, column, float(value))
            else:
                sheet.write_string(row, column, value_text(value))
        elif isinstance(value, datetime):
            if value.date() < EXCEL_FIRST_DATE:
                sheet.write_string(row, column, value_text(value))
            else:
                sheet.write_datetime(row, column, value, self.datetime_format)
        elif isinstance(value, date):
            if value < EXCEL_FIRST_DATE:
                sheet.write_string(row, column, value_text(value))
            else:
                sheet.write_datetime(row, column, value, self.date_format)
        elif isinstance(value, time):
            sheet.write_datetime(row, column, value, self.time_format)
        elif isinstance(value, timedelta):
            sheet.write_datetime(row, column, value, self.duration_format)
        else:
            text = str(neutralise(value_text(value)))
            sheet.write_string(row, column, self.text(row, column, text))

    @staticmethod
    def text(row: int, column: int, text: str) -> str:
        if len(text) > EXCEL_MAX_TEXT // 2 and _utf16_len(text) > EXCEL_MAX_TEXT:
            where = "the header" if row == 0 else f"row {row + 1:,}"
            raise ExportError(
                f"The text in {where}, column {column_letter(column)} is "
                f"{_utf16_len(text):,} characters long; an Excel cell holds at most "
                f"{EXCEL_MAX_TEXT:,}. Export it as CSV instead."
            )
        return text


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _abandon(workbook: Any) -> None:
    """Close the temporary row file of a workbook that will not be finished."""
    for worksheet in workbook.worksheets():
        handle = getattr(worksheet, "row_data_fh", None)
        if handle is not None and not handle.closed:
            handle.close()
