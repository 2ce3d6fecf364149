"""`civicloop pack`: a meeting's pack, as HTML or PDF, from the command line."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import click

from civicloop.cli import data_dir_option, err_console, main, migrate_quietly, setup_django


def _team(name: str) -> Any:
    from django.db.models import Q

    from civicloop.organizations.models import Team

    team = Team.objects.filter(Q(name__iexact=name.strip()) | Q(slug__iexact=name.strip())).first()
    if team is None:
        names = ", ".join(Team.objects.order_by("name").values_list("name", flat=True)) or "none"
        raise click.BadParameter(
            f"no team is called {name!r}. Teams: {names}.", param_hint="--team"
        )
    return team


def _meeting(team: Any, which: str) -> Any:
    from django.utils import timezone

    from civicloop.meetings.models import Meeting, MeetingState

    meetings = Meeting.objects.filter(team=team).exclude(state=MeetingState.CANCELLED)
    if which == "latest":
        issued = meetings.filter(packs__isnull=False).order_by("-on").first()
        if issued is not None:
            return issued
        upcoming = meetings.filter(on__gte=timezone.localdate()).order_by("on").first()
        if upcoming is not None:
            return upcoming
        meeting = meetings.order_by("-on").first()
        if meeting is None:
            raise click.BadParameter(
                f"{team.name} has no meetings yet: schedule one in the app first.",
                param_hint="--meeting",
            )
        return meeting
    try:
        day = date.fromisoformat(which)
    except ValueError:
        raise click.BadParameter(
            f"{which!r} is not a date: write YYYY-MM-DD (e.g. 2026-12-08) or 'latest'.",
            param_hint="--meeting",
        ) from None
    meeting = meetings.filter(on=day).first()
    if meeting is None:
        days = ", ".join(
            d.isoformat() for d in meetings.order_by("-on").values_list("on", flat=True)[:8]
        )
        raise click.BadParameter(
            f"{team.name} has no meeting on {day.isoformat()}. Recent and coming meetings: "
            f"{days or 'none'}.",
            param_hint="--meeting",
        )
    return meeting


def _person(team: Any, email: str | None) -> Any:
    from civicloop.accounts.models import User
    from civicloop.organizations.models import Role

    if email:
        person = User.objects.filter(email__iexact=email.strip()).first()
        if person is None or not team.can_edit(person):
            raise click.BadParameter(
                f"{email} is not a lead or member of {team.name}.", param_hint="--as"
            )
        return person
    lead = team.memberships.filter(role=Role.LEAD).select_related("person").first()
    if lead is None:
        raise click.BadParameter(
            f"{team.name} has no lead: name whose view the pack is built with.", param_hint="--as"
        )
    return lead.person


def _write(path: Path, body: bytes) -> None:
    """Write the whole file or nothing: a temporary file beside it, then renamed."""
    folder = path.resolve().parent
    if not folder.is_dir():
        raise click.BadParameter(f"the folder {folder} does not exist.", param_hint="--output")
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # like any file the user writes, not mkstemp's 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@main.command()
@data_dir_option
@click.option("--team", "team_name", required=True, help="The team's name or its short name.")
@click.option(
    "--meeting",
    "which",
    default="latest",
    show_default=True,
    help="The meeting's day (YYYY-MM-DD), or 'latest': the latest meeting with an issued "
    "pack, else the next meeting.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pdf", "html"]),
    default=None,
    help="Default: from the output file's extension (.pdf or .html).",
)
@click.option(
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write.",
)
@click.option(
    "--issue",
    is_flag=True,
    help="Issue (freeze) a new pack for the meeting now, then write it.",
)
@click.option(
    "--as",
    "as_email",
    default=None,
    help="Whose view to build a draft or issue with (a lead or member; default: the team's "
    "first lead).",
)
def pack(
    data_dir: Path | None,
    team_name: str,
    which: str,
    fmt: str | None,
    output: Path,
    issue: bool,
    as_email: str | None,
) -> None:
    """Write a meeting's pack. An issued pack is written exactly as issued (frozen); a meeting
    without one gets a draft built from the data as it is now, marked as a draft."""
    if fmt is None:
        suffix = output.suffix.lower().lstrip(".")
        if suffix not in ("pdf", "html", "htm"):
            raise click.BadParameter(
                f"cannot tell the format from {output.name!r}: add --format pdf or --format "
                "html, or name the file .pdf or .html.",
                param_hint="--format",
            )
        fmt = "html" if suffix in ("html", "htm") else "pdf"
    setup_django(data_dir)
    migrate_quietly()
    from django.utils import timezone

    from civicloop.meetings import pack as packs
    from civicloop.meetings import services

    team = _team(team_name)
    meeting = _meeting(team, which)
    issued = meeting.packs.order_by("-number").first()
    if issue:
        person = _person(team, as_email)
        try:
            issued = packs.issue(meeting, person)
        except services.MeetingError as error:
            raise click.ClickException(str(error)) from None
        snapshot = issued.snapshot
        what = f"pack {issued.number} (issued now)"
    elif issued is not None:
        snapshot = issued.snapshot
        what = f"pack {issued.number}, issued {timezone.localtime(issued.issued_at):%Y-%m-%d %H:%M}"
    else:
        person = _person(team, as_email)
        snapshot, _ = packs.build_snapshot(meeting, person)
        what = "a DRAFT (no pack issued for this meeting yet; --issue freezes one)"
    try:
        body = (
            packs.render_pdf(snapshot)
            if fmt == "pdf"
            else packs.render_html(snapshot).encode("utf-8")
        )
    except packs.PdfUnavailable as error:
        raise click.ClickException(str(error)) from None
    _write(output, body)
    err_console.print(
        f"Wrote {output} ({len(body):,} bytes, {fmt.upper()}): {team.name}, meeting of "
        f"{meeting.on:%d %b %Y}, {what}."
    )
