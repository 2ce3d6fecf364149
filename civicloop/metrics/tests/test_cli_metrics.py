"""`civicloop metrics export|import|list` and `civicloop refresh`, run as a user runs them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from civicloop.datasets.tests.test_cli_ingest import civicloop

# Runs `civicloop` in a subprocess on its own SQLite data folder (see the cli marker).
pytestmark = pytest.mark.cli


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("city")
    demo = civicloop(data_dir, "demo", "--no-serve", "--scale", "0.01", "--as-of", "2026-11-18")
    assert demo.returncode == 0, demo.stderr
    return data_dir


def test_export_is_stable_and_import_saves_only_what_changed(city: Path, tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    first = civicloop(city, "metrics", "export", str(folder))
    assert first.returncode == 0, first.stderr
    files = sorted(folder.glob("*.yaml"))
    assert len(files) >= 40
    before = {f.name: f.read_bytes() for f in files}
    again = civicloop(city, "metrics", "export", str(folder))
    assert again.returncode == 0
    assert {f.name: f.read_bytes() for f in folder.glob("*.yaml")} == before

    target = folder / "encampment-requests-weekly.yaml"
    text = target.read_text(encoding="utf-8")
    assert "grain: week" in text
    target.write_text(text.replace("grain: week", "grain: month"), encoding="utf-8")
    imported = civicloop(city, "metrics", "import", str(folder), "--reason", "Monthly is enough")
    assert imported.returncode == 0, imported.stderr
    assert "saved encampment-requests-weekly.yaml as version 2" in imported.stdout
    assert f"{len(files) - 1} unchanged" in imported.stdout

    refreshed = civicloop(city, "refresh")
    assert refreshed.returncode == 0, refreshed.stderr
    assert "Computed 1 metric(s)" in refreshed.stdout
    listing = civicloop(city, "metrics", "list")
    assert "encampment-requests-weekly" in listing.stdout and "agreed by 0 of" in listing.stdout


def test_a_bad_folder_is_refused_whole_with_file_line_and_field(city: Path, tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    assert civicloop(city, "metrics", "export", str(folder)).returncode == 0
    good = folder / "graffiti-requests-weekly.yaml"
    good.write_text(good.read_text("utf-8").replace("grain: week", "grain: month"), "utf-8")
    (folder / "broken.yaml").write_text("id: broken\nmeasure: {aggregate: count\n", "utf-8")
    unknown = folder / "pothole-requests-weekly.yaml"
    unknown.write_text(
        unknown.read_text("utf-8").replace("dataset: service_requests", "dataset: potholes"),
        "utf-8",
    )
    bad_filter = folder / "noise-complaint-requests-weekly.yaml"
    bad_filter.write_text(
        bad_filter.read_text("utf-8").replace(
            "request_type = 'Noise complaint'", "request_typ = 1"
        ),
        "utf-8",
    )
    result = civicloop(city, "metrics", "import", str(folder))
    assert result.returncode == 1
    assert "broken.yaml, line 3, column 1: this is not valid YAML" in result.stderr
    assert "pothole-requests-weekly.yaml: dataset: there is no dataset 'potholes'" in result.stderr
    assert (
        "noise-complaint-requests-weekly.yaml: filter: Unknown column 'request_typ'"
        in result.stderr
    )
    assert "Nothing was imported" in result.stderr and "Traceback" not in result.stderr
    # The valid change in the same folder was not saved either.
    assert "grain: week" in _exported(city, tmp_path, "graffiti-requests-weekly")


def test_import_as_someone_who_is_not_the_steward_is_refused(city: Path, tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    assert civicloop(city, "metrics", "export", str(folder)).returncode == 0
    mine = folder / "shootings-weekly.yaml"
    mine.write_text(
        mine.read_text("utf-8").replace("direction: lower_is_better", "direction: neutral"), "utf-8"
    )
    result = civicloop(
        city, "metrics", "import", str(folder), "--as", "victor.chen@alderport.example"
    )
    assert result.returncode == 1
    assert "shootings-weekly.yaml" in result.stderr
    nobody = civicloop(city, "metrics", "import", str(folder), "--as", "nobody@example.org")
    assert nobody.returncode == 1 and "nobody signs in with that email" in nobody.stderr


def test_refresh_names_an_unknown_metric(city: Path) -> None:
    result = civicloop(city, "refresh", "--metric", "no-such-metric")
    assert result.returncode == 1
    assert "No metric no-such-metric" in result.stderr and "Traceback" not in result.stderr
    forced = civicloop(city, "refresh", "--metric", "homicides-monthly", "--force")
    assert forced.returncode == 0 and "Computed 1 metric(s)" in forced.stdout


def _exported(city: Path, tmp_path: Path, metric_id: str) -> str:
    folder = tmp_path / "check"
    shutil.rmtree(folder, ignore_errors=True)
    assert civicloop(city, "metrics", "export", str(folder)).returncode == 0
    return (folder / f"{metric_id}.yaml").read_text("utf-8")
