"""Reading .xlsx safely (excel.py) and giving data back as CSV / Excel (export.py). No database."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from civicloop.datasets.engine import export
from civicloop.datasets.engine.excel import (
    SheetChoiceError,
    check_xlsx,
    column_letter,
    format_float,
    list_sheets,
    xlsx_to_csv,
)
from civicloop.datasets.engine.export import (
    ExportError,
    neutralise,
    write_csv,
    write_xlsx,
)
from civicloop.datasets.engine.stage import SourceError


def read_csv(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.reader(handle))


def convert(path: Path, tmp_path: Path, sheet: str | None = None) -> list[list[str]]:
    dest = tmp_path / "out.csv"
    _, rows = xlsx_to_csv(path, dest, sheet=sheet)
    lines = read_csv(dest)
    assert rows == len(lines) - 1
    return lines


def rewrite_member(source: Path, dest: Path, name: str, change: object) -> None:
    """Copy a zip, passing member `name` through `change(bytes) -> bytes`."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info)
            if info.filename == name:
                data = change(data)  # type: ignore[operator]
            new.writestr(info.filename, data)


@pytest.fixture
def typed_workbook(tmp_path: Path) -> Path:
    """One sheet of every cell type, written by xlsxwriter, with junk in the 'used range'."""
    path = tmp_path / "typed.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Requests")
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    datetime_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    time_format = workbook.add_format({"num_format": "hh:mm:ss"})
    fill = workbook.add_format({"bg_color": "#FFFF00"})
    header = ["id", "opened", "closed_at", "count", "ratio", "ok", "total", "note", "at"]
    for column, name in enumerate(header):
        sheet.write_string(0, column, name)
    rows = [
        (1, date(2024, 3, 1), datetime(2024, 3, 1, 8, 30), 5, 1.5, True, 6.5, "plain", time(8, 5)),
        (2, date(2024, 2, 29), datetime(2024, 3, 2, 0, 0), -7, 0.1, False, -6.9, "a, b", None),
        (3, None, None, 12345678901, 1e-05, None, None, 'say "hi"\nbye', None),
    ]
    for row, values in enumerate(rows, start=1):
        (ident, opened, closed, count, ratio, ok, total, note, at) = values
        sheet.write_number(row, 0, ident)
        if opened:
            sheet.write_datetime(row, 1, opened, date_format)
        if closed:
            sheet.write_datetime(row, 2, closed, datetime_format)
        sheet.write_number(row, 3, count)
        sheet.write_number(row, 4, ratio)
        if ok is not None:
            sheet.write_boolean(row, 5, ok)
        if total is not None:
            sheet.write_formula(row, 6, f"=D{row + 1}+E{row + 1}", None, total)
        sheet.write_string(row, 7, note)
        if at:
            sheet.write_datetime(row, 8, at, time_format)
    sheet.write_number(5, 0, 5)  # row 5 (sheet row 5) left blank: an interior blank row
    sheet.write_number(6, 4, 3.0)
    sheet.write_number(6, 3, 1e16)
    # Formatted but empty cells below and to the right: Excel's over-large used range.
    for row in range(7, 40):
        sheet.write_blank(row, 0, None, fill)
    for column in range(9, 15):
        sheet.write_blank(2, column, None, fill)
    sheet.write_string(60, 2, "   ")  # whitespace only: still "empty" for trimming
    workbook.close()
    return path


# --- reading ------------------------------------------------------------------------------


def test_types_become_iso_and_plain_numbers(typed_workbook: Path, tmp_path: Path) -> None:
    lines = convert(typed_workbook, tmp_path)
    assert lines[0] == ["id", "opened", "closed_at", "count", "ratio", "ok", "total", "note", "at"]
    assert lines[1] == [
        "1", "2024-03-01", "2024-03-01T08:30:00", "5", "1.5", "true", "6.5", "plain", "08:05:00",
    ]  # fmt: skip
    # midnight in a datetime format stays a datetime; booleans; cached formula values
    assert lines[2] == [
        "2", "2024-02-29", "2024-03-02T00:00:00", "-7", "0.1", "false", "-6.9", "a, b", "",
    ]  # fmt: skip
    assert lines[3] == ["3", "", "", "12345678901", "0.00001", "", "", 'say "hi"\nbye', ""]
    assert lines[4] == [""] * 9  # interior blank row kept, so row numbers match the sheet
    assert lines[5] == ["5", "", "", "", "", "", "", "", ""]
    assert lines[6] == ["", "", "", "10000000000000000", "3", "", "", "", ""]
    assert len(lines) == 7  # trailing blank / formatted / whitespace-only rows dropped


