"""Reporting periods: days, weeks starting Monday, months, quarters and years (fiscal or not).

The engine buckets records into periods in SQL; this module does the same arithmetic in Python
for everything around it: which periods are complete, the full list of periods for zero-fill,
and the labels people read. Month-based grains count months from a fiscal-year start, so a
fiscal year starting in July puts July-September in Q1.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

from civicloop.metrics.definition import Grain


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _from_month_index(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def months_in(grain: Grain) -> int:
    return {Grain.MONTH: 1, Grain.QUARTER: 3, Grain.YEAR: 12}[grain]


def period_start(day: date, grain: Grain, fiscal_year_start: int = 1) -> date:
    if grain is Grain.DAY:
        return day
    if grain is Grain.WEEK:
        return day - timedelta(days=day.weekday())
    shift = fiscal_year_start - 1 if grain is not Grain.MONTH else 0
    size = months_in(grain)
    index = (_month_index(day) - shift) // size * size + shift
    return _from_month_index(index)


def next_period(start: date, grain: Grain) -> date:
    if grain is Grain.DAY:
        return start + timedelta(days=1)
    if grain is Grain.WEEK:
        return start + timedelta(days=7)
    return _from_month_index(_month_index(start) + months_in(grain))


def period_last_day(start: date, grain: Grain) -> date:
    return next_period(start, grain) - timedelta(days=1)


def periods_between(first: date, last: date, grain: Grain) -> list[date]:
    """Every period start from `first` to `last` (both period starts), inclusive."""
    out: list[date] = []
    current = first
    while current <= last:
        out.append(current)
        current = next_period(current, grain)
    return out


def period_label(start: date, grain: Grain, fiscal_year_start: int = 1) -> str:
    """What a person reads: `2025-03-03` (week of), `Mar 2025`, `2025 Q2`, `FY2025/26`."""
    if grain is Grain.DAY:
        return start.isoformat()
    if grain is Grain.WEEK:
        return f"Week of {start.isoformat()}"
    if grain is Grain.MONTH:
        return f"{calendar.month_abbr[start.month]} {start.year}"
    fiscal = fiscal_year_start != 1
    if grain is Grain.QUARTER:
        quarter = (_month_index(start) - (fiscal_year_start - 1)) % 12 // 3 + 1
        if fiscal:
            fy = start.year + (1 if start.month >= fiscal_year_start else 0)
            return f"FY{fy} Q{quarter}"
        return f"{start.year} Q{quarter}"
    if fiscal:
        return f"FY{start.year}/{(start.year + 1) % 100:02d}"
    return str(start.year)


def complete_range(
    data_first: date, data_last: date, grain: Grain, fiscal_year_start: int = 1
) -> tuple[date, date] | None:
    """The first and last periods the data covers in full, or None when it covers none.

    `data_first` and `data_last` are the first and last days the data is complete for.
    """
    first = period_start(data_first, grain, fiscal_year_start)
    if first < data_first:
        first = next_period(first, grain)
    last = period_start(data_last, grain, fiscal_year_start)
    if period_last_day(last, grain) > data_last:
        last = _previous_period(last, grain, fiscal_year_start)
    return (first, last) if first <= last else None


def _previous_period(start: date, grain: Grain, fiscal_year_start: int) -> date:
    return period_start(start - timedelta(days=1), grain, fiscal_year_start)
