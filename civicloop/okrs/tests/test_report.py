"""The one-page report: a council's many key results still fit on one A4 page (each objective
counted, only the key results that need attention listed, the most serious first); a small
report lists every one; what the data says and what the owners said are counted apart."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from civicloop.okrs import export, services
from civicloop.okrs.models import KeyResult
from civicloop.okrs.quarters import Quarter
from civicloop.okrs.services import Decision
from civicloop.okrs.tests.conftest import MISSION, YEAR, at, measure, milestone
from civicloop.testing import Personas

pytestmark = pytest.mark.django_db

Q1 = Quarter.parse(f"{YEAR}-Q1")
# The owners' confidence at the last check-in, in turn (None: nobody checked in yet).
CONFIDENCES = (
    "on_track",
    "on_track",
    "at_risk",
    "on_track",
    "off_track",
    None,
    "on_track",
    "at_risk",
)
STATUS_WORDS = ("On track", "At risk", "Off track", "No check-in yet")


def build(personas: Personas, count: int, per_objective: int = 4) -> list[KeyResult]:
    """`count` key results of Q1 with realistic titles, `per_objective` to an objective, over
    two missions and both teams, checked in with CONFIDENCES in turn."""
    missions = [
        services.save_mission(personas.lead, MISSION),
        services.save_mission(
            personas.lead,
            {"title": "Safe from violence", "public_value": "Fewer residents are shot."},
        ),
    ]
    krs: list[KeyResult] = []
    n = 0
    while len(krs) < count:
        team, lead = (
            (personas.team, personas.lead)
            if n % 2 == 0
            else (personas.other_team, personas.outsider)
        )
        objective = services.create_objective(
            lead,
            team,
            {
                "title": f"Objective {n}: dumped rubbish cleared within days, in every district",
                "mission": missions[n % 2].slug,
                "year": YEAR,
            },
        )
        for _ in range(min(per_objective, count - len(krs))):
            i = len(krs)
            kr = services.create_key_result(
                lead,
                objective,
                team,
                measure(title=f"Key result {i}: median days to close a dumping report down to 5"),
            )
            confidence = CONFIDENCES[i % len(CONFIDENCES)]
            if confidence:
                services.check_in(
                    lead, kr, confidence=confidence, value=str(10 - i % 6), at=at(date(2026, 2, 10))
                )
            krs.append(kr)
        n += 1
    return krs


def printed(html: str) -> str:
    """The report's text as printed: the on-screen full list left out, tags dropped."""
    page = html.split('id="full-list"')[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)).replace("&nbsp;", " ")


def titles(data: dict[str, Any], kinds: set[str] | None = None) -> list[str]:
    return [
        k["title"]
        for m in data["missions"]
        for o in m["objectives"]
        for k in o["key_results"]
        if kinds is None or k["report_status"]["kind"] in kinds
    ]


def test_forty_key_results_fit_on_one_page_exceptions_first(personas) -> None:  # type: ignore[no-untyped-def]
    build(personas, 40)
    data = export.report_data(personas.admin, Q1)
    pdf, pages = export.pdf_with_pages(data)
    assert pdf.startswith(b"%PDF") and pages == 1
    assert data["layout"] == "compact"
    page = printed(export.render_html(data))
    # Every objective is one row, with its key results counted by status.
    for mission in data["missions"]:
        for objective in mission["objectives"]:
            assert objective["title"] in page
    counts = data["missions"][0]["objectives"][0]["report_counts"]
    assert (counts["on_track"], counts["at_risk"], counts["off_track"]) == (3, 1, 0)
    # Listed in full: only what needs attention, off track before at risk, as many as fit.
    listed = data["attention"]
    kinds = [k["report_status"]["kind"] for k in listed]
    assert listed and set(kinds) <= {"off_track", "at_risk"}
    assert kinds == sorted(kinds, key=lambda kind: kind != "off_track")
    assert len(titles(data, {"off_track"})) == 5 and kinds[:5] == ["off_track"] * 5
    on_page = data["_layout"][1].pages[0].anchors  # the rows WeasyPrint laid out on page 1
    assert all(f"attention-{i}" in on_page for i in range(len(listed)))
    for k in listed:
        assert f"{k['title']} (days)" in page
    for title in titles(data, {"on_track", "unjudged"}):
        assert f"{title} (days)" not in page
    # The line saying what is not listed adds up, and says where the full list is.
    others = 40 - len(listed)
    cut = 15 - len(listed)  # 5 off track and 10 at risk need attention
    parts = ["20 on track or passing the target", "5 not judged yet"]
    if cut:
        parts.insert(0, f"{cut} that need attention but did not fit")
    assert f"{others} other key results are not listed ({', '.join(parts)})." in page
    assert "The full list is in the HTML report: http" in page
    assert f"/okrs/report/?quarter={Q1.code}" in page
    # On screen, the HTML report goes on with every key result.
    html = export.render_html(data)
    screen = printed(html.split('id="full-list"')[1])
    assert all(f"{t} (days)" in screen for t in titles(data))
    assert "print-color-adjust: exact; -webkit-print-color-adjust: exact;" in html


