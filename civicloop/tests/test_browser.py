"""A team lead's journey in a real Chromium, with axe-core (WCAG 2.2 AA) on every page.

Runs against pytest-django's live server. Skipped on a workstation without /usr/bin/chromium;
on CI (CI set) a missing browser fails the run instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from civicloop.testing import PERSONA_PASSWORD, Personas
from civicloop.tests.browser import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lead(personas: Personas) -> Any:
    personas.lead.set_password(PERSONA_PASSWORD)
    personas.lead.save()
    return personas.lead


def sign_in(page: Any, email: str) -> None:
    page.get_by_label("Email address", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PERSONA_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_team_lead_journey(
    live_server: Any, page: Any, lead: Any, axe: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    base = live_server.url
    main = page.locator("main")

    # Without the stylesheet every page fails axe (e.g. target-size), so say so plainly first.
    css = page.request.get(f"{base}/static/civicloop/site.css")
    assert css.ok, f"site.css is not served (HTTP {css.status}): check STATICFILES_DIRS"

    # Anonymous: sent to sign in, and brought back afterwards.
    page.goto(f"{base}/teams/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/teams/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to civicloop")
    assert_accessible(page, axe)

    sign_in(page, lead.email)
    expect(page).to_have_url(f"{base}/teams/")
    expect(page.get_by_role("heading", level=1)).to_have_text("My teams")
    expect(main.get_by_role("link", name="Team Clean")).to_be_visible()
    expect(main.get_by_role("link", name="Team Safe")).to_have_count(0)
    assert_accessible(page, axe)

    # The team page: members grouped by organization.
    main.get_by_role("link", name="Team Clean").click()
    expect(page).to_have_url(f"{base}/teams/team-clean/")
    members = main.get_by_role("table").filter(has=page.get_by_role("rowheader", name="Lena Lead"))
    groups = {
        org: members.locator("tbody").filter(
            has=page.get_by_role("rowheader", name=org, exact=True)
        )
        for org in ("Public Works", "Downtown Business Association")
    }
    for org, names in {
        "Public Works": ("Lena Lead", "Eddie Editor", "Vera Viewer"),
        "Downtown Business Association": ("Gus Guest",),
    }.items():
        expect(groups[org]).to_have_count(1)
        expect(groups[org].get_by_role("link", name=org)).to_be_visible()
        for name in names:
            expect(groups[org].get_by_role("rowheader", name=name)).to_be_visible()
    expect(groups["Public Works"]).not_to_contain_text("Gus Guest")
    expect(main).not_to_contain_text("Olu Outsider")
    assert_accessible(page, axe)
    page.screenshot(path=tmp_path / "team-page.png", full_page=True)

    # Keyboard: the first Tab lands on the skip link, which moves focus to the main content.
    page.reload()
    page.keyboard.press("Tab")
    focused = page.locator(":focus")
    expect(focused).to_have_text("Skip to main content")
    expect(focused).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_id("main")

    # Printed packs: no navigation, no forms.
    page.emulate_media(media="print")
    hidden = page.evaluate(
        """() => [...document.querySelectorAll("nav, form, .skip-link")]
            .map(el => [el.tagName.toLowerCase(), getComputedStyle(el).display])"""
    )
    assert any(tag == "nav" for tag, _ in hidden), hidden
    assert any(tag == "form" for tag, _ in hidden), hidden
    assert all(display == "none" for _, display in hidden), f"visible when printed: {hidden}"
    page.emulate_media(media="screen")

    # The edit form.
    page.get_by_role("link", name="Edit purpose and customer voice").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit Team Clean")
    assert_accessible(page, axe)
    main.get_by_role("link", name="Cancel").click()

    # Adding a member: the empty form, then the form with an error.
    page.get_by_role("link", name="Add a member").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a member to Team Clean")
    assert_accessible(page, axe)
    page.get_by_label("Email address of the person to add").fill("nobody@example.org")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("alert")).to_contain_text("Nobody with this email address")
    expect(page.get_by_label("Email address of the person to add")).to_have_attribute(
        "aria-invalid", "true"
    )
    assert_accessible(page, axe)

    # Organizations, then one organization.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Organizations").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Organizations")
    assert_accessible(page, axe)
    main.get_by_role("link", name="Public Works").click()
    expect(page).to_have_url(f"{base}/organizations/public-works/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Public Works")
    expect(main.get_by_role("link", name="Team Clean")).to_be_visible()
    assert_accessible(page, axe)

    # Sign out: back on the sign-in page, and signed out for real.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.goto(f"{base}/teams/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/teams/$"))

    # The forgotten-password page.
    page.get_by_role("link", name="Forgotten your password?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reset your password")
    assert_accessible(page, axe)

    print(f"team page screenshot: {tmp_path / 'team-page.png'}")


def test_lead_uploads_data_and_watches_the_load(
    live_server: Any, page: Any, lead: Any, axe: str, data_dir: Path, tmp_path: Path
) -> None:
    """Upload a CSV through the real form, watch the run page follow the worker to "Loaded"
    without a reload, then read the dataset page; axe on every data page on the way."""
    from playwright.sync_api import expect

    from civicloop.core.worker import start_worker
    from civicloop.testing import LITTER_CSV

    base = live_server.url
    main = page.locator("main")
    shots = tmp_path / "screenshots"
    shots.mkdir()

    page.goto(f"{base}/data/")
    sign_in(page, lead.email)
    expect(page).to_have_url(f"{base}/data/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Data")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Data")).to_have_attribute("aria-current", "page")
    expect(main.get_by_role("link", name="Calls for service")).to_be_visible()
    expect(main.get_by_role("row", name=re.compile("Litter reports"))).to_contain_text("Stale")
    assert_accessible(page, axe)

    # A new dataset: the first file's columns are inferred, for the lead to check.
    main.get_by_role("link", name="New dataset").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New dataset")
    assert_accessible(page, axe)
    first = tmp_path / "missed-bins.csv"
    first.write_text("Ticket,Opened,Ward\nA-1,01/31/2026,3\nA-2,02/01/2026,\n", encoding="utf-8")
    page.get_by_label("First file").set_input_files(first)
    page.get_by_label("Name", exact=True).fill("Missed bins")
    page.get_by_label("Short name").fill("missed_bins")
    page.get_by_role("button", name="Upload and work out the columns").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check the columns of Missed bins")
    expect(page.get_by_label("Format of Opened")).to_have_value("%m/%d/%Y")
    assert_accessible(page, axe)
    page.screenshot(path=shots / "new-dataset-confirm.png", full_page=True)
    page.get_by_label("Format of Opened").fill("DD/MM/YYYY")
    page.get_by_role("button", name="Create the dataset and load the file").first.click()
    expect(page.get_by_role("alert")).to_contain_text("Format of Opened")
    assert_accessible(page, axe)
    page.get_by_role("button", name="Cancel and delete the upload").click()
    expect(page).to_have_url(f"{base}/data/")

    main.get_by_role("link", name="Litter reports").click()
    expect(page).to_have_url(f"{base}/data/litter_reports/")
    expect(main).to_contain_text("No data has been loaded yet.")
    assert_accessible(page, axe)

    # The upload form, then the form with an error.
    main.get_by_role("link", name="Upload a new version").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Upload a new version of Litter reports"
    )
    assert_accessible(page, axe)
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose a file to upload.")
    expect(page.get_by_label("File to load")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, axe)
    page.screenshot(path=shots / "upload-error.png", full_page=True)

    source = tmp_path / "litter-january.csv"
    source.write_text(LITTER_CSV, encoding="utf-8")
    page.get_by_label("File to load").set_input_files(source)
    page.get_by_role("button", name="Upload and check").click()
    expect(page).to_have_url(re.compile(r"/data/litter_reports/runs/\d+/$"))
    status = page.locator("#run-status")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_contain_text("Waiting to start")
    expect(page.get_by_label("Progress")).to_be_visible()
    expect(main.get_by_role("link", name="Refresh")).to_be_visible()
    assert_accessible(page, axe)
    page.screenshot(path=shots / "run-waiting.png", full_page=True)

    # The worker picks the load up; the page follows it by polling, without reloading.
    page.evaluate("() => { window.stillTheSamePage = true; }")
    worker = start_worker()
    try:
        expect(status).to_contain_text("Loaded", timeout=20_000)
        expect(main).to_contain_text("Version 1 of Litter reports is now current.")
    finally:
        worker.stop()
        worker.join(timeout=10)
    assert page.evaluate("() => window.stillTheSamePage === true"), "the page was reloaded"
    expect(page.locator("#run-progress")).to_have_count(0)
    assert_accessible(page, axe)
    page.screenshot(path=shots / "run-loaded.png", full_page=True)

    main.get_by_role("link", name="Litter reports").first.click()
    expect(page).to_have_url(f"{base}/data/litter_reports/")
    expect(main).to_contain_text("Version 1: 3 rows")
    versions = main.get_by_role("table").filter(
        has=page.get_by_role("columnheader", name="Source file")
    )
    expect(versions).to_contain_text("litter-january.csv")
    expect(versions.get_by_role("link", name="CSV of version 1")).to_be_visible()
    assert_accessible(page, axe)
    page.screenshot(path=shots / "dataset.png", full_page=True)

    # A refused load: the problems by row and column, in a table, the worker run directly.
    page.goto(f"{base}/data/litter_reports/upload/")
    bad = tmp_path / "litter-february.csv"
    bad.write_text(LITTER_CSV + "4,31/02/2026,East,2\n", encoding="utf-8")
    page.get_by_label("File to load").set_input_files(bad)
    page.get_by_role("button", name="Upload and check").click()
    expect(page).to_have_url(re.compile(r"/runs/\d+/$"))
    from civicloop.core.worker import run_pending

    assert run_pending() == 1
    expect(status).to_contain_text("Refused", timeout=10_000)
    problems = main.get_by_role("table").filter(
        has=page.get_by_role("columnheader", name="Problem")
    )
    expect(problems.get_by_role("row", name=re.compile("reported_on"))).to_contain_text(
        "31/02/2026"
    )
    expect(main).to_contain_text("row 5, column reported_on: '31/02/2026' is not a date")
    expect(main.get_by_role("link", name="Download all 2 problems as CSV")).to_be_visible()
    assert_accessible(page, axe)
    page.screenshot(path=shots / "run-refused.png", full_page=True)

    # The agreement and schema forms.
    page.goto(f"{base}/data/litter_reports/agreement/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Data-sharing agreement")
    expect(page.get_by_role("group", name="Organizations that may use this data")).to_be_visible()
    assert_accessible(page, axe)
    page.get_by_label("Purpose").fill("")
    page.get_by_role("button", name="Save agreement").click()
    expect(page.get_by_role("alert")).to_contain_text("Purpose: This field is required.")
    assert_accessible(page, axe)
    page.goto(f"{base}/data/litter_reports/schema/")
    expect(page.get_by_label("Type of reported_on")).to_have_value("date")
    assert_accessible(page, axe)

    print(f"data page screenshots: {shots}")
