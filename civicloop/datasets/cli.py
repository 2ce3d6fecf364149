"""`civicloop ingest`, `export`, `datasets`, `rollback` and `infer-schema`."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from civicloop.cli import console, data_dir_option, err_console, main, migrate_quietly, setup_django

if TYPE_CHECKING:
    from civicloop.datasets.models import Dataset, IngestRun
    from civicloop.warehouse import Warehouse

FORMATS = ["csv", "xlsx", "parquet", "json", "ndjson"]


def _warehouse() -> Warehouse:
    from civicloop.datasets.services import reconcile
    from civicloop.warehouse import Warehouse, WarehouseError

    try:
        warehouse = Warehouse.default()
    except WarehouseError as error:
        raise click.ClickException(str(error)) from None
    # Holding the warehouse means no other civicloop process is working: a run still marked
    # "running" was interrupted, and any table it left half-made can go.
    for note in reconcile(warehouse):
        err_console.print(f"Recovered: {note}.")
    return warehouse


def _dataset(slug: str) -> Dataset:
    from civicloop.datasets.models import Dataset

    dataset = Dataset.objects.filter(slug=slug).select_related("current_version").first()
    if dataset is None:
        known = ", ".join(Dataset.objects.values_list("slug", flat=True)) or "none yet"
        raise click.ClickException(f"No dataset {slug!r}. Known datasets: {known}.")
    return dataset


def _schema_table(descriptor: dict[str, Any]) -> Table:
    table = Table(title="Schema", show_edge=False)
    for heading in ("field", "type", "format", "required"):
        table.add_column(heading)
    for f in descriptor["fields"]:
        table.add_row(
            f["name"],
            f["type"],
            f.get("format", "") or ("groupChar " + f["groupChar"] if f.get("groupChar") else ""),
            "yes" if f.get("constraints", {}).get("required") else "",
        )
    return table


@main.command()
@data_dir_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dataset", "slug", required=True, help="Dataset to load into (its short name).")
@click.option("--name", default="", help="Display name, when the dataset is created.")
@click.option("--owner", default="", help="Owning organization's slug, when creating.")
@click.option(
    "--schema",
    "schema_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Table Schema JSON to declare (else inferred when creating).",
)
@click.option(
    "--mode",
    type=click.Choice(["replace", "append", "upsert"]),
    default=None,
    help="How the rows combine with the current version. Default: the dataset's.",
)
@click.option(
    "--bad-rows",
    type=click.Choice(["reject", "quarantine"]),
    default=None,
    help="Refuse the load on any bad row, or load good rows and set bad ones aside.",
)
@click.option("--encoding", default=None, help="Text encoding (default: detected).")
@click.option("--delimiter", default=None, help="CSV delimiter (default: detected).")
@click.option("--sheet", default=None, help="Excel sheet to load (when there are several).")
@click.option(
    "--format",
    "source_format",
    type=click.Choice(FORMATS),
    default=None,
    help="File format (default: from the file name).",
)
@click.option(
    "--data-as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Last day the file's data is complete for, YYYY-MM-DD (e.g. the day an extract was "
    "taken). Default: the latest day in the data, before today.",
)
def ingest(
    data_dir: Path | None,
    file: Path,
    slug: str,
    name: str,
    owner: str,
    schema_file: Path | None,
    mode: str | None,
    bad_rows: str | None,
    encoding: str | None,
    delimiter: str | None,
    sheet: str | None,
    source_format: str | None,
    data_as_of: datetime | None,
) -> None:
    """Validate FILE and load it as a new version of a dataset (created if new)."""
    if delimiter == "\\t":
        delimiter = "\t"
    setup_django(data_dir)
    migrate_quietly()

    from civicloop.datasets import services
    from civicloop.datasets.engine.schema import SchemaError, schema_from_descriptor
    from civicloop.datasets.engine.stage import SourceError, SourceFormat, format_from_name
    from civicloop.datasets.models import Dataset
    from civicloop.organizations.models import Organization

    try:
        fmt = source_format or format_from_name(file.name).value
    except SourceError as error:
        raise click.ClickException(str(error)) from None
    declared = None
    if schema_file is not None:
        try:
            declared = schema_from_descriptor(json.loads(schema_file.read_text("utf-8")))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise click.ClickException(f"{schema_file}: not valid JSON ({error}).") from None
        except SchemaError as error:
            raise click.ClickException(f"{schema_file}: {error}") from None
    warehouse = _warehouse()
    dataset = Dataset.objects.filter(slug=slug).first()
    if dataset is None:
        org = Organization.objects.filter(slug=owner).first() if owner else None
        if org is None:
            known = ", ".join(Organization.objects.values_list("slug", flat=True)) or "none yet"
            raise click.ClickException(
                f"Dataset {slug!r} is new: say which organization owns it with --owner "
                f"(one of: {known})."
            )
        if declared is None:
            try:
                declared, _ = services.infer_from_file(
                    file, SourceFormat(fmt), encoding, delimiter, sheet
                )
            except SourceError as error:
                raise click.ClickException(f"{file.name}: {error}") from None
            console.print(f"Inferred a schema for new dataset [bold]{slug}[/]; check it:")
            console.print(_schema_table(declared.to_descriptor()))
        dataset = _create(slug, name, org, declared, schema_confirmed=schema_file is not None)
    elif declared is not None:
        services.update_schema(
            dataset,
            declared.to_descriptor(),
            None,
            f"Declared from {schema_file.name if schema_file else ''}.",
        )
    run = services.queue_load(
        dataset,
        file,
        file.name,
        None,
        mode=mode,
        bad_rows=bad_rows,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        source_format=fmt,
        data_as_of=data_as_of.date() if data_as_of else None,
    )
    run = _run_with_progress(run, warehouse)
    _print_run(run)
    if run.status != "succeeded":
        sys.exit(1)


def _create(slug: str, name: str, owner: Any, schema: Any, **fields: Any) -> Dataset:
    """Create a dataset for a CLI command; refusals become one clear line."""
    from django.core.exceptions import ValidationError

    from civicloop.datasets import services

    try:
        return services.create_dataset(
            slug=slug,
            name=name or slug.replace("_", " ").capitalize(),
            owner=owner,
            schema=schema,
            **fields,
        )
    except (services.DatasetError, ValidationError) as error:
        raise click.ClickException(_one_line(error)) from None


def _one_line(error: Exception) -> str:
    messages = getattr(error, "message_dict", None)
    if messages:
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in messages.items())
    return str(error)


def _run_with_progress(run: IngestRun, warehouse: Warehouse) -> IngestRun:
    from civicloop.datasets import services

    with Progress(
        TextColumn("{task.description:<9}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("reading", total=run.source_size or None)

        def update(current: IngestRun) -> None:
            if current.phase == "reading":
                progress.update(
                    task,
                    description="reading",
                    completed=current.progress_done,
                    total=current.progress_total or None,
                )
            else:
                progress.update(task, description=current.phase)

        run = services.run_load_now(run, warehouse, update)
        progress.update(
            task, description="done", completed=run.source_size, total=run.source_size or 1
        )
    return run


def _print_run(run: IngestRun) -> None:
    ok = run.status == "succeeded"
    (console if ok else err_console).print(
        f"[{'green' if ok else 'red'}]{run.get_status_display()}[/]: {run.summary}",
        highlight=False,
    )
    shown = run.problems[:20]
    for problem in shown:
        err_console.print(f"  {problem['text']}", highlight=False, markup=False)
    if run.problem_count > len(shown):
        err_console.print(f"  … and {run.problem_count - len(shown):,} more.")
    for hint in run.hints:
        err_console.print(f"  Hint: {hint}", highlight=False, markup=False)
    if run.report_path:
        err_console.print(f"Every problem, as CSV: {run.report_path}", highlight=False)


@main.command()
@data_dir_option
@click.option("--dataset", "slug", required=True, help="Dataset to export.")
@click.option(
    "--version",
    "number",
    type=int,
    default=None,
    help="Version number (default: the current version).",
)
@click.option(
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write: .csv or .xlsx.",
)
@click.option("--quarantine", is_flag=True, help="Export the rows that version set aside.")
def export(
    data_dir: Path | None, slug: str, number: int | None, output: Path, quarantine: bool
) -> None:
    """Write a dataset version to CSV or Excel, exactly as loaded."""
    fmt = output.suffix.lower().lstrip(".")
    if fmt not in ("csv", "xlsx"):
        raise click.ClickException(f"--output must end in .csv or .xlsx, not {output.name!r}.")
    setup_django(data_dir)
    from civicloop.datasets import services

    dataset = _dataset(slug)
    version = (
        dataset.versions.filter(number=number).first()
        if number is not None
        else dataset.current_version
    )
    if version is None:
        numbers = ", ".join(str(n) for n in dataset.versions.values_list("number", flat=True))
        raise click.ClickException(
            f"{slug} has no version {number}; it has: {numbers}."
            if number is not None
            else f"{slug} has no data loaded yet."
        )
    try:
        rows = services.export_version(_warehouse(), version, fmt, output, quarantine)
    except Exception as error:
        if type(error).__name__ not in ("DatasetError", "ExportError"):
            raise
        raise click.ClickException(str(error)) from None
    console.print(f"Wrote {rows:,} rows of {slug} version {version.number} to {output}.")


@main.command(name="datasets")
@data_dir_option
def list_datasets(data_dir: Path | None) -> None:
    """List datasets with their current version and freshness."""
    setup_django(data_dir)
    migrate_quietly()
    from civicloop.datasets.models import Dataset

    _warehouse()
    table = Table(show_edge=False)
    for heading in ("dataset", "owner", "sensitivity", "version", "rows", "freshness"):
        table.add_column(heading)
    for d in Dataset.objects.select_related("owner", "current_version"):
        version = d.current_version
        table.add_row(
            d.slug,
            d.owner.name,
            d.sensitivity,
            str(version.number) if version else "—",
            f"{version.row_count:,}" if version else "—",
            d.freshness,
        )
    console.print(table)


@main.command()
@data_dir_option
@click.option("--dataset", "slug", required=True, help="Dataset to roll back.")
@click.option("--to", "number", type=int, required=True, help="Version number to make current.")
@click.option("--reason", required=True, help="Why: recorded in the dataset's history.")
def rollback(data_dir: Path | None, slug: str, number: int, reason: str) -> None:
    """Make an earlier version current again (recorded, reversible)."""
    setup_django(data_dir)
    from civicloop.datasets import services

    dataset = _dataset(slug)
    version = dataset.versions.filter(number=number).first()
    if version is None:
        numbers = ", ".join(str(n) for n in dataset.versions.values_list("number", flat=True))
        raise click.ClickException(f"{slug} has no version {number}; it has: {numbers or 'none'}.")
    _warehouse()  # fail early, clearly, if another process holds the warehouse
    try:
        services.roll_back(dataset, version, None, reason)
    except services.DatasetError as error:
        raise click.ClickException(str(error)) from None
    console.print(f"{slug} now uses version {number} ({version.row_count:,} rows).")


@main.command(name="infer-schema")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--encoding", default=None, help="Text encoding (default: detected).")
@click.option("--delimiter", default=None, help="CSV delimiter (default: detected).")
@click.option("--sheet", default=None, help="Excel sheet.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the Table Schema JSON here (default: print it).",
)
def infer_schema_command(
    file: Path, encoding: str | None, delimiter: str | None, sheet: str | None, output: Path | None
) -> None:
    """Guess a Table Schema for FILE, to edit and pass to `ingest --schema`."""
    setup_django(None)
    from civicloop.datasets import services
    from civicloop.datasets.engine.stage import SourceError

    try:
        schema, staged = services.infer_from_file(file, None, encoding, delimiter, sheet)
    except SourceError as error:
        raise click.ClickException(f"{file.name}: {error}") from None
    text = json.dumps(schema.to_descriptor(), indent=2)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        console.print(f"Wrote the schema of {staged.rows:,} rows to {output}.")
    else:
        click.echo(text)


@main.command(name="source")
@data_dir_option
@click.option("--dataset", "slug", required=True, help="Dataset whose source to set.")
@click.option(
    "--kind",
    required=True,
    type=click.Choice(["csv_url", "socrata", "ckan", "arcgis", "sql"]),
    help="Where the data is published.",
)
@click.option(
    "--option",
    "pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A source option, repeatable (e.g. --option dataset_id=833y-fsy8).",
)
@click.option(
    "--refresh-at",
    default=None,
    metavar="HH:MM",
    help="Refresh daily at this time (server's time zone); omit for manual only.",
)
@click.option("--owner", default="", help="Owning organization's slug, when creating.")
@click.option("--name", default="", help="Display name, when creating.")
def set_source(
    data_dir: Path | None,
    slug: str,
    kind: str,
    pairs: tuple[str, ...],
    refresh_at: str | None,
    owner: str,
    name: str,
) -> None:
    """Say where a dataset's data is published; a new dataset is created from a first fetch."""
    import datetime as dt

    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.ClickException(f"--option {pair!r} is not NAME=VALUE.")
        options[key.strip()] = value
    when = None
    if refresh_at:
        try:
            when = dt.time.fromisoformat(refresh_at)
        except ValueError:
            raise click.ClickException(
                f"--refresh-at {refresh_at!r} is not a time like 06:00."
            ) from None
    setup_django(data_dir)
    migrate_quietly()
    from civicloop.datasets import refresh, services
    from civicloop.datasets.models import Dataset
    from civicloop.organizations.models import Organization

    try:
        options = refresh.check_source(kind, options)
    except services.DatasetError as error:
        raise click.ClickException(str(error)) from None
    warehouse = _warehouse()
    dataset = Dataset.objects.filter(slug=slug).first()
    if dataset is None:
        org = Organization.objects.filter(slug=owner).first() if owner else None
        if org is None:
            known = ", ".join(Organization.objects.values_list("slug", flat=True)) or "none yet"
            raise click.ClickException(f"Dataset {slug!r} is new: give --owner (one of: {known}).")
        dataset = _create_from_first_fetch(slug, name, org, kind, options, warehouse)
    dataset.source_kind, dataset.source_options, dataset.refresh_at = kind, options, when
    dataset.save(update_fields=["source_kind", "source_options", "refresh_at"])
    schedule = f"daily at {when:%H:%M}" if when else "when you run civicloop refresh-data"
    console.print(f"{slug} now refreshes from {kind} {schedule}.")


