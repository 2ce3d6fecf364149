"""Fixtures for the meetings tests: Team Clean with metrics that need attention for each reason.

The data: 24 complete weeks of street reports from Monday 6 January 2025, in two districts.
Each district repeats a 7-week pattern whose mean is one of its own values (so a point on the
mean breaks every run): North 10 a week, South 15. Every report collected 2 bags. In the last
week (week 23, Monday 16 June 2025) 30 more reports came in from North, none of which needed
collecting (0 bags). A second dataset, the bin audits (10 a week), was last loaded a month ago
though it is loaded weekly.

Team Clean's metrics on them, one per reason a metric needs attention:
- `concern`: reports per week (lower is better, by district): the spike is a special cause of
  concern in the total and in North, not in South;
- `failing`: bags collected per week (higher is better) against a target of 500 it can never
  reach (it runs at about 50): consistently failing;
- `stale`: bin audits per week, on the stale dataset;
- `south`: South's reports per week, quiet: nothing to say;
- `heavy`: reports that needed two bags or more, quiet (the spike's reports needed none); the
  tests ask for its commentary and let it fall overdue.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from civicloop.meetings import attention, services
from civicloop.meetings.models import Meeting
from civicloop.metrics.models import Metric
from civicloop.testing import Personas, load_csv

FIRST_MONDAY = date(2025, 1, 6)
WEEKS = 24
LAST_MONDAY = FIRST_MONDAY + timedelta(weeks=WEEKS - 1)  # Monday 16 June 2025
PATTERNS = {
    "North": (9, 11, 8, 12, 10, 7, 13),
    "South": (14, 16, 13, 17, 15, 12, 18),
}
SPIKE = 30  # extra North reports in the last week, 0 bags each
BAGS = 2
AUDITS = (9, 11, 8, 12, 10, 7, 13)
STALE_DAYS = 30

REPORTS_SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "report_id", "type": "integer", "constraints": {"required": True}},
        {"name": "reported_on", "type": "date", "format": "%Y-%m-%d"},
        {"name": "district", "type": "string"},
        {"name": "bags", "type": "integer", "constraints": {"minimum": 0}},
    ],
    "primaryKey": ["report_id"],
    "missingValues": [""],
}
AUDITS_SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "audit_id", "type": "integer", "constraints": {"required": True}},
        {"name": "audited_on", "type": "date", "format": "%Y-%m-%d"},
    ],
    "primaryKey": ["audit_id"],
}


def definition(
    metric_id: str, name: str, dataset: str, measure: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """A weekly metric of Team Clean's, stewarded by the lead."""
    return {
        "id": metric_id,
        "name": name,
        "question": f"{name}: are the streets getting cleaner?",
        "team": "team-clean",
        "owner": "public-works",
        "steward": "lead@example.org",
        "dataset": dataset,
        "measure": measure,
        "time": {
            "column": "audited_on" if dataset == "bin_audits" else "reported_on",
            "grain": "week",
        },
        **extra,
    }


CONCERN = definition(
    "street-reports-weekly",
    "Street reports per week",
    "street_reports",
    {"aggregate": "count"},
    unit="reports",
    direction="lower_is_better",
    breakdowns=["district"],
    description="Every report of litter or dumping made by a resident, counted by the week.",
)
FAILING = definition(
    "bags-collected-weekly",
    "Bags collected per week",
    "street_reports",
    {"aggregate": "sum", "column": "bags"},
    unit="bags",
    direction="higher_is_better",
    target={"value": 500},
)
STALE = definition(
    "bin-audits-weekly",
    "Bin audits per week",
    "bin_audits",
    {"aggregate": "count"},
    unit="audits",
    direction="neutral",
)
SOUTH = definition(
    "south-reports-weekly",
    "South reports per week",
    "street_reports",
    {"aggregate": "count"},
    filter="district = 'South'",
    unit="reports",
    direction="lower_is_better",
)
HEAVY = definition(
    "heavy-reports-weekly",
    "Heavy reports per week",
    "street_reports",
    {"aggregate": "count"},
    filter="bags >= 2",
    unit="reports",
    direction="lower_is_better",
)