def test_full_lists_every_key_result_over_several_pages(personas) -> None:  # type: ignore[no-untyped-def]
    build(personas, 40)
    data = export.report_data(personas.admin, Q1, full=True)
    assert data["layout"] == "full" and data["not_listed"] is None
    assert export.pdf_with_pages(data)[1] == 2
    page = printed(export.render_html(data))
    assert all(f"{t} (days)" in page for t in titles(data))
    assert "not listed" not in page


def test_a_short_report_lists_every_key_result(personas) -> None:  # type: ignore[no-untyped-def]
    build(personas, 12)
    data = export.report_data(personas.admin, Q1, personas.team)
    assert export.pdf_with_pages(data)[1] == 1
    assert data["layout"] == "full" and not data["attention"]
    page = printed(export.render_html(data))
    assert len(titles(data)) == 8  # Team Clean's objectives 0 and 2
    for k in (k for m in data["missions"] for o in m["objectives"] for k in o["key_results"]):
        assert f"{k['title']} (days)" in page
        assert k["report_status"]["label"] in STATUS_WORDS
    assert "not listed" not in page and "full-list" not in export.render_html(data)


def test_without_weasyprint_the_page_is_estimated(personas, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The HTML report needs no WeasyPrint: whether every key result fits is estimated, on
    the safe side of what WeasyPrint lays out."""
    build(personas, 40)
    layout = export._layout

    def unavailable(data):  # type: ignore[no-untyped-def]
        raise export.PdfUnavailable("no Pango")

    monkeypatch.setattr(export, "_layout", unavailable)
    estimated = export.report_data(personas.admin, Q1)
    small = export.report_data(personas.admin, Q1, personas.other_team)
    monkeypatch.setattr(export, "_layout", layout)
    assert estimated["layout"] == "compact"
    assert 0 < len(estimated["attention"]) < len(estimated["attention_all"])
    assert "other key results are not listed" in printed(export.render_html(estimated))
    assert export.pdf_with_pages(estimated)[1] == 1
    assert small["layout"] == "full" and len(titles(small)) == 20  # Team Safe's fit
    assert export.pdf_with_pages(small)[1] == 1


def test_the_summary_counts_the_data_and_the_check_ins_apart(
    personas, objective, litter_metric
) -> None:  # type: ignore[no-untyped-def]
    def linked(title: str, start: str, target: str) -> KeyResult:
        data = measure(
            title=title, metric=litter_metric.slug, start_value=start, target_value=target
        )
        return services.create_key_result(personas.lead, objective, personas.team, data)

    # Seven litter reports every week: a target of 8 (from 12) passes, 7 is hit and miss,
    # 4 fails.
    linked("Under 8 reports a week", "12", "8")
    linked("Down to 7 reports a week", "10", "7")
    linked("Down to 4 reports a week", "10", "4")
    for title, confidence in (("Crews trained", "on_track"), ("Bins moved", "at_risk")):
        kr = services.create_key_result(
            personas.lead, objective, personas.team, milestone(title=title)
        )
        services.check_in(personas.lead, kr, confidence=confidence, at=at(date(2026, 2, 3)))
    services.create_key_result(
        personas.lead, objective, personas.team, milestone(title="Depot lease signed")
    )
    # Team Safe shares the objective; its one key result, off track, was dropped at the close.
    services.change_objective(
        personas.lead, objective, {"partner_teams": [personas.other_team]}, reason="Joint."
    )
    dropped = services.create_key_result(
        personas.outsider, objective, personas.other_team, milestone(title="Cameras installed")
    )
    services.check_in(personas.outsider, dropped, confidence="off_track", at=at(date(2026, 2, 3)))
    services.close_quarter(
        personas.outsider,
        personas.other_team,
        Q1,
        "We stopped the cameras.",
        {dropped.pk: Decision("0", "dropped")},
    )
    data = export.report_data(personas.lead, Q1)
    assert data["counts"] == {
        "pass": 1,
        "mixed": 1,
        "fail": 1,
        "on_track": 1,
        "at_risk": 1,
        "off_track": 0,  # the dropped one is not counted
        "unjudged": 1,
        "withheld": 0,
        "dropped": 1,
    }
    page = printed(export.render_html(data))
    assert (
        "7 key results (1 dropped, not counted). From the data: 1 pass, 1 hit and miss, 1 fail; "
        "from check-ins: 1 on track, 1 at risk, 0 off track; 1 not judged yet."
    ) in page
    assert export.summary_sentence(data) in page
    assert data["layout"] == "full"
    statuses = {
        k["title"]: k["report_status"]["label"]
        for k in data["missions"][0]["objectives"][0]["key_results"]
    }
    assert statuses == {
        "Under 8 reports a week": "Passes target",
        "Down to 7 reports a week": "Hit and miss",
        "Down to 4 reports a week": "Fails target",
        "Crews trained": "On track",
        "Bins moved": "At risk",
        "Depot lease signed": "No check-in yet",
        "Cameras installed": "Dropped",
    }
    # Exceptions-first, the failing one would come before the hit and miss and the at risk.
    assert [k["title"] for k in data["attention_all"]] == [
        "Down to 4 reports a week",
        "Down to 7 reports a week",
        "Bins moved",
    ]