def _create_from_first_fetch(
    slug: str, name: str, org: Any, kind: str, options: dict[str, str], warehouse: Warehouse
) -> Dataset:
    import tempfile

    from civicloop.datasets import connectors, refresh, services
    from civicloop.datasets.engine.stage import SourceError, SourceFormat
    from civicloop.datasets.models import Dataset

    probe = Dataset(slug=slug, source_kind=kind, source_options=options)
    with tempfile.TemporaryDirectory(prefix="civicloop-first-fetch-") as work:
        try:
            result = refresh.fetch(probe, warehouse, Path(work))
            schema, _ = services.infer_from_file(result.path, SourceFormat(result.format))
        except (connectors.ConnectorError, SourceError, services.DatasetError) as error:
            raise click.ClickException(str(error)) from None
        console.print(f"Fetched {result.rows:,} rows; inferred this schema:")
        console.print(_schema_table(schema.to_descriptor()))
        dataset = _create(slug, name, org, schema, source_kind=kind, source_options=options)
        run = services.queue_load(
            dataset,
            result.path,
            f"{kind}-first-fetch.{result.format}",
            None,
            source_format=result.format,
        )
        _print_run(_run_with_progress(run, warehouse))
    return dataset


@main.command(name="refresh-data")
@data_dir_option
@click.option(
    "--dataset", "slug", default=None, help="Refresh this dataset now, whatever its schedule."
)
def refresh_data(data_dir: Path | None, slug: str | None) -> None:
    """Fetch and load datasets whose daily refresh is due (or one dataset, now)."""
    setup_django(data_dir)
    migrate_quietly()
    from civicloop.datasets import refresh, services

    warehouse = _warehouse()
    datasets = [_dataset(slug)] if slug else refresh.due_datasets()
    if not datasets:
        console.print("No dataset is due for a refresh.")
        return
    failed = 0
    for dataset in datasets:
        console.print(f"Refreshing [bold]{dataset.slug}[/] from {dataset.source_kind}…")
        try:
            run = refresh.refresh_dataset(dataset, warehouse)
        except services.DatasetError as error:
            raise click.ClickException(str(error)) from None
        _print_run(run)
        failed += run.status != "succeeded"
    if failed:
        sys.exit(1)
