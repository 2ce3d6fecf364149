"""The Study step's verdict: a change is judged on the metric's own chart, rebased at the change,
in the direction the team predicted; a pilot is set beside the rest of the measure.

The first tests feed the rules plain series (no database); the later ones go through the
product with the requests in conftest (a pilot in North from 4 August 2025) and with the real
NYPD shootings, checked against the same numbers worked out by hand.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest

from civicloop.improvement import services, study
from civicloop.improvement.study import SeriesData
from civicloop.improvement.tests.conftest import (
    CHANGE_ON,
    CHANGE_WEEK,
    COUNT_DEFINITION,
    MONDAYS,
    PATTERNS,
    City,
    by_hand,
    new_a3,
    plan,
    weekly_count,
)
from civicloop.metrics.definition import MetricDefinition, Rebase, parse_definition
from civicloop.metrics.tests.realdata import REAL, load_real
from civicloop.testing import Personas

DEFINITION: MetricDefinition = parse_definition(COUNT_DEFINITION)
NORTH = [float(weekly_count("North", w)) for w in range(len(MONDAYS))]
BEFORE, AFTER = NORTH[:CHANGE_WEEK], NORTH[CHANGE_WEEK:]


def north(values: list[float] | None = None, periods: tuple[date, ...] = MONDAYS) -> SeriesData:
    return SeriesData("District North", periods, values if values is not None else NORTH)


def steady(district: str, weeks: int, level: float = 0.0) -> list[float]:
    """A district's usual 7-week pattern for `weeks` weeks from the first, moved by `level`."""
    return [float(PATTERNS[district][w % 7]) + level for w in range(weeks)]


def day(value: date) -> str:
    return f"{value:%d %b %Y}"


# --- the rules, on plain series --------------------------------------------------------------


def test_a_shift_down_as_predicted_is_special_cause_in_the_predicted_direction() -> None:
    judged = study.judge(DEFINITION, north(), CHANGE_ON, "decrease")
    assert judged.signal == study.PREDICTED
    assert (judged.before_points, judged.after_points) == (30, 20)
    assert judged.before_mean == pytest.approx(np.mean(BEFORE)) == pytest.approx(20.0)
    assert judged.after_mean == pytest.approx(np.mean(AFTER)) == pytest.approx(11.9)
    # The shift (every point below the old mean) and the points below the old lower limit.
    assert judged.rules[0] == "shift" and "outside_limits" in judged.rules
    assert judged.first_signal == CHANGE_ON
    assert "District North: special cause down since the change" in judged.sentence
    assert "in a run of 7 or more on one side of the old mean" in judged.sentence
    assert "beyond the process limit" in judged.sentence
    assert f"the first on {day(CHANGE_ON)}" in judged.sentence
    assert "Mean 20 requests before, 11.9 requests since (-40%)" in judged.sentence
    assert judged.change_percent == pytest.approx((11.9 - 20) / 20 * 100)
    verdict = study.study(DEFINITION, north(), CHANGE_ON, "decrease")
    assert verdict.headline.startswith("Special cause in the predicted direction. District North")
    assert (
        verdict.prediction_sentence == "The team predicted the measure would go down, and it did."
    )


def test_the_same_shift_against_a_predicted_increase_is_special_cause_against_it() -> None:
    judged = study.judge(DEFINITION, north(), CHANGE_ON, "increase")
    assert judged.signal == study.AGAINST
    assert "special cause down since the change" in judged.sentence
    assert judged.after_mean == pytest.approx(11.9)
    verdict = study.study(DEFINITION, north(), CHANGE_ON, "increase")
    assert verdict.as_data()["signal_label"] == "Special cause against the prediction"
    assert verdict.prediction_sentence == (
        "The team predicted the measure would go up; it went the other way."
    )


def test_a_few_weeks_without_a_point_beyond_the_limits_are_too_soon_to_tell() -> None:
    # Five weeks a little lower (within the limits of 12.4 to 27.6, none near them).
    values = BEFORE + [v - 2 for v in steady("North", 35)[CHANGE_WEEK:]]
    judged = study.judge(DEFINITION, north(values, MONDAYS[:35]), CHANGE_ON, "decrease")
    assert judged.signal == study.TOO_SOON
    assert judged.after_points == 5 and judged.rules == ()
    assert "5 weeks since the change and no sustained special cause" in judged.sentence
    assert "a shift needs 7 points, so it is too soon to tell" in judged.sentence
    # The same cut made with as_of on the full series: the data after it is not read.
    early = study.judge(
        DEFINITION, north(), CHANGE_ON, "decrease", as_of=CHANGE_ON + timedelta(days=6)
    )
    assert early.after_points == 1 and early.signal == study.TOO_SOON
    # Two days in, the change's first week is not over: it is not read yet.
    midweek = study.judge(
        DEFINITION, north(), CHANGE_ON, "decrease", as_of=CHANGE_ON + timedelta(days=2)
    )
    assert midweek.after_points == 0 and midweek.signal == study.NO_DATA
    assert "1 week since the change" in early.sentence


