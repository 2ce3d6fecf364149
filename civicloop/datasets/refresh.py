"""Refreshing datasets from where they are published: portals, web files, databases.

A dataset's `source_kind` and `source_options` say where its data comes from; `refresh_at` says
when to fetch it each day. A refresh fetches into a file (the connectors), then loads that file
exactly like an upload: archived, validated, a new version or a refusal with a report.

Incremental loads: with `incremental_column` in a Socrata dataset's options and append or
upsert mode, only rows whose column is greater than the current version's largest value are
fetched (`$where`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from civicloop.datasets import connectors
from civicloop.datasets.models import Dataset, IngestRun, RunStatus, SourceKind
from civicloop.datasets.services import DatasetError, queue_load, run_load_now
from civicloop.warehouse import Warehouse, quote_identifier

if TYPE_CHECKING:
    from civicloop.accounts.models import User


@dataclass(frozen=True)
class SourceOption:
    name: str
    required: bool
    help: str


# Declarative: what each kind of source needs. Forms, the CLI and the docs read this.
SOURCE_OPTIONS: dict[str, tuple[SourceOption, ...]] = {
    SourceKind.CSV_URL: (SourceOption("url", True, "Web address of the CSV file."),),
    SourceKind.SOCRATA: (
        SourceOption("base_url", True, "The portal, e.g. https://data.cityofnewyork.us"),
        SourceOption("dataset_id", True, "The dataset's 4x4 id, e.g. 833y-fsy8"),
        SourceOption("app_token", False, "Socrata app token (raises the rate limit)."),
        SourceOption("where", False, "SoQL filter, e.g. boro = 'BRONX'"),
        SourceOption(
            "incremental_column",
            False,
            "Fetch only rows where this column is past the current version's largest "
            "value (append or upsert mode).",
        ),
    ),
    SourceKind.CKAN: (
        SourceOption("base_url", True, "The portal's API, e.g. https://data.gov.uk/api/3/action"),
        SourceOption("resource_id", True, "The resource's id."),
        SourceOption("api_key", False, "CKAN API key, for private resources."),
    ),
    SourceKind.ARCGIS: (
        SourceOption("layer_url", True, "The FeatureServer layer, ending in /FeatureServer/0"),
        SourceOption("where", False, "Filter, default 1=1"),
    ),
    SourceKind.SQL: (
        SourceOption("database_url", True, "postgres://… or sqlite:///…"),
        SourceOption("query", True, "A single SELECT (or WITH … SELECT) query."),
    ),
}


def check_source(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """Options for a source kind, refused with the missing or unknown names."""
    if kind not in SOURCE_OPTIONS:
        known = ", ".join(k for k in SOURCE_OPTIONS)
        raise DatasetError(f"Unknown source kind {kind!r}; use one of: {known}.")
    declared = {o.name: o for o in SOURCE_OPTIONS[kind]}
    unknown = sorted(set(options) - set(declared))
    if unknown:
        raise DatasetError(
            f"{kind} sources take no option {', '.join(unknown)}; they take: {', '.join(declared)}."
        )
    missing = [o.name for o in declared.values() if o.required and not options.get(o.name)]
    if missing:
        raise DatasetError(f"A {kind} source needs {', '.join(missing)}.")
    return {k: v for k, v in options.items() if v not in (None, "")}


def _incremental_where(dataset: Dataset, warehouse: Warehouse, options: dict[str, Any]) -> str:
    column = options.get("incremental_column")
    where = options.get("where") or ""
    if not column or dataset.current_version is None or dataset.load_mode == "replace":
        return where
    schema = dataset.table_schema()
    try:
        stored = schema.field(column).column
    except KeyError:
        raise DatasetError(f"incremental_column {column!r} is not a field of the schema.") from None
    table = quote_identifier(dataset.current_version.table_name)
    largest = warehouse.query(f"SELECT max({quote_identifier(stored)}) FROM {table}")[0][0]  # noqa: S608
    if largest is None:
        return where
    if isinstance(largest, datetime):
        value = largest.isoformat(timespec="milliseconds")  # Socrata's floating timestamp form
    elif hasattr(largest, "isoformat"):
        value = largest.isoformat()
    else:
        value = str(largest)
    literal = "'" + value.replace("'", "''") + "'"  # a SoQL string literal of our own value
    condition = f"{column} > {literal}"
    return f"({where}) AND {condition}" if where else condition


def fetch(
    dataset: Dataset,
    warehouse: Warehouse,
    dest_dir: Path,
    progress: Callable[[int, int | None], None] | None = None,
) -> connectors.FetchResult:
    options = check_source(dataset.source_kind, dict(dataset.source_options))
    kind = dataset.source_kind
    if kind == SourceKind.CSV_URL:
        return connectors.fetch_csv_url(options["url"], dest_dir / "source.csv", progress=progress)
    if kind == SourceKind.SOCRATA:
        return connectors.fetch_socrata(
            options["base_url"],
            options["dataset_id"],
            dest_dir / "source.ndjson",
            app_token=options.get("app_token"),
            progress=progress,
            where=_incremental_where(dataset, warehouse, options) or None,
        )
    if kind == SourceKind.CKAN:
        return connectors.fetch_ckan(
            options["base_url"],
            options["resource_id"],
            dest_dir / "source.ndjson",
            api_key=options.get("api_key"),
            progress=progress,
        )
    if kind == SourceKind.ARCGIS:
        return connectors.fetch_arcgis(
            options["layer_url"],
            dest_dir / "source.ndjson",
            where=options.get("where") or "1=1",
            progress=progress,
        )
    return connectors.fetch_sql(
        options["database_url"], options["query"], dest_dir / "source.ndjson", progress=progress
    )


def refresh_dataset(
    dataset: Dataset,
    warehouse: Warehouse,
    actor: User | None = None,
    progress: Callable[[IngestRun], None] | None = None,
) -> IngestRun:
    """Fetch and load now. A fetch that fails is recorded as a failed run, with its reason."""
    if dataset.source_kind == SourceKind.UPLOAD:
        raise DatasetError(
            f"{dataset.slug} has no source to refresh from: its data is "
            "uploaded. Set a source first."
        )
    with tempfile.TemporaryDirectory(prefix="civicloop-fetch-") as work:
        try:
            result = fetch(dataset, warehouse, Path(work))
        except connectors.ConnectorError as error:
            return IngestRun.objects.create(
                dataset=dataset,
                status=RunStatus.FAILED,
                requested_by=actor,
                source_name=dataset.get_source_kind_display(),
                source_path="",
                summary=f"Fetching failed, nothing was changed: {error}",
                started_at=timezone.now(),
                finished_at=timezone.now(),
                options={"refresh": True},
            )
        name = f"{dataset.source_kind}-{timezone.now():%Y%m%d-%H%M}.{result.format}"
        run = queue_load(dataset, result.path, name, actor, source_format=result.format)
    run.options = {**run.options, "refresh": True, "source_url": result.source_url}
    run.save(update_fields=["options"])
    return run_load_now(run, warehouse, progress)


def due_datasets(now: datetime | None = None) -> list[Dataset]:
    """Datasets with a daily refresh time that has passed today and no refresh since."""
    now = timezone.localtime(now or timezone.now())
    due = []
    candidates = Dataset.objects.exclude(source_kind=SourceKind.UPLOAD).exclude(refresh_at=None)
    for dataset in candidates:
        assert dataset.refresh_at is not None
        if now.time() < dataset.refresh_at:
            continue
        start_of_today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        refreshed_today = dataset.runs.filter(
            created_at__gte=start_of_today, options__refresh=True
        ).exists()
        if not refreshed_today:
            due.append(dataset)
    return due