def test_midnight_datetime_in_date_format_is_a_date(tmp_path: Path) -> None:
    path = tmp_path / "dates.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["day", "stamp"])
    sheet.append([datetime(2024, 3, 1), datetime(2024, 3, 1)])
    sheet["A2"].number_format = "mm/dd/yyyy"
    sheet["B2"].number_format = "mm/dd/yyyy hh:mm"
    sheet.append([date(1999, 12, 31), datetime(2024, 3, 1, 8, 30, 15, 250000)])
    workbook.save(path)
    lines = convert(path, tmp_path)
    assert lines[1] == ["2024-03-01", "2024-03-01T00:00:00"]
    assert lines[2] == ["1999-12-31", "2024-03-01T08:30:15.250"]


def test_several_sheets_need_a_choice(tmp_path: Path) -> None:
    path = tmp_path / "multi.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    workbook.add_worksheet("Requests").write_row(0, 0, ["id", "kind"])
    notes = workbook.add_worksheet("Notes")
    notes.write_row(0, 0, ["note"])
    notes.write_row(1, 0, ["hello"])
    workbook.add_chartsheet("Chart")  # not a worksheet: never offered
    chart = workbook.add_chart({"type": "line"})
    chart.add_series({"values": "=Requests!$A$2:$A$3"})
    workbook.worksheets()[-1].set_chart(chart)
    workbook.close()

    assert list_sheets(path) == ["Requests", "Notes"]
    with pytest.raises(SheetChoiceError) as raised:
        xlsx_to_csv(path, tmp_path / "out.csv")
    assert (
        str(raised.value) == "The workbook has sheets 'Requests', 'Notes': choose one with --sheet."
    )
    assert raised.value.sheets == ["Requests", "Notes"]
    assert not (tmp_path / "out.csv").exists()

    sheet, rows = xlsx_to_csv(path, tmp_path / "out.csv", sheet="Notes")
    assert (sheet, rows) == ("Notes", 1)
    assert read_csv(tmp_path / "out.csv") == [["note"], ["hello"]]
    assert xlsx_to_csv(path, tmp_path / "out.csv", sheet=" notes ")[0] == "Notes"
    with pytest.raises(SheetChoiceError, match=r"no sheet named 'Summary'.*'Requests', 'Notes'"):
        xlsx_to_csv(path, tmp_path / "out.csv", sheet="Summary")


def test_header_only_and_empty_sheet(tmp_path: Path) -> None:
    path = tmp_path / "thin.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    workbook.add_worksheet("Header").write_row(0, 0, ["a", "b"])
    workbook.add_worksheet("Empty").write_blank(5, 5, None, workbook.add_format({"bold": True}))
    workbook.close()
    assert xlsx_to_csv(path, tmp_path / "h.csv", sheet="Header") == ("Header", 0)
    assert read_csv(tmp_path / "h.csv") == [["a", "b"]]
    with pytest.raises(SourceError, match="'Empty' is empty"):
        xlsx_to_csv(path, tmp_path / "e.csv", sheet="Empty")


def test_header_gap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "gap.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["id", None, "kind"])
    sheet.append([1, 2, 3])
    workbook.save(path)
    with pytest.raises(SourceError, match=r"Column 2 \(B\) of the header row .* is empty"):
        xlsx_to_csv(path, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_value_in_a_column_without_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "stray.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["id", "kind"])
    sheet.append([1, "x"])
    sheet.append([2, "y", None, "oops"])
    workbook.save(path)
    with pytest.raises(SourceError, match=r"Row 3 .* \('oops'\) in column 4 \(D\)"):
        xlsx_to_csv(path, tmp_path / "out.csv")


def test_table_away_from_the_corner(tmp_path: Path) -> None:
    """Blank rows above and a blank margin column left of the table are skipped."""
    path = tmp_path / "margin.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet["B3"], sheet["C3"] = "id", "name"
    sheet["B4"], sheet["C4"] = 1, "Ana"
    sheet["B5"], sheet["C5"] = 2, "=Ben"  # text that looks like a formula is just text here
    sheet["C5"].data_type = "s"
    sheet["A9"] = " "
    workbook.save(path)
    assert convert(path, tmp_path) == [["id", "name"], ["1", "Ana"], ["2", "=Ben"]]


def test_wrong_declared_dimension_does_not_lose_rows(tmp_path: Path) -> None:
    made = tmp_path / "made.xlsx"
    workbook = xlsxwriter.Workbook(str(made))
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["n", "square"])
    for n in range(1, 51):
        sheet.write_row(n, 0, [n, n * n])
    workbook.close()
    lying = tmp_path / "lying.xlsx"
    rewrite_member(
        made,
        lying,
        "xl/worksheets/sheet1.xml",
        lambda data: re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:A2"/>', data),
    )
    lines = convert(lying, tmp_path)
    assert len(lines) == 51
    assert lines[-1] == ["50", "2500"]


