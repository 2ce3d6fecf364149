"""A team lead runs an A3 from problem to confirmed countermeasure in a real Chromium, with
axe-core (WCAG 2.2 AA) on its pages: starts it from the team's A3 page, fills each section
through the forms (Markdown background, the current condition with the pilot district's chart,
the goal on the metric with a target, 5 whys and fishbone causes, a countermeasure, an action
with owner and due date), is refused In progress while sections are empty and told which,
plans a PDSA cycle limited to the pilot district with a prediction, starts it at the Monday the
data really shifts, records Do, reads the product's verdict in Study ("Special cause in the
predicted direction", the rest without such a shift), adopts it (the lead stewards the metric,
so the metric is rebased at once), confirms and closes the A3 as adopted, then prints it on one
page and downloads the one-page PDF.

The data: a weekly count of litter reports by district. North (the pilot) runs at about 20 a
week for 12 weeks and at about 9 a week from the change Monday on; South runs at about 14 a
week throughout.
"""

from __future__ import annotations

import os
import re
import zlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from civicloop.metrics.tests.test_metric_browser import sign_in
from civicloop.metrics.tests.test_metric_pages import COUNT_ID, COUNT_METRIC
from civicloop.testing import PERSONA_PASSWORD, Personas, load_csv
from civicloop.tests.browser import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FIRST_MONDAY = date(2026, 5, 4)
WEEKS_BEFORE = 12
WEEKS_AFTER = 10
SHIFT_MONDAY = FIRST_MONDAY + timedelta(weeks=WEEKS_BEFORE)  # 27 Jul 2026
LAST_DAY = SHIFT_MONDAY + timedelta(weeks=WEEKS_AFTER, days=-1)  # a Sunday: whole weeks only
NOISE = (2, -2, 1, -1, 3, -3)  # sums to zero over six weeks: the means are exact
METRIC_NAME = COUNT_METRIC["name"]  # "Litter reports per week"
TITLE = "Litter waits for the weekly round in North"


def weekly_reports() -> dict[str, list[int]]:
    """Reports per week and district: North drops from about 20 to about 9 at the shift
    Monday; South stays at about 14 (its noise alternates sides, so no run forms)."""
    weeks = WEEKS_BEFORE + WEEKS_AFTER
    north = [(20 if week < WEEKS_BEFORE else 9) + NOISE[week % len(NOISE)] for week in range(weeks)]
    south = [14 + NOISE[(week + 1) % len(NOISE)] for week in range(weeks)]
    return {"North": north, "South": south}


def litter_by_district_csv() -> str:
    lines = ["report_id,reported_on,district,bags"]
    for district, counts in weekly_reports().items():
        for week, count in enumerate(counts):
            monday = FIRST_MONDAY + timedelta(weeks=week)
            for index in range(count):
                day = monday + timedelta(days=index % 7)
                lines.append(f"{len(lines)},{day.isoformat()},{district},{index % 4}")
    return "\n".join(lines) + "\n"


def pdf_objects(pdf: bytes) -> bytes:
    """The PDF's objects as text, with those packed in compressed object streams (as
    WeasyPrint writes them) unpacked, to read the page tree without a PDF library."""
    parts = [pdf]
    for match in re.finditer(rb"<<(.*?)>>\s*stream\r?\n", pdf, re.S):
        header = match.group(1)
        length = re.search(rb"/Length\s+(\d+)", header)
        if b"/ObjStm" in header and b"/FlateDecode" in header and length:
            parts.append(zlib.decompress(pdf[match.end() : match.end() + int(length.group(1))]))
    return b"\n".join(parts)


