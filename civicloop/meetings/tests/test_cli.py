"""`civicloop pack` on the demo city, run as an operator runs it: a draft, an issued pack
written again unchanged, a chosen meeting, PDF or HTML, and bad input refused in one line with
no file written."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from civicloop.datasets.tests.test_cli_ingest import _env
from civicloop.demo.meetings import next_tuesday

# Runs `civicloop` in a subprocess on its own SQLite data folder (see the cli marker).
pytestmark = pytest.mark.cli

AS_OF = date.today()  # the demo's meetings are around the day it is loaded
UPCOMING = next_tuesday(AS_OF)
HELD = UPCOMING - timedelta(weeks=2)
EMPTY = UPCOMING + timedelta(weeks=2)  # scheduled by the cadence, nothing on it yet


def run(data_dir: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`civicloop ARGS --data-dir DATA_DIR`, with $CIVICLOOP_DATA_DIR pointing elsewhere (an
    empty folder), so only --data-dir can lead it to the city."""
    decoy = data_dir.parent / f"{data_dir.name}-not-here"
    decoy.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "civicloop.cli", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env={**_env(decoy), "COLUMNS": "200"},
        cwd=cwd,
        timeout=600,
        check=False,
    )


def pack(data_dir: Path, output: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(data_dir, "pack", "--team", "Team Clean", "--output", str(output), *args)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("pack-city")
    demo = run(data_dir, "demo", "--no-serve", "--scale", "0.01", "--as-of", AS_OF.isoformat())
    assert demo.returncode == 0, demo.stderr
    return data_dir


@pytest.fixture
def own_city(city: Path, tmp_path: Path) -> Path:
    """A copy of the city for a test that issues packs."""
    copy = tmp_path / "city"
    shutil.copytree(city, copy)
    return copy


def test_a_draft_pack_of_the_next_meeting_as_html(city: Path, tmp_path: Path) -> None:
    out = tmp_path / "pack.html"
    made = pack(city, out)
    assert made.returncode == 0, made.stderr
    said = " ".join(made.stderr.split())
    assert re.search(r"Wrote \S+pack\.html \([\d,]+ bytes, HTML\): Team Clean", said), said
    assert f"meeting of {UPCOMING:%d %b %Y}, a DRAFT (no pack issued" in said
    page = out.read_text("utf-8")
    assert page.startswith("<!doctype html>")
    assert "Draft: built from the data as it is now" in page
    # The agenda the demo drafted: last meeting's open action carried, and metrics' signals.
    assert "Ask the hauler for missed collections by route" in page
    assert page.count('class="page metric"') >= 1
    assert "Where the numbers come from" in page


def test_a_draft_pdf_from_the_file_name(city: Path, tmp_path: Path) -> None:
    out = tmp_path / "pack.pdf"
    made = pack(city, out)
    assert made.returncode == 0, made.stderr
    assert "bytes, PDF)" in made.stderr
    assert out.read_bytes().startswith(b"%PDF-")
    pdftotext = shutil.which("pdftotext")
    if pdftotext:
        words = subprocess.run(
            [pdftotext, str(out), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert re.search(r"Page 1 of \d+", words)
        assert "Actions log" in words


def test_an_issued_pack_is_written_again_exactly_as_issued(own_city: Path, tmp_path: Path) -> None:
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    first = tmp_path / "issued.html"
    made = pack(own_city, first, "--issue")
    assert made.returncode == 0, made.stderr
    assert "pack 1 (issued now)" in made.stderr
    page = first.read_text("utf-8")
    assert "Draft:" not in page and "Frozen as of" in page

    again = tmp_path / "again.html"
    made = pack(own_city, again, "--meeting", "latest")
    assert made.returncode == 0, made.stderr
    assert f"meeting of {UPCOMING:%d %b %Y}, pack 1, issued " in " ".join(made.stderr.split())
    assert again.read_bytes() == first.read_bytes()
    by_day = tmp_path / "by-day.txt"
    made = pack(own_city, by_day, "--meeting", UPCOMING.isoformat(), "--format", "html")
    assert made.returncode == 0, made.stderr
    assert by_day.read_bytes() == first.read_bytes()

    second = tmp_path / "second.pdf"
    made = pack(own_city, second, "--issue", "--as", "marcus.bell@alderport.example")
    assert made.returncode == 0, made.stderr
    assert "pack 2 (issued now)" in made.stderr
    assert second.read_bytes().startswith(b"%PDF-")
    # The held meeting has no pack: its draft.
    held = tmp_path / "held.html"
    made = pack(own_city, held, "--meeting", HELD.isoformat())
    assert made.returncode == 0, made.stderr
    assert f"meeting of {HELD:%d %b %Y}, a DRAFT" in " ".join(made.stderr.split())
    assert "Ask the hauler for missed collections by route" in held.read_text("utf-8")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ("--team", "Team Tidy"),
            "Error: Invalid value for --team: no team is called 'Team Tidy'. Teams: 311 Service "
            "Team, Team Clean, Team Housed, Team Safe.",
        ),
        (
            ("--team", "Team Clean", "--meeting", "8 December"),
            "Error: Invalid value for --meeting: '8 December' is not a date: write YYYY-MM-DD",
        ),
        (
            ("--team", "Team Clean", "--meeting", "2020-01-07"),
            "Error: Invalid value for --meeting: Team Clean has no meeting on 2020-01-07. Recent "
            "and coming meetings: ",
        ),
        (
            ("--team", "Team Clean", "--format", "docx"),
            "Error: Invalid value for '--format': 'docx' is not one of 'pdf', 'html'.",
        ),
        (
            ("--team", "Team Clean", "--as", "victor.chen@alderport.example", "--issue"),
            "Error: Invalid value for --as: victor.chen@alderport.example is not a lead or member "
            "of Team Clean.",
        ),
    ],
    ids=["team", "date", "no-meeting", "format", "as-a-guest"],
)
def test_bad_input_is_one_clear_line_and_no_file(
    city: Path, tmp_path: Path, args: tuple[str, ...], error: str
) -> None:
    out = tmp_path / "pack.html"
    made = run(city, "pack", *args, "--output", str(out))
    assert made.returncode == 2, made.stderr
    errors = [line for line in made.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith(error), made.stderr
    if "2020-01-07" in args:
        assert f"{EMPTY.isoformat()}, {UPCOMING.isoformat()}, {HELD.isoformat()}" in errors[0]
    assert "Traceback" not in made.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_file_name_without_a_format_or_a_missing_folder_is_refused(
    city: Path, tmp_path: Path
) -> None:
    made = pack(city, tmp_path / "pack.docx")
    assert made.returncode == 2
    assert "cannot tell the format from 'pack.docx'" in made.stderr
    made = pack(city, tmp_path / "nowhere" / "pack.html")
    assert made.returncode == 2
    assert "does not exist" in made.stderr
    assert list(tmp_path.iterdir()) == []


def test_issuing_an_empty_agenda_is_refused_and_writes_nothing(
    own_city: Path, tmp_path: Path
) -> None:
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    out = tmp_path / "empty.html"
    made = pack(own_city, out, "--meeting", EMPTY.isoformat(), "--issue")
    assert made.returncode == 1, made.stderr
    assert [line for line in made.stderr.splitlines() if line.startswith("Error:")] == [
        "Error: The agenda is empty: draft it from the data, or add items, then issue the pack."
    ]
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_the_pack_file_is_readable_like_any_file_the_user_writes(
    city: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pack.html"
    assert pack(city, out).returncode == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask, oct(out.stat().st_mode)
