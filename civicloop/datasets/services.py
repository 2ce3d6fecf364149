"""Operations on datasets: create, infer a schema, load, roll back, export, recover.

Order of writes in a load, and why it is crash-safe:
1. the raw file is archived (copied, hashed) and an IngestRun recorded;
2. the engine builds the new version table inside one warehouse transaction;
3. one app-database transaction records the version and makes it current;
4. the analysts' view is pointed at it (derived; `reconcile` re-derives it).
A crash in 2 leaves no table (DuckDB rolls back). A crash between 2 and 3 leaves a table no
version points to; `reconcile` drops it and marks the run interrupted. The dataset's current
version changes only in step 3, atomically.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from civicloop.datasets.engine import stage as staging
from civicloop.datasets.engine.infer import infer_schema
from civicloop.datasets.engine.load import (
    BadRows,
    LoadMode,
    LoadRefused,
    LoadRequest,
    run_load,
)
from civicloop.datasets.engine.schema import SchemaError, TableSchema
from civicloop.datasets.models import (
    Dataset,
    DatasetEvent,
    DatasetVersion,
    DataSharingAgreement,
    EventKind,
    IngestRun,
    RunStatus,
)
from civicloop.datasets.signals import current_version_changed
from civicloop.warehouse import Warehouse, quote_identifier

if TYPE_CHECKING:
    from civicloop.accounts.models import User
    from civicloop.organizations.models import Organization

log = logging.getLogger(__name__)
RunProgress = Callable[[IngestRun], None]
COPY_CHUNK = 8 << 20


class DatasetError(ValueError):
    """An operation refused for a reason the user can fix; the message says how."""


# --- archive ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Archived:
    path: Path
    sha256: str
    size: int


def archive_dir() -> Path:
    return Path(settings.DATA_DIR) / "archive"


def archive_source(source: Path, dataset_slug: str, original_name: str) -> Archived:
    """Copy the raw file into the archive, hashing as it goes (one pass, bounded memory)."""
    folder = archive_dir() / dataset_slug
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
    safe_name = "".join(c if c.isalnum() or c in "._-" else "_" for c in original_name)[-120:]
    partial = folder / f".{stamp}-{safe_name}.partial"
    with source.open("rb") as reader, partial.open("wb") as writer:
        while chunk := reader.read(COPY_CHUNK):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
    final = folder / f"{stamp}-{digest.hexdigest()[:12]}-{safe_name}"
    partial.rename(final)
    return Archived(final, digest.hexdigest(), size)


# --- creating datasets -------------------------------------------------------------------------


def infer_from_file(
    path: Path,
    source_format: staging.SourceFormat | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
) -> tuple[TableSchema, staging.StagedTable]:
    """Guess a schema from a file, in a private in-memory DuckDB (the warehouse is untouched)."""
    fmt = source_format or staging.format_from_name(path.name)
    with tempfile.TemporaryDirectory(prefix="civicloop-infer-") as work, duckdb.connect() as con:
        work_dir = Path(work)
        if fmt == staging.SourceFormat.CSV:
            staged = staging.stage_csv(con, path, "_infer", work_dir, encoding, delimiter)
        elif fmt == staging.SourceFormat.XLSX:
            from civicloop.datasets.engine.excel import xlsx_to_csv

            converted = work_dir / "sheet.csv"
            xlsx_to_csv(path, converted, sheet=sheet)
            staged = staging.stage_csv(con, converted, "_infer", work_dir, "utf-8", ",")
        elif fmt == staging.SourceFormat.PARQUET:
            staged = staging.stage_parquet(con, path, "_infer")
        else:
            staged = staging.stage_json(
                con, path, "_infer", newline_delimited=fmt == staging.SourceFormat.NDJSON
            )
        if staged.rows == 0:
            raise staging.SourceError("The file has a header but no rows of data.")
        return infer_schema(con, staged), staged


@transaction.atomic
def create_dataset(
    *,
    slug: str,
    name: str,
    owner: Organization,
    schema: TableSchema,
    steward: User | None = None,
    actor: User | None = None,
    **fields: Any,
) -> Dataset:
    if Dataset.objects.filter(slug=slug).exists():
        raise DatasetError(f"A dataset called {slug!r} exists already; choose another name.")
    if slug in Warehouse.default().tables():
        raise DatasetError(
            f"The warehouse already has a table called {slug!r} that is not a dataset; "
            "choose another name."
        )
    dataset = Dataset(
        slug=slug, name=name, owner=owner, steward=steward, schema=schema.to_descriptor(), **fields
    )
    dataset.full_clean()
    dataset.save()
    DatasetEvent.objects.create(
        dataset=dataset, kind=EventKind.CREATED, actor=actor, note=f"Owned by {owner}."
    )
    return dataset


@transaction.atomic
def update_schema(
    dataset: Dataset, descriptor: dict[str, Any], actor: User | None, note: str = ""
) -> Dataset:
    from civicloop.datasets.engine.schema import schema_from_descriptor

    try:
        schema_from_descriptor(descriptor)
    except SchemaError as error:
        raise DatasetError(str(error)) from None
    dataset.schema = descriptor
    dataset.schema_confirmed = True
    dataset.save(update_fields=["schema", "schema_confirmed"])
    DatasetEvent.objects.create(
        dataset=dataset,
        kind=EventKind.SCHEMA_CHANGED,
        actor=actor,
        note=note or "Schema confirmed.",
    )
    return dataset


@transaction.atomic
def set_agreement(
    dataset: Dataset,
    organizations: list[Organization],
    purpose: str,
    valid_until: Any,
    actor: User | None,
) -> DataSharingAgreement:
    agreement, _ = DataSharingAgreement.objects.update_or_create(
        dataset=dataset,
        defaults={"purpose": purpose, "valid_until": valid_until, "updated_by": actor},
    )
    agreement.organizations.set(organizations)
    names = ", ".join(sorted(o.name for o in organizations)) or "no other organization"
    until = f" until {valid_until}" if valid_until else ""
    DatasetEvent.objects.create(
        dataset=dataset,
        kind=EventKind.AGREEMENT_CHANGED,
        actor=actor,
        note=f"Shared with {names}{until}: {purpose}",
    )
    return agreement


# --- loading -----------------------------------------------------------------------------------


def queue_load(
    dataset: Dataset,
    source: Path,
    original_name: str,
    requested_by: User | None,
    *,
    mode: str | None = None,
    bad_rows: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    source_format: str | None = None,
    data_as_of: date | None = None,
) -> IngestRun:
    """Archive the raw file and record a run waiting for the worker (or the CLI) to do it.

    `data_as_of` is the last day the file's data is complete for (an extract taken mid-month
    covers that month only in part); metrics count a period only once it is covered.
    """
    fmt = source_format or staging.format_from_name(original_name).value
    archived = archive_source(source, dataset.slug, original_name)
    return IngestRun.objects.create(
        dataset=dataset,
        requested_by=requested_by,
        source_name=original_name,
        source_path=str(archived.path),
        source_sha256=archived.sha256,
        source_size=archived.size,
        options={
            "mode": mode or dataset.load_mode,
            "bad_rows": bad_rows or dataset.bad_rows,
            "encoding": encoding,
            "delimiter": delimiter,
            "sheet": sheet,
            "format": fmt,
            "data_as_of": data_as_of.isoformat() if data_as_of else None,
        },
    )


class _Reporter:
    """Writes progress to the run at most twice a second, so the database is not hammered."""

    def __init__(self, run: IngestRun, callback: RunProgress | None) -> None:
        self.run = run
        self.callback = callback
        self.last = 0.0

    def __call__(self, phase: str, done: int, total: int) -> None:
        self.run.phase, self.run.progress_done, self.run.progress_total = phase, done, total
        now = time.monotonic()
        if now - self.last >= 0.5 or done >= total:
            self.last = now
            IngestRun.objects.filter(pk=self.run.pk).update(
                phase=phase, progress_done=done, progress_total=total
            )
        if self.callback:
            self.callback(self.run)


def run_load_now(
    run: IngestRun, warehouse: Warehouse, progress: RunProgress | None = None
) -> IngestRun:
    """Do a queued load. Never raises for bad data: the run's status and report say it all."""
    dataset = run.dataset
    run.status, run.started_at = RunStatus.RUNNING, timezone.now()
    run.save(update_fields=["status", "started_at"])
    try:
        schema = dataset.table_schema()
    except SchemaError as error:
        return _finish(run, RunStatus.REFUSED, f"The dataset's schema is not usable: {error}")
    number = (dataset.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    table = f"ds_{dataset.pk}_v{number}"
    previous = dataset.current_version
    options = run.options
    with tempfile.TemporaryDirectory(prefix="civicloop-load-") as work:
        request = LoadRequest(
            source=Path(run.source_path),
            source_format=staging.SourceFormat(options.get("format", "csv")),
            schema=schema,
            target_table=table,
            work_dir=Path(work),
            previous_table=previous.table_name if previous else None,
            mode=LoadMode(options.get("mode", "replace")),
            bad_rows=BadRows(options.get("bad_rows", "reject")),
            encoding=options.get("encoding"),
            delimiter=options.get("delimiter"),
            sheet=options.get("sheet"),
            quarantine_table=f"{table}_quarantine",
        )
        try:
            outcome = run_load(warehouse, request, _Reporter(run, progress))
        except LoadRefused as refused:
            _save_report(run, refused.report, Path(work) / "problems.csv")
            return _finish(run, RunStatus.REFUSED, str(refused))
        except staging.SourceError as error:
            return _finish(run, RunStatus.REFUSED, str(error))
        except Exception:
            log.exception("load %s failed", run.pk)
            _drop_tables(warehouse, [table, f"{table}_quarantine"])
            return _finish(
                run,
                RunStatus.FAILED,
                "The load failed unexpectedly and nothing was changed. The error is "
                "in the server log; try again, or report it with the run number.",
            )
        _save_report(run, outcome.report, outcome.problems_csv)
    run.rows_in_file = outcome.rows_in_file
    with transaction.atomic():
        version = DatasetVersion.objects.create(
            dataset=dataset,
            number=number,
            table_name=table,
            run=run,
            quarantine_table=f"{table}_quarantine" if outcome.rows_quarantined else "",
            mode=request.mode.value,
            schema=dataset.schema,
            row_count=outcome.rows_loaded,
            rows_quarantined=outcome.rows_quarantined,
            data_as_of=_day(options.get("data_as_of")),
            created_by=run.requested_by,
        )
        dataset.current_version = version
        dataset.save(update_fields=["current_version"])
        set_aside = (
            f"; {outcome.rows_quarantined:,} rows with problems set aside"
            if outcome.rows_quarantined
            else ""
        )
        DatasetEvent.objects.create(
            dataset=dataset,
            kind=EventKind.LOADED,
            actor=run.requested_by,
            version=version,
            note=f"{run.source_name} ({request.mode.value}): {outcome.rows_loaded:,} rows"
            f"{set_aside}. SHA-256 {run.source_sha256[:12]}…",
        )
        summary = f"Loaded {outcome.rows_in_file:,} rows as version {number}{set_aside}."
        _finish(run, RunStatus.SUCCEEDED, summary)
    point_view(warehouse, dataset)
    current_version_changed.send(Dataset, dataset=dataset)
    return run


def _save_report(run: IngestRun, report: Any, csv_path: Path | None) -> None:
    run.problems = [
        {"row": p.row, "column": p.column, "value": p.value, "reason": p.reason, "text": str(p)}
        for p in [*report.file_problems, *report.problems][:1000]
    ]
    run.hints = list(report.hints)
    run.problem_count = report.problem_count + len(report.file_problems)
    run.bad_rows = report.bad_rows
    run.rows_in_file = report.rows_checked
    if csv_path is not None and csv_path.exists():
        target = Path(run.source_path).with_suffix(".problems.csv")
        shutil.copyfile(csv_path, target)
        run.report_path = str(target)


def _finish(run: IngestRun, status: RunStatus, summary: str) -> IngestRun:
    run.status, run.summary, run.finished_at = status, summary, timezone.now()
    run.save()
    return run


def _drop_tables(warehouse: Warehouse, tables: list[str]) -> None:
    with warehouse.write() as cursor:
        for table in tables:
            cursor.execute(f"DROP TABLE IF EXISTS {quote_identifier(table)}")


def point_view(warehouse: Warehouse, dataset: Dataset) -> None:
    """The analysts' view named after the dataset follows its current version."""
    view = quote_identifier(dataset.slug)
    with warehouse.write() as cursor:
        if dataset.current_version is None:
            cursor.execute(f"DROP VIEW IF EXISTS {view}")
        else:
            table = quote_identifier(dataset.current_version.table_name)
            cursor.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {table}")  # noqa: S608


def roll_back(
    dataset: Dataset, version: DatasetVersion, actor: User | None, reason: str
) -> DatasetVersion:
    if version.dataset_id != dataset.pk:
        raise DatasetError("That version belongs to another dataset.")
    if not reason.strip():
        raise DatasetError("Say why you are rolling back; it goes in the dataset's history.")
    if dataset.current_version_id == version.pk:
        raise DatasetError(f"Version {version.number} is already the current version.")
    with transaction.atomic():
        before = dataset.current_version
        dataset.current_version = version
        dataset.save(update_fields=["current_version"])
        DatasetEvent.objects.create(
            dataset=dataset,
            kind=EventKind.ROLLED_BACK,
            actor=actor,
            version=version,
            note=f"From version {before.number if before else '—'} to {version.number}: "
            f"{reason.strip()}",
        )
    # The app database decides; the view only follows it (and reconcile re-derives it).
    point_view(Warehouse.default(), dataset)
    current_version_changed.send(Dataset, dataset=dataset)
    return version


def reconcile(warehouse: Warehouse) -> list[str]:
    """After a crash: interrupted runs are marked, orphan tables dropped, views re-pointed."""
    notes = []
    stuck = IngestRun.objects.filter(status=RunStatus.RUNNING)
    for run in stuck:
        _finish(
            run,
            RunStatus.INTERRUPTED,
            "The load was interrupted (the server stopped). Nothing was changed; load again.",
        )
        notes.append(f"run {run.pk} marked interrupted")
    known = set(DatasetVersion.objects.values_list("table_name", flat=True))
    known |= set(
        DatasetVersion.objects.exclude(quarantine_table="").values_list(
            "quarantine_table", flat=True
        )
    )
    orphans = [
        t for t in warehouse.tables() if t.startswith("ds_") and t not in known and "_v" in t
    ]
    if orphans:
        _drop_tables(warehouse, orphans)
        notes.append(f"dropped {len(orphans)} unfinished tables")
    for dataset in Dataset.objects.exclude(current_version=None).select_related("current_version"):
        point_view(warehouse, dataset)
    return notes


def load_arrow_version(
    dataset: Dataset,
    data: Any,
    note: str,
    fingerprint: str,
    actor: User | None = None,
    data_as_of: date | None = None,
) -> DatasetVersion | None:
    """Load trusted, already-typed data (a pyarrow Table, e.g. the demo city's) as a version.

    `fingerprint` identifies the content: when the current version has the same one, nothing
    is loaded, so re-running the demo never piles up identical versions.
    """
    current = dataset.current_version
    if current is not None and current.run is not None and current.run.source_sha256 == fingerprint:
        return None
    warehouse = Warehouse.default()
    number = (dataset.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    table = f"ds_{dataset.pk}_v{number}"
    rows = warehouse.replace_table(table, data)
    with transaction.atomic():
        run = IngestRun.objects.create(
            dataset=dataset,
            status=RunStatus.SUCCEEDED,
            requested_by=actor,
            source_name=note,
            source_path="",
            source_sha256=fingerprint,
            rows_in_file=rows,
            summary=f"Loaded {rows:,} rows as version {number}.",
            started_at=timezone.now(),
            finished_at=timezone.now(),
            options={"mode": "replace", "format": "arrow"},
        )
        version = DatasetVersion.objects.create(
            dataset=dataset,
            number=number,
            table_name=table,
            run=run,
            mode="replace",
            schema=dataset.schema,
            row_count=rows,
            data_as_of=data_as_of,
            created_by=actor,
        )
        dataset.current_version = version
        dataset.save(update_fields=["current_version"])
        DatasetEvent.objects.create(
            dataset=dataset,
            kind=EventKind.LOADED,
            actor=actor,
            version=version,
            note=f"{note}: {rows:,} rows.",
        )
    point_view(warehouse, dataset)
    current_version_changed.send(Dataset, dataset=dataset)
    return version


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


# --- export --------------------------------------------------------------------------------------


def export_version(
    warehouse: Warehouse, version: DatasetVersion, fmt: str, dest: Path, quarantine: bool = False
) -> int:
    from civicloop.datasets.engine.export import write_csv, write_xlsx

    table = version.quarantine_table if quarantine else version.table_name
    if not table:
        raise DatasetError(f"Version {version.number} set no rows aside.")
    header, batches = warehouse.stream(f"SELECT * FROM {quote_identifier(table)}")  # noqa: S608
    if fmt == "xlsx":
        return write_xlsx(dest, header, batches)
    if fmt == "csv":
        return write_csv(dest, header, batches)
    raise DatasetError(f"Unknown export format {fmt!r}: use csv or xlsx.")
