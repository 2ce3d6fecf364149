"""Fixtures for the improvement tests: Team Clean's service requests, with a shift planted in
one district, the metrics an analyst would define on them, and A3s at each stage.

The data: 50 complete weeks of requests from Monday 6 January 2025, in three districts. Each
district repeats a 7-week pattern whose mean is one of its own values (so a point on the mean
breaks every run): North 20 a week, South 15, East 10. From Monday 4 August 2025 (week 30) a
pilot in North takes 8 requests off every week, and North's requests close faster (days to
close drop by 4); South and East go on as before. Everything else is worked out by hand from
the same rows, so the tests can check the product's numbers against them.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from civicloop.improvement import services
from civicloop.improvement.models import A3, Countermeasure, PdsaCycle
from civicloop.metrics.models import Metric
from civicloop.testing import Personas, load_csv

FIRST_MONDAY = date(2025, 1, 6)
WEEKS = 50
CHANGE_WEEK = 30
CHANGE_ON = FIRST_MONDAY + timedelta(weeks=CHANGE_WEEK)  # Monday 4 August 2025
MONDAYS = tuple(FIRST_MONDAY + timedelta(weeks=w) for w in range(WEEKS))
PATTERNS = {
    "North": (18, 22, 19, 21, 20, 23, 17),
    "South": (14, 16, 13, 17, 15, 12, 18),
    "East": (9, 11, 8, 12, 10, 7, 13),
}
PILOT = "North"
DROP = 8  # requests a week fewer in North from the change
FASTER = 4  # days sooner North's requests close from the change
BASE_DAYS = {"North": 7, "South": 6, "East": 4}

REQUESTS_SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "request_id", "type": "integer", "constraints": {"required": True}},
        {"name": "opened_on", "type": "date", "format": "%Y-%m-%d"},
        {"name": "district", "type": "string"},
        {"name": "days", "type": "integer", "constraints": {"minimum": 0}},
    ],
    "primaryKey": ["request_id"],
    "missingValues": [""],
}


def _definition(metric_id: str, name: str, measure: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": metric_id,
        "name": name,
        "question": f"{name}: did the North pilot change it?",
        "team": "team-clean",
        "owner": "public-works",
        "steward": "lead@example.org",
        "dataset": "service_requests",
        "measure": measure,
        "time": {"column": "opened_on", "grain": "week"},
        "breakdowns": ["district"],
        **extra,
    }


COUNT_DEFINITION = _definition(
    "requests-weekly",
    "Service requests per week",
    {"aggregate": "count"},
    unit="requests",
    direction="lower_is_better",
)
MEDIAN_DEFINITION = _definition(
    "days-to-close-weekly",
    "Median days to close a request",
    {"aggregate": "median", "column": "days"},
    unit="days",
    decimals=1,
    direction="lower_is_better",
)
RATIO_DEFINITION = _definition(
    "closed-in-5-days-weekly",
    "Requests closed within 5 days",
    {
        "ratio": {
            "numerator": {"aggregate": "count", "filter": "days <= 5"},
            "denominator": {"aggregate": "count"},
            "multiplier": 100,
        }
    },
    unit="%",
    decimals=1,
    direction="higher_is_better",
)


def weekly_count(district: str, week: int) -> int:
    count = PATTERNS[district][week % 7]
    if district == PILOT and week >= CHANGE_WEEK:
        count -= DROP
    return count


@dataclass(frozen=True)
class Row:
    request_id: int
    opened_on: date
    district: str
    days: int

    @property
    def week(self) -> int:
        return (self.opened_on - FIRST_MONDAY).days // 7


def request_rows() -> list[Row]:
    """Every request, spread over the days of its week (so every week is complete)."""
    rows: list[Row] = []
    for week, monday in enumerate(MONDAYS):
        for district in PATTERNS:
            for k in range(weekly_count(district, week)):
                days = BASE_DAYS[district] + (k * k * 7 + week * 13 + k * 3) % 9 - 4
                if district == PILOT and week >= CHANGE_WEEK:
                    days -= FASTER
                rows.append(
                    Row(len(rows) + 1, monday + timedelta(days=k % 7), district, max(days, 0))
                )
    return rows


def requests_csv(rows: list[Row] | None = None) -> str:
    lines = ["request_id,opened_on,district,days"]
    lines += [
        f"{r.request_id},{r.opened_on.isoformat()},{r.district},{r.days}"
        for r in (rows or request_rows())
    ]
    return "\n".join(lines) + "\n"


def by_hand(districts: set[str]) -> dict[str, list[float]]:
    """The measures per week over the rows of `districts`, computed without the product:
    counts, medians of days, the number closed within 5 days and its %."""
    weeks: dict[int, list[int]] = {w: [] for w in range(WEEKS)}
    for row in request_rows():
        if row.district in districts:
            weeks[row.week].append(row.days)
    return {
        "count": [float(len(weeks[w])) for w in range(WEEKS)],
        "median": [float(statistics.median(weeks[w])) for w in range(WEEKS)],
        "closed": [float(sum(d <= 5 for d in weeks[w])) for w in range(WEEKS)],
        "ratio": [sum(d <= 5 for d in weeks[w]) / len(weeks[w]) * 100 for w in range(WEEKS)],
    }


def at(day: date, hour: int = 12) -> datetime:
    """A moment on that day in the city's time zone."""
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


