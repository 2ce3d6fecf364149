"""Loading through the app: versions, history, rollback, recovery, sharing rules, real data."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from civicloop.datasets import services
from civicloop.datasets.engine.schema import schema_from_descriptor
from civicloop.datasets.models import (
    Dataset,
    DatasetEvent,
    EventKind,
    IngestRun,
    RunStatus,
    Sensitivity,
)
from civicloop.warehouse import Warehouse

REAL = Path(__file__).resolve().parents[4] / "shared" / "data" / "real"
SCHEMAS = Path(__file__).parent / "schemas"
SCHEMA = {
    "fields": [
        {"name": "id", "type": "integer", "constraints": {"required": True}},
        {"name": "score", "type": "number"},
    ],
    "primaryKey": ["id"],
}


def _dataset(personas, **extra) -> Dataset:  # type: ignore[no-untyped-def]
    return services.create_dataset(
        slug="scores",
        name="Scores",
        owner=personas.department,
        schema=schema_from_descriptor(SCHEMA),
        steward=personas.lead,
        **extra,
    )


def _load(dataset: Dataset, tmp_path: Path, text: str, **options) -> IngestRun:  # type: ignore[no-untyped-def]
    source = tmp_path / "upload.csv"
    source.write_text(text, encoding="utf-8")
    run = services.queue_load(dataset, source, "scores.csv", None, **options)
    run = services.run_load_now(run, Warehouse.default())
    dataset.refresh_from_db()
    return run


@pytest.mark.django_db
def test_load_records_version_archive_history_and_view(personas, data_dir, tmp_path) -> None:
    dataset = _dataset(personas)
    run = _load(dataset, tmp_path, "id,score\n1,3.5\n2,4\n")
    assert run.status == RunStatus.SUCCEEDED, run.summary
    version = dataset.current_version
    assert (version.number, version.row_count) == (1, 2)
    archived = Path(run.source_path)
    assert (
        archived.read_text() == "id,score\n1,3.5\n2,4\n"
        and archived.parent.parent == data_dir / "archive"
    )
    assert len(run.source_sha256) == 64 and run.source_size == archived.stat().st_size
    assert DatasetEvent.objects.filter(dataset=dataset, kind=EventKind.LOADED).count() == 1
    # Analysts query the dataset by its name; the view follows the current version.
    assert Warehouse.default().query("SELECT sum(score) FROM scores") == [(7.5,)]


@pytest.mark.django_db
def test_refused_load_changes_nothing_and_keeps_a_report(personas, data_dir, tmp_path) -> None:
    dataset = _dataset(personas)
    _load(dataset, tmp_path, "id,score\n1,3.5\n")
    run = _load(dataset, tmp_path, "id,score\n1,x\n1,2\n")
    assert run.status == RunStatus.REFUSED
    assert "2 problems in 2 of 2 rows" in run.summary
    texts = [p["text"] for p in run.problems]
    assert "row 2, column score: 'x' is not a number" in texts
    assert "row 3, column id: '1' duplicates the primary key of row 2" in texts
    assert Path(run.report_path).read_text(encoding="utf-8-sig").startswith("row,column")
    assert dataset.current_version.number == 1
    assert Warehouse.default().query("SELECT count(*) FROM scores") == [(1,)]


@pytest.mark.django_db
def test_roll_back_needs_a_reason_and_is_recorded(personas, data_dir, tmp_path) -> None:
    dataset = _dataset(personas)
    _load(dataset, tmp_path, "id,score\n1,1\n")
    _load(dataset, tmp_path, "id,score\n1,1\n2,2\n")
    first = dataset.versions.get(number=1)
    with pytest.raises(services.DatasetError, match="Say why"):
        services.roll_back(dataset, first, personas.lead, "  ")
    services.roll_back(dataset, first, personas.lead, "version 2 double-counted a week")
    dataset.refresh_from_db()
    assert dataset.current_version == first
    event = DatasetEvent.objects.filter(dataset=dataset, kind=EventKind.ROLLED_BACK).get()
    assert event.actor == personas.lead and "double-counted" in event.note
    assert Warehouse.default().query("SELECT count(*) FROM scores") == [(1,)]
    # Rolling forward again is the same action: nothing is ever lost.
    services.roll_back(dataset, dataset.versions.get(number=2), personas.lead, "fixed upstream")
    assert Warehouse.default().query("SELECT count(*) FROM scores") == [(2,)]


@pytest.mark.django_db
def test_reconcile_after_a_crash(personas, data_dir, tmp_path) -> None:
    """A load killed after its table was written but before it was recorded: the table is
    dropped, the run marked interrupted, and the dataset is exactly as before."""
    dataset = _dataset(personas)
    _load(dataset, tmp_path, "id,score\n1,1\n")
    warehouse = Warehouse.default()
    with warehouse.write() as cursor:
        cursor.execute(f"CREATE TABLE ds_{dataset.pk}_v2 AS SELECT 1 AS id, 2.0 AS score")
    stuck = IngestRun.objects.create(
        dataset=dataset, status=RunStatus.RUNNING, source_name="x.csv", source_path="/nowhere"
    )
    notes = services.reconcile(warehouse)
    assert f"ds_{dataset.pk}_v2" not in warehouse.tables()
    stuck.refresh_from_db()
    assert stuck.status == RunStatus.INTERRUPTED
    assert any("interrupted" in n for n in notes)
    assert warehouse.query("SELECT count(*) FROM scores") == [(1,)]


@pytest.mark.django_db
def test_who_may_see_a_dataset(personas, data_dir) -> None:
    restricted = _dataset(personas, sensitivity=Sensitivity.RESTRICTED)
    services.set_agreement(
        restricted,
        [personas.partner],
        "Corridor cleanliness reporting",
        timezone.localdate() + timedelta(days=30),
        personas.lead,
    )

    def visible(user) -> bool:  # type: ignore[no-untyped-def]
        in_query = Dataset.objects.visible_to(user).filter(pk=restricted.pk).exists()
        assert in_query == restricted.can_view(user), "the query and the rule must agree"
        return in_query

    assert visible(personas.editor)  # same organization as the owner
    assert visible(personas.guest)  # partner named in the agreement
    assert not visible(personas.outsider)  # Police: not in the agreement
    assert restricted.can_manage(personas.lead) and not restricted.can_manage(personas.editor)
    # The agreement ends: the partner loses access the next day.
    restricted.agreement.valid_until = timezone.localdate() - timedelta(days=1)
    restricted.agreement.save()
    assert not visible(personas.guest)
    assert visible(personas.editor)
    restricted.sensitivity = Sensitivity.INTERNAL
    restricted.save()
    assert visible(personas.outsider)  # another city department
    assert not visible(personas.guest)  # a partner, no longer in date


@pytest.mark.django_db
def test_stale_when_older_than_its_frequency(personas, data_dir, tmp_path) -> None:
    dataset = _dataset(personas, update_frequency="weekly")
    assert dataset.is_stale and dataset.freshness == "No data loaded yet"
    _load(dataset, tmp_path, "id,score\n1,1\n")
    assert not dataset.is_stale and dataset.freshness.startswith("Fresh")
    version = dataset.current_version
    version.created_at = timezone.now() - timedelta(days=9)
    version.save()
    assert dataset.is_stale
    assert dataset.freshness == "Stale: last loaded 9 days ago, expected weekly"


@pytest.mark.django_db
def test_export_gives_back_the_loaded_rows(personas, data_dir, tmp_path) -> None:
    dataset = _dataset(personas)
    _load(dataset, tmp_path, "id,score\n1,3.5\n2,\n")
    out = tmp_path / "out.csv"
    rows = services.export_version(Warehouse.default(), dataset.current_version, "csv", out)
    assert rows == 2
    assert out.read_text(encoding="utf-8-sig").splitlines() == ["id,score", "1,3.5", "2,"]


def _real(personas, slug: str, file: str, schema: str, tmp_path) -> Dataset:  # type: ignore[no-untyped-def]
    descriptor = json.loads((SCHEMAS / schema).read_text())
    dataset = services.create_dataset(
        slug=slug, name=slug, owner=personas.department, schema=schema_from_descriptor(descriptor)
    )
    run = services.queue_load(dataset, REAL / file, file, None)
    run = services.run_load_now(run, Warehouse.default())
    assert run.status == RunStatus.SUCCEEDED, [p["text"] for p in run.problems[:5]]
    return dataset


@pytest.mark.django_db
def test_real_nypd_shootings_as_an_analyst_would(personas, data_dir, tmp_path) -> None:
    _real(
        personas, "nypd_shootings", "nypd_shootings_2006_2018.csv", "nypd_shootings.json", tmp_path
    )
    wh = Warehouse.default()
    victims, incidents, murders = wh.query(
        "SELECT count(*), count(DISTINCT incident_key), "
        "count(*) FILTER (WHERE statistical_murder_flag) FROM nypd_shootings"
    )[0]
    assert (victims, incidents) == (20_659, 16_255)  # the README's figures
    assert 0 < murders < victims
    first, last = wh.query("SELECT min(occur_date), max(occur_date) FROM nypd_shootings")[0]
    assert (first.year, last.year) == (2006, 2018)
    # The last rows write coordinates as "1,023,220": read as numbers, not refused.
    assert wh.query("SELECT count(*) FROM nypd_shootings WHERE x_coord_cd > 900000")[0][0] > 900


@pytest.mark.django_db
def test_real_dsny_tonnage_as_an_analyst_would(personas, data_dir, tmp_path) -> None:
    _real(personas, "dsny_tonnage", "dsny_monthly_tonnage.csv", "dsny_tonnage.json", tmp_path)
    wh = Warehouse.default()
    assert wh.query("SELECT count(*) FROM dsny_tonnage")[0][0] == 20_871
    months = wh.query("SELECT min(month), max(month) FROM dsny_tonnage")[0]
    assert str(months[1]) == "2020-06-01"  # the partial month is in the data, flagged later
    assert (
        wh.query("SELECT count(*) FROM dsny_tonnage WHERE resorganicstons IS NULL")[0][0] > 10_000
    )
    district = wh.query(
        "SELECT DISTINCT communitydistrict FROM dsny_tonnage "
        "WHERE borough = 'Manhattan' ORDER BY 1 LIMIT 1"
    )[0][0]
    assert district == "01"  # district codes kept as written