def test_two_points_beyond_the_limit_are_a_verdict_before_seven_weeks() -> None:
    values = [*BEFORE, 10.0, 9.0, 19.0]
    judged = study.judge(DEFINITION, north(values, MONDAYS[:33]), CHANGE_ON, "decrease")
    assert judged.signal == study.PREDICTED
    assert judged.rules == ("outside_limits",)
    assert "2 of 3 weeks are flagged (2 beyond the process limit)" in judged.sentence


def test_a_single_blip_is_not_a_verdict() -> None:
    blip = CHANGE_WEEK + 2
    values = steady("North", len(MONDAYS))
    values[blip] = 5.0  # one week far below the lower limit, then back to normal
    judged = study.judge(DEFINITION, north(values), CHANGE_ON, "decrease")
    assert judged.signal == study.NO_SIGNAL
    assert judged.first_signal is None and judged.rules == ()
    assert f"1 point flagged, on {day(MONDAYS[blip])}: a one-off, not a change" in judged.sentence
    assert "no sustained special cause in 20 weeks since the change" in judged.sentence
    verdict = study.study(DEFINITION, north(values), CHANGE_ON, "decrease")
    assert verdict.prediction_sentence.endswith("the chart shows no change.")
    # The same blip within the first weeks: still too soon, and the blip is named.
    short = study.judge(DEFINITION, north(values[:35], MONDAYS[:35]), CHANGE_ON, "decrease")
    assert short.signal == study.TOO_SOON
    assert f"on {day(MONDAYS[blip])}: a one-off, not a change" in short.sentence


def test_no_points_since_the_change_is_no_data() -> None:
    judged = study.judge(
        DEFINITION, north(), CHANGE_ON, "decrease", as_of=CHANGE_ON - timedelta(days=1)
    )
    assert judged.signal == study.NO_DATA
    assert judged.after_points == 0 and judged.after_mean is None
    assert judged.before_mean == pytest.approx(20.0)
    assert judged.sentence == f"District North: no data since the change on {day(CHANGE_ON)} yet."
    later = study.study(DEFINITION, north(), MONDAYS[-1] + timedelta(days=7), "decrease")
    assert later.pilot.signal == study.NO_DATA
    assert later.prediction_sentence.endswith("there is nothing to compare yet.")


def test_fewer_than_two_points_before_the_change_is_no_baseline() -> None:
    judged = study.judge(DEFINITION, north(), MONDAYS[1], "decrease")
    assert judged.signal == study.NO_BASELINE
    assert judged.before_points == 1
    assert "only 1 point(s) before the change" in judged.sentence
    # Gaps are not points: one known value among the weeks before is still no baseline.
    gappy: list[float | None] = [None] * CHANGE_WEEK + list(AFTER)
    gappy[3] = 20.0
    assert study.judge(DEFINITION, north(gappy), CHANGE_ON, "decrease").signal == (
        study.NO_BASELINE
    )
    verdict = study.study(DEFINITION, north(), MONDAYS[1], "decrease")
    assert verdict.as_data()["signal_label"] == "Not enough data before the change"


def test_a_rebase_before_the_change_starts_the_baseline_there() -> None:
    """A new system in week 10 halved the requests: the old process before it is not the one
    the pilot changed."""
    values = [v + 20 for v in NORTH[:10]] + NORTH[10:]
    rebased = DEFINITION.with_changes(
        chart=replace(
            DEFINITION.chart,
            rebases=(
                Rebase(MONDAYS[10], "New request system"),
                Rebase(MONDAYS[40], "After the change: not the baseline's business"),
            ),
        )
    )
    judged = study.judge(rebased, north(values), CHANGE_ON, "decrease")
    assert judged.before_points == 20
    assert judged.periods[0] == MONDAYS[10] and len(judged.periods) == 40
    assert judged.before_mean == pytest.approx(np.mean(values[10:CHANGE_WEEK]))
    assert judged.signal == study.PREDICTED
    # Without the rebase, the high weeks before it would set the old mean.
    plain = study.judge(DEFINITION, north(values), CHANGE_ON, "decrease")
    assert plain.before_points == 30
    assert plain.before_mean == pytest.approx(np.mean(values[:CHANGE_WEEK]))
    assert plain.before_mean > judged.before_mean + 6


