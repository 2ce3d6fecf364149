"""Fixtures for the OKR tests: a mission set by the department's lead, Team Clean's objective
for 2026 and a key result in 2026-Q1 owned by the editor; helpers for metrics and data."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from civicloop.okrs import services
from civicloop.okrs.models import KeyResult, Mission, Objective
from civicloop.testing import Personas, load_csv

YEAR = 2026
MISSION = {
    "title": "Clean, safe streets",
    "public_value": "Residents and visitors walk streets free of litter and dumped rubbish.",
}
METRIC_ID = "litter-reports-weekly"
METRIC_DEFINITION: dict[str, Any] = {
    "id": METRIC_ID,
    "name": "Litter reports per week",
    "question": "How many litter reports do residents make each week?",
    "team": "team-clean",
    "owner": "public-works",
    "steward": "lead@example.org",
    "dataset": "litter_reports",
    "measure": {"aggregate": "count"},
    "time": {"column": "reported_on", "grain": "week"},
    "unit": "reports",
    "direction": "neutral",
}
FIRST_MONDAY = date(2026, 1, 5)


def at(day: date, hour: int = 12) -> datetime:
    """A moment on that day in the city's time zone."""
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


def measure(**overrides: Any) -> dict[str, Any]:
    """A measurable key result as a form would post it: days to clear a fly-tip, 10 to 5."""
    data: dict[str, Any] = {
        "title": "Clear fly-tips within 5 days",
        "quarter": f"{YEAR}-Q1",
        "kind": "measure",
        "start_value": "10",
        "target_value": "5",
        "unit": "days",
        "weight": "1",
    }
    data.update(overrides)
    return data


def milestone(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "Publish the street-cleaning timetable",
        "quarter": f"{YEAR}-Q1",
        "kind": "milestone",
        "weight": "1",
    }
    data.update(overrides)
    return data


@pytest.fixture
def mission(personas: Personas) -> Mission:
    return services.save_mission(personas.lead, MISSION)


@pytest.fixture
def objective(personas: Personas, mission: Mission) -> Objective:
    return services.create_objective(
        personas.lead,
        personas.team,
        {"title": "Fewer fly-tips on our streets", "mission": mission.slug, "year": YEAR},
    )


@pytest.fixture
def kr(personas: Personas, objective: Objective) -> KeyResult:
    return services.create_key_result(personas.editor, objective, personas.team, measure())


def litter_csv(days: int, per_day: int = 1, first: date = FIRST_MONDAY, start_id: int = 1) -> str:
    """`per_day` reports a day for `days` days from `first`, ids from `start_id`."""
    lines = ["report_id,reported_on,district,bags"]
    report_id = start_id
    for offset in range(days):
        day = first + timedelta(days=offset)
        for n in range(per_day):
            lines.append(f"{report_id},{day.isoformat()},{'North' if n % 2 else 'South'},2")
            report_id += 1
    return "\n".join(lines) + "\n"


@pytest.fixture
def litter_metric(personas: Personas, data_dir, tmp_path):  # type: ignore[no-untyped-def]
    """Four full weeks of litter reports (7 a week) in January 2026, and Team Clean's weekly
    count of them, computed."""
    from civicloop.metrics import services as metric_services

    run = load_csv(
        personas.restricted_dataset, litter_csv(28), tmp_path, name="jan.csv", user=personas.lead
    )
    assert run.status == "succeeded", run.summary
    metric, version = metric_services.save_definition(METRIC_DEFINITION, None, "First definition.")
    assert version is not None
    report = metric_services.refresh()
    assert not report.failed, report.failed
    metric.refresh_from_db()
    return metric
