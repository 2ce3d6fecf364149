"""A team member reads a metric's SPC chart in a real Chromium and marks an event on it: the
chart is redrawn in the browser from its Vega-Lite spec, the icons have accessible names, the
event is listed and drawn, and axe-core (WCAG 2.2 AA) finds nothing on the page.

Uses the same fixtures as test_metric_browser.py (live server, Chromium, axe-core); skipped on a
workstation without /usr/bin/chromium, failed on CI.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from civicloop.metrics.tests.test_metric_browser import sign_in, weekly_count_for
from civicloop.metrics.tests.test_metric_pages import COUNT_ID
from civicloop.testing import Personas
from civicloop.tests.browser import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOT = Path("/tmp/spc_browser.png")  # noqa: S108  (a fixed place to look at it)
EVENT = "Pilot started in the North"  # short enough for the chart's label (40 characters)


@pytest.fixture
def member(personas: Personas, data_dir: Path, tmp_path: Path) -> Any:
    """The editor, a member of Team Clean, with its weekly count computed over eight weeks."""
    return weekly_count_for(personas.editor, personas, tmp_path)


def _wait_for_browser_chart(page: Any) -> Any:
    from playwright.sync_api import expect

    chart = page.locator("#spc-chart")
    expect(chart).to_have_attribute("data-rendered", "browser", timeout=20_000)
    expect(chart.locator("svg").first).to_be_visible()
    return chart


def test_member_reads_the_chart_and_marks_an_event(
    live_server: Any, page: Any, member: Any, axe: str
) -> None:
    from playwright.sync_api import expect

    from civicloop.metrics.models import Annotation

    errors: list[str] = []

    def console(message: Any) -> None:
        # The site has no favicon (a 404 the browser asks for by itself): not the chart's fault.
        if message.type == "error" and not message.location.get("url", "").endswith("favicon.ico"):
            errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    base = live_server.url
    metric_url = f"{base}/metrics/{COUNT_ID}/"
    main = page.locator("main")

    page.goto(metric_url)
    sign_in(page, member.email)
    expect(page).to_have_url(metric_url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Litter reports per week")

    # The chart is redrawn by Vega in the browser, over the server's drawing.
    chart = _wait_for_browser_chart(page)
    expect(chart).to_have_class(re.compile(r"\bchart-live\b"))
    expect(chart.locator("svg text", has_text="Litter reports per week (Total)")).to_have_count(1)

    # The icon and the sentence say what the chart shows.
    summary = main.locator("section.spc-summary")
    expect(summary.get_by_role("img", name="Common cause variation", exact=True)).to_be_visible()
    expect(summary).to_contain_text("Common cause variation: no signal.")
    expect(summary).to_contain_text("XmR chart (individuals)")
    numbers = main.get_by_role("table", name=re.compile("one row per week"))
    expect(numbers.get_by_role("columnheader", name="Process limits")).to_be_visible()
    expect(numbers.get_by_role("columnheader", name="Signal")).to_be_visible()
    assert_accessible(page, axe)

    # Clicking a point on the chart starts an event on its week.
    form = page.get_by_role("form", name="Add an event to the chart")
    date_field = form.get_by_label("Date", exact=True)
    point = chart.locator('svg path[aria-roledescription="point"]').nth(5)
    point.click(force=True)
    expect(date_field).to_have_value("2026-02-09")
    expect(form.get_by_label("What happened")).to_be_focused()

    # Or type the date (the date field is a date input).
    expect(date_field).to_have_attribute("type", "date")
    date_field.fill("2026-02-09")
    form.get_by_label("What happened").fill(EVENT)
    form.get_by_role("button", name="Add to the chart").click()

    expect(page).to_have_url(f"{metric_url}#annotations")
    expect(page.get_by_role("status")).to_contain_text(f"Added to the chart: 09 Feb 2026, {EVENT}.")
    listed = main.locator("#annotations + ul.history li")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text(f"2026-02-09: {EVENT}")
    expect(
        listed.get_by_role("button", name=f"Remove the event of 2026-02-09: {EVENT}")
    ).to_be_visible()
    assert Annotation.objects.get().text == EVENT

    # The redrawn chart draws and names the event.
    chart = _wait_for_browser_chart(page)
    expect(chart.locator("svg text", has_text=EVENT)).to_have_count(1)
    expect(chart.locator(f'svg [aria-label="Annotation, 9 Feb 2026: {EVENT}"]')).to_have_count(1)
    assert_accessible(page, axe)

    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 0
    assert not errors, errors
