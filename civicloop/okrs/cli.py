"""`civicloop okrs remind|report|list`: check-in reminders, the one-page report, a quick look."""

from __future__ import annotations

import difflib
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from civicloop.cli import console, data_dir_option, main, migrate_quietly, setup_django

if TYPE_CHECKING:
    from civicloop.accounts.models import User
    from civicloop.organizations.models import Team


@main.group()
def okrs() -> None:
    """Objectives and key results: reminders, the one-page report, a quick list."""


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"“{value}” is not a date; write it as YYYY-MM-DD.", param_hint=option
        ) from None


def _team(slug: str | None) -> Team | None:
    from civicloop.organizations.models import Team

    if slug is None:
        return None
    team = Team.objects.filter(slug=slug).first() or Team.objects.filter(name=slug).first()
    if team is None:
        names = list(Team.objects.values_list("slug", flat=True))
        close = difflib.get_close_matches(slug, names, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else f" Teams: {', '.join(names)}."
        raise click.BadParameter(f"there is no team “{slug}”.{hint}", param_hint="--team")
    return team


def _reader(email: str | None) -> User:
    """The person whose view is printed; by default the operator, who sees everything."""
    from civicloop.accounts.models import User

    if email is None:
        return User(email="operator@localhost", full_name="Operator", is_superuser=True)
    person = User.objects.filter(email__iexact=email, is_active=True).first()
    if person is None:
        raise click.BadParameter(f"nobody has the email address “{email}”.", param_hint="--as")
    return person


def _quarter(code: str | None, today: date) -> object:
    from civicloop.okrs.quarters import Quarter

    if code is None or code == "current":
        return Quarter.containing(today)
    try:
        return Quarter.parse(code)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--quarter") from None


@okrs.command()
@data_dir_option
@click.option("--as-of", "as_of", help="Act as if today were this day (YYYY-MM-DD).")
@click.option("--dry-run", is_flag=True, help="List who would be reminded; send nothing.")
def remind(data_dir: Path | None, as_of: str | None, dry_run: bool) -> None:
    """Email each key result owner whose check-in is due (once per due date)."""
    day = _date(as_of, "--as-of")
    setup_django(data_dir)
    migrate_quietly()
    from civicloop.okrs.services import send_reminders

    report = send_reminders(day, dry_run=dry_run)
    if not report.key_results:
        if report.already:
            console.print(
                f"Nobody new to remind: the owners of all {report.already} check-ins due were "
                "reminded before."
            )
        else:
            console.print("No check-ins are due: nobody to remind.")
        return
    verb = "Would remind" if dry_run else "Reminded"
    console.print(
        f"{verb} {len(report.people)} people about {report.key_results} check-ins: "
        + ", ".join(report.people)
    )


@okrs.command()
@data_dir_option
@click.option("--team", "team_slug", help="One team's OKRs (its id or name); default: all.")
@click.option("--quarter", help="YEAR-QN, e.g. 2026-Q3; default: the current quarter.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pdf", "html"]),
    default=None,
    help="Default: from the output file's extension.",
)
@click.option(
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the report.",
)
@click.option("--as", "as_email", help="Print what this person may see (default: everything).")
def report(
    data_dir: Path | None,
    team_slug: str | None,
    quarter: str | None,
    fmt: str | None,
    output: Path,
    as_email: str | None,
) -> None:
    """The one-page OKR report for a cabinet or scrutiny committee, as PDF or HTML."""
    fmt = fmt or (output.suffix.lower().lstrip(".") if output.suffix else "")
    if fmt not in ("pdf", "html"):
        raise click.BadParameter(
            "give --format pdf or html, or an output file ending in .pdf or .html.",
            param_hint="--format",
        )
    if not output.parent.exists():
        raise click.BadParameter(
            f"the folder {output.parent} does not exist; create it first.", param_hint="--output"
        )
    setup_django(data_dir)
    migrate_quietly()
    from django.utils import timezone

    from civicloop.okrs import export
    from civicloop.okrs.quarters import Quarter

    team = _team(team_slug)
    period = _quarter(quarter, timezone.localdate())
    assert isinstance(period, Quarter)
    reader = _reader(as_email)
    if team is not None and not reader.is_superuser and team.role_of(reader) is None:
        raise click.BadParameter(f"{reader} is not in {team.name}.", param_hint="--as")
    data = export.report_data(reader, period, team)
    pages = ""
    if fmt == "pdf":
        try:
            pdf, count = export.pdf_with_pages(data)
        except export.PdfUnavailable as error:
            raise click.ClickException(str(error)) from None
        output.write_bytes(pdf)
        pages = f"{count} page{'s' if count != 1 else ''}, "
    else:
        output.write_text(export.render_html(data), encoding="utf-8")
    console.print(
        f"Wrote {output} ({fmt.upper()}, {pages}{data['key_result_count']} key results, "
        f"{period.label})."
    )


@okrs.command(name="list")
@data_dir_option
@click.option("--team", "team_slug", help="One team (its id or name); default: all.")
@click.option("--quarter", help="YEAR-QN; default: the current quarter.")
def list_okrs(data_dir: Path | None, team_slug: str | None, quarter: str | None) -> None:
    """Key results of a quarter with progress and status."""
    setup_django(data_dir)
    migrate_quietly()
    from django.utils import timezone

    from civicloop.okrs import export
    from civicloop.okrs.quarters import Quarter

    team = _team(team_slug)
    period = _quarter(quarter, timezone.localdate())
    assert isinstance(period, Quarter)
    data = export.report_data(_reader(None), period, team)
    table = Table("objective", "key result", "team", "now", "target", "progress", "status")
    for mission in data["missions"]:
        for objective in mission["objectives"]:
            for k in objective["key_results"]:
                pct = k["progress_pct"]
                table.add_row(
                    objective["title"],
                    k["title"],
                    k["team"],
                    k["current_text"],
                    k["target_text"] or "done",
                    "—" if pct is None else f"{pct} %",
                    k["status"]["label"],
                )
    console.print(f"{data['title']}: {data['key_result_count']} key results")
    console.print(table)