def weekly_count(district: str, week: int) -> int:
    return PATTERNS[district][week % 7]


def reports_csv(*, spike: int = SPIKE, weeks: int = WEEKS) -> str:
    lines = ["report_id,reported_on,district,bags"]
    for week in range(weeks):
        monday = FIRST_MONDAY + timedelta(weeks=week)
        for district in PATTERNS:
            for k in range(weekly_count(district, week)):
                lines.append(f"{len(lines)},{monday + timedelta(days=k % 7)},{district},{BAGS}")
        if week == weeks - 1:
            for k in range(spike):
                lines.append(f"{len(lines)},{monday + timedelta(days=k % 7)},North,0")
    return "\n".join(lines) + "\n"


def audits_csv() -> str:
    lines = ["audit_id,audited_on"]
    for week in range(WEEKS):
        monday = FIRST_MONDAY + timedelta(weeks=week)
        for k in range(AUDITS[week % 7]):
            lines.append(f"{len(lines)},{monday + timedelta(days=k % 7)}")
    return "\n".join(lines) + "\n"


def at(day: date, hour: int = 12) -> datetime:
    """A moment on that day in the city's time zone."""
    return timezone.make_aware(datetime.combine(day, time(hour)))


@dataclass
class City:
    personas: Personas
    folder: Path
    concern: Metric
    failing: Metric
    stale: Metric
    south: Metric
    heavy: Metric

    @property
    def metrics(self) -> list[Metric]:
        return [self.concern, self.failing, self.stale, self.south, self.heavy]


def make_dataset(personas: Personas, slug: str, name: str, schema: dict[str, Any]):  # type: ignore[no-untyped-def]
    from civicloop.datasets import services as data_services
    from civicloop.datasets.engine.schema import schema_from_descriptor
    from civicloop.datasets.models import Sensitivity

    dataset = data_services.create_dataset(
        slug=slug,
        name=name,
        owner=personas.department,
        steward=personas.lead,
        actor=personas.lead,
        schema=schema_from_descriptor(schema),
        schema_confirmed=True,
        sensitivity=Sensitivity.RESTRICTED,
        update_frequency="weekly",
    )
    data_services.set_agreement(
        dataset,
        [personas.partner],
        "Street cleanliness reporting with the business association.",
        timezone.localdate() + timedelta(days=365),
        personas.lead,
    )
    return dataset


def refresh_all() -> None:
    from civicloop.metrics import services as metric_services

    report = metric_services.refresh()
    assert not report.failed, report.failed


def load_city(personas: Personas, folder: Path) -> City:
    from civicloop.datasets.models import DatasetVersion
    from civicloop.metrics import services as metric_services

    reports = make_dataset(personas, "street_reports", "Street reports", REPORTS_SCHEMA)
    audits = make_dataset(personas, "bin_audits", "Bin audits", AUDITS_SCHEMA)
    metrics = {}
    for data in (CONCERN, FAILING, STALE, SOUTH, HEAVY):
        metric, version = metric_services.save_definition(data, None, "First definition.")
        assert version is not None
        metrics[data["id"]] = metric
    for dataset, body in ((reports, reports_csv()), (audits, audits_csv())):
        run = load_csv(dataset, body, folder, name=f"{dataset.slug}.csv", user=personas.lead)
        assert run.status == "succeeded", run.summary
    refresh_all()
    # The audits were last loaded a month ago, though they are loaded every week.
    DatasetVersion.objects.filter(dataset=audits).update(
        created_at=timezone.now() - timedelta(days=STALE_DAYS)
    )
    for metric in metrics.values():
        metric.refresh_from_db()
    return City(
        personas,
        folder,
        metrics[CONCERN["id"]],
        metrics[FAILING["id"]],
        metrics[STALE["id"]],
        metrics[SOUTH["id"]],
        metrics[HEAVY["id"]],
    )


