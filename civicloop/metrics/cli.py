"""`civicloop metrics export|import|list` and `civicloop refresh`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from civicloop.cli import console, data_dir_option, err_console, main, migrate_quietly, setup_django


def _setup(data_dir: Path | None) -> None:
    setup_django(data_dir)
    migrate_quietly()
    from civicloop.warehouse import Warehouse, WarehouseError

    try:
        Warehouse.default()
    except WarehouseError as error:
        raise click.ClickException(str(error)) from None


@main.group()
def metrics() -> None:
    """Metric definitions: list them, export them to YAML, import them from YAML."""


@metrics.command(name="list")
@data_dir_option
def list_metrics(data_dir: Path | None) -> None:
    """Every metric with its version, agreement and last computation."""
    setup_django(data_dir)
    migrate_quietly()
    from civicloop.metrics.models import Metric
    from civicloop.metrics.services import agreement_for, latest_run

    table = Table("name", "team", "version", "agreement", "computed")
    table.add_column("id", no_wrap=True)  # what --metric needs: never cut
    for metric in Metric.objects.select_related("team", "current_version").order_by("slug"):
        if metric.current_version is None:
            continue
        run = latest_run(metric)
        computed = f"{run.computed_at:%Y-%m-%d %H:%M}" if run else "not yet"
        table.add_row(
            metric.name,
            metric.team.name,
            str(metric.current_version.number),
            agreement_for(metric).summary,
            computed,
            metric.slug,
        )
    console.print(table)


@metrics.command(name="export")
@data_dir_option
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def export_metrics(data_dir: Path | None, folder: Path) -> None:
    """Write each metric's current definition to FOLDER/<id>.yaml."""
    setup_django(data_dir)
    migrate_quietly()
    from civicloop.metrics.models import Metric
    from civicloop.metrics.yamlio import dump_definition

    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for metric in Metric.objects.select_related("current_version").order_by("slug"):
        if metric.current_version is None:
            continue
        target = folder / f"{metric.slug}.yaml"
        text = dump_definition(metric.current_version.definition)
        # Rewrite only what changed, so file times (and `make`) mean something.
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
        count += 1
    console.print(f"Exported {count} metric definitions to {folder}.")


@metrics.command(name="import")
@data_dir_option
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--reason",
    default="",
    help="Why the definitions change; recorded in each new version's history. "
    "Default: 'Imported from FILE'.",
)
@click.option(
    "--as",
    "author_email",
    default="",
    help="Email of the person importing; each change is checked against their role (the "
    "steward's, for an existing metric). Default: a trusted import by the operator.",
)
def import_metrics(data_dir: Path | None, folder: Path, reason: str, author_email: str) -> None:
    """Check every FOLDER/*.yaml, then save the changed ones as new versions.

    Nothing is saved unless every file is valid: a folder is imported whole or not at all.
    """
    _setup(data_dir)
    from django.db import transaction

    from civicloop.accounts.models import User
    from civicloop.metrics.services import MetricError, save_definition
    from civicloop.metrics.yamlio import read_folder

    author = None
    if author_email:
        author = User.objects.filter(email__iexact=author_email).first()
        if author is None:
            raise click.ClickException(f"--as {author_email}: nobody signs in with that email.")
    plan = read_folder(folder)
    problems = list(plan.problems)
    saved: list[tuple[str, int]] = []
    unchanged = 0
    try:
        with transaction.atomic():
            for path, data in plan.files:
                try:
                    _, version = save_definition(
                        data, author, reason or f"Imported from {path.name}"
                    )
                except MetricError as error:
                    problems.append(f"{path.name}: {error}")
                    continue
                if version is None:
                    unchanged += 1
                else:
                    saved.append((path.name, version.number))
            if problems:
                raise _Rollback
    except _Rollback:
        for problem in problems:
            err_console.print(f"[red]error[/] {problem}", highlight=False)
        files = len({p.split(":", 1)[0] for p in problems})
        err_console.print(
            f"Nothing was imported: fix the problems above (in {files} file(s)) and run again."
        )
        sys.exit(1)
    for name, number in saved:
        console.print(f"saved {name} as version {number}", highlight=False)
    console.print(f"Imported {len(saved)} changed definition(s); {unchanged} unchanged.")
    if saved:
        console.print("Run [bold]civicloop refresh[/] to compute the changed metrics.")


class _Rollback(Exception):
    pass


@main.command()
@data_dir_option
@click.option("--metric", "slugs", multiple=True, help="Only this metric (repeatable).")
@click.option("--force", is_flag=True, help="Recompute even metrics that are up to date.")
def refresh(data_dir: Path | None, slugs: tuple[str, ...], force: bool) -> None:
    """Compute the series of every metric whose definition or data changed."""
    _setup(data_dir)
    from civicloop.metrics import services
    from civicloop.metrics.engines import EngineError
    from civicloop.metrics.models import Metric

    chosen = Metric.objects.exclude(current_version=None)
    if slugs:
        chosen = chosen.filter(slug__in=slugs)
        missing = set(slugs) - set(chosen.values_list("slug", flat=True))
        if missing:
            raise click.ClickException(
                f"No metric {', '.join(sorted(missing))}. See civicloop metrics list."
            )
    with Progress(
        TextColumn("{task.description:<45}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("metrics", total=chosen.count())

        def update(slug: str, done: int, total: int) -> None:
            bar.update(task, description=slug or "done", completed=done, total=total)

        try:
            report = services.refresh(chosen, force=force, progress=update)
        except EngineError as error:
            raise click.ClickException(str(error)) from None
    for slug, message in report.failed.items():
        err_console.print(f"[red]failed[/] {slug}: {message}", highlight=False)
    console.print(
        f"Computed {len(report.computed)} metric(s), {len(report.unchanged)} up to date, "
        f"{len(report.failed)} failed, in {report.seconds:.1f} s."
    )
    if report.failed:
        sys.exit(1)
