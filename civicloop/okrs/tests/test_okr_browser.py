"""A service lead runs an OKR quarter in a real Chromium, with axe-core (WCAG 2.2 AA) on every
page: a mission, an objective, a key result that tracks a metric (its value and status come
from the data), one checked in by hand (with a mistake first), the tree, what changed, the
one-page report, and the quarter close that makes the record read-only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from civicloop.metrics.tests.test_metric_browser import sign_in, weekly_count_for
from civicloop.testing import Personas
from civicloop.tests.browser import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lead(personas: Personas, data_dir: Path, tmp_path: Path) -> Any:
    """Team Clean's lead (a Public Works administrator, so a city leader who may add missions),
    with the team's weekly count of litter reports computed over eight weeks of data."""
    return weekly_count_for(personas.lead, personas, tmp_path)


def test_a_lead_runs_a_quarter_from_mission_to_close(
    live_server: Any, page: Any, lead: Any, axe: str, tmp_path: Path
) -> None:
    from django.utils import timezone
    from playwright.sync_api import expect

    from civicloop.metrics.models import Metric
    from civicloop.okrs.models import KeyResult, QuarterClose
    from civicloop.okrs.quarters import Quarter

    base = live_server.url
    main = page.locator("main")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    # Work in a quarter whose next one is in the same OKR year, so a key result can carry over.
    current = Quarter.containing(timezone.localdate())
    quarter = current if current.number < 4 else current.previous()
    latest = Metric.objects.get(slug="litter-reports-weekly").runs.first().series.get(breakdown="")
    last_value = latest.values[-1]

    page.goto(f"{base}/okrs/")
    sign_in(page, lead.email)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Objectives and key results: {current.label}"
    )
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="OKRs")).to_have_attribute("aria-current", "page")
    assert_accessible(page, axe)

    # A mission, refused first without its public value.
    main.get_by_role("link", name="Add a mission").click()
    page.get_by_label("Title").fill("Clean, safe streets")
    page.get_by_role("button", name="Save the mission").click()
    expect(page.get_by_role("alert")).to_contain_text("Say the good this mission produces")
    assert_accessible(page, axe)
    page.get_by_label("Public value").fill("Residents and visitors walk streets free of litter.")
    page.get_by_role("button", name="Save the mission").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clean, safe streets")

    # The team writes its objective for the year under the mission.
    page.goto(f"{base}/teams/team-clean/okrs/")
    assert_accessible(page, axe)
    main.get_by_role("link", name="Add an objective").click()
    page.get_by_label("Mission").select_option(label="Clean, safe streets")
    page.get_by_label("Title").fill("Litter is cleared before residents have to report it")
    assert_accessible(page, axe)
    page.get_by_role("button", name="Save the objective").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Litter is cleared before residents have to report it"
    )

    # A key result that tracks the weekly count: its start and value come from the data.
    main.get_by_role("link", name="Add a key result").click()
    page.get_by_label("Title").fill("Fewer litter reports each week")
    page.get_by_label("Quarter").select_option(quarter.code)
    page.get_by_label("Track a metric").select_option("litter-reports-weekly")
    page.get_by_label("Target", exact=True).fill("20")
    assert_accessible(page, axe)
    page.get_by_role("button", name="Save the key result").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Fewer litter reports each week")
    facts = main.locator("dl.facts")
    expect(facts).to_contain_text(f"{last_value:,.0f} reports")
    expect(facts).to_contain_text("from the data")
    expect(main.get_by_role("img", name=re.compile("Trend from the Litter reports"))).to_have_count(
        0
    )  # the data ends before this quarter: no points in it to draw
    page.get_by_label("At risk").check()
    page.get_by_label("Note").fill("Reports steady; the new crews start next month.")
    page.get_by_role("button", name="Check in").click()
    expect(page.get_by_role("status")).to_contain_text("Checked in")
    assert_accessible(page, axe)
    page.screenshot(path=shots / "linked.png", full_page=True)
    linked = KeyResult.objects.get(title="Fewer litter reports each week")
    assert linked.current_value == last_value and linked.metric is not None

    # A key result checked in by hand; a check-in without its value is refused.
    page.get_by_role("link", name="Litter is cleared before residents have to report it").click()
    main.get_by_role("link", name="Add a key result").click()
    page.get_by_label("Title").fill("Days to clear a reported dump")
    page.get_by_label("Quarter").select_option(quarter.code)
    page.get_by_label("Start value").fill("10")
    page.get_by_label("Target", exact=True).fill("10")
    page.get_by_role("button", name="Save the key result").click()
    expect(page.get_by_role("alert")).to_contain_text("The target equals the start value (10)")
    page.get_by_label("Target", exact=True).fill("5")
    page.get_by_label("Unit").fill("days")
    page.get_by_role("button", name="Save the key result").click()
    page.get_by_label("On track").check()
    page.get_by_role("button", name="Check in").click()
    expect(page.get_by_role("alert")).to_contain_text("Give the current value (in days)")
    assert_accessible(page, axe)
    page.get_by_label("Current value (days)").fill("8")
    page.get_by_label("On track").check()
    page.get_by_role("button", name="Check in").click()
    expect(main.locator("dl.facts")).to_contain_text("40 %")
    expect(main.get_by_role("img", name=re.compile("Trend from check-ins"))).to_be_visible()

    # The team's quarter, the organization's tree, what changed and the one-page report.
    page.goto(f"{base}/teams/team-clean/okrs/?quarter={quarter.code}")
    expect(
        main.get_by_role("row", name=re.compile("Days to clear a reported dump"))
    ).to_contain_text("40 %")
    assert_accessible(page, axe)
    page.screenshot(path=shots / "team.png", full_page=True)
    page.goto(f"{base}/okrs/")
    expect(main.get_by_role("heading", name="Clean, safe streets")).to_be_visible()
    assert_accessible(page, axe)
    page.goto(f"{base}/okrs/changes/")
    expect(main).to_contain_text("Value: — → 8 days")
    assert_accessible(page, axe)
    page.goto(f"{base}/okrs/report/?team=team-clean&quarter={quarter.code}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Team Clean")
    assert_accessible(page, axe)
    page.screenshot(path=shots / "report.png", full_page=True)

    # Close the quarter: score, decide, reflect; then the record is read-only.
    page.goto(f"{base}/teams/team-clean/okrs/?quarter={quarter.code}")
    main.get_by_role("link", name=f"Close {quarter.label}").click()
    page.get_by_role("button", name="Close the quarter").click()
    expect(page.get_by_role("alert")).to_contain_text("Write the team's reflection")
    assert_accessible(page, axe)
    group = page.get_by_role("group", name=re.compile("What happens to “Fewer litter"))
    group.get_by_label("Drop").check()
    group = page.get_by_role("group", name=re.compile("What happens to “Days to clear"))
    group.get_by_label("Carry over to next quarter").check()
    page.get_by_label("Reflection").fill("Manual counts worked; the weekly count needs new crews.")
    page.get_by_role("button", name="Close the quarter").click()
    expect(page.get_by_role("status")).to_contain_text("closed")
    expect(main).to_contain_text("This quarter's record is read-only.")
    assert QuarterClose.objects.filter(team__slug="team-clean").count() == 1
    page.goto(f"{base}/okrs/key-results/{linked.pk}/")
    expect(main).to_contain_text("is closed")
    expect(page.get_by_role("button", name="Check in")).to_have_count(0)
    assert_accessible(page, axe)

    # The carried key result starts the next quarter from where it ended, and can be checked in.
    page.goto(f"{base}/teams/team-clean/okrs/?quarter={quarter.next().code}")
    row = main.get_by_role("row", name=re.compile("Days to clear a reported dump"))
    expect(row).to_contain_text(re.compile(r"\b8\s+—\s+5\b"))  # starts at 8, no value yet, target 5
    row.get_by_role("link", name="Days to clear a reported dump").click()
    expect(page.get_by_role("button", name="Check in")).to_be_visible()
    expect(main).to_contain_text(f"Carried over from {quarter.label}")