def test_the_new_mean_is_compared_with_the_predicted_value() -> None:
    good = study.study(DEFINITION, north(), CHANGE_ON, "decrease", predicted_value=13)
    assert good.prediction_sentence == (
        "The team predicted the measure would go down, and it did. It predicted a mean of 13 "
        "requests; the new mean is 11.9 requests, as good or better."
    )
    short = study.study(DEFINITION, north(), CHANGE_ON, "decrease", predicted_value=8)
    assert short.prediction_sentence.endswith(
        "It predicted a mean of 8 requests; the new mean is 11.9 requests, 3.9 requests short "
        "of the prediction."
    )
    assert short.as_data()["predicted_value"] == 8
    # Predicting an increase to 25: the measure went down, so it is short by 13.1.
    wrong = study.study(DEFINITION, north(), CHANGE_ON, "increase", predicted_value=25)
    assert "13.1 requests short of the prediction" in wrong.prediction_sentence


# --- the pilot beside the rest ---------------------------------------------------------------


def rest_of(values: list[float]) -> SeriesData:
    return SeriesData("The rest (District East, District South)", MONDAYS, values)


def test_a_pilot_that_moved_while_the_rest_did_not_points_at_the_change() -> None:
    flat = [s + e for s, e in zip(steady("South", 50), steady("East", 50), strict=True)]
    verdict = study.study(DEFINITION, north(), CHANGE_ON, "decrease", rest=rest_of(flat))
    assert verdict.pilot.signal == study.PREDICTED
    assert verdict.rest is not None and verdict.rest.signal == study.NO_SIGNAL
    assert verdict.comparison_sentence == (
        "The rest (District East, District South) shows no such shift over the same weeks, "
        "which points at the change rather than at something that moved everywhere."
    )
    assert [s["label"] for s in verdict.as_data()["series"]] == [
        "District North",
        "The rest (District East, District South)",
    ]


def test_a_rest_that_moved_far_less_explains_little_of_the_shift() -> None:
    # The rest: about 100 a week, steady, then 9 % lower from the change.
    pattern = (99, 101, 98, 102, 100, 97, 103)
    values = [float(pattern[w % 7]) - (9 if w >= CHANGE_WEEK else 0) for w in range(50)]
    verdict = study.study(DEFINITION, north(), CHANGE_ON, "decrease", rest=rest_of(values))
    assert verdict.rest is not None and verdict.rest.signal == study.PREDICTED
    assert verdict.comparison_sentence == (
        "The rest (District East, District South) moved the same way, but far less (mean -9% "
        "against -40%): the change explains most of the shift, and something else a little "
        "of it."
    )


def test_a_rest_that_moved_as_much_says_something_else_may_explain_it() -> None:
    values = [v * 3 for v in NORTH]
    verdict = study.study(DEFINITION, north(), CHANGE_ON, "decrease", rest=rest_of(values))
    assert verdict.comparison_sentence == (
        "The rest (District East, District South) moved the same way without the change, so "
        "something other than the change (a season, a new system) may explain the shift."
    )
    # The verdict's few words say so too: the pilot's shift is not the change's alone.
    assert verdict.as_data()["signal_label"] == (
        "Special cause in the predicted direction, but the rest moved as much"
    )


def test_without_a_verdict_on_the_pilot_the_rest_is_judged_but_not_compared() -> None:
    unchanged = steady("North", 50)
    verdict = study.study(DEFINITION, north(unchanged), CHANGE_ON, "decrease", rest=rest_of(NORTH))
    assert verdict.pilot.signal == study.NO_SIGNAL
    assert verdict.rest is not None and verdict.rest.signal == study.PREDICTED
    assert verdict.comparison_sentence == ""  # nothing in the pilot to compare the rest with
    assert [s["signal"] for s in verdict.as_data()["series"]] == ["none", "predicted"]


def test_a_direction_other_than_up_or_down_is_refused() -> None:
    with pytest.raises(ValueError, match="give 'decrease' or 'increase'"):
        study.judge(DEFINITION, north(), CHANGE_ON, "sideways")


# --- through the product: the rest of a pilot, as the engine computes it ---------------------


def _cycle(city: City, metric, value: str = "North", **data):  # type: ignore[no-untyped-def]
    a3 = new_a3(city.personas)
    countermeasure = services.save_countermeasure(
        city.personas.editor, a3, {"title": "A dedicated North crew"}
    )
    cycle = services.add_cycle(
        city.personas.editor, countermeasure, plan(metric, value=value, **data)
    )
    return services.start_cycle(city.personas.editor, cycle, CHANGE_ON)


