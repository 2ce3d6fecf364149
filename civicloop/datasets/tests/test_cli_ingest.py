"""`civicloop ingest`, `export`, `rollback`, `datasets` as a user runs them, kill -9 included."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import openpyxl
import pytest

# Runs `civicloop` in a subprocess on its own SQLite data folder (see the cli marker).
pytestmark = pytest.mark.cli

REAL = Path(__file__).resolve().parents[4] / "shared" / "data" / "real"
SCHEMAS = Path(__file__).parent / "schemas"
NYPD = REAL / "nypd_shootings_2006_2018.csv"


def _env(data_dir: Path) -> dict[str, str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CIVICLOOP_", "DATABASE_URL", "DJANGO_SETTINGS"))
    }
    environ.update({"CIVICLOOP_DATA_DIR": str(data_dir), "COLUMNS": "200"})
    return environ


def civicloop(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "civicloop.cli", *args],
        capture_output=True,
        text=True,
        env=_env(data_dir),
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with the demo city's organizations (tiny data) and the shootings loaded."""
    data_dir = tmp_path_factory.mktemp("city")
    demo = civicloop(data_dir, "demo", "--no-serve", "--scale", "0.01", "--as-of", "2026-11-18")
    assert demo.returncode == 0, demo.stderr
    first = civicloop(
        data_dir,
        "ingest",
        str(NYPD),
        "--dataset",
        "nypd_shootings",
        "--owner",
        "police",
        "--schema",
        str(SCHEMAS / "nypd_shootings.json"),
    )
    assert first.returncode == 0, first.stderr
    assert "Loaded 20,659 rows as version 1." in first.stdout
    return data_dir


def _versions(data_dir: Path) -> list[tuple[int, int]]:
    with sqlite3.connect(data_dir / "civicloop.sqlite3") as db:
        return db.execute(
            "SELECT v.number, v.row_count FROM datasets_datasetversion v "
            "JOIN datasets_dataset d ON d.id = v.dataset_id "
            "WHERE d.slug = 'nypd_shootings' ORDER BY v.number"
        ).fetchall()


def test_new_dataset_gets_an_inferred_schema_shown_to_check(city: Path) -> None:
    result = civicloop(
        city,
        "ingest",
        str(REAL / "dsny_monthly_tonnage.csv"),
        "--dataset",
        "tonnage",
        "--owner",
        "public-works",
    )
    assert result.returncode == 0, result.stderr
    assert "Inferred a schema for new dataset tonnage" in result.stdout
    assert "yearmonth" in result.stdout and "%Y / %m" in result.stdout
    assert "Loaded 20,871 rows as version 1." in result.stdout


