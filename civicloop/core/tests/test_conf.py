"""Settings read from the environment: good values parse, bad ones say what to write."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicloop.conf import (
    SETTINGS,
    Env,
    SettingError,
    check_time_zone,
    database_from_url,
    email_from_url,
    load_or_create_secret_key,
    metric_engine_url,
    parse_memory,
    warehouse_path_from_url,
)

DOCS = Path(__file__).resolve().parents[3] / "docs"


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("YES", True), ("0", False), ("off", False), ("", False)]
)
def test_bool_words(raw: str, expected: bool) -> None:
    assert Env({"CIVICLOOP_DEBUG": raw}).bool("CIVICLOOP_DEBUG") is expected


def test_bad_bool_names_the_setting_and_the_choices() -> None:
    with pytest.raises(SettingError, match=r"CIVICLOOP_DEBUG='maybe' is not a yes/no value"):
        Env({"CIVICLOOP_DEBUG": "maybe"}).bool("CIVICLOOP_DEBUG")


def test_bad_int_and_range() -> None:
    with pytest.raises(SettingError, match="is not a whole number"):
        Env({"CIVICLOOP_HSTS_SECONDS": "a year"}).int("CIVICLOOP_HSTS_SECONDS")
    with pytest.raises(SettingError, match="smallest allowed is 0"):
        Env({"CIVICLOOP_HSTS_SECONDS": "-5"}).int("CIVICLOOP_HSTS_SECONDS", minimum=0)


def test_lists_drop_blanks() -> None:
    env = Env({"CIVICLOOP_ALLOWED_HOSTS": " a.gov, ,b.gov "})
    assert env.list("CIVICLOOP_ALLOWED_HOSTS") == ["a.gov", "b.gov"]


def test_undeclared_setting_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        Env({}).raw("CIVICLOOP_UNDECLARED")


def test_postgres_url() -> None:
    db = database_from_url("DATABASE_URL", "postgres://ann:p%40ss@db.example.org:5433/city")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "city",
        "ann",
        "p@ss",
        "db.example.org",
        "5433",
    )


def test_sqlite_url_absolute_and_relative() -> None:
    assert database_from_url("DATABASE_URL", "sqlite:////var/lib/c.db")["NAME"] == "/var/lib/c.db"
    assert database_from_url("DATABASE_URL", "sqlite:///./c.db")["NAME"] == "./c.db"
    assert database_from_url("DATABASE_URL", "sqlite:///data/c.db")["NAME"] == "data/c.db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://x@y/z", "unsupported scheme 'mysql'"),
        ("postgres://x@y:port/z", "port that is not a number"),
        ("postgres://x@y/", "names no database"),
        ("sqlite://", "has no file path"),
    ],
)
def test_bad_database_urls(url: str, message: str) -> None:
    with pytest.raises(SettingError, match=message):
        database_from_url("DATABASE_URL", url)


def test_warehouse_url() -> None:
    assert warehouse_path_from_url("W", "duckdb:////srv/w.duckdb") == Path("/srv/w.duckdb")
    assert warehouse_path_from_url("W", "duckdb:///w.duckdb") == Path("w.duckdb").resolve()
    with pytest.raises(SettingError, match="is not a DuckDB URL"):
        warehouse_path_from_url("W", "trino://host/catalog")


def test_metric_engine_urls() -> None:
    assert metric_engine_url("E", "") == "duckdb"
    assert metric_engine_url("E", "DuckDB") == "duckdb"
    assert (
        metric_engine_url("E", "postgres://me@db:5432/metrics") == "postgres://me@db:5432/metrics"
    )
    assert metric_engine_url("E", "spark://local[2]") == "spark://local[2]"
    for wrong in ("trino://host/catalog", "spark://cluster:7077", "postgres://", "sqlite"):
        with pytest.raises(SettingError, match="is not an engine civicloop knows"):
            metric_engine_url("E", wrong)


def test_email_urls() -> None:
    smtp = email_from_url("E", "smtp+tls://u:p@mail.example.gov")
    assert smtp["EMAIL_PORT"] == 587 and smtp["EMAIL_USE_TLS"] is True
    assert email_from_url("E", "console:")["EMAIL_BACKEND"].endswith("console.EmailBackend")
    with pytest.raises(SettingError, match="names no mail server host"):
        email_from_url("E", "smtp://")


def test_memory_sizes() -> None:
    assert parse_memory("M", "600mb") == "600MB"
    with pytest.raises(SettingError, match="is not a memory size"):
        parse_memory("M", "lots")


def test_time_zone_is_checked() -> None:
    assert check_time_zone("TZ", "Europe/London") == "Europe/London"
    with pytest.raises(SettingError, match="not a known time zone"):
        check_time_zone("TZ", "Mars/Olympus")


def test_generated_secret_key_is_kept_private_and_stable(tmp_path: Path) -> None:
    first = load_or_create_secret_key(tmp_path)
    assert len(first) >= 50
    assert load_or_create_secret_key(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_every_setting_is_documented() -> None:
    """A setting the docs do not mention is a setting nobody can use."""
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in page]
    assert not missing, f"add these to docs/configuration.md: {missing}"
