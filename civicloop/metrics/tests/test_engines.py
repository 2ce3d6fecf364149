"""The same definitions give the same numbers on DuckDB, PostgreSQL and Spark (local mode).

Every demo metric and every real-data example metric is computed on each engine and compared,
series by series and period by period, with what DuckDB computed. PostgreSQL gets a scratch
database of its own; Spark runs in this process with the machine's Java. Off CI a missing
server or Java skips with the reason; in CI it fails.
"""

from __future__ import annotations

import math
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import date

import pytest

from civicloop.metrics import services
from civicloop.metrics.engines import Engine, connect_engine
from civicloop.metrics.models import Metric

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.engines]

PG_ADMIN = os.environ.get("CIVICLOOP_TEST_PG", "postgres://postgres@127.0.0.1:5432/postgres")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI needs it for the cross-engine comparison)")
    pytest.skip(f"{reason} (set CI to fail instead)")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    import psycopg

    name = f"civicloop_engines_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN, connect_timeout=3, autocommit=True)
    except psycopg.Error as error:
        _unavailable(f"PostgreSQL is not reachable at {PG_ADMIN}: {error}")
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def spark_url() -> str:
    if shutil.which("java") is None:
        _unavailable("Java is not installed, so Spark cannot run")
    try:
        import pyspark  # noqa: F401
    except ImportError:
        _unavailable("PySpark is not installed: pip install -e '.[test]'")
    return "spark://local[2]"


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _differences(metric: Metric, engine: Engine) -> list[str]:
    """Every (series, period) where the engine disagrees with the stored DuckDB numbers."""
    run = metric.runs.first()
    assert run is not None, metric.slug
    stored = {(s.breakdown, s.value): s for s in run.series.all()}
    resolved = services.Resolved(
        metric.definition(),
        metric.team,
        metric.owner,
        metric.steward,
        metric.dataset,
        metric.population_dataset,
    )
    result = services._compute(resolved, engine)
    out: list[str] = []
    got = {(s.breakdown, s.value): s for s in result.series}
    if set(got) != set(stored):
        return [f"{metric.slug}: series {sorted(set(got) ^ set(stored))} differ"]
    for key, series in got.items():
        reference = stored[key]
        periods = [p.period.isoformat() for p in series.points]
        if periods != reference.periods:
            out.append(f"{metric.slug} {key}: periods differ")
            continue
        for point, expected in zip(series.points, reference.values, strict=True):
            if not _close(point.value, expected):
                out.append(f"{metric.slug} {key} {point.period}: {point.value} != {expected}")
    return out


def _compare_all(url: str) -> tuple[int, list[str]]:
    engine = connect_engine(url)
    problems: list[str] = []
    metrics = list(Metric.objects.select_related("dataset__current_version").order_by("slug"))
    try:
        for metric in metrics:
            problems += _differences(metric, engine)
    finally:
        engine.close()
    return len(metrics), problems


@pytest.fixture
def demo_and_nyc(data_dir):  # type: ignore[no-untyped-def]
    from civicloop.demo.services import load_demo
    from civicloop.metrics.tests.realdata import set_up_nyc
    from civicloop.warehouse import Warehouse

    load_demo(data_dir, Warehouse.default(), scale=0.05, as_of=date(2026, 11, 18))
    set_up_nyc()
    assert Metric.objects.count() >= 44


def test_postgres_gives_the_same_numbers_as_duckdb(demo_and_nyc, postgres_url) -> None:  # type: ignore[no-untyped-def]
    count, problems = _compare_all(postgres_url)
    assert count >= 44 and not problems, problems[:20]


def test_spark_gives_the_same_numbers_as_duckdb(demo_and_nyc, spark_url) -> None:  # type: ignore[no-untyped-def]
    count, problems = _compare_all(spark_url)
    assert count >= 44 and not problems, problems[:20]