def test_bad_rows_refuse_the_load_with_row_and_column(city: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    lines = NYPD.read_text(encoding="utf-8").splitlines()[:4]
    lines.append(lines[1].replace(lines[1].split(",")[1], "02/31/2018", 1))
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = civicloop(city, "ingest", str(bad), "--dataset", "nypd_shootings")
    assert result.returncode == 1
    assert "row 5, column OCCUR_DATE: '02/31/2018' is not a date in the format MM/DD/YYYY" in (
        result.stderr
    )
    assert "Every problem, as CSV:" in result.stderr
    assert "Traceback" not in result.stderr
    assert _versions(city)[-1] == (1, 20_659)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "brand_new"], "say which organization owns it with --owner"),
        (["--dataset", "Bad Name!", "--owner", "police"], "slug: Use lower-case letters"),
        (["--dataset", "nypd_shootings", "--schema", "{schema}"], "not valid JSON"),
        (["--dataset", "nypd_shootings", "--encoding", "klingon"], "Unknown encoding 'klingon'"),
    ],
    ids=["no-owner", "bad-slug", "bad-schema-json", "bad-encoding"],
)
def test_bad_flags_are_explained(city: Path, tmp_path: Path, args: list[str], message: str) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text("{not json", encoding="utf-8")
    args = [a.replace("{schema}", str(schema)) for a in args]
    result = civicloop(city, "ingest", str(NYPD), *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_export_round_trips_and_neutralises_formulas(city: Path, tmp_path: Path) -> None:
    tricky = tmp_path / "notes.csv"
    tricky.write_text(
        'id,note\n1,"=HYPERLINK(""http://x.example"")"\n2,-5\n3,plain\n', encoding="utf-8"
    )
    loaded = civicloop(city, "ingest", str(tricky), "--dataset", "notes", "--owner", "police")
    assert loaded.returncode == 0, loaded.stderr
    out_csv, out_xlsx = tmp_path / "notes-out.csv", tmp_path / "notes-out.xlsx"
    assert civicloop(city, "export", "--dataset", "notes", "--output", str(out_csv)).returncode == 0
    text = out_csv.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text
    assert (
        civicloop(city, "export", "--dataset", "notes", "--output", str(out_xlsx)).returncode == 0
    )
    sheet = openpyxl.load_workbook(out_xlsx).active
    cells = [c.value for c in sheet["B"]]
    assert cells[1].startswith("'=HYPERLINK") and sheet["B2"].data_type == "s"
    missing = civicloop(
        city, "export", "--dataset", "notes", "--version", "9", "--output", str(out_csv)
    )
    assert missing.returncode == 1 and "notes has no version 9; it has: 1" in missing.stderr


def test_append_then_roll_back(city: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra.csv"
    lines = NYPD.read_text(encoding="utf-8").splitlines()
    extra.write_text("\n".join([lines[0], *lines[1:3]]) + "\n", encoding="utf-8")
    appended = civicloop(
        city, "ingest", str(extra), "--dataset", "nypd_shootings", "--mode", "append"
    )
    assert appended.returncode == 0, appended.stderr
    assert _versions(city)[-1] == (2, 20_661)
    no_reason = civicloop(
        city, "rollback", "--dataset", "nypd_shootings", "--to", "1", "--reason", " "
    )
    assert no_reason.returncode == 1 and "Say why" in no_reason.stderr
    back = civicloop(
        city,
        "rollback",
        "--dataset",
        "nypd_shootings",
        "--to",
        "1",
        "--reason",
        "appended rows twice",
    )
    assert back.returncode == 0, back.stderr
    listing = civicloop(city, "datasets")
    row = next(
        line for line in listing.stdout.splitlines() if line.strip().startswith("nypd_shootings")
    )
    assert " 1 " in row and "20,659" in row


def test_kill_9_in_the_middle_of_a_load_leaves_the_dataset_as_it_was(
    city: Path, tmp_path: Path
) -> None:
    """The process dies while DuckDB is writing the new version: nothing of it survives."""
    big = tmp_path / "big.csv"
    with duckdb.connect() as con:
        # 4 million plausible rows: long enough to be killed part-way through.
        con.execute(
            f"COPY (SELECT 900000000 + i AS INCIDENT_KEY, '01/02/2018' AS OCCUR_DATE, "
            "'1:00:00' AS OCCUR_TIME, 'QUEENS' AS BORO, 101 AS PRECINCT, 0 AS JURISDICTION_CODE,"
            " '' AS LOCATION_DESC, 'false' AS STATISTICAL_MURDER_FLAG, '' AS PERP_AGE_GROUP, "
            "'' AS PERP_SEX, '' AS PERP_RACE, '25-44' AS VIC_AGE_GROUP, 'M' AS VIC_SEX, "
            "'BLACK' AS VIC_RACE, 1000000 AS X_COORD_CD, 200000 AS Y_COORD_CD, "
            "40.7 AS Latitude, -73.9 AS Longitude FROM range(4000000) t(i)) "
            f"TO '{big}' (HEADER)"
        )
    before = _versions(city)
    with sqlite3.connect(city / "civicloop.sqlite3") as db:
        last_run = db.execute("SELECT coalesce(max(id), 0) FROM datasets_ingestrun").fetchone()[0]
    process = subprocess.Popen(
        [sys.executable, "-m", "civicloop.cli", "ingest", str(big), "--dataset", "nypd_shootings"],
        env=_env(city),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    phase = ""
    while time.monotonic() < deadline and process.poll() is None:
        with sqlite3.connect(city / "civicloop.sqlite3", timeout=5) as db:
            row = db.execute("SELECT phase FROM datasets_ingestrun WHERE id > ?", (last_run,))
            phase = (row.fetchone() or ("",))[0]
        if phase in ("checking", "writing"):
            break
        time.sleep(0.05)
    assert process.poll() is None, "the load finished before it could be interrupted"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert _versions(city) == before
    # The next command recovers: the run is marked interrupted, the dataset is as it was.
    listing = civicloop(city, "datasets")
    assert listing.returncode == 0, listing.stderr
    with sqlite3.connect(city / "civicloop.sqlite3") as db:
        status = db.execute("SELECT status FROM datasets_ingestrun ORDER BY id DESC LIMIT 1")
        assert status.fetchone()[0] == "interrupted"
    with duckdb.connect(str(city / "warehouse.duckdb"), read_only=True) as wh:
        assert wh.execute("SELECT count(*) FROM nypd_shootings").fetchone()[0] == 20_659
        assert (
            wh.execute(
                "SELECT count(*) FROM nypd_shootings WHERE incident_key >= 900000000"
            ).fetchone()[0]
            == 0
        )
        leftovers = wh.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'ds_%_v3%'"
        ).fetchall()
        assert leftovers == []