@pytest.fixture
def lead(personas: Personas, data_dir: Path, tmp_path: Path) -> Any:
    """Team Clean's lead, who stewards its weekly count of litter reports by district,
    computed over 22 weeks with a real shift in North; able to sign in."""
    from civicloop.metrics import services

    person = personas.lead
    person.set_password(PERSONA_PASSWORD)
    person.save()
    run = load_csv(
        personas.restricted_dataset, litter_by_district_csv(), tmp_path, user=personas.lead
    )
    assert run.status == "succeeded", run.summary
    definition = {**COUNT_METRIC, "steward": person.email}
    _, version = services.save_definition(definition, None, "First definition.")
    assert version is not None
    assert services.refresh().computed == [COUNT_ID]
    return person


def test_a_team_runs_an_a3_from_problem_to_confirmed_countermeasure(
    live_server: Any, page: Any, lead: Any, axe: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from civicloop.improvement.models import A3, PdsaCycle
    from civicloop.metrics import services as metric_services
    from civicloop.metrics.models import Metric

    base = live_server.url
    main = page.locator("main")
    shots = Path(os.environ.get("A3_BROWSER_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    def shot(name: str) -> None:
        page.screenshot(path=shots / f"a3-browser-{name}.png", full_page=True)

    def status() -> Any:  # the messages after a step (errors from one-click steps too)
        return page.locator("div.messages[role=status]")

    # Start an A3 from the team's A3 page.
    page.goto(f"{base}/teams/team-clean/a3/")
    sign_in(page, lead.email)
    expect(page).to_have_url(f"{base}/teams/team-clean/a3/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Team Clean: improvement work")
    expect(main).to_contain_text("No A3s to show.")
    assert_accessible(page, axe)
    main.get_by_role("link", name="Start an A3").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Start an A3 for Team Clean")
    expect(page.get_by_label("Owner")).to_have_value(str(lead.pk))
    assert_accessible(page, axe)
    page.get_by_role("button", name="Start the A3").click()  # no title: refused, with the fix
    expect(page.get_by_role("alert")).to_contain_text("Give the A3 a title that names the problem")
    expect(page.get_by_label("Title")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, axe)
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("The problem in a line").fill(
        "North litter reports run at 20 a week, against 14 in South"
    )
    page.get_by_role("button", name="Start the A3").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    expect(status()).to_contain_text(f"A3 “{TITLE}” started")
    a3 = A3.objects.get(title=TITLE)
    a3_url = f"{base}/a3/{a3.pk}/"
    expect(page).to_have_url(a3_url)
    facts = main.locator("dl.a3-facts")
    expect(facts).to_contain_text("Draft")
    expect(facts).to_contain_text("Lena Lead")
    next_step = main.get_by_role("region", name="Next step")
    expect(next_step).to_contain_text("Before it can move to in progress, fill in:")
    expect(next_step.locator("ul.missing li")).to_have_count(6)  # every section but follow-up
    assert_accessible(page, axe)
    shot("1-draft")

    # 1. Background, in Markdown.
    main.get_by_role("link", name="Write the background").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Background")
    expect(main).to_contain_text("Why does this problem matter, to whom, and why now?")
    page.get_by_label("Background", exact=True).fill(
        "Residents in North report litter **every day**; the crews clear it once a week."
    )
    assert_accessible(page, axe)
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(f"{a3_url}#background")
    expect(status()).to_contain_text("Background saved.")
    background = main.locator("#background")
    expect(background.locator("strong")).to_have_text("every day")
    expect(background).not_to_contain_text("**")

    # 2. The current condition: words, and the pilot district's live chart.
    main.get_by_role("link", name="Describe the current condition").click()
    page.get_by_label("Current condition", exact=True).fill(
        "About 20 reports a week in North, about 14 in South, for three months."
    )
    page.get_by_role("button", name="Save").click()
    expect(status()).to_contain_text("Current condition saved.")
    chart_form = main.get_by_role("group", name="Add a metric's chart")
    chart_form.get_by_label("Metric").select_option(label=f"{METRIC_NAME} (Team Clean)")
    chart_form.get_by_label("One breakdown value").fill("South District")  # no such value
    chart_form.get_by_role("button", name="Add the chart").click()
    # Refused on the chart's own form, on its field, with what was typed kept.
    value = page.get_by_label("One breakdown value")
    expect(page.locator(".error-summary")).to_contain_text(
        "has no breakdown value “South District”"
    )
    expect(page.locator(".error-summary")).to_contain_text(
        "Its breakdown values are: North, South."
    )
    expect(value).to_have_value("South District")
    assert_accessible(page, axe)
    value.fill("north")  # any case
    page.get_by_role("button", name="Save").click()
    expect(status()).to_contain_text(f"Chart of {METRIC_NAME} added to the current condition.")
    current = main.locator("#current_condition")
    chart = current.locator("figure.a3-chart img")
    expect(chart).to_have_count(1)
    expect(chart).to_have_attribute("alt", re.compile(rf"^{METRIC_NAME}, District North\. \w"))
    expect(current.locator("figcaption")).to_contain_text(f"{METRIC_NAME}, District North")

    # 3. The goal, on the metric, with a target.
    main.get_by_role("link", name="Set the goal and its measure").click()
    page.get_by_label("Goal / target condition", exact=True).fill(
        "North down to South's level: **12 reports a week or fewer** by the new year."
    )
    page.get_by_label("Measure").select_option(label=f"{METRIC_NAME} (Team Clean)")
    page.get_by_label("Its breakdown value").fill("North")  # the goal is the pilot's
    page.get_by_label("Target value").fill("12")
    page.get_by_label("By", exact=True).fill("2027-01-31")
    page.get_by_role("button", name="Save").click()
    expect(status()).to_contain_text("Goal / target condition saved.")
    expect(main.locator("#goal .goal-measure")).to_have_text(
        re.compile(
            rf"Measure: {METRIC_NAME} \(District North\), target 12 reports by 31 Jan 2027; "
            r"latest \d+ reports"
        )
    )

    # Too soon for In progress: the refusal names every empty section.
    expect(next_step.locator("ul.missing li")).to_have_count(3)
    main.get_by_role("link", name="Change the state").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Change the state")
    assert_accessible(page, axe)
    page.get_by_label("Move to").select_option(label="In progress")
    page.get_by_role("button", name="Change the state").click()
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("Please correct 3 problems")  # one per gap
    expect(refusal).to_contain_text("Root-cause analysis: ask the whys or fill in the fishbone")
    expect(refusal).to_contain_text("Countermeasures: add at least one countermeasure")
    expect(refusal).to_contain_text("Implementation plan: add at least one action")
    expect(refusal).not_to_contain_text("Background")
    assert_accessible(page, axe)
    shot("2-refused")
    a3.refresh_from_db()
    assert a3.state == "draft"
    page.get_by_role("link", name=TITLE).click()

    # 4. Root causes: the 5 whys and the fishbone.
    main.get_by_role("link", name="Ask the whys and fill in the fishbone").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Root-cause analysis")
    expect(page.get_by_label("The problem (the fishbone's head)")).to_have_value(
        "North litter reports run at 20 a week, against 14 in South"
    )
    assert_accessible(page, axe)
    whys = (
        "Litter stays on the street for days.",
        "The crew passes each street once a week.",
        "The round was planned when North had half its homes.",
        "Nobody owns re-planning the rounds.",
    )
    for number, why in enumerate(whys, 1):
        page.get_by_label(f"Why {number}?").fill(why)
    page.get_by_label("Methods", exact=True).fill("Fixed weekly round\nNo route by demand")
    page.get_by_label("People", exact=True).fill("One crew for the whole district")
    page.get_by_label("Environment", exact=True).fill("New flats on the river")
    page.get_by_role("button", name="Save").click()
    expect(status()).to_contain_text("Root-cause analysis saved.")
    root = main.locator("#root_cause")
    expect(root.locator("ol.whys li")).to_have_count(4)
    expect(root.locator("ol.whys li").nth(3)).to_contain_text("Nobody owns re-planning the rounds.")
    expect(root.locator("figure.fishbone-figure svg")).to_be_visible()
    root.get_by_text("The causes in words").click()
    expect(root.locator("details.fishbone-list")).to_contain_text("No route by demand")

    # 5. A countermeasure, and 6. an action with its owner and due date.
    main.get_by_role("link", name="Add a countermeasure").click()
    page.get_by_label("Title").fill("Rounds planned by the week's reports")
    page.get_by_label("Root cause it addresses").fill("Nobody owns re-planning the rounds")
    page.get_by_label("How it works").fill("The crew lead routes the round by *last week's* map.")
    page.get_by_role("button", name="Save").click()
    expect(status()).to_contain_text("Countermeasure saved.")
    countermeasure = main.get_by_role("article", name=re.compile("Rounds planned by the week"))
    expect(countermeasure).to_contain_text("Proposed")
    main.get_by_role("link", name="Add an action").click()
    page.get_by_label("What", exact=True).fill("Brief the North crew on demand routing")
    page.get_by_label("Who", exact=True).select_option(label="Eddie Editor")
    page.get_by_label("By when").fill("2026-07-24")
    page.get_by_label("For the countermeasure").select_option(
        label="Rounds planned by the week's reports"
    )
    page.get_by_role("button", name="Save").click()
    expect(status()).to_contain_text("Action saved.")
    action = main.locator("#plan").get_by_role("row", name=re.compile("Brief the North crew"))
    expect(action).to_contain_text("Eddie Editor")
    expect(action).to_contain_text("24 Jul 2026")
    action.get_by_role("button", name=re.compile("Mark done")).click()
    expect(status()).to_contain_text("done")

    # Every section the next state needs is written: In progress.
    expect(next_step).to_contain_text("Ready to move to in progress.")
    assert_accessible(page, axe)
    main.get_by_role("link", name="Change the state").click()
    page.get_by_label("Move to").select_option(label="In progress")
    page.get_by_role("button", name="Change the state").click()
    expect(status()).to_contain_text("The A3 is now in progress.")
    expect(facts).to_contain_text("In progress")

    # Plan a PDSA cycle limited to the pilot district, with its prediction.
    countermeasure.get_by_role("link", name="Plan a PDSA cycle").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Plan a PDSA cycle")
    page.get_by_label("What change will you try?").fill(
        "Route the North round by last week's reports."
    )
    page.get_by_label("Who", exact=True).fill("North crew")
    page.get_by_label("Where", exact=True).fill("North only")
    page.get_by_label("Judged on the metric").select_option(label=f"{METRIC_NAME} (Team Clean)")
    page.get_by_label("Pilot limited to (optional)").fill("North")
    page.get_by_label("Prediction", exact=True).fill("Reports fall to about 10 a week in North.")
    page.get_by_label("The measure will").select_option(label="Go down")
    page.get_by_label("Predicted mean after the change (optional)").fill("10")
    page.get_by_label("Data to collect").fill("The weekly count of litter reports, by district.")
    assert_accessible(page, axe)
    page.get_by_role("button", name="Save the plan").click()
    expect(status()).to_contain_text("PDSA cycle 1 planned.")
    cycle = PdsaCycle.objects.get(countermeasure__a3=a3)
    cycle_url = f"{base}/pdsa/{cycle.pk}/"
    expect(page).to_have_url(cycle_url)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "PDSA cycle 1: Rounds planned by the week's reports"
    )
    expect(main).to_contain_text("District North")
    steps = main.get_by_role("list", name="Steps")
    expect(steps.locator("[aria-current=step]")).to_have_text("Plan")
    assert_accessible(page, axe)

    # Do: the change went live on the shift Monday; the test ran ten weeks.
    page.get_by_label("The change went live on").fill(SHIFT_MONDAY.isoformat())
    page.get_by_role("button", name="Start the cycle").click()
    expect(status()).to_contain_text("The cycle has started")
    expect(main.get_by_role("region", name="Do")).to_contain_text("Live from 27 Jul 2026")
    page.get_by_role("button", name="Record the Do step").click()  # empty: refused, with fixes
    expect(page.get_by_role("alert")).to_contain_text("Give the date the test ended")
    expect(page.get_by_role("alert")).to_contain_text("Say what happened")
    assert_accessible(page, axe)
    page.get_by_label("The test ended on").fill(LAST_DAY.isoformat())
    page.get_by_label("What happened").fill("Made as planned; the crew lead re-routed weekly.")
    page.get_by_role("button", name="Record the Do step").click()
    expect(status()).to_contain_text("Do recorded.")
    expect(steps.locator("[aria-current=step]")).to_have_text("Study")

    # Study: the product's verdict from the data, the pilot against the rest.
    page.get_by_label("What the team makes of it").fill(
        "North fell as predicted; South did not move."
    )
    page.get_by_role("button", name="Study: keep the verdict with the cycle").click()
    expect(status()).to_contain_text("Studied: the verdict from the data is kept")
    study = main.get_by_role("region", name="Study")
    verdict = study.locator(".verdict")
    expect(verdict).to_have_class(re.compile(r"\bverdict-predicted\b"))
    expect(verdict.locator(".verdict-label")).to_have_text(
        "Special cause in the predicted direction."
    )
    expect(verdict).to_contain_text("District North: special cause down since the change.")
    expect(verdict).to_contain_text("The rest (District South)")
    expect(verdict).to_contain_text(
        "The rest (District South) shows no such shift over the same weeks, which points at the "
        "change rather than at something that moved everywhere."
    )
    expect(verdict).to_contain_text("The team predicted the measure would go down, and it did.")
    study_chart = study.locator("figure img")
    expect(study_chart).to_have_attribute("alt", re.compile(r"^District North: special cause"))
    expect(study.locator("figcaption")).to_contain_text("District North above, the rest below")
    assert_accessible(page, axe)

    # Act: adopt. The lead stewards the metric, so it is rebased at the change date at once.
    page.get_by_label("Decision").select_option(label="Adopt")
    page.get_by_label("Why, and what next").fill("Make demand routing the way North works.")
    page.get_by_role("button", name="Decide").click()
    expect(status()).to_contain_text("Decided.")
    act = main.get_by_role("region", name="Act")
    expect(act).to_contain_text("Adopt")
    expect(act).to_contain_text(
        f"{METRIC_NAME} is rebased at 27 Jul 2026 (version 2), so its chart tells the story."
    )
    expect(act).not_to_contain_text("waits for the metric's steward")
    assert_accessible(page, axe)
    shot("3-cycle")
    metric = Metric.objects.get(slug=COUNT_ID)
    rebases = metric.definition().chart.rebases
    assert [r.on for r in rebases] == [SHIFT_MONDAY]
    assert "Rounds planned by the week's reports in District North" in rebases[0].reason
    assert COUNT_ID in metric_services.refresh().computed  # what the worker does next

    # Confirming the effect, then closed as adopted: the follow-up is needed first.
    page.get_by_role("link", name=TITLE).click()
    expect(countermeasure).to_contain_text("Adopted")
    expect(countermeasure.locator(".verdict")).to_contain_text(
        "Special cause in the predicted direction"
    )
    expect(countermeasure).to_contain_text(f"({METRIC_NAME} rebased at 27 Jul 2026, version 2)")
    main.get_by_role("link", name="Change the state").click()
    page.get_by_label("Move to").select_option(label="Confirming the effect")
    page.get_by_role("button", name="Change the state").click()
    expect(status()).to_contain_text("The A3 is now confirming the effect.")
    expect(next_step).to_contain_text("Follow-up / effect confirmation: write what the data")
    main.get_by_role("link", name="Change the state").click()
    page.get_by_label("Move to").select_option(label="Closed")
    page.get_by_label("Outcome (when closing)").select_option(label="Adopted")
    page.get_by_role("button", name="Change the state").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Follow-up / effect confirmation: write what the data showed and what was learned"
    )
    assert_accessible(page, axe)
    page.get_by_role("link", name=TITLE).click()
    main.get_by_role("link", name="Write the follow-up").click()
    page.get_by_label("Follow-up / effect confirmation", exact=True).fill(
        "North settled at about 9 a week from 27 Jul 2026; South did not move. **Adopted**."
    )
    page.get_by_role("button", name="Save").click()
    expect(status()).to_contain_text("Follow-up / effect confirmation saved.")
    main.get_by_role("link", name="Change the state").click()
    page.get_by_label("Move to").select_option(label="Closed")
    page.get_by_label("Outcome (when closing)").select_option(label="Adopted")
    page.get_by_role("button", name="Change the state").click()
    expect(status()).to_contain_text("The A3 is now closed: adopted.")
    expect(facts).to_contain_text("Closed: adopted")
    expect(main.get_by_role("link", name="Change the state")).to_have_count(0)
    expect(main.get_by_role("link", name="Write the background")).to_have_count(0)
    expect(main.get_by_role("region", name="History")).to_contain_text("Metric rebased")
    assert_accessible(page, axe)
    shot("4-closed")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: one column, no sideways page
    page.reload()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert_accessible(page, axe)  # what scrolls sideways (the fishbone) takes the keyboard
    shot("4-closed-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # The print page: every section and the charts, with their words as alt text.
    page.get_by_role("link", name="Print (one A3 page)").click()
    expect(page).to_have_url(f"{base}/a3/{a3.pk}/print/")
    expect(page).to_have_title(f"A3: {TITLE}")
    sheet = page.locator("main")
    headings = sheet.get_by_role("heading", level=2)
    expect(headings).to_have_text(
        [
            "1. Background",
            "2. Current condition",
            "3. Goal / target condition",
            "4. Root-cause analysis",
            "5. Countermeasures",
            "6. Implementation plan",
            "7. Follow-up / effect confirmation",
        ]
    )
    expect(sheet.locator("strong", has_text="every day")).to_have_count(1)
    expect(sheet).to_contain_text("Nobody owns re-planning the rounds.")
    expect(sheet).to_contain_text("Brief the North crew on demand routing")
    expect(sheet).to_contain_text("Study — Special cause in the predicted direction.")
    expect(sheet).to_contain_text("Act — Adopt.")
    expect(sheet).to_contain_text("North settled at about 9 a week")
    expect(sheet.locator("svg")).to_have_count(1)  # the fishbone
    images = sheet.locator("img")
    expect(images).to_have_count(2)  # the current condition's chart and the Study chart
    for index in range(2):
        image = images.nth(index)
        assert (image.get_attribute("alt") or "").strip(), f"image {index} has no alt text"
        assert image.evaluate("img => img.complete && img.naturalWidth > 0"), "not drawn"
    expect(sheet).not_to_contain_text("runs onto a second")
    shot("5-print")

    # The PDF, fetched with the page's session: one A3 landscape page.
    response = page.request.get(f"{base}/a3/{a3.pk}.pdf")
    assert response.status == 200, response.text()[:500]
    assert response.headers["content-type"] == "application/pdf"
    pdf = response.body()
    assert pdf.startswith(b"%PDF-")
    objects = pdf_objects(pdf)
    assert re.findall(rb"/Type\s*/Pages\b.*?/Count\s+(\d+)", objects, re.S) == [b"1"]
    pages = re.findall(rb"/Type\s*/Page\b.*?/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)", objects, re.S)
    assert [(round(float(w)), round(float(h))) for w, h in pages] == [(1191, 842)]  # A3 landscape

    print(f"A3 browser screenshots: {shots}")
