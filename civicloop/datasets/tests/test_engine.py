"""The ingest engine on real files: every bad input gets a clear message and changes nothing."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from civicloop.datasets.engine.load import (
    BadRows,
    LoadMode,
    LoadRefused,
    LoadRequest,
    run_load,
)
from civicloop.datasets.engine.schema import (
    SchemaError,
    schema_from_descriptor,
    schema_to_descriptor,
)
from civicloop.datasets.engine.stage import SourceError, SourceFormat
from civicloop.warehouse import Warehouse

REQUESTS_SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {
            "name": "type",
            "type": "string",
            "constraints": {"enum": ["Illegal dumping", "Pothole", "Graffiti"]},
        },
        {
            "name": "opened_at",
            "type": "date",
            "format": "%d/%m/%Y",
            "constraints": {"required": True},
        },
        {"name": "closed_at", "type": "date", "format": "%d/%m/%Y"},
        {"name": "cost", "type": "number", "constraints": {"minimum": 0}},
    ],
    "primaryKey": ["id"],
    "missingValues": ["", "NA"],
    "civicloop:rules": ["closed_at >= opened_at"],
}
GOOD = (
    "id,type,opened_at,closed_at,cost\n"
    "1,Illegal dumping,01/02/2024,03/02/2024,120.5\n"
    "2,Pothole,05/02/2024,NA,80\n"
    "3,Graffiti,06/02/2024,06/02/2024,\n"
)


@pytest.fixture
def warehouse(tmp_path: Path):  # type: ignore[no-untyped-def]
    wh = Warehouse.open(tmp_path / "warehouse.duckdb")
    yield wh
    wh.close()


def load(
    warehouse: Warehouse,
    tmp_path: Path,
    content: str | bytes,
    *,
    name: str = "in.csv",
    table: str = "ds_1_v1",
    previous: str | None = None,
    mode: LoadMode = LoadMode.REPLACE,
    bad_rows: BadRows = BadRows.REJECT,
    encoding: str | None = None,
    schema: dict | None = None,
):  # type: ignore[no-untyped-def,type-arg]
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    work = tmp_path / f"work-{table}"
    work.mkdir(exist_ok=True)
    fmt = SourceFormat.CSV if name.endswith(".csv") else SourceFormat(name.rsplit(".", 1)[1])
    request = LoadRequest(
        path,
        fmt,
        schema_from_descriptor(schema or REQUESTS_SCHEMA),
        table,
        work,
        previous_table=previous,
        mode=mode,
        bad_rows=bad_rows,
        encoding=encoding,
        quarantine_table=f"{table}_quarantine",
    )
    return run_load(warehouse, request)


def refused(warehouse: Warehouse, tmp_path: Path, content: str | bytes, **kwargs) -> str:  # type: ignore[no-untyped-def]
    """Load, expect a refusal, check nothing was written, and return every message as text."""
    before = set(warehouse.tables())
    with pytest.raises((LoadRefused, SourceError)) as caught:
        load(warehouse, tmp_path, content, **kwargs)
    assert set(warehouse.tables()) == before, "a refused load must leave the warehouse as it was"
    error = caught.value
    if isinstance(error, LoadRefused):
        report = error.report
        return "\n".join(
            [str(error), *map(str, report.file_problems), *map(str, report.problems), *report.hints]
        )
    return str(error)


def test_good_file_loads_typed_rows(warehouse: Warehouse, tmp_path: Path) -> None:
    outcome = load(warehouse, tmp_path, GOOD)
    assert outcome.rows_loaded == 3 and outcome.report.ok
    rows = warehouse.query("SELECT id, type, opened_at, closed_at, cost FROM ds_1_v1 ORDER BY id")
    assert [r[0] for r in rows] == [1, 2, 3]
    assert str(rows[0][2]) == "2024-02-01" and rows[1][3] is None and rows[2][4] is None
    # Rows keep the file's order, with no sort spent on it.
    assert [r[0] for r in warehouse.query("SELECT id FROM ds_1_v1")] == [1, 2, 3]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "The file is empty (0 bytes)."),
        ("id,type,opened_at,closed_at,cost\n", "The file has a header but no rows of data."),
        (
            "id,type,opened_at,cost\n1,Pothole,01/02/2024,3\n",
            "closed_at: is in the schema but not in the file's header",
        ),
        (
            "id,type,opened_at,closed_at,cost,notes\n1,Pothole,01/02/2024,,3,x\n",
            "The file has column not in the schema: notes",
        ),
        (
            "id,type,opened_at,closed_at,cost\n1,Pothole,01/02/2024,,3\n1,Pothole,02/02/2024,,4\n",
            "row 3, column id: '1' duplicates the primary key of row 2",
        ),
        (
            "id,type,opened_at,closed_at,cost\n1,Pothole,01/02/2024,,abc\n",
            "row 2, column cost: 'abc' is not a number",
        ),
        (
            "id,type,opened_at,closed_at,cost\n1.5,Pothole,01/02/2024,,3\n",
            "row 2, column id: '1.5' is not a whole number",
        ),
        (
            "id,type,opened_at,closed_at,cost\n1,Pothole,31/02/2024,,3\n",
            "row 2, column opened_at: '31/02/2024' is not a date in the format DD/MM/YYYY",
        ),
        (
            "id,type,opened_at,closed_at,cost\n1,Pothole,01/02/2024,,3\n2,Pothole,2024-02-03,,3\n",
            "some values look like YYYY-MM-DD rather than DD/MM/YYYY; the file may mix",
        ),
        (
            "id,type,opened_at,closed_at,cost\n1,Pothole,05/02/2024,01/02/2024,3\n",
            "breaks the rule closed_at >= opened_at",
        ),
        (
            "id,type,opened_at,closed_at,cost\n1,Alien,01/02/2024,,3\n",
            "row 2, column type: 'Alien' is not one of the allowed values",
        ),
        (
            "id,type,opened_at,closed_at,cost\n1,Pothole,,,3\n",
            "row 2, column opened_at: is empty, but a value is required",
        ),
        (
            "id,type,opened_at,closed_at,cost\n1,Pothole,01/02/2024,,-3\n",
            "row 2, column cost: '-3' is below the minimum 0",
        ),
        (
            "id,type,opened_at,closed_at,cost\n1,Pothole,01/02/2024,,3\n2,Pothole,01/02",
            "Line 3 has 3 values but the header has 5",
        ),
        (
            'id,type,opened_at,closed_at,cost\n1,"Pothole,01/02/2024,,3\n',
            "Line 2 opens a quoted value that never closes",
        ),
    ],
    ids=[
        "zero-bytes",
        "header-only",
        "missing-column",
        "extra-column",
        "duplicate-key",
        "not-a-number",
        "not-whole",
        "impossible-date",
        "mixed-date-formats",
        "cross-field",
        "not-allowed",
        "required-empty",
        "below-minimum",
        "truncated",
        "unterminated-quote",
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    warehouse: Warehouse, tmp_path: Path, content: str | bytes, expected: str
) -> None:
    message = refused(warehouse, tmp_path, content)
    assert expected in message
    assert "Traceback" not in message


def test_refused_load_keeps_the_previous_version_queryable(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    load(warehouse, tmp_path, GOOD)
    refused(
        warehouse,
        tmp_path,
        "id,type,opened_at,closed_at,cost\n9,Alien,x,,1\n",
        table="ds_1_v2",
        previous="ds_1_v1",
    )
    assert warehouse.row_count("ds_1_v1") == 3
    assert "ds_1_v2" not in warehouse.tables()


def test_wrong_encoding_declared_is_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    latin = "id,type,opened_at,closed_at,cost\n1,Pothole,01/02/2024,,3\n".replace(
        "Pothole", "Pothole café"
    ).encode("cp1252")
    schema = {
        **REQUESTS_SCHEMA,
        "fields": [
            f if f["name"] != "type" else {"name": "type"} for f in REQUESTS_SCHEMA["fields"]
        ],
    }
    message = refused(warehouse, tmp_path, latin, encoding="utf-8", schema=schema)
    assert "not valid utf-8" in message.lower()
    assert "windows-1252" in message


@pytest.mark.parametrize(
    ("encoding", "bom", "delimiter"),
    [
        ("utf-8", b"", ","),
        ("utf-8", codecs.BOM_UTF8, ";"),
        ("cp1252", b"", "\t"),
        ("utf-16", b"", ","),
        ("latin-1", b"", ";"),
    ],
    ids=["utf8", "utf8-bom-semicolon", "cp1252-tab", "utf16", "latin1-semicolon"],
)
def test_encodings_and_delimiters_are_detected(
    warehouse: Warehouse, tmp_path: Path, encoding: str, bom: bytes, delimiter: str
) -> None:
    schema = {"fields": [{"name": "name"}, {"name": "note"}, {"name": "n", "type": "integer"}]}
    text = (
        f"name{delimiter}note{delimiter}n\n"
        f'Zoë Müller{delimiter}"two\nlines, quoted"{delimiter}1\n'
        f"“Smart” quotes{delimiter}plain{delimiter}2\n"
    )
    if encoding == "latin-1":
        text = text.replace("“Smart”", "Smart")
    outcome = load(warehouse, tmp_path, bom + text.encode(encoding), schema=schema)
    assert outcome.rows_loaded == 2
    rows = warehouse.query("SELECT name, note, n FROM ds_1_v1 ORDER BY n")
    assert rows[0] == ("Zoë Müller", "two\nlines, quoted", 1)
    assert rows[1][0] == ("“Smart” quotes" if encoding != "latin-1" else "Smart quotes")


def test_quarantine_loads_good_rows_and_sets_bad_ones_aside(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    content = GOOD + "4,Alien,01/02/2024,,1\n5,Pothole,99/99/2024,,1\n"
    outcome = load(warehouse, tmp_path, content, bad_rows=BadRows.QUARANTINE)
    assert (outcome.rows_loaded, outcome.rows_quarantined) == (3, 2)
    aside = warehouse.query(
        'SELECT source_row, problems, "type" FROM ds_1_v1_quarantine ORDER BY source_row'
    )
    assert [r[0] for r in aside] == [5, 6]
    assert "not one of the allowed values" in aside[0][1] and aside[0][2] == "Alien"
    assert outcome.problems_csv is not None
    report = outcome.problems_csv.read_text(encoding="utf-8-sig")
    assert report.splitlines()[0] == "row,column,value,problem"


def test_append_refuses_existing_keys_and_upsert_updates_them(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    load(warehouse, tmp_path, GOOD)
    update = (
        "id,type,opened_at,closed_at,cost\n"
        "2,Pothole,05/02/2024,07/02/2024,95\n4,Graffiti,08/02/2024,,10\n"
    )
    message = refused(
        warehouse, tmp_path, update, table="ds_1_v2", previous="ds_1_v1", mode=LoadMode.APPEND
    )
    assert "row 2, column id: '2' is already in the current version" in message
    outcome = load(
        warehouse, tmp_path, update, table="ds_1_v3", previous="ds_1_v1", mode=LoadMode.UPSERT
    )
    assert outcome.rows_loaded == 4
    rows = dict(warehouse.query("SELECT id, cost FROM ds_1_v3"))
    assert rows == {1: 120.5, 2: 95.0, 3: None, 4: 10.0}
    assert warehouse.row_count("ds_1_v1") == 3  # versions are never modified
    appended = load(
        warehouse,
        tmp_path,
        "id,type,opened_at,closed_at,cost\n7,Pothole,01/03/2024,,1\n",
        table="ds_1_v4",
        previous="ds_1_v3",
        mode=LoadMode.APPEND,
    )
    assert appended.rows_loaded == 5


def test_parquet_and_json_sources(warehouse: Warehouse, tmp_path: Path) -> None:
    import duckdb

    schema = {
        "fields": [
            {"name": "id", "type": "integer"},
            {"name": "when", "type": "date"},
            {"name": "ok", "type": "boolean"},
        ]
    }
    con = duckdb.connect()
    parquet = tmp_path / "in.parquet"
    con.execute(
        f"COPY (SELECT 1 AS id, DATE '2024-01-02' AS \"when\", true AS ok) "
        f"TO '{parquet}' (FORMAT parquet)"
    )
    assert (
        load(
            warehouse, tmp_path, parquet.read_bytes(), name="in.parquet", schema=schema
        ).rows_loaded
        == 1
    )
    ndjson = (
        '{"id": 1, "when": "2024-01-02", "ok": true}\n'
        '{"id": 2, "when": "2024-01-03", "ok": false}\n'
    )
    assert (
        load(
            warehouse, tmp_path, ndjson, name="in.ndjson", table="ds_2_v1", schema=schema
        ).rows_loaded
        == 2
    )
    array = '[{"id": 1, "when": "not a date", "ok": true}]'
    message = refused(warehouse, tmp_path, array, name="in.json", table="ds_3_v1", schema=schema)
    assert "row 2, column when: 'not a date' is not a date in the format YYYY-MM-DD" in message


def test_schema_descriptor_round_trips_and_explains_mistakes() -> None:
    schema = schema_from_descriptor(REQUESTS_SCHEMA)
    assert schema_from_descriptor(schema_to_descriptor(schema)) == schema
    with pytest.raises(SchemaError, match="has type 'datetimez'; use one of"):
        schema_from_descriptor({"fields": [{"name": "a", "type": "datetimez"}]})
    with pytest.raises(SchemaError, match="format 'MM/DD/YYYY' has no % codes"):
        schema_from_descriptor({"fields": [{"name": "a", "type": "date", "format": "MM/DD/YYYY"}]})
    with pytest.raises(SchemaError, match="primaryKey names 'b', which is not a field"):
        schema_from_descriptor({"fields": [{"name": "a"}], "primaryKey": "b"})
    with pytest.raises(SchemaError, match="would both be stored as column 'closed_at'"):
        schema_from_descriptor({"fields": [{"name": "Closed At"}, {"name": "closed_at"}]})


def test_excel_sheets_and_fake_workbooks(warehouse: Warehouse, tmp_path: Path) -> None:
    import zipfile

    import xlsxwriter

    book_path = tmp_path / "book.xlsx"
    book = xlsxwriter.Workbook(str(book_path))
    data = book.add_worksheet("Requests")
    for r, row in enumerate(
        [
            ["id", "type", "opened_at", "closed_at", "cost"],
            [1, "Pothole", "01/02/2024", "02/02/2024", 10.5],
        ]
    ):
        data.write_row(r, 0, row)
    book.add_worksheet("Notes").write(0, 0, "ignore me")
    book.close()
    content = book_path.read_bytes()
    message = refused(warehouse, tmp_path, content, name="in.xlsx")
    assert "'Requests', 'Notes'" in message and "choose one" in message
    path = tmp_path / "in.xlsx"
    request = LoadRequest(
        path,
        SourceFormat.XLSX,
        schema_from_descriptor(REQUESTS_SCHEMA),
        "ds_9_v1",
        tmp_path,
        sheet="Requests",
    )
    outcome = run_load(warehouse, request)
    assert (outcome.rows_loaded, outcome.sheet) == (1, "Requests")
    assert warehouse.query("SELECT cost FROM ds_9_v1") == [(10.5,)]

    assert "not a zip archive" in refused(warehouse, tmp_path, b"id,type\n1,x\n", name="in.xlsx")
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/workbook.xml", "w") as member:
            for _ in range(64):
                member.write(b"\0" * (1 << 20))
    message = refused(warehouse, tmp_path, bomb.read_bytes(), name="in.xlsx")
    assert "compression ratio" in message or "zip bomb" in message.lower()


FAST_SCHEMA = {
    "fields": [
        {"name": "request_id", "constraints": {"required": True}},
        {"name": "kind", "constraints": {"enum": ["Dumping", "Pothole"]}},
        {"name": "opened_at", "type": "datetime", "constraints": {"required": True}},
        {"name": "closed_at", "type": "datetime"},
        {"name": "due", "type": "date", "constraints": {"minimum": "2024-01-01"}},
    ],
    "primaryKey": ["request_id"],
    "missingValues": ["", "NA"],
    "civicloop:rules": ["closed_at >= opened_at"],
}
FAST_GOOD = (
    "request_id,kind,opened_at,closed_at,due\n"
    "SR-1,Dumping,2024-02-01 08:00:00,2024-02-03T09:30:00,2024-02-10\n"
    'SR-2,"Pothole",2024-02-02 10:00:00,NA,\n'
    "SR-3,,2024-02-05 11:15:00,2024-02-05 12:00:00,2024-03-01\n"
)


def test_clean_files_take_one_pass_with_the_same_result(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    fast_outcome = load(warehouse, tmp_path, FAST_GOOD, schema=FAST_SCHEMA, table="ds_1_v1")
    assert fast_outcome.notes == ["Checked and loaded in one pass."]
    path = tmp_path / "in.csv"
    request = LoadRequest(
        path, SourceFormat.CSV, schema_from_descriptor(FAST_SCHEMA), "ds_1_v2", tmp_path, fast=False
    )
    staged_outcome = run_load(warehouse, request)
    assert staged_outcome.notes == []
    one = warehouse.query("SELECT * FROM ds_1_v1")
    two = warehouse.query("SELECT * FROM ds_1_v2")
    assert one == two and len(one) == 3
    types = warehouse.query(
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_name = 'ds_1_v1' ORDER BY ordinal_position"
    )
    assert [t[0] for t in types] == ["VARCHAR", "VARCHAR", "TIMESTAMP", "TIMESTAMP", "DATE"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("SR-4,Alien,2024-02-01 08:00:00,,", "row 5, column kind: 'Alien' is not one of"),
        ("SR-4,Dumping,yesterday,,", "row 5, column opened_at: 'yesterday' is not a date"),
        ("SR-1,Dumping,2024-02-01 08:00:00,,", "row 5, column request_id: 'SR-1' duplicates"),
        ("SR-4,Dumping,2024-02-09 08:00:00,2024-02-01 08:00:00,", "breaks the rule"),
        ("SR-4,Dumping,2024-02-01 08:00:00,,2023-12-31", "is below the minimum 2024-01-01"),
        ("SR-4,Dumping,,,", "row 5, column opened_at: is empty, but a value is required"),
        ("SR-4,Dumping,2024-02-01 08:00:00", "Line 5 has 3 values but the header has 5"),
    ],
    ids=["enum", "not-a-date", "duplicate", "rule", "minimum", "required", "ragged"],
)
def test_problems_in_a_fast_eligible_file_get_the_full_report(
    warehouse: Warehouse, tmp_path: Path, line: str, expected: str
) -> None:
    message = refused(warehouse, tmp_path, FAST_GOOD + line + "\n", schema=FAST_SCHEMA)
    assert expected in message