# The crews' notes: minor ones (10 a week, 30 more in the last week) and major incidents, few
# enough that some weeks have fewer than 5. Shared with the partner when its metrics were
# defined, internal to the department since: the partner's guest on the team no longer sees the
# data. One metric on it is public, with small counts suppressed; the other is not.
MINOR = (9, 11, 8, 12, 10, 7, 13)
MAJOR = (6, 7, 3, 8, 6, 2, 9)  # the last week (23 % 7 == 2) has 3
CREW_SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "note_id", "type": "integer", "constraints": {"required": True}},
        {"name": "reported_on", "type": "date", "format": "%Y-%m-%d"},
        {"name": "kind", "type": "string"},
    ],
    "primaryKey": ["note_id"],
}
PUBLIC_MAJOR = definition(
    "major-incidents-weekly",
    "Major crew incidents per week",
    "crew_notes",
    {"aggregate": "count"},
    filter="kind = 'major'",
    unit="incidents",
    direction="lower_is_better",
    public=True,
    suppress_below=5,
)
PRIVATE_NOTES = definition(
    "crew-notes-weekly",
    "Crew notes per week",
    "crew_notes",
    {"aggregate": "count"},
    unit="notes",
    direction="lower_is_better",
)


def crew_csv() -> str:
    lines = ["note_id,reported_on,kind"]
    for week in range(WEEKS):
        monday = FIRST_MONDAY + timedelta(weeks=week)
        minor = MINOR[week % 7] + (SPIKE if week == WEEKS - 1 else 0)
        for kind, count in (("minor", minor), ("major", MAJOR[week % 7])):
            for k in range(count):
                lines.append(f"{len(lines)},{monday + timedelta(days=k % 7)},{kind}")
    return "\n".join(lines) + "\n"


def add_crew_metrics(city: City) -> tuple[Metric, Metric]:
    """The public metric with small counts suppressed, and the private one with a special
    cause of concern, on data the partner's guest may no longer see."""
    from civicloop.datasets import services as data_services
    from civicloop.metrics import services as metric_services

    personas = city.personas
    crew = make_dataset(personas, "crew_notes", "Crew notes", CREW_SCHEMA)
    public, _ = metric_services.save_definition(PUBLIC_MAJOR, None, "First definition.")
    private, _ = metric_services.save_definition(PRIVATE_NOTES, None, "First definition.")
    run = load_csv(crew, crew_csv(), city.folder, name="crew.csv", user=personas.lead)
    assert run.status == "succeeded", run.summary
    refresh_all()
    data_services.set_agreement(crew, [], "Internal only from now on.", None, personas.lead)
    public.refresh_from_db()
    private.refresh_from_db()
    return public, private


@pytest.fixture(autouse=True)
def _fresh_attention_cache() -> Iterator[None]:
    """SPC readings are kept per series id; the test database reuses ids between tests."""
    attention._CACHE.clear()
    yield
    attention._CACHE.clear()


@pytest.fixture
def city(personas: Personas, data_dir: Path, tmp_path: Path) -> City:
    return load_city(personas, tmp_path)


# --- helpers ---------------------------------------------------------------------------------


def today() -> date:
    return timezone.localdate()


def meeting(personas: Personas, on: date | None = None, **extra: Any) -> Meeting:
    """A meeting of Team Clean scheduled by the lead (default: a week from today)."""
    return services.schedule(
        personas.team, personas.lead, on=on or today() + timedelta(days=7), **extra
    )


def hold(m: Meeting, personas: Personas, *people: Any) -> Meeting:
    services.end(m, personas.lead, list(people) or [personas.lead, personas.editor])
    m.refresh_from_db()
    return m


