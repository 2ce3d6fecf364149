"""`civicloop okrs remind|report|list` on the demo city, run as an operator runs them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from civicloop.datasets.tests.test_cli_ingest import civicloop

AS_OF = "2026-11-18"


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
