"""Plain-data views of datasets, versions and loads: one source for pages and their twins.

Nothing here reveals where files are kept on the server: archived files and reports are
described by name, hash and size, and reached only through the download views.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.urls import reverse
from django.utils import timezone

from civicloop.datasets.engine.schema import DEFAULT_FORMATS, FieldType, format_in_words
from civicloop.datasets.models import (
    Dataset,
    DatasetEvent,
    DatasetVersion,
    Frequency,
    IngestRun,
    RunStatus,
    Sensitivity,
)

if TYPE_CHECKING:
    from civicloop.accounts.models import User

HISTORY_SHOWN = 50
WAITING_TOO_LONG = 30  # seconds a queued load may wait before the page says why it might be
RUNS_SHOWN = 10
PROBLEMS_SHOWN = 200
PHASE_WORDS = {
    "reading": "reading the file",
    "checking": "checking every row",
    "writing": "writing the new version",
}


def source_data(run: IngestRun) -> dict[str, Any]:
    """The raw file a load read: its name, SHA-256 and size (never where it is kept)."""
    sha = run.source_sha256 if re.fullmatch(r"[0-9a-f]{64}", run.source_sha256 or "") else ""
    return {
        "name": run.source_name,
        "sha256": sha,
        "sha256_short": sha[:12],
        "size": run.source_size,
    }


def _name(user: User | None) -> str | None:
    return (user.full_name or user.email) if user is not None else None


def sensitivity_data(value: str) -> dict[str, str]:
    label = Sensitivity(value).label
    return {"value": value, "name": value.capitalize(), "description": label.split(": ", 1)[1]}


def freshness_data(dataset: Dataset) -> dict[str, Any]:
    text = dataset.freshness
    detail = text.split(": ", 1)[1] if ": " in text else text
    return {
        "text": text,
        "detail": detail[:1].upper() + detail[1:],
        "stale": dataset.is_stale,
        "last_loaded_at": dataset.last_loaded_at,
        "expected": Frequency(dataset.update_frequency).label,
    }


def dataset_summary(dataset: Dataset) -> dict[str, Any]:
    version = dataset.current_version
    return {
        "name": dataset.name,
        "slug": dataset.slug,
        "url": dataset.get_absolute_url(),
        "owner": dataset.owner.name,
        "sensitivity": sensitivity_data(dataset.sensitivity),
        "current_version": version.number if version else None,
        "rows": version.row_count if version else None,
        "freshness": freshness_data(dataset),
    }


def dataset_list_data(user: User) -> dict[str, Any]:
    datasets = (
        Dataset.objects.visible_to(user).select_related("owner", "current_version").order_by("name")
    )
    return {"datasets": [dataset_summary(d) for d in datasets]}


def field_data(raw: dict[str, Any]) -> dict[str, Any]:
    constraints = raw.get("constraints") or {}
    field_type = raw.get("type", "string")
    fmt = raw.get("format") or ""
    known = {t.value for t in FieldType}
    default = DEFAULT_FORMATS.get(FieldType(field_type), "") if field_type in known else ""
    allowed = []
    if constraints.get("enum"):
        allowed.append("one of " + ", ".join(str(v) for v in constraints["enum"]))
    if constraints.get("minimum") is not None:
        allowed.append(f"at least {constraints['minimum']}")
    if constraints.get("maximum") is not None:
        allowed.append(f"at most {constraints['maximum']}")
    return {
        "name": raw["name"],
        "type": field_type,
        "format": fmt,
        "format_words": format_in_words(fmt or default) if (fmt or default) else "",
        "required": bool(constraints.get("required")),
        "allowed": "; ".join(allowed),
        "description": raw.get("description", ""),
    }


def schema_data(descriptor: dict[str, Any]) -> dict[str, Any]:
    rules = []
    for rule in descriptor.get("civicloop:rules", []):
        if isinstance(rule, str):
            rules.append(rule)
        else:
            text = f"{rule.get('left')} {rule.get('op')} {rule.get('right')}"
            rules.append(f"{text} ({rule['message']})" if rule.get("message") else text)
    key = descriptor.get("primaryKey") or []
    return {
        "fields": [field_data(f) for f in descriptor.get("fields", [])],
        "primary_key": [key] if isinstance(key, str) else list(key),
        "missing_values": [v for v in descriptor.get("missingValues", [""]) if v != ""],
        "rules": rules,
        "descriptor": descriptor,
    }


def agreement_data(dataset: Dataset) -> dict[str, Any] | None:
    agreement = getattr(dataset, "agreement", None)
    if agreement is None:
        return None
    return {
        "organizations": [o.name for o in agreement.organizations.order_by("name")],
        "purpose": agreement.purpose,
        "valid_until": agreement.valid_until,
        "expired": agreement.expired,
        "updated_at": agreement.updated_at,
        "updated_by": _name(agreement.updated_by),
    }


def version_data(dataset: Dataset, version: DatasetVersion) -> dict[str, Any]:
    run = version.run
    kwargs = {"slug": dataset.slug, "number": version.number}
    return {
        "number": version.number,
        "current": dataset.current_version_id == version.pk,
        "created_at": version.created_at,
        "created_by": _name(version.created_by),
        "mode": version.mode,
        "mode_label": version.get_mode_display(),
        "rows": version.row_count,
        "rows_set_aside": version.rows_quarantined,
        "source": source_data(run) if run is not None else None,
        "run_url": run.get_absolute_url() if run is not None else None,
        "downloads": {
            "csv": reverse("datasets:version_csv", kwargs=kwargs),
            "xlsx": reverse("datasets:version_xlsx", kwargs=kwargs),
            "quarantine_csv": reverse("datasets:version_quarantine", kwargs=kwargs)
            if version.quarantine_table
            else None,
        },
    }


def event_data(event: DatasetEvent) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "label": event.get_kind_display(),
        "at": event.at,
        "actor": _name(event.actor),
        "version": event.version.number if event.version else None,
        "note": event.note,
    }


def run_summary(run: IngestRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "url": run.get_absolute_url(),
        "status": run.status,
        "status_label": run.get_status_display(),
        "finished": RunStatus(run.status).finished,
        "source_name": run.source_name,
        "requested_by": _name(run.requested_by),
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "summary": run.summary,
    }


def metrics_reading(dataset: Dataset, viewer: User) -> list[dict[str, Any]]:
    """The shared measures computed from this dataset (as data or population) that this person
    may see: what a schema change or a rollback would move."""
    from django.db.models import Q

    from civicloop.metrics.models import Metric

    metrics = (
        Metric.objects.visible_to(viewer)
        .filter(Q(dataset=dataset) | Q(population_dataset=dataset))
        .exclude(current_version=None)
        .select_related("team")
        .order_by("name")
    )
    return [
        {"name": m.name, "slug": m.slug, "url": m.get_absolute_url(), "team": m.team.name}
        for m in metrics
    ]


def dataset_detail_data(dataset: Dataset) -> dict[str, Any]:
    versions = dataset.versions.select_related("run", "created_by").order_by("-number")
    events = dataset.events.select_related("actor", "version")
    runs = dataset.runs.select_related("requested_by", "dataset").order_by("-created_at", "-pk")
    event_count = events.count()
    return {
        "dataset": {
            **dataset_summary(dataset),
            "description": dataset.description,
            "steward": _name(dataset.steward),
            "owner_url": dataset.owner.get_absolute_url(),
            "update_frequency": Frequency(dataset.update_frequency).label,
            "load_mode": dataset.get_load_mode_display(),
            "bad_rows": dataset.get_bad_rows_display(),
            "time_column": dataset.time_column,
            "schema_confirmed": dataset.schema_confirmed,
            "source_kind": dataset.get_source_kind_display(),
            "created_at": dataset.created_at,
        },
        "agreement": agreement_data(dataset),
        "schema": schema_data(dataset.schema),
        "versions": [version_data(dataset, v) for v in versions],
        "history": [event_data(e) for e in events[:HISTORY_SHOWN]],
        "history_count": event_count,
        "runs": [run_summary(r) for r in runs[:RUNS_SHOWN]],
    }


def progress_text(run: IngestRun) -> str:
    status = RunStatus(run.status)
    if status == RunStatus.QUEUED:
        return "waiting to start"
    if status.finished:
        return "finished"
    if run.phase == "reading" and run.progress_total:
        return f"reading {run.percent}%"
    return PHASE_WORDS.get(run.phase, "starting")


def run_detail_data(run: IngestRun) -> dict[str, Any]:
    status = RunStatus(run.status)
    version = getattr(run, "version", None)
    dataset = run.dataset
    determinate = status.finished or (run.phase == "reading" and bool(run.progress_total))
    return {
        **run_summary(run),
        "dataset": {"name": dataset.name, "slug": dataset.slug, "url": dataset.get_absolute_url()},
        "json_url": reverse(
            "datasets:run_detail_json", kwargs={"slug": dataset.slug, "pk": run.pk}
        ),
        "succeeded": status == RunStatus.SUCCEEDED,
        "waiting_long": status == RunStatus.QUEUED
        and (timezone.now() - run.created_at).total_seconds() > WAITING_TOO_LONG,
        "phase": run.phase,
        "phase_words": PHASE_WORDS.get(run.phase, ""),
        "progress": {
            "percent": 100 if status.finished else run.percent,
            "determinate": determinate,
            "text": progress_text(run),
        },
        "source": source_data(run),
        "options": {k: v for k, v in run.options.items() if v not in (None, "")},
        "started_at": run.started_at,
        "rows_in_file": run.rows_in_file,
        "problem_count": run.problem_count,
        "bad_rows": run.bad_rows,
        "hints": list(run.hints),
        "problems": run.problems[:PROBLEMS_SHOWN],
        "problems_shown": min(len(run.problems), PROBLEMS_SHOWN),
        "problems_csv_url": reverse(
            "datasets:run_problems", kwargs={"slug": dataset.slug, "pk": run.pk}
        )
        if run.report_path
        else None,
        "version": version.number if version is not None else None,
    }
