"""Refreshing datasets from a (local, fake but faithful) open-data portal, and the schedule."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from civicloop.datasets import refresh, services
from civicloop.datasets.engine.schema import schema_from_descriptor
from civicloop.datasets.models import Dataset, RunStatus
from civicloop.datasets.tests.fake_portals import FakePortals
from civicloop.warehouse import Warehouse

SCHEMA = {
    "fields": [
        {"name": "unique_key", "type": "integer", "constraints": {"required": True}},
        {"name": "created_date", "type": "datetime", "format": "%Y-%m-%dT%H:%M:%S.%f"},
        {"name": "complaint_type", "type": "string"},
    ],
    "primaryKey": ["unique_key"],
}


def rows(start: int, count: int) -> list[dict[str, str]]:
    return [
        {
            "unique_key": str(i),
            "created_date": f"2024-03-{1 + i % 28:02d}T08:00:00.000",
            "complaint_type": "Illegal Dumping",
        }
        for i in range(start, start + count)
    ]


@pytest.fixture
def portals(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePortals]:
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with FakePortals() as fake:
        yield fake


def _socrata_dataset(personas, portals: FakePortals, **extra) -> Dataset:  # type: ignore[no-untyped-def]
    return services.create_dataset(
        slug="requests_311",
        name="311 requests",
        owner=personas.department,
        schema=schema_from_descriptor(SCHEMA),
        source_kind="socrata",
        source_options={
            "base_url": portals.url + "/socrata",
            "dataset_id": "erm2-nwe9",
            "incremental_column": "created_date",
        },
        **extra,
    )


@pytest.mark.django_db
def test_refresh_loads_then_fetches_only_new_rows(personas, data_dir, portals) -> None:
    portals.socrata["erm2-nwe9"] = rows(1, 120)
    dataset = _socrata_dataset(personas, portals, load_mode="upsert")
    first = refresh.refresh_dataset(dataset, Warehouse.default())
    assert first.status == RunStatus.SUCCEEDED, first.summary
    assert first.options["source_url"].startswith(portals.url)
    dataset.refresh_from_db()
    assert dataset.current_version.row_count == 120
    assert Path(first.source_path).exists()  # the fetched file is archived like an upload

    later = rows(121, 15)
    for row in later:
        row["created_date"] = "2024-04-02T09:30:00.000"
    portals.socrata["erm2-nwe9"] = rows(1, 120) + later
    portals.requests.clear()
    second = refresh.refresh_dataset(dataset, Warehouse.default())
    assert second.status == RunStatus.SUCCEEDED, second.summary
    wheres = {r.params.get("$where") for r in portals.paths("/socrata") if "$where" in r.params}
    assert wheres and all("created_date >" in w for w in wheres)
    assert second.rows_in_file == 15  # only the new rows travelled
    dataset.refresh_from_db()
    assert dataset.current_version.row_count == 135


@pytest.mark.django_db
def test_failed_fetch_is_recorded_and_changes_nothing(personas, data_dir, portals) -> None:
    portals.socrata["erm2-nwe9"] = rows(1, 10)
    dataset = _socrata_dataset(personas, portals)
    refresh.refresh_dataset(dataset, Warehouse.default())
    dataset.source_options = {**dataset.source_options, "dataset_id": "zzzz-zzzz"}
    dataset.save()
    run = refresh.refresh_dataset(dataset, Warehouse.default())
    assert run.status == RunStatus.FAILED
    assert run.summary.startswith("Fetching failed, nothing was changed:")
    dataset.refresh_from_db()
    assert dataset.current_version.number == 1


@pytest.mark.django_db
def test_due_once_a_day_after_its_time(personas, data_dir, portals) -> None:
    portals.socrata["erm2-nwe9"] = rows(1, 5)
    dataset = _socrata_dataset(personas, portals, refresh_at=time(6, 0))
    tz = timezone.get_current_timezone()
    today = timezone.localdate()
    early = datetime.combine(today, time(5, 0), tzinfo=tz)
    late = datetime.combine(today, time(6, 30), tzinfo=tz)
    assert refresh.due_datasets(early) == []
    assert refresh.due_datasets(late) == [dataset]
    refresh.refresh_dataset(dataset, Warehouse.default())
    assert refresh.due_datasets(late) == []
    assert refresh.due_datasets(late + timedelta(days=1)) == [dataset]


def test_source_options_are_checked() -> None:
    with pytest.raises(services.DatasetError, match="A socrata source needs dataset_id"):
        refresh.check_source("socrata", {"base_url": "https://data.example.gov"})
    with pytest.raises(services.DatasetError, match="take no option token"):
        refresh.check_source("csv_url", {"url": "https://x.example/a.csv", "token": "t"})
    with pytest.raises(services.DatasetError, match="Unknown source kind 'ftp'"):
        refresh.check_source("ftp", {})


@pytest.mark.cli
def test_cli_creates_a_dataset_from_a_csv_url_and_refreshes_it(
    portals: FakePortals, tmp_path: Path
) -> None:
    portals.files["dumping.csv"] = b"id,district,reported\n1,D1,2024-01-02\n2,D3,2024-01-03\n"
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CIVICLOOP_", "DATABASE_URL", "DJANGO_SETTINGS"))
    }
    environ.update({"CIVICLOOP_DATA_DIR": str(tmp_path), "COLUMNS": "160"})

    def civicloop(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "civicloop", *args],
            capture_output=True,
            text=True,
            env=environ,
            timeout=300,
            check=False,
        )

    assert civicloop("demo", "--no-serve", "--scale", "0.01").returncode == 0
    created = civicloop(
        "source",
        "--dataset",
        "dumping",
        "--kind",
        "csv_url",
        "--option",
        f"url={portals.url}/files/dumping.csv",
        "--owner",
        "public-works",
        "--refresh-at",
        "06:00",
    )
    assert created.returncode == 0, created.stderr
    assert "Fetched 2 rows" in created.stdout and "Loaded 2 rows as version 1" in created.stdout
    assert "refreshes from csv_url daily at 06:00" in created.stdout
    portals.files["dumping.csv"] += b"3,D3,2024-01-04\n"
    refreshed = civicloop("refresh-data", "--dataset", "dumping")
    assert refreshed.returncode == 0, refreshed.stderr
    assert "Loaded 3 rows as version 2" in refreshed.stdout
    bad = civicloop(
        "source",
        "--dataset",
        "dumping",
        "--kind",
        "socrata",
        "--option",
        "base_url=https://x.example",
    )
    assert bad.returncode == 1 and "A socrata source needs dataset_id" in bad.stderr
