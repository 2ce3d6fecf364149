"""The demo city's data: shape, integrity, and the stories a practitioner should find in it.

These tests need no database: they query the generated Arrow tables with DuckDB.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from civicloop.demo.citydata import (
    CHANNELS,
    DISTRICTS,
    PROGRAMS,
    REQUEST_TYPES,
    STORIES,
    generate_city_data,
    timeline_for,
)

AS_OF = date(2026, 11, 18)
TL = timeline_for(AS_OF)


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return generate_city_data(seed=2026, scale=1.0, as_of=AS_OF)


@pytest.fixture(scope="module")
def con(tables: dict[str, pa.Table]) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    # Days from opening to closing, as a practitioner would compute it.
    connection.execute("create macro days_to_close(o, c) as date_diff('second', o, c) / 86400.0")
    for name, table in tables.items():
        connection.register(name, table)
    yield connection
    connection.close()


def one(con: duckdb.DuckDBPyConnection, sql: str, *params: Any) -> Any:
    row = con.execute(sql, list(params)).fetchone()
    assert row is not None
    return row[0]


def rows(con: duckdb.DuckDBPyConnection, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return con.execute(sql, list(params)).fetchall()


# --- timeline --------------------------------------------------------------------------------


def test_timeline_spans_three_years_to_as_of() -> None:
    assert TL.start == date(2023, 11, 1)
    assert TL.end == TL.as_of == AS_OF
    assert TL.first_week.weekday() == 0 and TL.first_week >= TL.start


@pytest.mark.parametrize("as_of", [date(2026, 11, 18), date(2025, 1, 31), date(2028, 2, 29)])
def test_pilot_and_storm_land_inside_the_data(as_of: date) -> None:
    tl = timeline_for(as_of)
    assert tl.pilot_start.weekday() == 0 and tl.spike_week.weekday() == 0
    months_in = (tl.pilot_start.year - tl.start.year) * 12 + tl.pilot_start.month - tl.start.month
    assert 20 <= months_in <= 24
    assert tl.first_week < tl.spike_week < tl.end - timedelta(days=60)


# --- shape and integrity ---------------------------------------------------------------------


EXPECTED_COLUMNS = {
    "district_population": ["district", "population"],
    "service_requests": [
        "request_id",
        "request_type",
        "district",
        "opened_at",
        "closed_at",
        "channel",
        "status",
    ],
    "refuse_collection": ["week_start", "district", "scheduled_collections", "missed_collections"],
    "shootings": ["week_start", "district", "shootings", "homicides"],
    "housing": ["month", "program", "placements", "people_sheltered"],
    "satisfaction_survey": [
        "response_id",
        "responded_on",
        "channel",
        "request_type",
        "district",
        "score",
        "satisfied",
    ],
}


def test_tables_and_columns_are_as_documented(tables: dict[str, pa.Table]) -> None:
    assert {name: t.column_names for name, t in tables.items()} == EXPECTED_COLUMNS
    requests = tables["service_requests"].schema
    assert requests.field("opened_at").type == pa.timestamp("us")
    assert tables["shootings"].schema.field("week_start").type == pa.date32()
    assert tables["satisfaction_survey"].schema.field("satisfied").type == pa.bool_()


def test_same_seed_gives_identical_tables(tables: dict[str, pa.Table]) -> None:
    again = generate_city_data(seed=2026, scale=1.0, as_of=AS_OF)
    for name, table in tables.items():
        assert again[name].equals(table), name


def test_different_seed_gives_different_tables(tables: dict[str, pa.Table]) -> None:
    other = generate_city_data(seed=7, scale=1.0, as_of=AS_OF)
    for name, table in tables.items():
        if name == "district_population":
            continue  # the planning estimate, not drawn at random: see the next test
        assert not other[name].equals(table), name


def test_population_is_the_citys_planning_estimate_for_every_seed(
    tables: dict[str, pa.Table],
) -> None:
    population = tables["district_population"]
    assert population.column("district").to_pylist() == list(DISTRICTS)
    assert sum(population.column("population").to_pylist()) == 430_000
    other = generate_city_data(seed=7, scale=3.0, as_of=AS_OF)["district_population"]
    assert other.equals(population)


def test_scale_multiplies_event_rows_only(tables: dict[str, pa.Table]) -> None:
    double = generate_city_data(seed=2026, scale=2.0, as_of=AS_OF)
    for name in ("service_requests", "satisfaction_survey"):
        ratio = double[name].num_rows / tables[name].num_rows
        assert 1.9 < ratio < 2.1, name
    for name in ("refuse_collection", "shootings", "housing"):
        assert double[name].num_rows == tables[name].num_rows


def test_scale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="scale"):
        generate_city_data(scale=0)


def test_as_of_defaults_to_today() -> None:
    tiny = generate_city_data(scale=0.01)
    newest = max(tiny["shootings"].column("week_start").to_pylist())
    assert date.today() - timedelta(days=6) <= newest <= date.today()


def test_ids_are_unique_and_formatted(con: duckdb.DuckDBPyConnection) -> None:
    for table, column, prefix in (
        ("service_requests", "request_id", "SR"),
        ("satisfaction_survey", "response_id", "CS"),
    ):
        # Table and column names are the literals above, not user input.
        counts = f"select count(*), count(distinct {column}) from {table}"
        total, distinct = rows(con, counts)[0]
        assert total == distinct
        sample = one(con, f"select min({column}) from {table}")
        assert re.fullmatch(prefix + r"-\d{7}", sample)


def test_requests_close_after_they_open_and_status_agrees(con: duckdb.DuckDBPyConnection) -> None:
    assert one(con, "select count(*) from service_requests where closed_at < opened_at") == 0
    inconsistent = """
        select count(*) from service_requests
        where (status = 'open') <> (closed_at is null) or status not in ('open', 'closed')
    """
    assert one(con, inconsistent) == 0


def test_categories_come_from_the_published_lists(con: duckdb.DuckDBPyConnection) -> None:
    def values(sql: str) -> set[str]:
        return {r[0] for r in rows(con, sql)}

    assert values("select distinct request_type from service_requests") == set(REQUEST_TYPES)
    assert values("select distinct district from service_requests") == set(DISTRICTS)
    assert values("select distinct channel from service_requests") == set(CHANNELS)
    assert values("select distinct program from housing") == set(PROGRAMS)


def test_nothing_is_dated_after_as_of(con: duckdb.DuckDBPyConnection) -> None:
    cutoff = AS_OF + timedelta(days=1)
    checks = {
        "select max(opened_at) from service_requests": cutoff,
        "select max(closed_at) from service_requests": cutoff,
        "select max(responded_on) from satisfaction_survey": cutoff,
        "select max(week_start) from refuse_collection": cutoff,
        "select max(week_start) from shootings": cutoff,
        "select max(month) from housing": cutoff,
    }
    for sql, limit in checks.items():
        latest = one(con, sql)
        assert (latest.date() if hasattr(latest, "date") else latest) < limit, sql
    assert one(con, "select min(opened_at) from service_requests").date() == TL.start


def test_weekly_tables_have_every_district_every_monday(con: duckdb.DuckDBPyConnection) -> None:
    for table in ("refuse_collection", "shootings"):
        weeks = f"select week_start, count(distinct district) n from {table} group by 1"
        bad = f"select count(*) from ({weeks}) where n <> 7 or isodow(week_start) <> 1"
        assert one(con, bad) == 0


def test_survey_scores_and_satisfied_agree(con: duckdb.DuckDBPyConnection) -> None:
    bad = """
        select count(*) from satisfaction_survey
        where score not between 1 and 5 or satisfied <> (score >= 4)
    """
    assert one(con, bad) == 0


# --- realistic volumes -----------------------------------------------------------------------


def test_volumes_are_those_of_a_mid_size_city(con: duckdb.DuckDBPyConnection) -> None:
    assert 270_000 < one(con, "select count(*) from service_requests") < 340_000
    assert 12_000 < one(con, "select count(*) from satisfaction_survey") < 18_000
    biggest = one(
        con, "select request_type from service_requests group by 1 order by count(*) desc limit 1"
    )
    assert biggest == "Illegal dumping"


def test_shootings_and_homicides_per_year(con: duckdb.DuckDBPyConnection) -> None:
    full_years = rows(
        con,
        """select year(week_start), sum(shootings), sum(homicides) from shootings
           where year(week_start) between 2024 and 2025 group by 1""",
    )
    for _, shootings, homicides in full_years:
        assert 300 <= shootings <= 500
        assert 0.1 * shootings < homicides < 0.3 * shootings


def test_districts_are_uneven(con: duckdb.DuckDBPyConnection) -> None:
    counts = [r[0] for r in rows(con, "select count(*) from service_requests group by district")]
    assert max(counts) > 1.5 * min(counts)


def test_mobile_app_share_grows(con: duckdb.DuckDBPyConnection) -> None:
    share = """
        select avg((channel = 'Mobile app')::int) from service_requests
        where opened_at >= ? and opened_at < ?
    """
    first = one(con, share, TL.start, TL.start + timedelta(days=365))
    last = one(con, share, AS_OF - timedelta(days=365), AS_OF + timedelta(days=1))
    assert last > first + 0.1


def test_old_backlog_is_small_but_real(con: duckdb.DuckDBPyConnection) -> None:
    old_open = one(
        con,
        "select avg((status = 'open')::int) from service_requests where opened_at < ?",
        AS_OF - timedelta(days=365),
    )
    assert 0.002 < old_open < 0.03


# --- the planted stories ---------------------------------------------------------------------


def test_every_story_points_at_real_columns_and_dates(tables: dict[str, pa.Table]) -> None:
    assert {s.key for s in STORIES.values()} == set(STORIES)
    for story in STORIES.values():
        table = tables[story.table]
        for column, wanted in story.filters.items():
            present = set(table.column(column).to_pylist())
            assert set(wanted) <= present, (story.key, column)
        anchor = story.anchor_date(TL)
        assert anchor is None or TL.start <= anchor <= TL.end


def median_days(con: duckdb.DuckDBPyConnection, district: str, after: bool) -> float:
    sql = """
        select median(days_to_close(opened_at, closed_at)) from service_requests
        where request_type = 'Illegal dumping' and district = ? and closed_at is not null
          and (opened_at >= ?) = ?
    """
    return float(one(con, sql, district, TL.pilot_start, after))


def test_pilot_halves_dumping_time_to_close_in_district_3(con: duckdb.DuckDBPyConnection) -> None:
    before, after = median_days(con, "District 3", False), median_days(con, "District 3", True)
    assert 8 <= before <= 11
    assert after < before / 2
    for district in ("District 5", "District 6"):
        elsewhere_before = median_days(con, district, False)
        assert abs(median_days(con, district, True) / elsewhere_before - 1) < 0.2


def test_pilot_shows_as_a_shift_on_a_weekly_chart(con: duckdb.DuckDBPyConnection) -> None:
    # Weekly median days-to-close, leaving out the last month whose requests are still closing.
    weekly = rows(
        con,
        """select date_trunc('week', opened_at) w, median(days_to_close(opened_at, closed_at))
            from service_requests where request_type = 'Illegal dumping' and district = 'District 3'
              and closed_at is not null and opened_at >= ? and opened_at < ?
            group by 1 order by 1""",
        TL.first_week,
        AS_OF - timedelta(days=28),
    )
    mean = sum(v for _, v in weekly) / len(weekly)
    after = [v for w, v in weekly if w.date() >= TL.pilot_start]
    before = [v for w, v in weekly if w.date() < TL.pilot_start]
    assert len(before) > 52 and len(after) > 40
    assert all(v < mean for v in after)  # a run of far more than 7 below the mean
    assert sum(v > mean for v in before) > 0.9 * len(before)


def test_pilot_lifts_satisfaction_in_district_3(con: duckdb.DuckDBPyConnection) -> None:
    sql = """
        select avg(satisfied::int) from satisfaction_survey
        where request_type = 'Illegal dumping' and district = 'District 3'
          and (responded_on >= ?) = ?
    """
    before, after = one(con, sql, TL.pilot_start, False), one(con, sql, TL.pilot_start, True)
    assert after > before + 0.1


def test_dumping_encampments_and_shootings_peak_in_summer(con: duckdb.DuckDBPyConnection) -> None:
    for request_type in ("Illegal dumping", "Encampment"):
        summer, winter = rows(
            con,
            """select count(*) filter (where month(opened_at) in (7, 8)),
                      count(*) filter (where month(opened_at) in (1, 2))
               from service_requests where request_type = ?""",
            request_type,
        )[0]
        assert summer > 1.4 * winter, request_type
    summer, winter = rows(
        con,
        """select sum(shootings) filter (where month(week_start) in (7, 8)),
                  sum(shootings) filter (where month(week_start) in (1, 2)) from shootings""",
    )[0]
    assert summer > 1.3 * winter


def test_potholes_take_gradually_longer(con: duckdb.DuckDBPyConnection) -> None:
    last_full_month = AS_OF.replace(day=1)
    monthly = rows(
        con,
        """select date_trunc('month', opened_at) m, median(days_to_close(opened_at, closed_at))
            from service_requests
            where request_type = 'Pothole' and closed_at is not null and opened_at < ?
            group by 1 order by 1""",
        last_full_month,
    )
    medians = [v for _, v in monthly]
    first, last = medians[:6], medians[-6:]
    assert sorted(last)[3] > 1.3 * sorted(first)[3]
    # Gradual, not a step: each of the three years is slower than the one before, and neither
    # year-on-year rise carries most of the change.
    yearly = [sorted(medians[i : i + 12])[6] for i in (0, 12, 24)]
    rise = yearly[2] - yearly[0]
    assert 0.25 * rise < yearly[1] - yearly[0] < 0.75 * rise


def test_storm_week_floods_trees_and_sidewalks(con: duckdb.DuckDBPyConnection) -> None:
    weekly = dict(
        rows(
            con,
            """select date_trunc('week', opened_at)::date, count(*) from service_requests
               where request_type in ('Tree maintenance', 'Blocked sidewalk')
               group by 1""",
        )
    )
    typical = sorted(weekly.values())[len(weekly) // 2]
    assert weekly[TL.spike_week] > 3 * typical
    assert max(weekly, key=lambda w: weekly[w]) == TL.spike_week
    assert weekly[TL.spike_week + timedelta(days=14)] < 1.5 * typical


def test_current_month_is_partial_and_mostly_open(con: duckdb.DuckDBPyConnection) -> None:
    by_month = rows(
        con,
        """select date_trunc('month', opened_at) m, count(*) from service_requests
           group by 1 order by 1 desc limit 2""",
    )
    (current, current_n), (_, previous_n) = by_month
    assert current.date() == AS_OF.replace(day=1)
    assert current_n < 0.75 * previous_n
    still_open = one(
        con,
        "select avg((status = 'open')::int) from service_requests where opened_at >= ?",
        AS_OF - timedelta(days=2),
    )
    assert still_open > 0.6


def test_missed_collections_jump_in_holiday_weeks(con: duckdb.DuckDBPyConnection) -> None:
    rate = """
        select sum(missed_collections) / sum(scheduled_collections) from refuse_collection
        where week_start in (select unnest(?::date[]))
    """
    christmas_weeks = [date(2023, 12, 25), date(2024, 12, 23), date(2025, 12, 22)]
    ordinary = [date(2024, 3, 4), date(2024, 9, 9), date(2025, 5, 12)]
    assert one(con, rate, christmas_weeks) > 2 * one(con, rate, ordinary)


def test_winter_shelter_beds_raise_the_count(con: duckdb.DuckDBPyConnection) -> None:
    winter, summer = rows(
        con,
        """select avg(people_sheltered) filter (where month(month) in (1, 2)),
                  avg(people_sheltered) filter (where month(month) in (7, 8))
           from housing where program = 'Emergency shelter'""",
    )[0]
    assert winter > summer + 80
