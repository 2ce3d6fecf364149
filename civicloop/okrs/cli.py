"""`civicloop okrs remind|report|list`: check-in reminders, the one-page report, a quick look."""

from __future__ import annotations

import difflib
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich import box
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from civicloop.cli import (
    console,
    data_dir_option,
    err_console,
    main,
    migrate_quietly,
    setup_django,
)

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
@click.option(
    "--full",
    is_flag=True,
    help="List every key result, over as many pages as it takes (default: one page).",
)
def report(
    data_dir: Path | None,
    team_slug: str | None,
    quarter: str | None,
    fmt: str | None,
    output: Path,
    as_email: str | None,
    full: bool,
) -> None:
    """The one-page OKR report for a cabinet or scrutiny committee, as PDF or HTML.

    When every key result does not fit on one page, the page counts each objective's key
    results by status and lists only those that need attention; --full lists every one."""
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
    data = export.report_data(reader, period, team, full=full)
    pages = ""
    count = 1
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
        f"{period.label}).",
        soft_wrap=True,
    )
    if data["compact"]:
        listed, needing = len(data["attention"]), len(data["attention_all"])
        which = f"the {listed}" if listed == needing else f"{listed} of the {needing}"
        fitted = "" if listed == needing else " (as many as fit)"
        screen = (
            " On screen the HTML lists every key result below the page." if fmt == "html" else ""
        )
        console.print(
            "Too many key results for one page: it counts each objective's key results by "
            f"status and lists {which} that need attention{fitted}; the "
            f"{data['not_listed']['count']} others are not listed.{screen} --full lists every one.",
            soft_wrap=True,
        )
    if count > 1 and not full:
        err_console.print(
            f"The report takes {count} pages: its {_objective_count(data)} objectives alone "
            "fill more than one. Give --team for one team's report.",
            soft_wrap=True,
        )


def _objective_count(data: dict[str, Any]) -> int:
    return sum(len(m["objectives"]) for m in data["missions"])


@okrs.command(name="list")
@data_dir_option
@click.option("--team", "team_slug", help="One team (its id or name); default: all.")
@click.option("--quarter", help="YEAR-QN; default: the current quarter.")
def list_okrs(data_dir: Path | None, team_slug: str | None, quarter: str | None) -> None:
    """Key results of a quarter with progress and status, objective by objective."""
    setup_django(data_dir)
    migrate_quietly()
    from django.utils import timezone

    from civicloop.okrs import export
    from civicloop.okrs.quarters import Quarter

    team = _team(team_slug)
    period = _quarter(quarter, timezone.localdate())
    assert isinstance(period, Quarter)
    data = export.report_data(_reader(None), period, team, full=True)
    console.print(f"{data['title']}: {data['key_result_count']} key results", soft_wrap=True)
    console.print(export.summary_sentence(data, total=False), highlight=False)
    if not data["missions"]:
        console.print(f"No objectives for {period.label}.")
    rows = [_cells(k) for m in data["missions"] for o in m["objectives"] for k in o["key_results"]]
    # The same columns for every objective, so that the tables line up.
    widths = [max([len(name), *(len(c[n]) for c in rows)]) for n, name in enumerate(COLUMNS)]
    for mission in data["missions"]:
        console.print()
        console.print(Text(mission["title"], style="bold underline"))
        for objective in mission["objectives"]:
            console.print()
            console.print(_objective_heading(objective))
            if objective["key_results"]:
                table = _key_results_table([_cells(k) for k in objective["key_results"]], widths)
                console.print(Padding(table, (0, 0, 0, 2)))
            else:
                console.print("  No key results this quarter.")


COLUMNS = ("key result", "now", "target", "progress", "status")


def _objective_heading(objective: dict[str, Any]) -> Text:
    team = objective["team"]
    if objective["partner_teams"]:
        team += " with " + ", ".join(objective["partner_teams"])
    pct = objective["progress_pct"]
    progress = "no progress yet" if pct is None else f"{pct} %"
    heading = Text(objective["title"], style="bold")
    heading.append(f" — {team} · {progress}")
    return heading


def _cells(k: dict[str, Any]) -> tuple[str, str, str, str, str]:
    unit = k["unit"] if k["kind"] == "measure" and k["unit"] not in ("", "%") else ""
    pct = k["progress_pct"]
    return (
        k["title"] + (f" ({unit})" if unit else ""),
        k["current_number"],
        k["target_number"] or "Done",
        "—" if pct is None else f"{pct} %",
        k["report_status"]["label"],
    )


def _key_results_table(cells: list[tuple[str, ...]], widths: list[int]) -> Table:
    """Numbers and statuses are never wrapped or cut; titles wrap (at 80 columns too)."""
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        header_style="bold",
        width=min(console.width - 2, 110),
    )
    table.add_column(COLUMNS[0], ratio=1, min_width=16, overflow="fold")
    for name, width in zip(COLUMNS[1:], widths[1:], strict=True):
        table.add_column(
            name,
            justify="left" if name == "status" else "right",
            no_wrap=True,
            min_width=width,
            max_width=width,
        )
    for c in cells:
        table.add_row(*(escape(x) for x in c))
    return table
