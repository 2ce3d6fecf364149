"""The SPC engine on the real NYC files, read with the csv module as an analyst would.

Shootings: weekly distinct incidents citywide (XmR, lower is better). Refuse: monthly tons
citywide (XmR, neutral). Each fact asserted is one a reader can check in the files.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from functools import cache

import numpy as np
import pytest

from civicloop.metrics.tests.realdata import DSNY_EXTRACT_DAY, REAL
from civicloop.spc import analyse

SHOOTINGS = REAL / "nypd_shootings_2006_2018.csv"
TONNAGE = REAL / "dsny_monthly_tonnage.csv"

pytestmark = pytest.mark.skipif(
    not (SHOOTINGS.exists() and TONNAGE.exists()),
    reason=f"the real NYC files are not in {REAL}",
)

WEEK = timedelta(days=7)
REBASE_DAY = date(2013, 1, 7)  # a Monday


# --- shootings -------------------------------------------------------------------------------


@cache
def incidents() -> dict[str, date]:
    """Each distinct incident (INCIDENT_KEY repeats, one row per victim) and its date."""
    out: dict[str, date] = {}
    with SHOOTINGS.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            day = datetime.strptime(row["OCCUR_DATE"], "%m/%d/%Y").date()
            assert out.setdefault(row["INCIDENT_KEY"], day) == day
    return out


@cache
def weekly() -> tuple[list[date], list[int]]:
    """Incidents per week (Monday to Sunday), complete weeks of the file's span only."""
    days = incidents().values()
    first = min(days)
    first += timedelta(days=(7 - first.weekday()) % 7)  # the first Monday
    last = max(days)
    last -= timedelta(days=(last.weekday() + 1) % 7)  # the last Sunday
    weeks = [first + k * WEEK for k in range(((last - first).days + 1) // 7)]
    counts = Counter((d - first).days // 7 for d in days if first <= d <= last)
    return weeks, [counts.get(k, 0) for k in range(len(weeks))]


def incidents_between(start: date, stop: date) -> int:
    return sum(start <= d < stop for d in incidents().values())


def share(types: list[str | None], weeks: list[date], years: set[int], kind: str) -> float:
    chosen = [t for t, w in zip(types, weeks, strict=True) if w.year in years]
    return chosen.count(kind) / len(chosen)


def test_shooting_weeks() -> None:
    assert len(incidents()) == 16_255  # the README's count of distinct incidents
    weeks, counts = weekly()
    # The file runs from Sunday 2006-01-01 to Monday 2018-12-31: 678 complete weeks between.
    assert (min(incidents().values()), max(incidents().values())) == (
        date(2006, 1, 1),
        date(2018, 12, 31),
    )
    assert (weeks[0], weeks[-1], len(weeks)) == (date(2006, 1, 2), date(2018, 12, 24), 678)
    assert sum(counts) == incidents_between(date(2006, 1, 2), date(2018, 12, 31)) == 16_246
    assert min(counts) > 0  # no week without a shooting: no zero-filling was needed


def test_shooting_baseline_of_the_first_year() -> None:
    _, counts = weekly()
    r = analyse(counts, direction="decrease", baseline=52)
    first_year = incidents_between(date(2006, 1, 2), date(2007, 1, 1))
    assert first_year == 1_559
    assert r.mean[0] == pytest.approx(first_year / 52, rel=1e-12)
    assert r.mean[-1] == r.mean[0]  # one fixed centre line for all 13 years


def test_shooting_decline_shows_as_improvement() -> None:
    weeks, counts = weekly()
    r = analyse(counts, direction="decrease")
    assert r.mean[0] == pytest.approx(16_246 / 678, rel=1e-12)
    assert r.variation == "special_cause_improvement"
    # Against one centre line for 2006-2018, the fall in shootings is a run of improvement in
    # the last years and of concern (weeks above the long-run mean) in the first ones.
    assert share(r.types, weeks, {2017, 2018}, "special_cause_improvement") > 0.8
    assert share(r.types, weeks, {2006}, "special_cause_improvement") == 0
    assert share(r.types, weeks, {2006}, "special_cause_concern") > 0.5


def test_shooting_rebase_in_2013() -> None:
    weeks, counts = weekly()
    plain = analyse(counts, direction="decrease")
    at = weeks.index(REBASE_DAY)
    rebased = analyse(counts, direction="decrease", rebase=[at])
    assert rebased.groups == [0] * at + [1] * (len(weeks) - at)
    before = incidents_between(weeks[0], REBASE_DAY) / at
    after = incidents_between(REBASE_DAY, weeks[-1] + WEEK) / (len(weeks) - at)
    assert rebased.mean[0] == pytest.approx(before, rel=1e-12)
    assert rebased.mean[-1] == pytest.approx(after, rel=1e-12)
    assert after < plain.mean[0] < before
    assert rebased.upl[-1] < rebased.upl[0]  # fewer shootings, narrower limits
    # Against the new, lower centre line, 2017-18 is still better (the decline went on), but far
    # fewer weeks are signals than against the 2006-2018 line.
    late_plain = share(plain.types, weeks, {2017, 2018}, "special_cause_improvement")
    late_rebased = share(rebased.types, weeks, {2017, 2018}, "special_cause_improvement")
    assert 0.2 < late_rebased < 0.6 < late_plain
    # Just after the rebase the new line sits below 2013-14's level: concern appears there.
    assert share(rebased.types, weeks, {2014}, "special_cause_concern") > share(
        plain.types, weeks, {2014}, "special_cause_concern"
    )


# --- refuse tonnage --------------------------------------------------------------------------


@cache
def monthly_refuse() -> tuple[
    list[tuple[int, int]], list[float | None], dict[tuple[int, int], int]
]:
    """Citywide refuse tons per calendar month (None for a month not in the file), the partial
    month of the extract dropped; and the number of districts reporting each month."""
    tons: dict[tuple[int, int], float] = defaultdict(float)
    districts: Counter[tuple[int, int]] = Counter()
    with TONNAGE.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            value = row["REFUSETONSCOLLECTED"].strip()
            if not value:
                continue
            year, month = (int(part) for part in row["MONTH"].split("/"))
            tons[year, month] += float(value)
            districts[year, month] += 1
    partial = (DSNY_EXTRACT_DAY.year, DSNY_EXTRACT_DAY.month)
    assert max(tons) == partial  # the file ends with the month it was extracted in
    del tons[partial]
    first, last = min(tons), max(tons)
    months = []
    year, month = first
    while (year, month) <= last:
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months, [tons.get(m) for m in months], dict(districts)


def test_refuse_months() -> None:
    months, tons, districts = monthly_refuse()
    assert (months[0], months[-1], len(months)) == ((1990, 1), (2020, 5), 365)
    missing = [m for m, t in zip(months, tons, strict=True) if t is None]
    assert missing == [(1990, 2), (1990, 3), (1990, 4), (1990, 5)]
    assert max(districts.values()) == 59


def test_refuse_chart() -> None:
    months, tons, districts = monthly_refuse()
    r = analyse(tons)
    known = [t for t in tons if t is not None]
    assert r.mean[0] == pytest.approx(sum(known) / len(known), rel=1e-12)
    assert min(known) < r.mean[0] < max(known)
    assert r.warnings == ()
    # Regression figures: computed once from the file with this engine and pinned, so any
    # change in the rules or the file shows here. (Not published numbers.)
    assert Counter(r.types) == {
        "common_cause": 189,
        "special_cause_neutral_high": 115,
        "special_cause_neutral_low": 57,
        None: 4,
    }
    assert Counter(r.rules) == {None: 193, "shift": 87, "outside_limits": 48, "two_in_three": 37}
    assert r.mean[0] == pytest.approx(217_092.647, rel=1e-8)
    assert (r.lpl[0], r.upl[0]) == pytest.approx((181_880.576, 252_304.719), rel=1e-8)

    y = np.asarray([np.nan if t is None else t for t in tons])
    common = np.asarray([t == "common_cause" for t in r.types])
    inside = (y >= r.lpl) & (y <= r.upl)
    assert inside[common].mean() >= 0.95

    # 1990-91: the file covers only some districts (3 in January 1990, 45 in April 1991). The
    # citywide sums are far too low, and the chart says so: every such month is below the
    # lower limit.
    thin = [i for i, m in enumerate(months) if tons[i] is not None and districts[m] <= 45]
    assert len(thin) == 12
    assert all(
        r.rules[i] == "outside_limits" and r.types[i] == "special_cause_neutral_low" for i in thin
    )


def test_refuse_seasonality_shows_as_signals() -> None:
    months, tons, districts = monthly_refuse()
    r = analyse(tons)
    by_month: dict[int, Counter[str | None]] = defaultdict(Counter)
    for (_, month), kind, n in zip(
        months, r.types, (districts.get(m, 0) for m in months), strict=True
    ):
        if n == 59:  # complete months only
            by_month[month][kind] += 1
    # February (the short month) is the low month: never high, low in about half the years;
    # summer (June-August) is never low.
    assert by_month[2]["special_cause_neutral_high"] == 0
    assert by_month[2]["special_cause_neutral_low"] >= 12
    for summer in (6, 7, 8):
        assert by_month[summer]["special_cause_neutral_low"] == 0
    # The only low points of 2019 and the first five months of 2020 are their Februaries.
    recent = [(m, t) for m, t in zip(months, r.types, strict=True) if m >= (2019, 1)]
    assert [m for m, t in recent if t != "common_cause"] == [(2019, 2), (2020, 2)]