def test_progress_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "long.xlsx"
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["n"])
    for n in range(1, 25_001):
        sheet.write_number(n, 0, n)
    workbook.close()
    calls: list[tuple[int, int | None]] = []
    assert xlsx_to_csv(path, tmp_path / "out.csv", progress=lambda *a: calls.append(a)) == (
        "Sheet1",
        25_000,
    )
    assert calls == [(10_000, None), (20_000, None), (25_000, None)]


def test_number_and_column_formatting() -> None:
    assert [format_float(v) for v in (3.0, -0.0, 0.1 + 0.2, 1e-7, 1.5e20, 123456.789)] == [
        "3",
        "0",
        "0.30000000000000004",
        "0.0000001",
        "150000000000000000000",
        "123456.789",
    ]
    assert [column_letter(i) for i in (0, 25, 26, 27, 701, 702)] == [
        "A", "Z", "AA", "AB", "ZZ", "AAA",
    ]  # fmt: skip


# --- refusing bad files -------------------------------------------------------------------


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    path.write_bytes(b"")
    with pytest.raises(SourceError, match=r"empty \(0 bytes\)"):
        check_xlsx(path)
    with pytest.raises(SourceError, match="empty"):
        xlsx_to_csv(path, tmp_path / "out.csv")


def test_text_file_renamed_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    path.write_text("id,name\n1,Ana\n", encoding="utf-8")
    with pytest.raises(SourceError) as raised:
        xlsx_to_csv(path, tmp_path / "out.csv")
    assert str(raised.value) == (
        "Not an Excel .xlsx file: it is not a zip archive; if it is an old .xls, save it as .xlsx."
    )


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "photos.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("holiday/readme.txt", "not a spreadsheet")
    with pytest.raises(SourceError, match="a zip archive but not an Excel workbook"):
        check_xlsx(path)

    document = tmp_path / "letter.xlsx"
    with zipfile.ZipFile(document, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    with pytest.raises(SourceError, match="Word document"):
        check_xlsx(document)

    ods = tmp_path / "calc.xlsx"
    with zipfile.ZipFile(ods, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<office/>")
    with pytest.raises(SourceError, match=r"OpenDocument spreadsheet \(\.ods\)"):
        check_xlsx(ods)


def test_old_xls_and_encrypted_workbook(tmp_path: Path) -> None:
    magic = bytes.fromhex("D0CF11E0A1B11AE1")
    xls = tmp_path / "old.xlsx"
    xls.write_bytes(magic + bytes(4096) + "Workbook".encode("utf-16-le") + bytes(512))
    with pytest.raises(SourceError, match=r"old Excel 97-2003 \.xls"):
        check_xlsx(xls)
    locked = tmp_path / "locked.xlsx"
    locked.write_bytes(
        magic + bytes(4096) + "EncryptionInfo".encode("utf-16-le") + bytes(64)
        + "EncryptedPackage".encode("utf-16-le") + bytes(512)
    )  # fmt: skip
    with pytest.raises(SourceError, match="password-protected"):
        xlsx_to_csv(locked, tmp_path / "out.csv")


def test_truncated_workbook(typed_workbook: Path, tmp_path: Path) -> None:
    data = typed_workbook.read_bytes()
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match="truncated"):
        xlsx_to_csv(cut, tmp_path / "out.csv")


def test_damaged_workbook_gets_a_message_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types")
        archive.writestr("xl/workbook.xml", "garbage")
    with pytest.raises(SourceError, match=r"damaged or not a valid \.xlsx"):
        xlsx_to_csv(path, tmp_path / "out.csv")
    with pytest.raises(SourceError, match=r"damaged or not a valid \.xlsx"):
        list_sheets(path)


def test_xml_entity_declarations_are_refused(typed_workbook: Path, tmp_path: Path) -> None:
    laughs = (
        b'<?xml version="1.0"?>\n<!-- hello -->\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n'
    )
    evil = tmp_path / "evil.xlsx"
    rewrite_member(
        typed_workbook,
        evil,
        "xl/sharedStrings.xml",
        lambda data: laughs + data.split(b"?>", 1)[1],
    )
    with pytest.raises(SourceError, match=r"'xl/sharedStrings.xml' .* declares a DOCTYPE"):
        xlsx_to_csv(evil, tmp_path / "out.csv")


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workbook-shaped zip whose sheet is 300 MB of zeros squeezed into ~300 KB."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.xlsx"
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            for _ in range(300):
                member.write(chunk)
    return path


def test_zip_bomb_ratio(zip_bomb: Path, tmp_path: Path) -> None:
    assert zip_bomb.stat().st_size < 2_000_000
    with pytest.raises(SourceError) as raised:
        xlsx_to_csv(zip_bomb, tmp_path / "out.csv")
    message = str(raised.value)
    assert "zip bomb" in message
    assert "'xl/worksheets/sheet1.xml'" in message
    assert "314,572,800 bytes" in message
    assert "limit is 200 to 1" in message
    assert not (tmp_path / "out.csv").exists()


def test_zip_bomb_total_size(zip_bomb: Path, typed_workbook: Path) -> None:
    with pytest.raises(SourceError, match=r"expand to 314,5\d\d,\d\d\d bytes, over the limit"):
        check_xlsx(zip_bomb, max_uncompressed_bytes=100 * 1024**2, max_ratio=10_000)
    # an ordinary workbook over a (lowered) total size: ratio is fine, the total is not
    with pytest.raises(SourceError, match=r"over the limit of 1,000 bytes \(the largest, '"):
        check_xlsx(typed_workbook, max_uncompressed_bytes=1_000)
    check_xlsx(typed_workbook)  # and the defaults accept it


def test_too_many_members(tmp_path: Path) -> None:
    path = tmp_path / "many.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        for n in range(30):
            archive.writestr(f"xl/junk/{n}.bin", b"x")
    with pytest.raises(SourceError, match="lists 32 members"):
        check_xlsx(path, max_members=20)


# --- export -------------------------------------------------------------------------------


def test_neutralise() -> None:
    for text in ("=SUM(A1)", "+1", "-x", "@cmd", "-5", "\tx", "\r=1"):
        assert neutralise(text) == "'" + text
    for value in (-5, -2.5, None, date(2024, 1, 1), "plain", "", "a=b", Decimal("-1")):
        assert neutralise(value) == value


def batches_of(rows: list[tuple[object, ...]], size: int = 2) -> Iterator[list[tuple[object, ...]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


ROWS: list[tuple[object, ...]] = [
    ("=SUM(A1)", 1, 1.5, date(2024, 3, 1), datetime(2024, 3, 1, 8, 30), True),
    ("+1", -5, -2.25, None, datetime(2024, 3, 2), False),
    ("-x", 0, None, date(2024, 2, 29), None, None),
    (
        "@cmd",
        12345678901234567,
        0.1,
        date(1850, 6, 1),
        datetime(2024, 3, 1, 8, 30, 0, 500000),
        None,
    ),
    ("plain, with comma", 7, 1e-05, None, None, None),
]
HEADER = ["text", "count", "ratio", "day", "at", "ok"]


def test_write_csv_neutralises_text_only(tmp_path: Path) -> None:
    dest = tmp_path / "out.csv"
    assert write_csv(dest, HEADER, batches_of(ROWS)) == 5
    raw = dest.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbftext,count")
    assert b"\r\n" in raw
    lines = read_csv(dest, encoding="utf-8-sig")
    assert lines[0] == HEADER
    assert lines[1] == ["'=SUM(A1)", "1", "1.5", "2024-03-01", "2024-03-01T08:30:00", "true"]
    assert lines[2] == ["'+1", "-5", "-2.25", "", "2024-03-02T00:00:00", "false"]
    assert lines[3] == ["'-x", "0", "", "2024-02-29", "", ""]
    assert lines[4] == ["'@cmd", "12345678901234567", "0.1", "1850-06-01",
                        "2024-03-01T08:30:00.500", ""]  # fmt: skip
    assert lines[5] == ["plain, with comma", "7", "0.00001", "", "", ""]


def test_write_csv_plain_for_machines(tmp_path: Path) -> None:
    dest = tmp_path / "out.csv"
    write_csv(dest, ["v"], [[("=1",), (-5,)]], neutralise_text=False, bom=False)
    assert dest.read_bytes() == b"v\r\n=1\r\n-5\r\n"


def test_write_xlsx_round_trip(tmp_path: Path) -> None:
    dest = tmp_path / "out.xlsx"
    assert write_xlsx(dest, HEADER, batches_of(ROWS), sheet_name="requests") == 5

    workbook = openpyxl.load_workbook(dest)  # full mode, to inspect types and formats
    sheet = workbook["requests"]
    assert [cell.value for cell in sheet[1]] == HEADER
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:F6"

    texts = [sheet.cell(row, 1) for row in range(2, 7)]
    assert [cell.value for cell in texts] == [
        "'=SUM(A1)",
        "'+1",
        "'-x",
        "'@cmd",
        "plain, with comma",
    ]
    assert all(cell.data_type == "s" for cell in texts)  # text, never a formula

    count = sheet["B3"]
    assert count.value == -5 and count.data_type == "n"  # a number is never neutralised
    assert sheet["B5"].value == "12345678901234567"  # more digits than Excel keeps: text
    assert sheet["C2"].value == 1.5 and sheet["C2"].data_type == "n"
    assert sheet["C6"].value == 1e-05
    assert sheet["D2"].is_date and sheet["D2"].value == datetime(2024, 3, 1)
    assert sheet["D2"].number_format == "yyyy-mm-dd"
    assert sheet["D5"].value == "1850-06-01"  # before Excel's calendar: ISO text
    assert sheet["E2"].is_date and sheet["E2"].value == datetime(2024, 3, 1, 8, 30)
    assert sheet["E5"].value == datetime(2024, 3, 1, 8, 30, 0, 500000)
    assert sheet["F2"].value is True and sheet["F3"].value is False
    assert sheet["D3"].value is None and sheet["C4"].value is None

    # and reading the export back gives the values that went in (dates as ISO text)
    lines = convert(dest, tmp_path)
    assert lines[1] == ["'=SUM(A1)", "1", "1.5", "2024-03-01", "2024-03-01T08:30:00", "true"]
    assert lines[2] == ["'+1", "-5", "-2.25", "", "2024-03-02T00:00:00", "false"]


def test_write_xlsx_other_types(tmp_path: Path) -> None:
    dest = tmp_path / "out.xlsx"
    rows = [
        (Decimal("12.50"), time(8, 5), timedelta(hours=36), ["=x"], float("nan")),
        (Decimal("1234567890.123456789"), None, None, {"a": 1}, 2.0),
    ]
    write_xlsx(dest, ["amount", "at", "took", "tags", "x"], [rows])
    sheet = openpyxl.load_workbook(dest)["data"]
    assert sheet["A2"].value == 12.5 and sheet["A2"].data_type == "n"
    assert sheet["A3"].value == "1234567890.123456789"
    assert sheet["B2"].value == time(8, 5)
    assert sheet["C2"].value == timedelta(hours=36)
    assert sheet["D2"].value == "['=x']" and sheet["D3"].value == "{'a': 1}"
    assert sheet["E2"].value == "NaN"  # Excel has no NaN; text rather than an error formula


def test_write_xlsx_too_many_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "EXCEL_MAX_DATA_ROWS", 3)
    dest = tmp_path / "big.xlsx"
    with pytest.raises(ExportError, match=r"more than 3 rows.*Export it as CSV instead"):
        write_xlsx(dest, ["n"], batches_of([(n,) for n in range(10)]))
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary files left either
    assert export.EXCEL_MAX_ROWS == 1_048_576


def test_write_xlsx_text_too_long_for_a_cell(tmp_path: Path) -> None:
    dest = tmp_path / "long.xlsx"
    with pytest.raises(ExportError, match=r"row 3, column B is 40,000 characters"):
        write_xlsx(dest, ["a", "b"], [[("x", "short"), ("y", "z" * 40_000)]])
    assert not dest.exists()


def test_write_xlsx_bad_sheet_name(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="cannot be written"):
        write_xlsx(tmp_path / "out.xlsx", ["a"], [], sheet_name="bad/name?")
    assert list(tmp_path.iterdir()) == []


def test_write_csv_streams_batches(tmp_path: Path) -> None:
    consumed: list[int] = []

    def batches() -> Iterator[list[tuple[int]]]:
        for start in range(0, 30, 10):
            consumed.append(start)
            yield [(n,) for n in range(start, start + 10)]

    assert write_csv(tmp_path / "out.csv", ["n"], batches()) == 30
    assert consumed == [0, 10, 20]
    text = (tmp_path / "out.csv").read_text(encoding="utf-8-sig")
    assert list(csv.reader(io.StringIO(text)))[-1] == ["29"]
