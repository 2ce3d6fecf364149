"""civicloop against a real PostgreSQL server: migrate, check, serve data from it.

On a workstation without PostgreSQL these skip with one line; under CI (CI set) they fail,
because CI must prove PostgreSQL works.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

SERVER = os.environ.get("CIVICLOOP_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test")


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but PostgreSQL is unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """A database of its own on the server, dropped afterwards."""
    try:
        import psycopg
    except ImportError:
        _missing('psycopg is not installed: pip install -e ".[test]"')
    name = f"civicloop_check_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(SERVER, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        _missing(f"no PostgreSQL at {SERVER} ({str(error).strip().splitlines()[0]})")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield SERVER.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _civicloop(
    args: list[str], data_dir: Path, database_url: str
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("CIVICLOOP_", "DJANGO_"))}
    environ.update({"CIVICLOOP_DATA_DIR": str(data_dir), "DATABASE_URL": database_url})
    return subprocess.run(
        [sys.executable, "-m", "civicloop.cli", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
        check=False,
    )


def test_migrate_check_and_demo_on_postgres(scratch_database: str, tmp_path: Path) -> None:
    before = _civicloop(["check"], tmp_path, scratch_database)
    assert before.returncode == 1 and "migrations are not applied" in before.stdout
    demo = _civicloop(
        ["demo", "--no-serve", "--scale", "0.02", "--as-of", "2026-11-18"],
        tmp_path,
        scratch_database,
    )
    assert demo.returncode == 0, demo.stderr
    after = _civicloop(["check"], tmp_path, scratch_database)
    assert after.returncode == 0, after.stdout
    assert "postgresql, up to date" in after.stdout
    import psycopg

    with psycopg.connect(scratch_database) as db:
        people = db.execute("SELECT count(*) FROM accounts_user").fetchone()
        teams = db.execute("SELECT count(*) FROM organizations_team").fetchone()
    assert people == (20,) and teams == (4,)
