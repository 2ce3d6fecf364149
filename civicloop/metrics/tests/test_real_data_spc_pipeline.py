"""The real NYC files through the whole product: ingested, defined, computed, then judged by
the SPC engine with the metric's own settings, as the metric page shows them."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from civicloop.metrics.models import Metric
from civicloop.metrics.spc import SeriesInput, analyse_one
from civicloop.metrics.tests.realdata import set_up_nyc

pytestmark = pytest.mark.django_db


def _spc(slug: str):  # type: ignore[no-untyped-def]
    metric = Metric.objects.get(slug=slug)
    run = metric.runs.first()
    assert run is not None
    total = run.series.get(breakdown="")
    periods = [date.fromisoformat(p) for p in total.periods]
    return periods, analyse_one(SeriesInput(metric.definition(), periods, list(total.values)))


def test_the_decline_in_shootings_shows_as_improvement(data_dir) -> None:  # type: ignore[no-untyped-def]
    set_up_nyc()
    periods, spc = _spc("nyc-shooting-incidents-weekly")
    result = spc.result
    by_year: dict[int, Counter[str | None]] = {}
    for day, kind in zip(periods, result.types, strict=True):
        by_year.setdefault(day.year, Counter())[kind] += 1
    # Lower is better: the city's long fall in shootings is special cause of improvement in
    # the last years, none in 2006; the early years' summers run above the 13-year average.
    late = by_year[2017] + by_year[2018]
    assert late["special_cause_improvement"] / late.total() > 0.8
    assert by_year[2006]["special_cause_improvement"] == 0
    assert by_year[2006]["special_cause_concern"] > 20
    assert late["special_cause_concern"] == 0
    assert spc.explanation.variation == "special_cause_improvement"
    assert spc.explanation.variation_sentence.startswith("Special cause of improvement: ")
    assert result.assurance is None  # the example has no target


def test_refuse_tonnage_is_judged_on_complete_months_only(data_dir) -> None:  # type: ignore[no-untyped-def]
    set_up_nyc()
    periods, spc = _spc("nyc-refuse-tons-monthly")
    result = spc.result
    # The partial June 2020 is not a period, so it cannot pose as a collapse in collections.
    assert periods[-1] == date(2020, 5, 1)
    assert result.types[-1] is not None
    kinds = set(result.types) - {None}
    assert kinds <= {"common_cause", "special_cause_neutral_high", "special_cause_neutral_low"}
    inside = [
        lo <= y <= hi
        for y, lo, hi, kind in zip(result.y, result.lpl, result.upl, result.types, strict=True)
        if kind == "common_cause"
    ]
    assert sum(inside) / len(inside) > 0.95
