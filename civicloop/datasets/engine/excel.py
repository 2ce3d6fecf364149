"""Reading an Excel .xlsx workbook safely: one sheet, streamed to a UTF-8 CSV.

An .xlsx file is a zip archive of XML parts, and people upload what they have: old .xls files
renamed, password-protected workbooks, truncated downloads, and occasionally a zip bomb.
`check_xlsx` looks at the archive's directory (declared sizes, compression ratios, member
count) and at the first bytes of each XML part *before* openpyxl parses anything, so a hostile
file is refused with a plain message instead of exhausting memory or disk. Nothing is ever
extracted to disk.

`xlsx_to_csv` then streams one sheet (openpyxl read-only mode, cached formula values) into a
CSV of text cells that the CSV stager reads like any other file: the first non-empty row is the
header, interior blank rows are kept (so row numbers in validation messages still match the
sheet's), trailing blank rows and columns, Excel's over-large "used range", are dropped.
"""

from __future__ import annotations

import codecs
import csv
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

from openpyxl import load_workbook
from openpyxl.styles.numbers import is_datetime

from civicloop.datasets.engine.stage import SourceError

RowProgress = Callable[[int, int | None], None]  # (rows done, rows total if known)

MAX_MEMBERS = 10_000  # a workbook has a few dozen parts; ten thousand is generous
RATIO_MIN_BYTES = 1 << 20  # small parts may compress very well and harm nobody
PROLOG_BYTES = 64 << 10  # how much of an XML part is read to check it declares no DTD
SCAN_BYTES = 8 << 20
PROGRESS_EVERY = 10_000

OLE2_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")  # Office 97-2003 files, and encrypted OOXML
ZIP_LOCAL = b"PK\x03\x04"
ZIP_END = b"PK\x05\x06"
ZIP64_LOCATOR = b"PK\x06\x07"
ZIP64_END = b"PK\x06\x06"
COMPRESSIONS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}

NOT_A_ZIP = (
    "Not an Excel .xlsx file: it is not a zip archive; if it is an old .xls, save it as .xlsx."
)


class SheetChoiceError(SourceError):
    """The sheet to read is missing or unknown; `sheets` lists the workbook's worksheets."""

    def __init__(self, message: str, sheets: list[str]) -> None:
        super().__init__(message)
        self.sheets = sheets


# --- checking the archive before anything parses it ---------------------------------------


