"""The demo city as a new user meets it: `civicloop demo`, twice, and what it leaves behind."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from civicloop.accounts.models import User
from civicloop.demo import city
from civicloop.demo.services import load_demo
from civicloop.organizations.models import Membership, Organization, Team
from civicloop.warehouse import Warehouse

AS_OF = date(2026, 11, 18)
WAREHOUSE_TABLES = {
    "service_requests",
    "district_population",
    "refuse_collection",
    "shootings",
    "housing",
    "satisfaction_survey",
}


def _counts() -> tuple[int, int, int, int]:
    return (
        Organization.objects.count(),
        User.objects.count(),
        Team.objects.count(),
        Membership.objects.count(),
    )


@pytest.mark.django_db
def test_create_city_twice_duplicates_nothing() -> None:
    first = city.create_city("a long demo password")
    after_first = _counts()
    city.create_city("a long demo password")
    assert _counts() == after_first
    assert after_first == (first.organizations, first.people, first.teams, first.memberships)


@pytest.mark.django_db
def test_teams_mix_organizations_and_roles() -> None:
    city.create_city("a long demo password")
    clean = Team.objects.get(slug="team-clean")
    orgs = set(clean.memberships.values_list("person__organization__name", flat=True))
    assert {"Public Works", "Human Services", "Downtown Alderport Business Association"} <= orgs
    roles = set(clean.memberships.values_list("role", flat=True))
    assert roles == {"lead", "member", "viewer", "guest"}
    assert Organization.objects.filter(kind="department").count() >= 6
    assert Organization.objects.exclude(kind="department").count() >= 3


@pytest.mark.django_db
def test_demo_people_sign_in_with_the_printed_password(tmp_path: Path, client) -> None:
    password = city.demo_password(tmp_path)
    city.create_city(password)
    assert city.demo_password(tmp_path) == password  # stable across runs
    response = client.post(
        "/accounts/login/",
        {"username": city.email_for("amara.okafor"), "password": password},
        follow=True,
    )
    page = response.content.decode()
    assert "Team Clean" in page and "Team Housed" in page and "Team Safe" in page


@pytest.mark.django_db
def test_load_demo_fills_the_warehouse_with_datasets(data_dir: Path) -> None:
    from civicloop.datasets.models import Dataset

    warehouse = Warehouse.default()
    seen: list[str] = []
    result = load_demo(
        data_dir,
        warehouse,
        scale=0.05,
        as_of=AS_OF,
        progress=lambda table, done, total: seen.append(table),
    )
    assert set(warehouse.tables()) >= WAREHOUSE_TABLES
    assert set(result.table_rows) == WAREHOUSE_TABLES
    assert set(seen) >= WAREHOUSE_TABLES
    for table, rows in result.table_rows.items():
        assert warehouse.row_count(table) == rows > 0
        dataset = Dataset.objects.get(slug=table)
        assert dataset.current_version.row_count == rows
    shootings = Dataset.objects.get(slug="shootings")
    assert shootings.sensitivity == "restricted" and shootings.owner.slug == "police"
    assert {o.slug for o in shootings.agreement.organizations.all()} >= {"eastbay-neighbors"}
    # Loading the same demo again adds no version; the data is already current.
    again = load_demo(data_dir, warehouse, scale=0.05, as_of=AS_OF)
    assert again.table_rows == result.table_rows
    assert shootings.versions.count() == 1


def _run_demo(data_dir: Path) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CIVICLOOP_", "DATABASE_URL", "DJANGO_SETTINGS"))
    }
    environ["COLUMNS"] = "140"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "civicloop.cli",
            "demo",
            "--no-serve",
            "--scale",
            "0.05",
            "--as-of",
            AS_OF.isoformat(),
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        env=environ,
        timeout=600,
        check=False,
    )


@pytest.mark.cli
def test_civicloop_demo_end_to_end_twice(tmp_path: Path) -> None:
    data_dir = tmp_path / "civicloop-data"
    first = _run_demo(data_dir)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "amara.okafor@alderport.example" in out
    password = re.search(r"password for all: (\S+?)\)", out)
    assert password and password.group(1) == (data_dir / "demo_password").read_text()
    assert (data_dir / "civicloop.sqlite3").exists()
    assert (data_dir / "warehouse.duckdb").exists()

    def people_and_rows() -> tuple[int, int]:
        with sqlite3.connect(data_dir / "civicloop.sqlite3") as db:
            people = db.execute("SELECT count(*) FROM accounts_user").fetchone()[0]
        with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as wh:
            rows = wh.execute("SELECT count(*) FROM service_requests").fetchone()[0]
        return people, rows

    before = people_and_rows()
    second = _run_demo(data_dir)
    assert second.returncode == 0, second.stderr
    assert people_and_rows() == before
    assert before[1] > 5_000  # a twentieth of the city still has thousands of requests