@dataclass
class City:
    personas: Personas
    count: Metric
    median: Metric
    ratio: Metric


def load_requests(personas: Personas, folder: Path, *, ratio_and_median: bool = True) -> City:
    from civicloop.datasets import services as data_services
    from civicloop.datasets.engine.schema import schema_from_descriptor
    from civicloop.datasets.models import Sensitivity
    from civicloop.metrics import services as metric_services

    dataset = data_services.create_dataset(
        slug="service_requests",
        name="Service requests",
        owner=personas.department,
        steward=personas.lead,
        actor=personas.lead,
        schema=schema_from_descriptor(REQUESTS_SCHEMA),
        schema_confirmed=True,
        sensitivity=Sensitivity.RESTRICTED,
        update_frequency="weekly",
    )
    data_services.set_agreement(
        dataset,
        [personas.partner],
        "Service reporting for the business improvement district.",
        timezone.localdate() + timedelta(days=365),
        personas.lead,
    )
    definitions = [COUNT_DEFINITION]
    if ratio_and_median:
        definitions += [MEDIAN_DEFINITION, RATIO_DEFINITION]
    metrics = {}
    for definition in definitions:
        metric, version = metric_services.save_definition(definition, None, "First definition.")
        assert version is not None
        metrics[definition["id"]] = metric
    run = load_csv(dataset, requests_csv(), folder, name="requests.csv", user=personas.lead)
    assert run.status == "succeeded", run.summary
    report = metric_services.refresh()
    assert not report.failed, report.failed
    for metric in metrics.values():
        metric.refresh_from_db()
    return City(
        personas,
        metrics["requests-weekly"],
        metrics.get("days-to-close-weekly"),  # type: ignore[arg-type]
        metrics.get("closed-in-5-days-weekly"),  # type: ignore[arg-type]
    )


@pytest.fixture(autouse=True)
def _fresh_rest_cache() -> Iterator[None]:
    """The rest of a pilot is cached per series run; test databases reuse run ids."""
    services._computed_rest.cache_clear()
    yield
    services._computed_rest.cache_clear()


@pytest.fixture
def city(personas: Personas, data_dir: Path, tmp_path: Path) -> City:
    """The requests and their weekly count (the median and ratio metrics are None)."""
    return load_requests(personas, tmp_path, ratio_and_median=False)


@pytest.fixture
def full_city(personas: Personas, data_dir: Path, tmp_path: Path) -> City:
    """The requests with all three metrics: the count, the median days and the % in 5 days."""
    return load_requests(personas, tmp_path)


# --- A3s --------------------------------------------------------------------------------------


def new_a3(personas: Personas, **data: Any) -> A3:
    return services.create_a3(
        personas.editor,
        personas.team,
        {"title": "Requests wait too long in North", **data},
        at=at(FIRST_MONDAY),
    )


def ready_a3(personas: Personas, metric: Metric) -> tuple[A3, Countermeasure]:
    """A draft A3 with every section a move to in progress needs."""
    a3 = new_a3(personas)
    services.update_a3(
        personas.editor,
        a3,
        {
            "background": "Residents in North wait **longer** than anywhere else.",
            "current_condition": "About 20 requests a week.",
            "goal": "Fewer than 14 a week by the end of the year.",
            "goal_metric": metric,
            "goal_target": 14.0,
        },
    )
    services.set_root_causes(
        personas.editor, a3, whys=["Why? Crews reach North last."], causes=[("People", "Few crews")]
    )
    countermeasure = services.save_countermeasure(
        personas.editor, a3, {"title": "A dedicated North crew", "cause": "Crews reach North last"}
    )
    services.save_action(
        personas.editor,
        a3,
        {"what": "Brief the North crew", "owner": personas.editor, "due_on": CHANGE_ON},
    )
    return a3, countermeasure


def plan(metric: Metric, **data: Any) -> dict[str, Any]:
    """A cycle's plan as a form would give it: the North pilot, predicted to go down."""
    return {
        "change": "A dedicated crew in North",
        "question": "Does a dedicated crew cut requests?",
        "who": "The North crew",
        "where": "North",
        "metric": metric,
        "breakdown": "district",
        "value": PILOT,
        "prediction": "Requests in North fall by about a third, to 13 a week.",
        "predicted_direction": "decrease",
        "predicted_value": 13.0,
        "data_to_collect": "Requests per week by district",
        **data,
    }


def studied_cycle(
    personas: Personas, countermeasure: Countermeasure, metric: Metric, **data: Any
) -> PdsaCycle:
    """A cycle planned, started at the change, ended and studied by the editor."""
    user = personas.editor
    cycle = services.add_cycle(user, countermeasure, plan(metric, **data))
    services.start_cycle(user, cycle, CHANGE_ON)
    services.record_do(user, cycle, MONDAYS[-1] + timedelta(days=6), "Ran as planned.")
    return services.study_cycle(user, cycle, "North fell; the rest did not.")
