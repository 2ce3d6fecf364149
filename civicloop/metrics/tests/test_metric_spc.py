"""SPC on the metric pages as people notice it: the sentence and icons that say what the chart
shows, its settings line and numbers table, the JSON/CSV twins and chart files, the steward's
chart settings (rebases, run and p charts) as versions, events marked on the chart, the lists
that put metrics needing attention first, and SPC for readers from whom small counts are hidden.

Reuses the pages tests' data: eight weeks of litter reports, a weekly count (lower is better)
and a p chart of the share of big jobs (a percentage)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from civicloop.metrics import services
from civicloop.metrics.models import Annotation, Metric
from civicloop.metrics.tests import test_metric_pages
from civicloop.metrics.tests.test_metric_pages import (
    CLEAN,
    COUNT_ID,
    COUNT_METRIC,
    FIRST_DAY,
    RATIO_ID,
    WEEKS,
    _csv,
    _edit_data,
    _text,
    weekly_counts,
)
from civicloop.testing import Personas, load_csv

pytestmark = pytest.mark.django_db

Metrics = dict[str, Metric]
ClientAs = Callable[[str], Client]

metrics = test_metric_pages.metrics  # the pages tests' fixture: their data, computed

ASSURANCES = {"consistent_pass", "consistent_fail", "inconsistent"}
TYPES = {
    "common_cause",
    "special_cause_improvement",
    "special_cause_concern",
    "special_cause_neutral_high",
    "special_cause_neutral_low",
}
REBASE_DAY = FIRST_DAY + timedelta(weeks=4)  # 2026-02-02, a Monday: weeks 5 to 8 are group 2


def _url(name: str, slug: str = COUNT_ID, **kwargs: Any) -> str:
    return reverse(f"metrics:{name}", kwargs={"slug": slug, **kwargs})


def _json(client: Client, slug: str = COUNT_ID, **query: str) -> dict[str, Any]:
    response = client.get(_url("metric_detail_json", slug), query)
    assert response.status_code == 200, response.content[:300]
    return response.json()


def _edit(client: Client, metric: Metric, **changes: Any) -> None:
    """The steward saves the edit form with `changes`; it must make a new version."""
    before = metric.versions.count()
    response = client.post(_url("metric_edit", metric.slug), _edit_data(metric, **changes))
    assert response.status_code == 302, response.context["form"].errors
    metric.refresh_from_db()
    assert metric.versions.count() == before + 1


def _svg_titles(content: str) -> list[str]:
    """The text alternatives of the SPC icons (each an <svg role="img"> with a <title>)."""
    return re.findall(r'<svg[^>]*class="spc-icon[^"]*"[^>]*><title>([^<]+)</title>', content)


def _messages(client: Client, url: str) -> str:
    return _text(client.get(url))


# --- the metric page ------------------------------------------------------------------------


def test_page_says_what_the_chart_shows(metrics: Metrics, client_as: ClientAs) -> None:
    response = client_as("viewer").get(_url("metric_detail"))
    assert response.status_code == 200
    content = response.content.decode()
    page = _text(response)
    # Eight weeks of 23 to 26 reports: nothing unusual, said in words and by the icon.
    assert (
        "Common cause variation: no signal. The latest week (25 reports) is within the usual "
        "range of 21 reports to 28 reports." in page
    )
    assert _svg_titles(content) == ["Common cause variation"]  # no target: no assurance icon
    assert (
        "XmR chart (individuals) · limits from all points of each group · large moving ranges "
        "screened out" in page
    )
    # Eight points are few: the page says so next to the limits.
    assert "About these limits: The centre line and limits come from 8 points" in page


def test_page_shows_the_assurance_icon_and_sentence_for_a_target(
    metrics: Metrics, client_as: ClientAs
) -> None:
    _edit(client_as("lead"), metrics[COUNT_ID], target="30", reason="Target agreed.")
    response = client_as("viewer").get(_url("metric_detail"))
    assert _svg_titles(response.content.decode()) == [
        "Common cause variation",
        "Consistently passes the target",
    ]
    assert (
        "Consistently passes the target: the target (30 reports) lies above the upper process "
        "limit (28 reports)" in _text(response)
    )


def test_numbers_table_has_mean_limits_and_signal(metrics: Metrics, client_as: ClientAs) -> None:
    content = client_as("viewer").get(_url("metric_detail")).content.decode()
    table = re.search(r'<table class="numbers">.*?</table>', content, re.S)
    assert table is not None
    head = re.findall(r'<th scope="col"[^>]*>([^<]+)</th>', table.group(0))
    assert head == ["Period", "Value (reports)", "Mean", "Process limits", "Signal"]
    counts = weekly_counts()
    mean = sum(counts) / len(counts)  # 24.375, shown with one more decimal than the values
    rows = re.findall(r"<tr><th scope=\"row\">.*?</tr>", table.group(0), re.S)
    assert len(rows) == WEEKS
    cells = [re.sub(r"<[^>]+>", "|", row) for row in rows]
    assert all(f"|{mean:.1f}|" in cell for cell in cells), cells
    assert all("|20.6 to 28.2|" in cell for cell in cells), cells
    assert all("|Common cause variation|" in cell for cell in cells), cells


# --- the twins and the chart files ----------------------------------------------------------


def test_json_twin_has_the_spc(metrics: Metrics, client_as: ClientAs) -> None:
    data = _json(client_as("guest"))
    spc = data["spc"]
    for key in ("chart", "variation", "assurance", "variation_sentence", "warnings"):
        assert key in spc, key
    assert spc["chart"] == "xmr"
    assert spc["variation"] == "common_cause"
    assert spc["assurance"] is None and spc["assurance_sentence"] is None  # no target
    assert spc["variation_sentence"].startswith("Common cause variation: no signal.")
    assert spc["warnings"] and "8 points" in spc["warnings"][0]
    counts = weekly_counts()
    mean = sum(counts) / len(counts)
    for point in data["series"]["points"]:
        assert point["mean"] == pytest.approx(mean)
        assert point["lpl"] < point["mean"] < point["upl"]
        assert point["type"] in TYPES
    spec = data["chart"]["vega_lite"]
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    assert spec["title"]["text"] == "Litter reports per week (Total)"
    assert [row["value"] for row in spec["data"]["values"]] == counts


@pytest.mark.parametrize(
    ("target", "assurance"),
    [("30", "consistent_pass"), ("24", "inconsistent"), ("18", "consistent_fail")],
)
def test_a_target_and_a_direction_give_an_assurance(
    target: str, assurance: str, metrics: Metrics, client_as: ClientAs
) -> None:
    """Limits 20.6 to 28.2, lower is better: 30 is always met, 18 never, 24 sometimes."""
    _edit(client_as("lead"), metrics[COUNT_ID], target=target, reason="Target.")
    spc = _json(client_as("viewer"))["spc"]
    assert spc["assurance"] in ASSURANCES
    assert spc["assurance"] == assurance
    assert spc["target"] == pytest.approx(float(target))
    assert spc["assurance_sentence"]
    rows = {r["id"]: r for r in _csv(client_as("viewer").get(reverse("metrics:metric_list_csv")))}
    assert rows[COUNT_ID]["assurance"] == assurance


def test_csv_twin_has_the_spc_columns_and_agrees_with_the_json(
    metrics: Metrics, client_as: ClientAs
) -> None:
    client = client_as("lead")
    for slug in (COUNT_ID, RATIO_ID):
        rows = _csv(client.get(_url("metric_detail_csv", slug)))
        assert rows, slug
        for column in ("mean", "lower_limit", "upper_limit", "type"):
            assert column in rows[0], (slug, column)
        points = _json(client, slug)["series"]["points"]
        assert len(rows) == len(points)
        for row, point in zip(rows, points, strict=True):
            assert row["period"] == point["period"]
            assert float(row["mean"]) == pytest.approx(point["mean"])
            assert float(row["lower_limit"]) == pytest.approx(point["lpl"])
            assert float(row["upper_limit"]) == pytest.approx(point["upl"])
            assert row["type"] == point["type"]


def test_chart_files(metrics: Metrics, client_as: ClientAs) -> None:
    client = client_as("viewer")
    svg = client.get(_url("metric_chart_svg"))
    assert svg.status_code == 200
    assert svg["Content-Type"] == "image/svg+xml"
    assert "<svg" in svg.content.decode()
    assert "Litter reports per week (Total)" in svg.content.decode()
    assert f'filename="{COUNT_ID}.svg"' in svg["Content-Disposition"]
    png = client.get(_url("metric_chart_png"))
    assert png.status_code == 200
    assert png["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    spec = client.get(_url("metric_chart_spec"))
    assert spec.status_code == 200
    assert spec["Content-Type"] == "application/json"
    assert "$schema" in json.loads(spec.content)


def test_chart_files_follow_the_breakdown(metrics: Metrics, client_as: ClientAs) -> None:
    client = client_as("guest")
    north = {"breakdown": "district", "value": "North"}
    spec = json.loads(client.get(_url("metric_chart_spec"), north).content)
    assert spec["title"]["text"] == "Litter reports per week (North (district))"
    assert [row["value"] for row in spec["data"]["values"]] == weekly_counts("North")
    svg = client.get(_url("metric_chart_svg"), north)
    assert "Litter reports per week (North (district))" in svg.content.decode()
    assert f'filename="{COUNT_ID}-north.svg"' in svg["Content-Disposition"]
    assert client.get(_url("metric_chart_png"), north).content.startswith(b"\x89PNG")
    # The page's links to the files keep the series shown.
    page = client.get(_url("metric_detail"), {"series": "district|North"}).content.decode()
    assert f"{_url('metric_chart_svg')}?breakdown=district&amp;value=North" in page


@pytest.mark.parametrize("name", ["metric_chart_svg", "metric_chart_png", "metric_chart_spec"])
def test_chart_files_of_an_unknown_breakdown_are_not_found(
    name: str, metrics: Metrics, client_as: ClientAs
) -> None:
    client = client_as("lead")
    assert client.get(_url(name), {"breakdown": "district", "value": "East"}).status_code == 404
    assert client.get(_url(name), {"breakdown": "chanel", "value": "x"}).status_code == 404


@pytest.mark.parametrize("name", ["metric_chart_svg", "metric_chart_png", "metric_chart_spec"])
def test_chart_files_are_not_for_outsiders(
    name: str, metrics: Metrics, client_as: ClientAs
) -> None:
    assert client_as("outsider").get(_url(name)).status_code == 404
    anonymous = client_as("anonymous").get(_url(name))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")


# --- the steward's chart settings -----------------------------------------------------------


def test_a_rebase_is_a_new_version_and_starts_a_new_group(
    metrics: Metrics, client_as: ClientAs
) -> None:
    metric = metrics[COUNT_ID]
    lead = client_as("lead")
    _edit(
        lead,
        metric,
        rebases=f"{REBASE_DAY.isoformat()}: New crews started.",
        reason="New crews from February.",
    )
    version = metric.current_version
    assert version is not None and version.number == 2
    assert version.definition["chart"]["rebases"] == [
        {"date": "2026-02-02", "reason": "New crews started."}
    ]
    services.refresh()  # the worker would recompute now
    viewer = client_as("viewer")
    page = _text(viewer.get(_url("metric_detail")))
    assert "· rebased 02 Feb 2026: New crews started." in page
    data = _json(viewer)
    assert data["spc"]["rebases"] == [
        {"date": "2026-02-02", "reason": "New crews started.", "applied": True}
    ]
    counts = weekly_counts()
    points = data["series"]["points"]
    assert [p["group"] for p in points] == [1] * 4 + [2] * 4
    before = [p for p in points if date.fromisoformat(p["period"]) < REBASE_DAY]
    after = [p for p in points if date.fromisoformat(p["period"]) >= REBASE_DAY]
    assert len(before) == len(after) == 4
    assert [p["mean"] for p in before] == pytest.approx([sum(counts[:4]) / 4] * 4)  # 24.25
    assert [p["mean"] for p in after] == pytest.approx([sum(counts[4:]) / 4] * 4)  # 24.5
    assert before[0]["mean"] != after[0]["mean"]
    assert before[0]["upl"] != after[0]["upl"]  # each group its own limits
    # The chart draws each group's lines apart; its data numbers the groups from 0.
    groups = [row["group"] for row in data["chart"]["vega_lite"]["data"]["values"]]
    assert groups == [0] * 4 + [1] * 4
    assert any("group 2" in w for w in data["spc"]["warnings"])
    # And the rebase is drawn and named on the chart.
    assert "Rebase: New crews started." in json.dumps(data["chart"]["vega_lite"])


def test_a_run_chart_has_a_median_and_no_limits(metrics: Metrics, client_as: ClientAs) -> None:
    _edit(client_as("lead"), metrics[COUNT_ID], chart_type="run", reason="Too few weeks.")
    viewer = client_as("viewer")
    data = _json(viewer)
    spc = data["spc"]
    assert spc["chart"] == "run"
    counts = sorted(weekly_counts())
    median = (counts[3] + counts[4]) / 2
    for point in data["series"]["points"]:
        assert point["mean"] == pytest.approx(median)
        assert point["lpl"] is None and point["upl"] is None
    assert len(spc["run_signals"]) == 1
    signal = spc["run_signals"][0]
    assert signal["group"] == 1 and signal["useful_points"] == WEEKS
    assert signal["longest_run"] <= signal["longest_run_max"]
    assert signal["crossings"] >= signal["crossings_min"]
    response = viewer.get(_url("metric_detail"))
    page = _text(response)
    assert "Run chart (median, Anhøj rules)" in page
    assert "no run of weeks above or below the median longer than chance allows" in page
    head = re.search(r'<table class="numbers">.*?</thead>', response.content.decode(), re.S)
    assert head is not None
    assert ">Median<" in head.group(0) and "Process limits" not in head.group(0)
    rows = _csv(viewer.get(_url("metric_detail_csv")))
    assert all(r["lower_limit"] == r["upper_limit"] == "" for r in rows)


def test_a_p_chart_has_limits_that_follow_the_denominator(
    metrics: Metrics, client_as: ClientAs
) -> None:
    data = _json(client_as("lead"), RATIO_ID)
    assert data["spc"]["chart"] == "p"
    points = data["series"]["points"]
    p_bar = sum(p["numerator"] for p in points) / sum(p["denominator"] for p in points)
    for point in points:
        n = point["denominator"]
        spread = 3 * math.sqrt(p_bar * (1 - p_bar) / n)
        # In percent (the ratio's multiplier, 100), not as a proportion.
        assert point["mean"] == pytest.approx(p_bar * 100)
        assert point["lpl"] == pytest.approx((p_bar - spread) * 100)
        assert point["upl"] == pytest.approx((p_bar + spread) * 100)
        assert point["lpl"] <= point["value"] <= point["upl"]
    widths = {p["denominator"]: round(p["upl"] - p["lpl"], 9) for p in points}
    assert len(set(widths.values())) == len(widths) > 1  # one width per denominator
    assert widths[min(widths)] > widths[max(widths)]  # fewer reports, wider limits
    assert "p chart (proportions)" in data["spc"]["settings_text"]
    assert "usual range of" in data["spc"]["variation_sentence"]
    assert "%" in data["spc"]["variation_sentence"]


def test_a_p_chart_target_is_in_the_metrics_units(metrics: Metrics, client_as: ClientAs) -> None:
    """A 75% target, lower is better, above the upper limit (about 70%): always met."""
    _edit(client_as("lead"), metrics[RATIO_ID], target="75", reason="Target.")
    spc = _json(client_as("lead"), RATIO_ID)["spc"]
    assert spc["target"] == pytest.approx(75)
    assert spc["assurance"] == "consistent_pass"
    assert "the target (75%)" in spc["assurance_sentence"]


# --- events marked on the chart -------------------------------------------------------------


def _add(client: Client, on: str = "2026-02-02", text: str = "Pilot started in the North") -> Any:
    return client.post(_url("annotation_add"), {"on": on, "text": text})


@pytest.mark.parametrize("persona", ["lead", "editor"])
def test_a_member_marks_an_event_on_the_chart(
    persona: str, metrics: Metrics, client_as: ClientAs
) -> None:
    client = client_as(persona)
    response = _add(client)
    assert response.status_code == 302
    assert response["Location"] == f"{_url('metric_detail')}#annotations"
    annotation = Annotation.objects.get()
    assert (annotation.on, annotation.text) == (date(2026, 2, 2), "Pilot started in the North")
    shown = client.get(response["Location"])
    assert "Added to the chart: 02 Feb 2026, Pilot started in the North." in _text(shown)
    listed = re.findall(r"<li><time[^>]*>([^<]+)</time>: ([^<]+?) <span", shown.content.decode())
    assert listed == [("2026-02-02", "Pilot started in the North")]
    # In the chart: its spec (the text and the rule's spoken label), and the drawn SVG.
    spec = json.loads(client.get(_url("metric_chart_spec")).content)
    dumped = json.dumps(spec)
    assert "Pilot started in the North" in dumped
    assert "Annotation, 2 Feb 2026: Pilot started in the North" in dumped
    assert "Pilot started in the North" in client.get(_url("metric_chart_svg")).content.decode()
    data = _json(client_as("viewer"))
    assert data["annotations"] == [
        {
            "id": annotation.pk,
            "on": "2026-02-02",
            "text": "Pilot started in the North",
            "author": "Eddie Editor" if persona == "editor" else "Lena Lead",
            "can_delete": False,  # the viewer did not write it
        }
    ]
    assert "Pilot started in the North" in json.dumps(data["chart"]["vega_lite"])
    # The event is on every series' chart, not only the one it was added from.
    north = _json(client, breakdown="district", value="North")
    assert "Pilot started in the North" in json.dumps(north["chart"]["vega_lite"])


@pytest.mark.parametrize(
    ("on", "text", "message"),
    [
        ("31/02/2026", "Pilot", "Date: Enter a real date as YYYY-MM-DD, e.g. 2026-03-02."),
        ("2026-02-31", "Pilot", "Date: Enter a real date as YYYY-MM-DD"),
        ("", "Pilot", "Date: Give the day it happened, as YYYY-MM-DD."),
        ("2026-02-02", "", "What happened: This field is required."),
        ("2026-02-02", "   ", "What happened: This field is required."),
        (
            "2026-02-02",
            "x" * 201,
            "What happened: Ensure this value has at most 200 characters (it has 201).",
        ),
    ],
)
def test_a_bad_event_is_refused_with_what_is_wrong(
    on: str, text: str, message: str, metrics: Metrics, client_as: ClientAs
) -> None:
    client = client_as("editor")
    response = _add(client, on, text)
    assert response.status_code == 302
    assert not Annotation.objects.exists()
    page = _messages(client, response["Location"])
    assert f"The event was not added. {message}" in page, page[:2000]
    # What was typed comes back in the form, so nothing has to be typed again.
    if text.strip() and len(text) <= 200:
        raw = client.get(response["Location"]).content.decode()
        assert f'value="{text}"' in raw


def test_a_200_character_event_is_kept(metrics: Metrics, client_as: ClientAs) -> None:
    text = "y" * 200
    assert _add(client_as("editor"), text=text).status_code == 302
    assert Annotation.objects.get().text == text


@pytest.mark.parametrize("persona", ["viewer", "guest"])
def test_people_who_only_read_may_not_mark_events(
    persona: str, metrics: Metrics, client_as: ClientAs
) -> None:
    client = client_as(persona)
    assert _add(client).status_code == 403
    assert not Annotation.objects.exists()
    page = client.get(_url("metric_detail")).content.decode()
    assert _url("annotation_add") not in page  # and are not offered the form


def test_an_outsider_cannot_mark_events_on_a_metric_they_cannot_see(
    metrics: Metrics, client_as: ClientAs
) -> None:
    assert _add(client_as("outsider")).status_code == 404
    assert not Annotation.objects.exists()


def test_marking_an_event_needs_post_and_a_csrf_token(
    metrics: Metrics, personas: Personas, client_as: ClientAs
) -> None:
    assert client_as("editor").get(_url("annotation_add")).status_code == 405
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.editor)
    assert _add(client).status_code == 403
    assert not Annotation.objects.exists()


def test_the_author_removes_an_event_and_a_viewer_may_not(
    metrics: Metrics, client_as: ClientAs
) -> None:
    editor = client_as("editor")
    _add(editor)
    annotation = Annotation.objects.get()
    delete = _url("annotation_delete", pk=annotation.pk)
    viewer = client_as("viewer")
    assert viewer.post(delete).status_code == 403
    assert Annotation.objects.filter(pk=annotation.pk).exists()
    assert delete not in viewer.get(_url("metric_detail")).content.decode()
    assert client_as("guest").post(delete).status_code == 403
    assert editor.get(delete).status_code == 405
    page = editor.get(_url("metric_detail")).content.decode()
    assert delete in page
    assert 'aria-label="Remove the event of 2026-02-02: Pilot started in the North"' in page
    response = editor.post(delete)
    assert response.status_code == 302
    assert response["Location"] == f"{_url('metric_detail')}#annotations"
    assert not Annotation.objects.exists()
    page = _text(editor.get(response["Location"]))
    assert "Removed from the chart: 02 Feb 2026, Pilot started in the North." in page
    assert "Pilot started in the North" not in json.dumps(_json(editor)["chart"])
    assert editor.post(delete).status_code == 404  # gone


def test_the_steward_may_remove_someone_elses_event(metrics: Metrics, client_as: ClientAs) -> None:
    _add(client_as("editor"))
    annotation = Annotation.objects.get()
    lead = client_as("lead")
    assert _json(lead)["annotations"][0]["can_delete"] is True
    assert lead.post(_url("annotation_delete", pk=annotation.pk)).status_code == 302
    assert not Annotation.objects.exists()


def test_an_event_of_another_metric_is_not_found(metrics: Metrics, client_as: ClientAs) -> None:
    editor = client_as("editor")
    editor.post(_url("annotation_add", RATIO_ID), {"on": "2026-02-02", "text": "Other"})
    annotation = Annotation.objects.get()
    assert editor.post(_url("annotation_delete", COUNT_ID, pk=annotation.pk)).status_code == 404
    assert Annotation.objects.exists()


def test_event_text_is_escaped_everywhere(metrics: Metrics, client_as: ClientAs) -> None:
    evil = "<script>alert('x')</script> \"><img src=x onerror=alert(1)>"
    assert _add(client_as("editor"), text=evil).status_code == 302
    client = client_as("viewer")
    content = client.get(_url("metric_detail")).content.decode()
    assert "<script>alert(" not in content
    assert "<img src=x" not in content
    assert "&lt;script&gt;alert(" in content  # listed, and drawn in the server's SVG
    assert "\\u003Cscript\\u003Ealert(" in content  # in the embedded spec (json_script)
    svg = client.get(_url("metric_chart_svg")).content.decode()
    assert "<script>alert(" not in svg and "<img src=x" not in svg
    assert "&lt;script&gt;alert(" in svg
    # The editor's success message repeats the text: escaped too.
    editor = client_as("editor")
    _add(editor, text="<b>bold</b>")
    assert "<b>bold</b>" not in editor.get(_url("metric_detail")).content.decode()


# --- the lists --------------------------------------------------------------------------------


def test_metric_list_has_a_signal_column_with_icons(metrics: Metrics, client_as: ClientAs) -> None:
    response = client_as("viewer").get(reverse("metrics:metric_list"))
    content = response.content.decode()
    assert '<th scope="col">Signal</th>' in content
    rows = re.findall(r"<tr>\s*<th scope=\"row\">.*?</tr>", content, re.S)
    assert len(rows) == 2
    for row in rows:
        assert _svg_titles(row) == ["Common cause variation"], row
        # And the sentence that says what the icon means, beside it.
        assert "Common cause variation: no signal. The latest week" in row
    listed = {m["slug"]: m for m in response.context["metrics"]}
    assert listed[COUNT_ID]["variation"] == listed[RATIO_ID]["variation"] == "common_cause"


def test_metric_list_twins_have_variation_and_assurance(
    metrics: Metrics, client_as: ClientAs
) -> None:
    client = client_as("viewer")
    rows = {r["id"]: r for r in _csv(client.get(reverse("metrics:metric_list_csv")))}
    assert rows[COUNT_ID]["variation"] == rows[RATIO_ID]["variation"] == "common_cause"
    assert rows[COUNT_ID]["assurance"] == rows[RATIO_ID]["assurance"] == ""
    listed = {
        m["slug"]: m for m in client.get(reverse("metrics:metric_list_json")).json()["metrics"]
    }
    count = listed[COUNT_ID]
    assert count["variation_sentence"] == _json(client)["spc"]["variation_sentence"]
    assert count["direction"] == "decrease"
    assert count["assurance"] is None


# A longer history for the team page: twenty weeks of reports, South's jumping in the last three.
SIGNAL_WEEKS = 20
JUMP_FROM = (SIGNAL_WEEKS - 3) * 7


def _signal_csv() -> str:
    lines = ["report_id,reported_on,district,bags"]
    for offset in range(SIGNAL_WEEKS * 7):
        day = FIRST_DAY + timedelta(days=offset)
        south = 1 + offset % 2 + (4 if offset >= JUMP_FROM else 0)
        for district, count in (("North", 1 + offset % 3), ("South", south)):
            for _ in range(count):
                lines.append(f"{len(lines)},{day.isoformat()},{district},{len(lines) % 5}")
    return "\n".join(lines) + "\n"


def _district_metric(district: str) -> dict[str, Any]:
    return {
        **CLEAN,
        "id": f"{district.lower()}-reports-weekly",
        "name": f"{district} litter reports per week",
        "question": f"How many litter reports come from the {district} each week?",
        "dataset": "litter_reports",
        "measure": {"aggregate": "count"},
        "filter": f"district = '{district}'",
        "time": {"column": "reported_on", "grain": "week"},
        "unit": "reports",
        "direction": "lower_is_better",
    }


@pytest.fixture
def signals(personas: Personas, data_dir: Path, tmp_path: Path) -> dict[str, Metric]:
    """North's reports steady; South's up from about 10 to about 38 a week in the last three."""
    run = load_csv(personas.restricted_dataset, _signal_csv(), tmp_path, user=personas.lead)
    assert run.status == "succeeded", run.summary
    saved = {}
    for district in ("North", "South"):
        metric, _ = services.save_definition(_district_metric(district), None, "First.")
        saved[district] = metric
    report = services.refresh()
    assert not report.failed, report.failed
    return saved


def test_the_team_page_puts_a_special_cause_of_concern_first(
    signals: Metrics, client_as: ClientAs
) -> None:
    client = client_as("viewer")
    listed = client.get("/teams/team-clean.json").json()["metrics"]
    assert [m["slug"] for m in listed] == ["south-reports-weekly", "north-reports-weekly"]
    south, north = listed
    assert south["variation"] == "special_cause_concern"
    assert north["variation"] == "common_cause"
    assert south["variation_sentence"].startswith("Special cause of concern: the latest week")
    assert "above the upper process limit" in south["variation_sentence"]
    page = client.get("/teams/team-clean/")
    text = _text(page)
    assert text.index("South litter reports per week") < text.index("North litter reports per week")
    assert south["variation_sentence"] in text and north["variation_sentence"] in text
    assert _svg_titles(page.content.decode()) == [
        "Special cause of concern (high values)",
        "Common cause variation",
    ]
    # The metrics list stays alphabetical, with the same icons.
    rows = _csv(client.get(reverse("metrics:metric_list_csv")))
    assert [(r["id"], r["variation"]) for r in rows] == [
        ("north-reports-weekly", "common_cause"),
        ("south-reports-weekly", "special_cause_concern"),
    ]
    # And the metric's own page says the same.
    data = _json(client, "south-reports-weekly")
    assert data["spc"]["variation_sentence"] == south["variation_sentence"]
    assert [p["type"] for p in data["series"]["points"]][-3:] == ["special_cause_concern"] * 3


# --- small counts hidden from public readers ------------------------------------------------


def test_spc_for_a_public_reader_ignores_the_hidden_counts(
    metrics: Metrics, client_as: ClientAs
) -> None:
    """Public with counts under 11 hidden: South's weeks of 10 are hidden from the outsider
    (not on the team), and North's of the same weeks with them (else North = total - South).
    The mean and limits come from the weeks shown; hidden weeks have no type."""
    services.save_definition(
        {**COUNT_METRIC, "public": True, "suppress_below": 11}, None, "Published."
    )
    services.refresh()
    north = {"breakdown": "district", "value": "North"}
    outsider = client_as("outsider")
    data = _json(outsider, **north)
    assert data["metric"]["suppressed"] is True
    points = data["series"]["points"]
    counts = weekly_counts("North")
    hidden = [south < 11 for south in weekly_counts("South")]  # weeks 1, 3, 5 and 7
    assert any(hidden) and not all(hidden)
    shown = [None if h else c for c, h in zip(counts, hidden, strict=True)]
    assert [p["value"] for p in points] == shown
    assert [p["type"] is None for p in points] == hidden
    kept = [v for v in shown if v is not None]
    visible = [p for p in points if p["value"] is not None]
    assert [p["mean"] for p in visible] == pytest.approx([sum(kept) / len(kept)] * len(kept))
    assert all(p["mean"] is None and p["lpl"] is None for p in points if p["value"] is None)
    assert data["spc"]["variation"] == "common_cause"
    # The team sees every week, and a mean of them all.
    everything = _json(client_as("lead"), **north)["series"]["points"]
    assert all(p["type"] is not None for p in everything)
    assert everything[1]["mean"] == pytest.approx(sum(counts) / len(counts))
    assert everything[1]["mean"] != visible[0]["mean"]
    # Hidden values stay out of the chart and the CSV too; the files are drawn.
    values = [r["value"] for r in data["chart"]["vega_lite"]["data"]["values"]]
    assert values == shown
    rows = _csv(outsider.get(_url("metric_detail_csv"), north))
    assert [r["type"] for r in rows] == [p["type"] or "" for p in points]
    assert [r["mean"] == "" for r in rows] == hidden
    assert outsider.get(_url("metric_chart_png"), north).content.startswith(b"\x89PNG")
    assert outsider.get(_url("metric_detail"), north).status_code == 200
    # The list's icons for the outsider come from what they may see.
    listed = outsider.get(reverse("metrics:metric_list_json")).json()["metrics"]
    assert {m["slug"]: m["variation"] for m in listed}[COUNT_ID] == "common_cause"


def test_a_series_hidden_entirely_has_nothing_to_judge(
    metrics: Metrics, client_as: ClientAs
) -> None:
    """Counts under 16 hidden: every district's week is hidden from the outsider, no crash."""
    services.save_definition(
        {**COUNT_METRIC, "public": True, "suppress_below": 16}, None, "Published."
    )
    services.refresh()
    outsider = client_as("outsider")
    for district in ("North", "South"):
        query = {"breakdown": "district", "value": district}
        data = _json(outsider, **query)
        assert all(p["value"] is None and p["type"] is None for p in data["series"]["points"])
        assert data["spc"]["variation"] is None
        assert data["spc"]["variation_sentence"] == "No data yet, so nothing to judge."
        assert "No values to draw yet." in json.dumps(data["chart"]["vega_lite"])
        page = outsider.get(_url("metric_detail"), {"series": f"district|{district}"})
        assert page.status_code == 200
        assert "Small numbers hidden" in _text(page)
        assert _svg_titles(page.content.decode()) == ["No data: variation not known yet"]
        assert outsider.get(_url("metric_chart_svg"), query).status_code == 200
    # The total (23 to 26 a week) is still shown, and judged.
    assert _json(outsider)["spc"]["variation"] == "common_cause"


def test_a_rebase_outside_the_data_says_it_has_no_effect(
    metrics: Metrics, client_as: ClientAs
) -> None:
    _edit(
        client_as("lead"),
        metrics[COUNT_ID],
        rebases="2027-06-07: Crews to be reorganised.",
        reason="Planned change.",
    )
    services.refresh()
    data = _json(client_as("viewer"))
    assert data["spc"]["rebases"] == [
        {"date": "2027-06-07", "reason": "Crews to be reorganised.", "applied": False}
    ]
    assert "rebased" not in data["spc"]["settings_text"]
    assert any(
        "07 Jun 2027 (Crews to be reorganised.) is outside the data" in w
        for w in data["spc"]["warnings"]
    )
    assert {p["group"] for p in data["series"]["points"]} == {1}


def test_an_event_outside_the_data_is_listed_but_not_drawn(
    metrics: Metrics, client_as: ClientAs
) -> None:
    _add(client_as("editor"), "2030-06-03", "Far in the future")
    data = _json(client_as("viewer"))
    assert [a["text"] for a in data["annotations"]] == ["Far in the future"]
    assert "Far in the future" not in json.dumps(data["chart"]["vega_lite"])
