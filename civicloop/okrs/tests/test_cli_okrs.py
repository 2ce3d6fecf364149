"""`civicloop okrs remind|report|list` on the demo city, run as an operator runs them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from civicloop.datasets.tests.test_cli_ingest import _env, civicloop

# Runs `civicloop` in a subprocess on its own SQLite data folder (see the cli marker).
pytestmark = pytest.mark.cli

AS_OF = "2026-11-18"
STATUS = (
    "Passes target|Hit and miss|Fails target|Not judged yet|On track|At risk|Off track"
    "|No check-in yet|Withheld|Dropped"
)


def at_80_columns(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """As piped to a file or another program: 80 columns."""
    return subprocess.run(
        [sys.executable, "-m", "civicloop.cli", *args],
        capture_output=True,
        text=True,
        env={**_env(data_dir), "COLUMNS": "80"},
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("okr-city")
    demo = civicloop(data_dir, "demo", "--no-serve", "--scale", "0.01", "--as-of", AS_OF)
    assert demo.returncode == 0, demo.stderr
    return data_dir


def test_list_shows_a_teams_quarter_with_progress_and_status(city: Path) -> None:
    listed = civicloop(city, "okrs", "list", "--team", "Team Clean", "--quarter", "2026-Q4")
    assert listed.returncode == 0, listed.stderr
    assert "Team Clean: objectives and key results, 2026 Q4" in listed.stdout
    assert re.search(r"\d+ key results", listed.stdout)
    # Statuses from the data (assurance) sit beside ones from check-ins.
    assert "Consistently" in listed.stdout or "Hit and miss" in listed.stdout
    assert "From the data: " in listed.stdout and "; from check-ins: " in listed.stdout


def test_list_is_readable_at_80_columns(city: Path) -> None:
    listed = at_80_columns(city, "okrs", "list", "--quarter", "2026-Q1")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    count = int(
        re.fullmatch(r"Objectives and key results, 2026 Q1: (\d+) key results", lines[0])[1]
    )
    assert count > 10
    assert all(len(line.rstrip()) <= 80 for line in lines), "nothing runs past 80 columns"
    # Each objective is a heading with its team and progress, its key results under it.
    headings = [line for line in lines if re.search(r" — Team \w+.* · \d+ %$", line)]
    assert len(headings) >= 5
    # Every key result's figures and status are whole on one line: now, target, progress.
    row = re.compile(rf"\s(\S+)\s+(\S+)\s+(\d+ %|—)\s+({STATUS})\s*$")
    rows = [m for line in lines if (m := row.search(line))]
    assert len(rows) == count
    assert "Dropped" in {m[4] for m in rows}  # Q1 was closed; Team Housed dropped one


def test_report_writes_one_page_pdf_and_html(city: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "clean-q3.pdf"
    made = civicloop(
        city, "okrs", "report", "--team", "team-clean", "--quarter", "2026-Q3", "--output", str(pdf)
    )
    assert made.returncode == 0, made.stderr
    assert "Wrote" in made.stdout and "2026 Q3" in made.stdout
    assert "(PDF, 1 page," in made.stdout, "the report must fit on one page"
    assert pdf.read_bytes().startswith(b"%PDF")
    html = tmp_path / "everyone.html"
    made = civicloop(city, "okrs", "report", "--quarter", "2026-Q3", "--output", str(html))
    assert made.returncode == 0, made.stderr
    page = html.read_text("utf-8")
    assert "Objectives and key results, 2026 Q3" in page
    assert "Team Housed" in page and "Team Safe" in page
    assert "quarter closed" not in page  # only a team's report carries its close


def test_a_long_report_lists_what_needs_attention_and_full_lists_every_one(
    city: Path, tmp_path: Path
) -> None:
    """The city's 2026 Q1 does not fit on a page key result by key result."""
    one = tmp_path / "q1.pdf"
    made = civicloop(city, "okrs", "report", "--quarter", "2026-Q1", "--output", str(one))
    assert made.returncode == 0, made.stderr
    assert "(PDF, 1 page," in made.stdout
    assert "Too many key results for one page" in made.stdout
    listed = r"lists (the \d+|\d+ of the \d+) that need attention( \(as many as fit\))?;"
    assert re.search(listed + r" the \d+ others are not listed\.", made.stdout), made.stdout
    everything = tmp_path / "q1-full.pdf"
    args = ("okrs", "report", "--quarter", "2026-Q1", "--full", "--output", str(everything))
    made = civicloop(city, *args)
    assert made.returncode == 0, made.stderr
    assert re.search(r"\(PDF, \d+ pages,", made.stdout), made.stdout
    assert "Too many" not in made.stdout
    html = tmp_path / "q1.html"
    made = civicloop(city, "okrs", "report", "--quarter", "2026-Q1", "--output", str(html))
    assert "On screen the HTML lists every key result below the page." in made.stdout
    page = html.read_text("utf-8")
    assert "other key results are not listed" in page and 'id="full-list"' in page


def test_report_as_a_person_leaves_out_what_they_may_not_see(city: Path, tmp_path: Path) -> None:
    everything = tmp_path / "all.html"
    theirs = tmp_path / "guest.html"
    args = ("okrs", "report", "--quarter", "2026-Q4", "--output")
    assert civicloop(city, *args, str(everything)).returncode == 0
    as_guest = civicloop(city, *args, str(theirs), "--as", "victor.chen@alderport.example")
    assert as_guest.returncode == 0, as_guest.stderr
    full, guest = everything.read_text("utf-8"), theirs.read_text("utf-8")
    # The guest is on Team Clean only: Team Housed's private objective is left out.
    row = 'class="objective-row"'
    assert guest.count(row) < full.count(row)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--team", "team-cleen", "--output", "x.pdf"), "Did you mean team-clean"),
        (("--quarter", "2026-Q5", "--output", "x.pdf"), "is not a quarter"),
        (("--output", "x.txt"), "give --format pdf or html"),
        (("--output", "/no/such/folder/x.pdf"), "does not exist; create it first"),
        (("--output", "x.pdf", "--as", "nobody@example.org"), "nobody has the email address"),
    ],
)
def test_report_refuses_bad_options_clearly(
    city: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    resolved = tuple(str(tmp_path / a) if a in ("x.pdf", "x.txt") else a for a in args)
    refused = civicloop(city, "okrs", "report", *resolved)
    assert refused.returncode == 2
    assert message in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not list(tmp_path.iterdir()), "nothing is written when an option is refused"


def test_remind_emails_each_owner_once_per_due_date(city: Path) -> None:
    dry = civicloop(city, "okrs", "remind", "--as-of", AS_OF, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("Would remind")
    sent = civicloop(city, "okrs", "remind", "--as-of", AS_OF)
    assert sent.returncode == 0, sent.stderr
    # The console email backend prints each email: the owner and a link to the key result.
    assert "Subject:" in sent.stdout and "/okrs/key-results/" in sent.stdout
    assert "Reminded" in sent.stdout
    again = civicloop(city, "okrs", "remind", "--as-of", AS_OF)
    assert again.returncode == 0
    assert "Nobody new to remind" in again.stdout
    bad = civicloop(city, "okrs", "remind", "--as-of", "18/11/2026")
    assert bad.returncode == 2 and "write it as YYYY-MM-DD" in bad.stderr