def check_xlsx(
    path: Path,
    *,
    max_uncompressed_bytes: int = 2 * 1024**3,
    max_ratio: float = 200.0,
    max_members: int = MAX_MEMBERS,
) -> None:
    """Raise SourceError unless `path` looks like a genuine, reasonably sized .xlsx workbook."""
    size = path.stat().st_size
    if size == 0:
        raise SourceError("The file is empty (0 bytes).")
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(OLE2_MAGIC):
        raise SourceError(_explain_ole2(path))
    if head.startswith(ZIP_END):
        raise SourceError("The file is an empty zip archive, not an Excel workbook.")
    if not head.startswith(ZIP_LOCAL):
        raise SourceError(NOT_A_ZIP)

    entries, directory_bytes = _zip_directory(path, size)
    if entries > max_members or directory_bytes > max(1 << 20, max_members * 512):
        raise SourceError(
            f"The file looks like a zip bomb: its archive lists {entries:,} members "
            f"({directory_bytes:,} bytes of directory); an Excel workbook has far fewer than "
            f"{max_members:,}."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            _check_sizes(infos, max_uncompressed_bytes, max_ratio, max_members)
            _check_workbook_parts(archive, infos)
            for info in infos:
                if info.filename.lower().endswith((".xml", ".rels")):
                    _check_xml_prolog(archive, info)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
        raise SourceError(
            f"The .xlsx file is damaged and cannot be read ({error}). Open it in Excel and save "
            "it again, or download it again."
        ) from None


def _zip_directory(path: Path, size: int) -> tuple[int, int]:
    """Member count and directory size from the end-of-archive record, before zipfile reads
    the whole directory into memory. A missing record means the file was cut short."""
    with path.open("rb") as handle:
        start = max(0, size - (22 + 0xFFFF))  # the record plus the longest possible comment
        handle.seek(start)
        tail = handle.read()
        position = tail.rfind(ZIP_END)
        if position < 0 or len(tail) - position < 22:
            raise SourceError(
                "The .xlsx file is truncated or damaged: the zip archive's directory, at the "
                "end of the file, is missing. Download or save the file again."
            )
        entries, directory_bytes = struct.unpack("<HI", tail[position + 10 : position + 16])
        locator = position - 20
        zip64 = entries == 0xFFFF or directory_bytes == 0xFFFFFFFF
        if zip64 and locator >= 0 and tail[locator : locator + 4] == ZIP64_LOCATOR:
            (offset,) = struct.unpack("<Q", tail[locator + 8 : locator + 16])
            handle.seek(offset)
            record = handle.read(56)
            if record[:4] == ZIP64_END and len(record) == 56:
                entries, directory_bytes = struct.unpack("<QQ", record[32:48])
    return int(entries), int(directory_bytes)


def _check_sizes(
    infos: Sequence[zipfile.ZipInfo], max_bytes: int, max_ratio: float, max_members: int
) -> None:
    # zipfile never yields more than a member's declared size (it stops there and fails the
    # CRC check), so the declared sizes are a real bound on what parsing can decompress.
    if len(infos) > max_members:
        raise SourceError(
            f"The file looks like a zip bomb: it has {len(infos):,} members; an Excel workbook "
            f"has far fewer than {max_members:,}."
        )
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= RATIO_MIN_BYTES and ratio > max_ratio:
            raise SourceError(
                f"The file looks like a zip bomb: member {info.filename!r} would expand from "
                f"{info.compress_size:,} to {info.file_size:,} bytes, a ratio of {ratio:,.0f} "
                f"to 1 (the limit is {max_ratio:,.0f} to 1)."
            )
        if info.flag_bits & 0x1:
            raise SourceError(
                f"The zip archive is password-protected (member {info.filename!r} is "
                "encrypted). Remove the password and save the workbook again as .xlsx."
            )
        if info.compress_type not in COMPRESSIONS:
            raise SourceError(
                f"Member {info.filename!r} uses a compression method Excel does not write "
                f"({info.compress_type}). Open the file in Excel and save it again as .xlsx."
            )
    if total > max_bytes:
        largest = max(infos, key=lambda info: info.file_size)
        raise SourceError(
            f"The file looks like a zip bomb: its members would expand to {total:,} bytes, over "
            f"the limit of {max_bytes:,} bytes (the largest, {largest.filename!r}, to "
            f"{largest.file_size:,} bytes from {largest.compress_size:,})."
        )


def _check_workbook_parts(archive: zipfile.ZipFile, infos: Sequence[zipfile.ZipInfo]) -> None:
    names = {info.filename for info in infos}
    lowered = {name.lower() for name in names}
    has_workbook = any(PurePosixPath(name).name == "workbook.xml" for name in lowered)
    if "[Content_Types].xml" in names and has_workbook:
        return
    if "xl/workbook.bin" in lowered:
        raise SourceError(
            "The file is an Excel binary workbook (.xlsb), not an .xlsx. Open it in Excel and "
            "save it as Excel Workbook (.xlsx)."
        )
    if "mimetype" in names:
        with archive.open("mimetype") as member:
            mimetype = member.read(200).decode("ascii", "replace")
        if "opendocument.spreadsheet" in mimetype:
            raise SourceError(
                "The file is an OpenDocument spreadsheet (.ods), not an .xlsx. Save it as Excel "
                "Workbook (.xlsx)."
            )
    kind = ""
    if "word/document.xml" in lowered:
        kind = " (it looks like a Word document)"
    elif "ppt/presentation.xml" in lowered:
        kind = " (it looks like a PowerPoint presentation)"
    raise SourceError(
        "The file is a zip archive but not an Excel workbook: it has no [Content_Types].xml "
        f"and xl/workbook.xml{kind}."
    )


def _check_xml_prolog(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Excel never writes a DTD; one in a workbook part can only be an entity-expansion or
    external-entity attack, so refuse it before an XML parser sees it."""
    with archive.open(info) as member:
        head = member.read(PROLOG_BYTES)
    text = _decode_head(head)
    position = 0
    while True:
        while position < len(text) and text[position] in " \t\r\n\ufeff":
            position += 1
        if text.startswith("<!DOCTYPE", position) or text.startswith("<!ENTITY", position):
            raise SourceError(
                f"Part {info.filename!r} of the workbook declares a DOCTYPE, which Excel never "
                "writes; the file may be an XML bomb, so it is not read."
            )
        if text.startswith("<?", position):
            end = text.find("?>", position)
            step = 2
        elif text.startswith("<!--", position):
            end = text.find("-->", position)
            step = 3
        else:
            return  # the root element, or something the XML parser will report
        if end < 0:
            if len(head) == PROLOG_BYTES:
                raise SourceError(
                    f"Part {info.filename!r} of the workbook starts with over "
                    f"{PROLOG_BYTES // 1024} KiB of comments or declarations, which Excel never "
                    "writes; the file is not read."
                )
            return
        position = end + step


def _decode_head(head: bytes) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", "replace")
    if head.startswith(b"<\x00"):
        return head.decode("utf-16-le", "replace")
    if head.startswith(b"\x00<"):
        return head.decode("utf-16-be", "replace")
    return head.decode("utf-8", "replace")


def _explain_ole2(path: Path) -> str:
    """An OLE2 compound file is either an encrypted .xlsx or an old binary Office file."""
    needles = ("EncryptedPackage".encode("utf-16-le"), "EncryptionInfo".encode("utf-16-le"))
    overlap = max(len(needle) for needle in needles)
    previous = b""
    with path.open("rb") as handle:
        while chunk := handle.read(SCAN_BYTES):
            window = previous + chunk
            if any(needle in window for needle in needles):
                return (
                    "The workbook is password-protected (encrypted), so it cannot be read. "
                    "Open it in Excel, remove the password (File > Info > Protect Workbook > "
                    "Encrypt with Password) and save it again as .xlsx."
                )
            previous = window[-overlap:]
    return (
        "Not an Excel .xlsx file: it is an old Excel 97-2003 .xls (or another Office binary "
        "file). Open it in Excel and save it as Excel Workbook (.xlsx)."
    )


# --- reading ------------------------------------------------------------------------------


def list_sheets(path: Path) -> list[str]:
    """The names of the workbook's worksheets (chart sheets left out), in workbook order."""
    check_xlsx(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = _open_workbook(path)
            try:
                return [worksheet.title for worksheet in workbook.worksheets]
            finally:
                workbook.close()
    except (SourceError, OSError):
        raise
    except Exception as error:
        raise SourceError(_damaged(error)) from None


def xlsx_to_csv(
    path: Path,
    dest: Path,
    *,
    sheet: str | None = None,
    progress: RowProgress | None = None,
) -> tuple[str, int]:
    """Write one sheet of the workbook at `path` to `dest` as a UTF-8 CSV (comma, minimal
    quoting, header first). Returns the sheet's name and the number of data rows written."""
    check_xlsx(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about unsupported extensions
            workbook = _open_workbook(path)
            try:
                worksheet = _choose_sheet(workbook, sheet)
                rows = _write_sheet(worksheet, dest, progress)
            finally:
                workbook.close()
    except (SourceError, OSError):
        dest.unlink(missing_ok=True)
        raise
    except Exception as error:
        dest.unlink(missing_ok=True)
        raise SourceError(_damaged(error)) from None
    return worksheet.title, rows


def _open_workbook(path: Path) -> Any:
    return load_workbook(path, read_only=True, data_only=True, keep_links=False, rich_text=False)


def _damaged(error: Exception) -> str:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return (
        f"The workbook is damaged or not a valid .xlsx file and cannot be read ({detail}). Open "
        "it in Excel and save it again as .xlsx."
    )


def _choose_sheet(workbook: Any, sheet: str | None) -> Any:
    names = [worksheet.title for worksheet in workbook.worksheets]
    listed = ", ".join(repr(name) for name in names)
    if not names:
        raise SheetChoiceError("The workbook has no worksheets (only chart sheets).", names)
    if sheet is None:
        if len(names) == 1:
            return workbook[names[0]]
        raise SheetChoiceError(f"The workbook has sheets {listed}: choose one with --sheet.", names)
    if sheet in names:
        return workbook[sheet]
    folded = [name for name in names if name.strip().casefold() == sheet.strip().casefold()]
    if len(folded) == 1:
        return workbook[folded[0]]
    raise SheetChoiceError(
        f"The workbook has no sheet named {sheet!r}; its sheets are {listed}.", names
    )


def _write_sheet(worksheet: Any, dest: Path, progress: RowProgress | None) -> int:
    # The <dimension> a file declares is often wrong (too small from some generators, the
    # whole grid from others); without it openpyxl reads exactly the cells that exist.
    worksheet.reset_dimensions()
    rows = worksheet.iter_rows()
    title = worksheet.title

    header_number, texts = 0, []
    for number, cells in enumerate(rows, start=1):
        texts = [cell_text(cell) for cell in cells]
        if any(text.strip() for text in texts):
            header_number = number
            break
    if not header_number:
        raise SourceError(f"Sheet {title!r} is empty: there is no header row and no data.")

    filled = [i for i, text in enumerate(texts) if text.strip()]
    first, last = filled[0], filled[-1]
    for i in range(first, last + 1):
        if not texts[i].strip():
            raise SourceError(
                f"Column {i + 1} ({column_letter(i)}) of the header row (row {header_number} of "
                f"sheet {title!r}) is empty. Give every column a name in the header row."
            )
    header = [text.strip() for text in texts[first : last + 1]]
    width = len(header)
    blank = [""] * width

    written = 0
    pending_blank = 0  # blank rows are held back until a non-blank row follows them
    with dest.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        writer.writerow(header)
        for number, cells in enumerate(rows, start=header_number + 1):
            values = [cell_text(cell) for cell in cells[first : last + 1]]
            if len(values) < width:
                values.extend(blank[len(values) :])
            _check_outside(cells, first, last, number, title)
            if any(value.strip() for value in values):
                if pending_blank:
                    writer.writerows([blank] * pending_blank)
                    written += pending_blank
                    pending_blank = 0
                writer.writerow(values)
                written += 1
            else:
                pending_blank += 1
            if progress and (number - header_number) % PROGRESS_EVERY == 0:
                progress(number - header_number, None)
    if progress:
        progress(written, None)
    return written


def _check_outside(cells: Sequence[Any], first: int, last: int, number: int, title: str) -> None:
    """A value left or right of the header's columns belongs to a column with no name."""
    if first == 0 and len(cells) <= last + 1:
        return
    outside = [*enumerate(cells[:first]), *enumerate(cells[last + 1 :], start=last + 1)]
    for i, cell in outside:
        if cell.value is None:
            continue
        text = cell_text(cell)
        if text.strip():
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise SourceError(
                f"Row {number} of sheet {title!r} has a value ({shown!r}) in column {i + 1} "
                f"({column_letter(i)}), which has no name in the header row. Name the column or "
                "delete the value."
            )


def column_letter(index: int) -> str:
    """Excel's letters for a 0-based column index: 0 -> A, 27 -> AB."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


# --- cell values as text --------------------------------------------------------------------

_DATE_ONLY: dict[str, bool] = {}


def _is_date_only(number_format: str | None) -> bool:
    key = number_format or "General"
    known = _DATE_ONLY.get(key)
    if known is None:
        known = _DATE_ONLY[key] = is_datetime(key) == "date"
    return known


def cell_text(cell: Any) -> str:
    """A cell's value as it goes into the CSV (see `value_text`); a datetime at midnight in a
    date-only number format is a date."""
    value = cell.value
    if value is None:
        return ""
    if (
        type(value) is datetime
        and not (value.hour or value.minute or value.second or value.microsecond)
        and _is_date_only(cell.number_format)
    ):
        return value.date().isoformat()
    return value_text(value)


def value_text(value: object) -> str:
    """Text for a typed value: ISO 8601 dates and times, integers without `.0`, floats in their
    shortest exact decimal form without exponent, `true`/`false`, blank for None."""
    if value is None:
        return ""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]
    if kind is bool:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec=_timespec(value.microsecond))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat(timespec=_timespec(value.microsecond))
    if isinstance(value, timedelta):
        return format_duration(value)
    return str(value)


def _timespec(microsecond: int) -> str:
    if not microsecond:
        return "seconds"
    return "milliseconds" if microsecond % 1000 == 0 else "microseconds"


def format_float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "INF" if value > 0 else "-INF"
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


def format_decimal(value: Decimal) -> str:
    if not value.is_finite():
        return "NaN" if value.is_nan() else ("INF" if value > 0 else "-INF")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_duration(value: timedelta) -> str:
    """Elapsed time as Excel shows `[h]:mm:ss`: hours may exceed 24."""
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    seconds = value.days * 86_400 + value.seconds
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}{hours}:{minutes:02d}:{seconds:02d}"
    if value.microseconds:
        text += f".{value.microseconds:06d}".rstrip("0")
    return text