@pytest.mark.django_db
def test_the_rest_of_a_count_is_the_total_less_the_pilot(city: City) -> None:
    cycle = _cycle(city, city.count)
    _definition, pilot, rest = services.cycle_series(cycle)
    assert pilot is not None and rest is not None
    assert pilot.label == "District North"
    assert rest.label == "The rest (District East, District South)"
    assert list(pilot.periods) == list(rest.periods) == list(MONDAYS)
    assert list(pilot.values) == by_hand({"North"})["count"]
    assert list(rest.values) == by_hand({"South", "East"})["count"]
    verdict = services.verdict_for(cycle)
    assert verdict is not None
    assert verdict.pilot.signal == study.PREDICTED
    assert verdict.rest is not None and verdict.rest.signal == study.NO_SIGNAL
    assert verdict.pilot.after_mean == pytest.approx(11.9)
    assert verdict.rest.before_mean == pytest.approx(25.0)
    assert "points at the change" in verdict.comparison_sentence
    assert "as good or better" in verdict.prediction_sentence  # predicted 13, got 11.9


@pytest.mark.django_db
def test_the_rest_of_a_ratio_subtracts_numerators_and_denominators(full_city: City) -> None:
    cycle = _cycle(full_city, full_city.ratio, predicted_direction="increase", predicted_value=None)
    _, pilot, rest = services.cycle_series(cycle)
    assert pilot is not None and rest is not None
    rows = by_hand({"South", "East"})
    assert list(rest.denominators) == rows["count"]
    assert list(rest.numerators) == rows["closed"]
    assert list(rest.values) == pytest.approx(rows["ratio"])
    assert list(pilot.values) == pytest.approx(by_hand({"North"})["ratio"])
    # North's requests close 4 days sooner from the change: more of them within 5 days.
    verdict = services.verdict_for(cycle)
    assert verdict is not None and verdict.pilot.signal == study.PREDICTED
    assert verdict.rest is not None and verdict.rest.signal != study.PREDICTED


@pytest.mark.django_db
def test_the_rest_of_a_median_is_computed_again_over_the_other_rows(full_city: City) -> None:
    cycle = _cycle(full_city, full_city.median, predicted_value=None)
    _, pilot, rest = services.cycle_series(cycle)
    assert pilot is not None and rest is not None
    medians = by_hand({"South", "East"})["median"]
    assert list(rest.values) == medians
    assert list(pilot.values) == by_hand({"North"})["median"]
    # Not something made of the total's and North's medians.
    total = by_hand({"North", "South", "East"})["median"]
    assert list(rest.values) != [t - n for t, n in zip(total, pilot.values, strict=True)]
    south = by_hand({"South"})["median"]
    assert list(rest.values) != south  # the rest is South and East together
    verdict = services.verdict_for(cycle)
    assert verdict is not None and verdict.rest is not None
    assert verdict.rest.before_mean == pytest.approx(np.mean(medians[:CHANGE_WEEK]))


@pytest.mark.django_db
def test_a_cycle_on_the_whole_measure_is_judged_on_the_total(city: City) -> None:
    cycle = _cycle(city, city.count, value="", breakdown="", predicted_value=None)
    _definition, pilot, rest = services.cycle_series(cycle)
    assert pilot is not None and pilot.label == "Total" and rest is None
    assert list(pilot.values) == by_hand({"North", "South", "East"})["count"]
    verdict = services.verdict_for(cycle)
    assert verdict is not None and verdict.rest is None
    assert verdict.pilot.signal == study.PREDICTED
    assert verdict.pilot.before_mean == pytest.approx(45.0)
    assert verdict.comparison_sentence == ""


# --- the real NYPD shootings, as an analyst would ----------------------------------------------

SHOOTINGS_MONTHLY = {
    "id": "nyc-shootings-monthly",
    "name": "Shooting incidents per month",
    "question": "How many shooting incidents does New York City have each month?",
    "team": "team-safe",
    "owner": "police",
    "steward": "outsider@example.org",
    "dataset": "nypd_shootings",
    "measure": {"aggregate": "count_distinct", "column": "incident_key"},
    "time": {"column": "occur_date", "grain": "month"},
    "breakdowns": ["boro"],
    "unit": "incidents",
    "direction": "lower_is_better",
}
STRATEGY_ON = date(2013, 1, 1)  # a date inside the 2006-2018 decline


