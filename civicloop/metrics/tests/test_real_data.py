"""The real NYC files, defined and computed end to end, checked against an analyst's own SQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from civicloop.metrics.models import Metric
from civicloop.metrics.tests.realdata import set_up_nyc
from civicloop.warehouse import Warehouse

pytestmark = pytest.mark.django_db


def _series(slug: str, breakdown: str = "", value: str = "") -> dict[str, float | None]:
    run = Metric.objects.get(slug=slug).runs.first()
    assert run is not None
    series = run.series.get(breakdown=breakdown, value=value)
    return dict(zip(series.periods, series.values, strict=True))


def test_shootings_count_incidents_not_victims_in_complete_weeks(data_dir) -> None:  # type: ignore[no-untyped-def]
    set_up_nyc()
    weekly = _series("nyc-shooting-incidents-weekly")
    # 1 Jan 2006 is a Sunday and 31 Dec 2018 a Monday: both weeks are partial and left out.
    assert min(weekly) == "2006-01-02" and max(weekly) == "2018-12-24"
    assert len(weekly) == 678
    rows = Warehouse.default().query(
        "SELECT CAST(date_trunc('week', occur_date) AS DATE) AS week, count(DISTINCT incident_key) "
        "FROM nypd_shootings WHERE occur_date BETWEEN DATE '2006-01-02' AND DATE '2018-12-30' "
        "GROUP BY 1"
    )
    expected = {week.isoformat(): float(n) for week, n in rows}
    assert {k: v for k, v in weekly.items() if v} == expected
    assert sum(expected.values()) < 16_255  # distinct incidents in the whole file
    bronx = _series("nyc-shooting-incidents-weekly", "boro", "BRONX")
    assert len(bronx) == 678 and 0.0 in bronx.values()  # quiet weeks are zeros, not gaps
    assert {
        s.value
        for s in Metric.objects.get(slug="nyc-shooting-incidents-weekly").runs.first().series.all()
    } == {  # type: ignore[union-attr]
        "",
        "BRONX",
        "BROOKLYN",
        "MANHATTAN",
        "QUEENS",
        "STATEN ISLAND",
    }


def test_murders_per_month_come_from_the_flag(data_dir) -> None:  # type: ignore[no-untyped-def]
    set_up_nyc()
    monthly = _series("nyc-murders-monthly")
    assert len(monthly) == 13 * 12
    (murders,) = Warehouse.default().query(
        "SELECT count(*) FROM nypd_shootings WHERE statistical_murder_flag"
    )[0]
    assert sum(v or 0 for v in monthly.values()) == murders


def test_refuse_tonnage_leaves_out_the_partial_june_2020(data_dir) -> None:  # type: ignore[no-untyped-def]
    set_up_nyc()
    monthly = _series("nyc-refuse-tons-monthly")
    assert max(monthly) == "2020-05-01" and "2020-06-01" not in monthly
    assert min(monthly) == "1990-01-01"
    ((may,),) = Warehouse.default().query(
        "SELECT sum(refusetonscollected) FROM dsny_tonnage WHERE month = DATE '2020-05-01'"
    )
    assert monthly["2020-05-01"] == pytest.approx(float(may), rel=1e-12)
    brooklyn = _series("nyc-refuse-tons-monthly", "borough", "Brooklyn")
    assert brooklyn["2020-05-01"] is not None and brooklyn["2020-05-01"] > 0
    run = Metric.objects.get(slug="nyc-refuse-tons-monthly").runs.first()
    assert run is not None and run.complete_through == date(2020, 6, 15)
    assert run.complete_through + timedelta(days=15) == date(2020, 6, 30)