def off_track_key_result(personas: Personas, on: date, title: str = "Streets swept by noon"):  # type: ignore[no-untyped-def]
    """A key result of Team Clean's for the quarter of `on`, judged off track at a check-in."""
    from civicloop.okrs import services as okr_services
    from civicloop.okrs.models import Confidence, KeyResult, Mission, Objective
    from civicloop.okrs.quarters import Quarter

    quarter = Quarter.containing(on)
    mission, _ = Mission.objects.get_or_create(
        slug="clean-streets",
        defaults={"title": "Clean streets", "public_value": "Streets free of litter."},
    )
    objective = Objective.objects.create(
        team=personas.team,
        mission=mission,
        year=quarter.year,
        title="Fewer littered streets",
        owner=personas.lead,
    )
    key_result = KeyResult.objects.create(
        objective=objective,
        team=personas.team,
        year=quarter.year,
        quarter=quarter.number,
        title=title,
        owner=personas.editor,
        start_value=20,
        target_value=80,
        unit="streets",
    )
    okr_services.check_in(
        personas.editor,
        key_result,
        confidence=Confidence.OFF_TRACK,
        value="25",
        at=max(timezone.now(), at(quarter.start, 9)),
    )
    return key_result


def a3_due_for_review(personas: Personas, on: date, title: str = "Litter waits a week"):  # type: ignore[no-untyped-def]
    """An A3 of Team Clean's whose next review falls on `on`, with a plan step overdue."""
    from civicloop.improvement import services as a3_services
    from civicloop.improvement.models import A3

    a3 = a3_services.create_a3(
        personas.editor,
        personas.team,
        {"title": title, "problem": "Reports wait a week for a crew"},
    )
    a3_services.update_a3(personas.editor, a3, {"goal": "Every report cleared in **two** days."})
    a3_services.save_action(
        personas.editor,
        a3,
        {
            "what": "Brief the crews",
            "owner": personas.editor,
            "due_on": today() - timedelta(days=3),
        },
    )
    A3.objects.filter(pk=a3.pk).update(review_on=on)
    a3.refresh_from_db()
    return a3


COMMENTARY = "The spike is the **market week**: crews were at the depot move."


def ready_meeting(city: City) -> Meeting:
    """Next week's meeting with its agenda drafted (the three metrics that need attention, a
    key result off track, last fortnight's open action, an A3 due for review), commentary
    asked for (one email, to the lead) and written on the metric with the special cause."""
    personas = city.personas
    earlier = services.schedule(personas.team, personas.lead, on=today() - timedelta(days=14))
    services.add_action(
        personas.team,
        personas.lead,
        text="Ask the hauler for routes",
        owner=personas.editor,
        due_on=today() - timedelta(days=4),
        meeting=earlier,
        metric=city.concern,
    )
    hold(earlier, personas)
    m = meeting(personas, location="Depot room 2", chair=personas.lead)
    off_track_key_result(personas, m.on)
    a3_due_for_review(personas, m.on)
    services.draft_agenda(m, personas.lead)
    services.request_commentary(m, personas.lead)
    services.write_commentary(m, city.concern, personas.lead, COMMENTARY)
    return m


def url(name: str, **kwargs: Any) -> str:
    return reverse(f"meetings:{name}", kwargs=kwargs)


def text(response: Any) -> str:
    """The page as a person reads it: tags dropped, whitespace collapsed, entities decoded."""
    body = response.content.decode() if hasattr(response, "content") else str(response)
    body = re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", body, flags=re.S)
    words = re.sub(r"\s+", " ", html.unescape(body)).strip()
    return re.sub(r"\( ", "(", re.sub(r" ([,.;:)])", r"\1", words))


def field_errors(response: Any, name: str, prefix: str = "id") -> str:
    """The errors shown under one field of a form on the page ("" when none)."""
    found = re.search(
        rf'<ul class="errorlist" id="{prefix}_{name}_error">(.*?)</ul>',
        response.content.decode(),
        re.S,
    )
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).strip() if found else ""


def messages_of(response: Any) -> str:
    """The flash messages a redirect left, read on the page it leads to."""
    found = re.findall(r'<p class="message[^"]*">(.*?)</p>', response.content.decode(), re.S)
    return " ".join(html.unescape(m) for m in found)
