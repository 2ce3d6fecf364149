"""Reading, writing and comparing definitions: the shape a steward writes and git keeps."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from civicloop.demo.metrics import demo_metric_definitions
from civicloop.metrics.definition import (
    Aggregate,
    CalculationKind,
    DefinitionError,
    Grain,
    definition_to_dict,
    diff_definitions,
    parse_definition,
)
from civicloop.metrics.periods import complete_range, period_label, period_start, periods_between


def base(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "dumping-requests-weekly",
        "name": "Illegal dumping requests per week",
        "question": "How many dumping reports do residents make each week?",
        "team": "team-clean",
        "owner": "public-works",
        "dataset": "service_requests",
        "filter": "request_type = 'Illegal dumping'",
        "measure": {"aggregate": "count"},
        "time": {"column": "opened_at", "grain": "week"},
        "direction": "lower_is_better",
    }
    data.update(changes)
    return data


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(DefinitionError) as error:
        parse_definition(data)
    return dict(error.value.problems)


def test_every_demo_definition_round_trips_to_the_same_canonical_form() -> None:
    definitions = demo_metric_definitions()
    assert len(definitions) >= 40
    for data in definitions:
        canonical = definition_to_dict(parse_definition(data))
        assert definition_to_dict(parse_definition(canonical)) == canonical, data["id"]


def test_counts_zero_fill_by_default_and_medians_do_not() -> None:
    assert parse_definition(base()).time.zero_fill is True
    median = base(measure={"aggregate": "median", "column": "score"})
    assert parse_definition(median).time.zero_fill is False


def test_zero_fill_on_a_median_is_refused_with_the_reason() -> None:
    found = problems(
        base(
            measure={"aggregate": "median", "column": "score"},
            time={"column": "opened_at", "grain": "week", "zero_fill": True},
        )
    )
    assert "no median or mean" in found["time.zero_fill"]


def test_canonical_form_leaves_defaults_out_so_diffs_show_real_change() -> None:
    canonical = definition_to_dict(parse_definition(base()))
    assert "chart" not in canonical and "public" not in canonical
    assert canonical["time"] == {"column": "opened_at", "grain": "week"}
    assert list(canonical)[:3] == ["id", "name", "question"]


def test_ratio_keeps_numerator_and_denominator() -> None:
    definition = parse_definition(
        base(
            measure={
                "ratio": {
                    "numerator": {"aggregate": "count", "filter": "status = 'closed'"},
                    "denominator": {"aggregate": "count"},
                    "multiplier": 100,
                }
            }
        )
    )
    calc = definition.calculation
    assert calc.kind is CalculationKind.RATIO
    assert calc.denominator is not None and calc.denominator.aggregate is Aggregate.COUNT
    assert calc.measure.filter == "status = 'closed'" and calc.multiplier == 100


def test_unknown_keys_missing_fields_and_bad_values_are_each_named() -> None:
    found = problems(
        {
            "id": "Bad Id",
            "name": "x",
            "team": "t",
            "owner": "o",
            "dataset": "d",
            "measure": {"aggregate": "average", "column": "x"},
            "time": {"column": "opened_at", "grain": "fortnight", "fiscal_year_start": 13},
            "directon": "up",
        }
    )
    assert "lower-case letters, digits and hyphens" in found["id"]
    assert found["question"] == "is required"
    assert "'average' is not one of count, count_distinct" in found["measure.aggregate"]
    assert "'fortnight' is not one of day, week" in found["time.grain"]
    assert "13 is not a month number" in found["time.fiscal_year_start"]
    assert "did you mean 'direction'?" in found["directon"]


def test_measure_shapes_that_make_no_sense_are_refused() -> None:
    assert "needs a column" in problems(base(measure={"aggregate": "sum"}))["measure.column"]
    found = problems(base(measure={"aggregate": "percentile", "column": "x"}))
    assert "needs p, between 0 and 100" in found["measure.p"]
    found = problems(base(measure={"aggregate": "percentile", "column": "x", "p": 140}))
    assert "140 is not between 0 and 100" in found["measure.p"]
    found = problems(base(measure={"aggregate": "count", "column": "x"}))
    assert "use count_distinct" in found["measure.aggregate"]


def test_a_target_needs_a_direction_and_a_p_chart_needs_a_ratio() -> None:
    found = problems(base(direction="neutral", target={"value": 5}, chart={"type": "p"}))
    assert "needs a direction" in found["direction"]
    assert "use a ratio or rate" in found["chart.type"]


def test_chart_settings_follow_making_data_count() -> None:
    found = problems(base(chart={"type": "c", "baseline_points": 5}))
    assert "at least 12 points" in found["chart.baseline_points"]
    assert "Making Data Count" in found["chart.baseline_points"]
    assert "c chart is for counts" not in found.get("chart.type", "")  # base() counts rows
    found = problems(base(measure={"aggregate": "mean", "column": "x"}, chart={"type": "c"}))
    assert "a c chart is for counts" in found["chart.type"]
    assert "use a ratio or rate" in problems(base(chart={"type": "u_prime"}))["chart.type"]
    assert parse_definition(base(chart={"type": "c", "baseline_points": 12})).chart.type == "c"


def test_trajectory_targets_apply_from_their_dates() -> None:
    definition = parse_definition(
        base(
            target={
                "trajectory": [
                    {"from": "2025-01-01", "value": 100},
                    {"from": "2026-01-01", "value": 80},
                ]
            }
        )
    )
    assert definition.target is not None
    assert definition.target.value_on(date(2024, 6, 1)) is None
    assert definition.target.value_on(date(2025, 6, 1)) == 100
    assert definition.target.value_on(date(2026, 1, 1)) == 80


def test_rebases_need_a_date_and_a_reason() -> None:
    found = problems(base(chart={"rebases": [{"date": "2025-13-01", "reason": ""}]}))
    assert "write it as YYYY-MM-DD" in found["chart.rebases[0].date"]
    assert found["chart.rebases[0].reason"] == "is required"


def test_a_rebase_may_be_limited_to_one_breakdown_value() -> None:
    pilot = {"date": "2025-10-06", "reason": "Pilot crew", "breakdown": "district", "value": "3"}
    definition = parse_definition(base(breakdowns=["district"], chart={"rebases": [pilot]}))
    (rebase,) = definition.chart.rebases
    assert (rebase.breakdown, rebase.value) == ("district", "3")
    assert rebase.applies_to("district", "3") and not rebase.applies_to("", "")
    assert not rebase.applies_to("district", "4")
    assert definition_to_dict(definition)["chart"]["rebases"] == [pilot]  # round trip
    found = problems(base(chart={"rebases": [pilot]}))  # no such breakdown
    assert "is not one of the metric's breakdowns" in found["chart.rebases[0].breakdown"]
    half = {"date": "2025-10-06", "reason": "Pilot", "breakdown": "district"}
    found = problems(base(breakdowns=["district"], chart={"rebases": [half]}))
    assert "give both breakdown and value" in found["chart.rebases[0]"]


def test_the_id_new_is_reserved_for_the_new_metric_page() -> None:
    assert "id" in problems(base(id="new"))


def test_diff_names_each_changed_field_with_before_and_after() -> None:
    before = definition_to_dict(parse_definition(base()))
    after = definition_to_dict(
        parse_definition(
            base(
                measure={"aggregate": "count_distinct", "column": "request_id"},
                time={"column": "opened_at", "grain": "month"},
            )
        )
    )
    changes = {c.path: (c.before, c.after) for c in diff_definitions(before, after)}
    assert changes == {
        "measure.aggregate": ("count", "count_distinct"),
        "measure.column": (None, "request_id"),
        "time.grain": ("week", "month"),
    }


# --- periods ---------------------------------------------------------------------------------


def test_weeks_start_on_monday_and_fiscal_quarters_count_from_the_fiscal_start() -> None:
    assert period_start(date(2025, 3, 9), Grain.WEEK) == date(2025, 3, 3)  # a Sunday
    assert period_start(date(2025, 8, 15), Grain.QUARTER) == date(2025, 7, 1)
    assert period_start(date(2025, 8, 15), Grain.YEAR, fiscal_year_start=7) == date(2025, 7, 1)
    assert period_start(date(2025, 5, 15), Grain.YEAR, fiscal_year_start=7) == date(2024, 7, 1)
    assert period_start(date(2025, 2, 15), Grain.QUARTER, fiscal_year_start=2) == date(2025, 2, 1)
    assert period_start(date(2025, 1, 15), Grain.QUARTER, fiscal_year_start=2) == date(2024, 11, 1)
    assert period_label(date(2025, 7, 1), Grain.QUARTER, 7) == "FY2026 Q1"
    assert period_label(date(2024, 7, 1), Grain.YEAR, 7) == "FY2024/25"


def test_only_periods_the_data_covers_in_full_are_complete() -> None:
    # Data from Wednesday 1 Jan 2025 to Tuesday 15 Apr 2025.
    first, last = date(2025, 1, 1), date(2025, 4, 15)
    assert complete_range(first, last, Grain.WEEK) == (date(2025, 1, 6), date(2025, 4, 7))
    assert complete_range(first, last, Grain.MONTH) == (date(2025, 1, 1), date(2025, 3, 1))
    assert complete_range(first, last, Grain.QUARTER) == (date(2025, 1, 1), date(2025, 1, 1))
    assert complete_range(first, last, Grain.YEAR) is None
    assert complete_range(first, date(2025, 3, 31), Grain.MONTH) == (
        date(2025, 1, 1),
        date(2025, 3, 1),
    )
    assert len(periods_between(date(2025, 1, 6), date(2025, 4, 7), Grain.WEEK)) == 14


def test_every_definition_key_is_documented() -> None:
    """docs/metrics.md must explain every key a definition may have."""
    from pathlib import Path

    from civicloop.metrics import definition

    page = (Path(__file__).resolve().parents[3] / "docs" / "metrics.md").read_text("utf-8")
    keys = [k for k in definition._TOP_KEYS if k not in ("time", "target", "chart")]
    keys += [f"time.{k}" for k in ("column", "grain", "fiscal_year_start", "complete_periods_only")]
    keys += ["time.zero_fill", "target.value", "target.trajectory"]
    keys += [f"chart.{k}" for k in ("type", "baseline_points", "screening", "rebases")]
    keys += [a.value for a in Aggregate] + ["duration", "ratio", "rate", "multiplier", "per"]
    missing = [key for key in keys if f"`{key}" not in page]
    assert not missing, f"document in docs/metrics.md: {missing}"
