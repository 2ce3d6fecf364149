"""A steward's journey through the metric pages in a real Chromium, with axe-core (WCAG 2.2 AA)
on every page: the list, the metric, the breakdown selector, the history, the edit form (with an
error, then saved with a reason) and version 2.

Runs against pytest-django's live server, like civicloop/tests/test_browser.py. Skipped on a
workstation without /usr/bin/chromium; on CI (CI set) a missing browser fails the run instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from civicloop.metrics.tests.test_metric_pages import COUNT_ID, COUNT_METRIC, litter_csv
from civicloop.testing import PERSONA_PASSWORD, Personas, load_csv
from civicloop.tests.browser import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

METRIC_ID = COUNT_ID
DEFINITION = COUNT_METRIC  # the pages tests' weekly count, on the same data


def weekly_count_for(person: Any, personas: Personas, folder: Path) -> Any:
    """Team Clean's weekly count computed over eight weeks of data, and `person` able to sign
    in with the personas' password."""
    from civicloop.metrics import services

    person.set_password(PERSONA_PASSWORD)
    person.save()
    run = load_csv(personas.restricted_dataset, litter_csv(), folder, user=personas.lead)
    assert run.status == "succeeded", run.summary
    _, version = services.save_definition(DEFINITION, None, "First definition.")
    assert version is not None
    assert services.refresh().computed == [METRIC_ID]
    return person


@pytest.fixture
def steward(personas: Personas, data_dir: Path, tmp_path: Path) -> Any:
    """The lead, who stewards Team Clean's weekly count, computed over eight weeks of data."""
    return weekly_count_for(personas.lead, personas, tmp_path)


def sign_in(page: Any, email: str) -> None:
    page.get_by_label("Email address", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PERSONA_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_steward_reads_and_changes_a_metric(
    live_server: Any, page: Any, steward: Any, axe: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from civicloop.metrics import services

    base = live_server.url
    main = page.locator("main")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    metric_url = f"{base}/metrics/{METRIC_ID}/"

    # Signed out: sent to sign in, then brought back to the metrics list.
    page.goto(f"{base}/metrics/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/metrics/$"))
    sign_in(page, steward.email)
    expect(page).to_have_url(f"{base}/metrics/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Metrics")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Metrics")).to_have_attribute("aria-current", "page")
    row = main.get_by_role("row", name=re.compile("Litter reports per week"))
    expect(row).to_contain_text("agreed by 0 of 2 partners")
    assert_accessible(page, axe)
    page.screenshot(path=shots / "list.png", full_page=True)

    # The metric: its question, chart, plain-language card and numbers.
    main.get_by_role("link", name="Litter reports per week").click()
    expect(page).to_have_url(metric_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Litter reports per week")
    expect(main).to_contain_text(DEFINITION["question"])
    expect(page.get_by_role("heading", name="Total", exact=True)).to_be_visible()
    numbers = main.get_by_role("table", name=re.compile("one row per week"))
    expect(numbers.locator("tbody tr")).to_have_count(8)
    expect(numbers).to_contain_text("Week of 2026-01-05")
    assert_accessible(page, axe)
    page.screenshot(path=shots / "metric.png", full_page=True)

    # The breakdown selector submits itself on change.
    selector = page.get_by_label("Show", exact=True)
    expect(selector).to_have_value("|")
    selector.select_option(label="North (district)")
    expect(page).to_have_url(re.compile(r"\?series=district%7CNorth$"))
    expect(page.get_by_role("heading", name="North (district)")).to_be_visible()
    expect(page.get_by_label("Show", exact=True)).to_have_value("district|North")
    expect(main.get_by_role("link", name="CSV")).to_have_attribute(
        "href", f"/metrics/{METRIC_ID}.csv?breakdown=district&value=North"
    )
    assert_accessible(page, axe)

    # The history: one version so far.
    main.get_by_role("link", name="history").click()
    expect(page).to_have_url(f"{metric_url}history/")
    expect(page.get_by_role("heading", level=1)).to_have_text("History of the definition")
    expect(page.get_by_role("heading", name="Version 1")).to_be_visible()
    expect(main).to_contain_text("The first definition.")
    assert_accessible(page, axe)

    # The edit form: first a filter with a misspelt column, then a real change.
    main.get_by_role("link", name="Litter reports per week").click()
    main.get_by_role("link", name="Edit the definition").click()
    expect(page).to_have_url(f"{metric_url}edit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit the definition")
    assert_accessible(page, axe)
    page.get_by_label("Which records count").fill("distrct = 'North'")
    page.get_by_label("Reason for the change").fill("Only the North is in the pilot.")
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.get_by_role("alert")).to_contain_text("did you mean 'district'?")
    expect(page.get_by_label("Which records count")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, axe)
    page.screenshot(path=shots / "edit-error.png", full_page=True)

    page.get_by_label("Which records count").fill("district = 'North'")
    page.get_by_label("Name", exact=True).fill("North litter reports per week")
    page.get_by_role("button", name="Save as a new version").click()
    expect(page).to_have_url(metric_url)
    expect(page.get_by_role("status")).to_contain_text("Saved as version 2.")
    expect(page.get_by_role("heading", level=1)).to_have_text("North litter reports per week")
    facts = main.locator("dl.facts").first
    expect(facts).to_contain_text("Version 2")
    expect(facts).to_contain_text("Only the North is in the pilot.")
    expect(main).to_contain_text("Being recomputed")
    assert_accessible(page, axe)

    # The worker would recompute now; do it here and the warning goes.
    assert services.refresh().computed == [METRIC_ID]
    page.reload()
    expect(main).not_to_contain_text("Being recomputed")
    assert_accessible(page, axe)
    page.screenshot(path=shots / "version-2.png", full_page=True)

    # The history shows version 2 and what changed.
    main.get_by_role("link", name="history").click()
    expect(page.get_by_role("heading", name="Version 2 Current")).to_be_visible()
    changes = main.get_by_role("table", name="What changed from version 1")
    expect(changes.get_by_role("row", name=re.compile(r"^name"))).to_contain_text(
        "North litter reports per week"
    )
    expect(changes.get_by_role("row", name=re.compile(r"^filter"))).to_contain_text(
        "district = 'North'"
    )
    assert_accessible(page, axe)
    page.screenshot(path=shots / "history.png", full_page=True)

    # The YAML form, then agreeing for Public Works.
    page.goto(f"{metric_url}edit/yaml/")
    expect(page.get_by_label("Definition (YAML)")).to_contain_text(f"id: {METRIC_ID}")
    assert_accessible(page, axe)
    page.goto(metric_url)
    page.get_by_role("button", name="Agree to version 2 for Public Works").click()
    expect(page.get_by_role("status")).to_contain_text("agreed by 1 of 2 partners")
    assert_accessible(page, axe)

    print(f"metric page screenshots: {shots}")