def shootings_by_hand(exclude: str = "") -> dict[date, int]:
    """Distinct incidents a month, straight from the file (one row per victim)."""
    incidents: dict[date, set[str]] = defaultdict(set)
    with (REAL / "nypd_shootings_2006_2018.csv").open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            if row["BORO"] == exclude:
                continue
            month, _, year = row["OCCUR_DATE"].split("/")
            incidents[date(int(year), int(month), 1)].add(row["INCIDENT_KEY"])
    return {m: len(keys) for m, keys in sorted(incidents.items())}


@pytest.mark.django_db
def test_real_shootings_fell_after_2013_as_the_chart_shows(personas: Personas, data_dir) -> None:  # type: ignore[no-untyped-def]
    from civicloop.metrics import services as metric_services

    load_real(
        "nypd_shootings",
        "nypd_shootings_2006_2018.csv",
        "nypd_shootings.json",
        personas.other_department,
    )
    metric, _ = metric_services.save_definition(SHOOTINGS_MONTHLY, None, "An analyst's count.")
    assert not metric_services.refresh().failed
    a3 = services.create_a3(personas.outsider, personas.other_team, {"title": "Fewer shootings"})
    countermeasure = services.save_countermeasure(
        personas.outsider, a3, {"title": "Focused deterrence"}
    )
    cycles = {}
    for value in ("", "BROOKLYN"):
        cycle = services.add_cycle(
            personas.outsider,
            countermeasure,
            {
                "change": "Focused deterrence" + (f" in {value}" if value else " citywide"),
                "prediction": "Fewer shootings each month.",
                "predicted_direction": "decrease",
                "metric": metric,
                "breakdown": "boro" if value else "",
                "value": value,
            },
        )
        cycles[value] = services.start_cycle(personas.outsider, cycle, STRATEGY_ON)

    monthly = shootings_by_hand()
    months = sorted(monthly)
    assert len(months) == 156
    before = np.array([monthly[m] for m in months if m < STRATEGY_ON], dtype=float)
    after = np.array([monthly[m] for m in months if m >= STRATEGY_ON], dtype=float)
    assert after.mean() < before.mean() * 0.75  # what an analyst sees in the file

    citywide = services.verdict_for(cycles[""])
    assert citywide is not None
    judged = citywide.pilot
    assert judged.label == "Total"
    assert (judged.before_points, judged.after_points) == (len(before), len(after)) == (84, 72)
    assert judged.before_mean == pytest.approx(before.mean())
    assert judged.after_mean == pytest.approx(after.mean())
    assert judged.signal == study.PREDICTED and "shift" in judged.rules
    assert judged.change_percent == pytest.approx((after.mean() / before.mean() - 1) * 100)
    assert f"({judged.change_percent:+.0f}%)" in judged.sentence
    # Predicting a rise instead: the chart says it went the other way.
    definition, total, _ = services.cycle_series(cycles[""])
    assert total is not None
    against = study.judge(definition, total, STRATEGY_ON, "increase")
    assert against.signal == study.AGAINST

    # Brooklyn as the pilot: the rest (distinct incidents elsewhere, computed again by the
    # engine, since distinct counts do not subtract) fell too, so the decline was citywide.
    brooklyn = services.verdict_for(cycles["BROOKLYN"])
    assert brooklyn is not None and brooklyn.rest is not None
    elsewhere = shootings_by_hand(exclude="BROOKLYN")
    rest_before = np.array([elsewhere[m] for m in months if m < STRATEGY_ON], dtype=float)
    rest_after = np.array([elsewhere[m] for m in months if m >= STRATEGY_ON], dtype=float)
    assert brooklyn.rest.before_mean == pytest.approx(rest_before.mean())
    assert brooklyn.rest.after_mean == pytest.approx(rest_after.mean())
    assert brooklyn.pilot.signal == brooklyn.rest.signal == study.PREDICTED
    assert brooklyn.rest.label == (
        "The rest (Boro BRONX, Boro MANHATTAN, Boro QUEENS, Boro STATEN ISLAND)"
    )
    assert "moved the same way" in brooklyn.comparison_sentence


def test_an_unstable_process_before_the_change_is_warned_of() -> None:
    values = list(NORTH)
    values[3] += 40  # a spike months before the change: the baseline is not stable
    judged = study.judge(DEFINITION, north(values), CHANGE_ON, "decrease")
    assert any("was not stable" in w for w in judged.warnings)
    assert not any(
        "was not stable" in w
        for w in study.judge(DEFINITION, north(), CHANGE_ON, "decrease").warnings
    )
