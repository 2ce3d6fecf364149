"""The metric pages as people use them: who sees which metric, the page and its JSON/CSV twins,
the breakdown selector, the steward's edit forms and the history, partners agreeing, and the
guards (404 for outsiders, 403 for read-only people, CSRF, escaping)."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from civicloop.metrics import services
from civicloop.metrics.forms import EditDefinitionForm
from civicloop.metrics.models import Metric, MetricVersion, SignOff
from civicloop.testing import Personas, load_csv

pytestmark = pytest.mark.django_db

COUNT_ID = "litter-reports-weekly"
RATIO_ID = "heavy-litter-share"
CALLS_ID = "calls-for-service-weekly"
FIRST_DAY = date(2026, 1, 5)  # a Monday
DAYS = 60  # through 2026-03-05, a Thursday: eight complete weeks
WEEKS = 8
LOGIN = "/accounts/login/"

CLEAN = {"team": "team-clean", "owner": "public-works", "steward": "lead@example.org"}
COUNT_METRIC: dict[str, Any] = {
    **CLEAN,
    "id": COUNT_ID,
    "name": "Litter reports per week",
    "question": "How many litter reports do residents make each week?",
    "description": "Every litter report, counted in the week it was made.",
    "dataset": "litter_reports",
    "measure": {"aggregate": "count"},
    "time": {"column": "reported_on", "grain": "week"},
    "breakdowns": ["district"],
    "unit": "reports",
    "direction": "lower_is_better",
}
RATIO_METRIC: dict[str, Any] = {
    **CLEAN,
    "id": RATIO_ID,
    "name": "Share of reports needing three or more bags",
    "question": "What share of litter reports are big jobs?",
    "dataset": "litter_reports",
    "measure": {
        "ratio": {
            "numerator": {"aggregate": "count", "filter": "bags >= 3"},
            "denominator": {"aggregate": "count"},
            "multiplier": 100,
        }
    },
    "time": {"column": "reported_on", "grain": "week"},
    "breakdowns": ["district"],
    "unit": "%",
    "decimals": 1,
    "direction": "lower_is_better",
    "chart": {"type": "p"},
}
CALLS_METRIC: dict[str, Any] = {
    "team": "team-safe",
    "owner": "police",
    "steward": "outsider@example.org",
    "id": CALLS_ID,
    "name": "Calls for service per week",
    "question": "How many calls for service does Police answer each week?",
    "dataset": "calls_for_service",
    "measure": {"aggregate": "count"},
    "time": {"column": "received_at", "grain": "week"},
    "direction": "neutral",
}


def litter_rows() -> list[tuple[int, date, str, int]]:
    """Sixty days of reports: North has 1-3 a day, South 1-2, bags 0-4."""
    rows: list[tuple[int, date, str, int]] = []
    for offset in range(DAYS):
        day = FIRST_DAY + timedelta(days=offset)
        for district, count in (("North", 1 + offset % 3), ("South", 1 + offset % 2)):
            for _ in range(count):
                report_id = len(rows) + 1
                rows.append((report_id, day, district, report_id % 5))
    return rows


def litter_csv() -> str:
    lines = ["report_id,reported_on,district,bags"]
    lines += [
        f"{i},{day.isoformat()},{district},{bags}" for i, day, district, bags in litter_rows()
    ]
    return "\n".join(lines) + "\n"


def weekly_counts(district: str | None = None) -> list[int]:
    """What the count metric should show for each complete week, worked out in Python."""
    weeks: Counter[int] = Counter()
    for _, day, where, _ in litter_rows():
        if district is None or where == district:
            weeks[(day - FIRST_DAY).days // 7] += 1
    return [weeks[week] for week in range(WEEKS)]


@pytest.fixture
def metrics(personas: Personas, data_dir, tmp_path) -> dict[str, Metric]:  # type: ignore[no-untyped-def]
    """Sixty days of litter reports, a weekly count and a ratio for Team Clean (steward: the
    lead), a Police metric for Team Safe with no data yet, all computed."""
    run = load_csv(personas.restricted_dataset, litter_csv(), tmp_path, user=personas.lead)
    assert run.status == "succeeded", run.summary
    saved = {}
    for data in (COUNT_METRIC, RATIO_METRIC, CALLS_METRIC):
        metric, version = services.save_definition(data, None, "First definition.")
        assert version is not None and version.number == 1
        saved[metric.slug] = metric
    report = services.refresh()
    assert not report.failed, report.failed
    assert set(report.computed) == {COUNT_ID, RATIO_ID}
    return saved


def _url(name: str, slug: str = COUNT_ID) -> str:
    return reverse(f"metrics:{name}", kwargs={"slug": slug})


def _text(response) -> str:  # type: ignore[no-untyped-def]
    """The page as a person reads it: tags dropped, whitespace collapsed, entities decoded."""
    body = re.sub(r"<script.*?</script>|<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(body))


def _csv(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    text = response.content.decode("utf-8").lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


def _edit_data(metric: Metric, **changes: Any) -> dict[str, Any]:
    """The edit form as the browser would post it, unchanged apart from `changes`."""
    assert metric.current_version is not None
    initial = EditDefinitionForm.initial_for(metric.current_version.definition)
    data: dict[str, Any] = {}
    for key, value in {**initial, "reason": "No reason given", **changes}.items():
        if isinstance(value, bool):
            if value:
                data[key] = "on"
        elif value is not None:
            data[key] = value
    return data


def _field_errors(response, field: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(e) for e in response.context["form"].errors.get(field, [])]


def _strip_csrf(content: bytes) -> bytes:
    return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", content)


# --- who sees which metric ------------------------------------------------------------------

TEAM_CLEAN_METRICS = {COUNT_ID, RATIO_ID}
SEEN_BY = {
    "lead": TEAM_CLEAN_METRICS,
    "editor": TEAM_CLEAN_METRICS,
    "viewer": TEAM_CLEAN_METRICS,
    "guest": TEAM_CLEAN_METRICS,
    "outsider": {CALLS_ID},
    "admin": {COUNT_ID, RATIO_ID, CALLS_ID},
}


@pytest.mark.parametrize("persona", sorted(SEEN_BY))
def test_list_page_shows_only_the_metrics_the_person_may_see(
    persona: str, metrics, client_as
) -> None:  # type: ignore[no-untyped-def]
    response = client_as(persona).get(reverse("metrics:metric_list"))
    assert response.status_code == 200
    shown = {m["slug"] for m in response.context["metrics"]}
    assert shown == SEEN_BY[persona]
    page = _text(response)
    for slug, metric in metrics.items():
        assert (metric.name in page) == (slug in SEEN_BY[persona])


@pytest.mark.parametrize("persona", sorted(SEEN_BY))
def test_list_twins_show_the_same_metrics_as_the_page(persona: str, metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as(persona)
    as_json = client.get(reverse("metrics:metric_list_json")).json()
    assert {m["slug"] for m in as_json["metrics"]} == SEEN_BY[persona]
    as_csv = _csv(client.get(reverse("metrics:metric_list_csv")))
    assert {row["id"] for row in as_csv} == SEEN_BY[persona]


def test_list_shows_the_latest_value_and_agreement(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    rows = {
        m["slug"]: m
        for m in client_as("lead").get(reverse("metrics:metric_list_json")).json()["metrics"]
    }
    count = rows[COUNT_ID]
    last_week = FIRST_DAY + timedelta(weeks=WEEKS - 1)
    assert count["latest"] == {
        "period": last_week.isoformat(),
        "label": f"Week of {last_week.isoformat()}",
        "value": weekly_counts()[-1],
    }
    assert count["version"] == 1
    assert count["agreement"] == "agreed by 0 of 2 partners"
    assert rows[RATIO_ID]["unit"] == "%"


def test_a_public_metric_is_listed_for_everyone_signed_in(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    services.save_definition(
        {**CALLS_METRIC, "public": True, "suppress_below": 5}, None, "Published for residents."
    )
    for persona in ("lead", "viewer", "guest"):
        response = client_as(persona).get(reverse("metrics:metric_list_json"))
        assert CALLS_ID in {m["slug"] for m in response.json()["metrics"]}, persona
        assert client_as(persona).get(_url("metric_detail", CALLS_ID)).status_code == 200


def test_list_csv_is_formula_safe(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    services.save_definition(
        {**COUNT_METRIC, "name": '=HYPERLINK("http://evil.example","x")'}, None, "Renamed."
    )
    rows = {
        row["id"]: row for row in _csv(client_as("lead").get(reverse("metrics:metric_list_csv")))
    }
    assert rows[COUNT_ID]["name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert float(rows[COUNT_ID]["value"]) == weekly_counts()[-1]


# --- the metric page ------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["lead", "editor", "viewer", "guest", "admin"])
def test_team_members_and_admin_see_the_metric_page(persona: str, metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as(persona).get(_url("metric_detail"))
    assert response.status_code == 200
    page = _text(response)
    assert "Litter reports per week" in page
    assert COUNT_METRIC["question"] in page
    assert "Week of 2026-01-05" in page


def test_outsider_gets_the_same_404_as_for_a_missing_metric(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as("outsider")
    for name in ("metric_detail", "metric_detail_json", "metric_detail_csv", "metric_history"):
        real = client.get(_url(name))
        missing = client.get(_url(name, "no-such-metric"))
        assert real.status_code == missing.status_code == 404, name
        assert _strip_csrf(real.content) == _strip_csrf(missing.content), name


def test_anonymous_is_sent_to_sign_in(metrics, client) -> None:  # type: ignore[no-untyped-def]
    for name in ("metric_detail", "metric_detail_json", "metric_detail_csv", "metric_edit"):
        response = client.get(_url(name))
        assert response.status_code == 302, name
        assert response["Location"].startswith(LOGIN), name
    response = client.get(reverse("metrics:metric_list"))
    assert response.status_code == 302 and response["Location"].startswith(LOGIN)


def test_page_shows_the_weekly_numbers_and_the_breakdown_choices(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as("viewer").get(_url("metric_detail"))
    series = response.context["series"]
    assert series["label"] == "Total"
    assert [p["value"] for p in series["points"]] == weekly_counts()
    labels = [c["label"] for c in series["choices"]]
    assert labels == ["Total", "North (district)", "South (district)"]
    content = response.content.decode()
    assert '<option value="district|North">North (district)</option>' in content
    assert '<option value="|" selected>Total</option>' in content


def test_breakdown_selector_switches_the_series(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as("guest")
    response = client.get(_url("metric_detail"), {"series": "district|North"})
    series = response.context["series"]
    assert series["label"] == "North (district)"  # as the selector says it
    assert [p["value"] for p in series["points"]] == weekly_counts("North")
    assert '<option value="district|North" selected>' in response.content.decode()
    south = client.get(_url("metric_detail_json"), {"breakdown": "district", "value": "South"})
    assert [p["value"] for p in south.json()["series"]["points"]] == weekly_counts("South")
    assert weekly_counts("North") != weekly_counts("South")


def test_an_unknown_breakdown_is_not_found_rather_than_the_total(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    """A CSV of the total saved as "district East" would mislead: say there is no such series."""
    response = client_as("lead").get(_url("metric_detail"), {"series": "district|East"})
    assert response.status_code == 404
    twin = client_as("lead").get(_url("metric_detail_csv"), {"breakdown": "chanel", "value": "x"})
    assert twin.status_code == 404


def test_json_twin_has_points_plain_language_lineage_and_agreement(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    data = client_as("editor").get(_url("metric_detail_json")).json()
    points = data["series"]["points"]
    assert len(points) == WEEKS
    counts = weekly_counts()
    mean = sum(counts) / len(counts)
    first = points[0]
    assert {k: first[k] for k in ("period", "label", "value", "value_text")} == {
        "period": "2026-01-05",
        "label": "Week of 2026-01-05",
        "value": counts[0],
        "value_text": str(counts[0]),
    }
    assert first["numerator"] is first["denominator"] is first["target"] is None
    # Each point carries its SPC: the XmR mean and limits of the whole series, and its type.
    assert first["mean"] == pytest.approx(mean)
    assert first["upl"] - first["mean"] == pytest.approx(first["mean"] - first["lpl"])
    assert all(
        p["type"] in {"common_cause", "special_cause_neutral_high", "special_cause_neutral_low"}
        for p in points
    )
    plain = data["metric"]["plain_language"]
    assert plain and all(isinstance(sentence, str) and sentence for sentence in plain)
    assert any("week" in sentence for sentence in plain)
    lineage = data["lineage"]
    assert lineage["dataset_slug"] == "litter_reports"
    assert lineage["dataset_version"] == lineage["dataset_current_version"] == 1
    assert lineage["metric_version"] == 1
    assert lineage["rows"] == len(litter_rows())
    assert lineage["out_of_date"] is False
    assert data["agreement"] == {
        "summary": "agreed by 0 of 2 partners",
        "agreed": [],
        "waiting": ["Downtown Business Association", "Public Works"],
        "you_may_agree_for": "Public Works",
    }
    assert data["metric"]["definition"]["id"] == COUNT_ID
    assert data["spc"]["chart"] == "xmr"
    assert data["spc"]["variation_sentence"]
    assert data["chart"]["vega_lite"]["$schema"].startswith(
        "https://vega.github.io/schema/vega-lite/"
    )
    assert not [key for key in data if key.startswith("_")]


def test_ratio_json_keeps_numerators_and_denominators(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    points = client_as("lead").get(_url("metric_detail_json", RATIO_ID)).json()["series"]["points"]
    assert len(points) == WEEKS
    for point in points:
        assert point["denominator"] > 0
        assert point["value"] == pytest.approx(point["numerator"] / point["denominator"] * 100)
    assert [p["denominator"] for p in points] == weekly_counts()


def test_csv_twin_has_one_row_per_period(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as("guest").get(_url("metric_detail_csv"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="{COUNT_ID}.csv"' in response["Content-Disposition"]
    rows = _csv(response)
    assert [row["period"] for row in rows] == [
        (FIRST_DAY + timedelta(weeks=week)).isoformat() for week in range(WEEKS)
    ]
    assert [int(float(row["value"])) for row in rows] == weekly_counts()
    north = _csv(client_as("guest").get(_url("metric_detail_csv"), {"series": "district|North"}))
    assert [int(float(row["value"])) for row in north] == weekly_counts("North")


def test_csv_twin_is_formula_safe(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as("lead").get(_url("metric_detail_csv", RATIO_ID))
    text = response.content.decode("utf-8").lstrip("\ufeff")
    for row in list(csv.reader(io.StringIO(text)))[1:]:
        for cell in row:
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                float(cell)  # only a number may start like a formula


def test_user_text_is_escaped(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    evil = "<script>alert('x')</script> & <b>bold</b>"
    services.save_definition(
        {**COUNT_METRIC, "name": evil, "caveats": "<img src=x onerror=alert(1)>"}, None, "Renamed."
    )
    client = client_as("lead")
    for url in (_url("metric_detail"), _url("metric_history"), reverse("metrics:metric_list")):
        content = client.get(url).content.decode()
        assert "<script>alert(" not in content, url
        assert "<b>bold</b>" not in content, url
        assert "&lt;script&gt;alert(" in content, url
    detail = client.get(_url("metric_detail")).content.decode()
    assert "<img src=x" not in detail
    assert "&lt;img src=x onerror=alert(1)&gt;" in detail


# --- editing the definition -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("lead", 200),
        ("admin", 200),
        ("editor", 403),
        ("viewer", 403),
        ("guest", 403),
        ("outsider", 404),
    ],
)
def test_only_the_steward_may_open_the_edit_pages(
    persona: str, status: int, metrics, client_as
) -> None:  # type: ignore[no-untyped-def]
    client = client_as(persona)
    assert client.get(_url("metric_edit")).status_code == status
    assert client.get(_url("metric_edit_yaml")).status_code == status


def test_only_the_steward_sees_the_edit_links(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    edit = _url("metric_edit")
    assert edit in client_as("lead").get(_url("metric_detail")).content.decode()
    assert edit not in client_as("editor").get(_url("metric_detail")).content.decode()


def test_refused_edit_changes_nothing(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    metric = metrics[COUNT_ID]
    response = client_as("editor").post(
        _url("metric_edit"), _edit_data(metric, name="Hijacked", reason="Because.")
    )
    assert response.status_code == 403
    metric.refresh_from_db()
    assert metric.name == "Litter reports per week"
    assert metric.versions.count() == 1


def test_a_misspelt_column_in_the_filter_is_shown_on_the_filter_field(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    metric = metrics[COUNT_ID]
    response = client_as("lead").post(
        _url("metric_edit"),
        _edit_data(metric, filter="distrct = 'North'", reason="North only."),
    )
    assert response.status_code == 200
    errors = _field_errors(response, "filter")
    assert errors, response.context["form"].errors
    message = " ".join(errors)
    assert "distrct" in message and "'district'" in message
    page = _text(response)
    assert "Please correct 1 problem" in page
    assert 'aria-invalid="true"' in response.content.decode()
    assert MetricVersion.objects.filter(metric=metric).count() == 1


def test_a_valid_change_makes_version_two_with_its_reason(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    metric = metrics[COUNT_ID]
    client = client_as("lead")
    response = client.post(
        _url("metric_edit"),
        _edit_data(
            metric,
            name="Litter reports each week",
            filter="district = 'North'",
            reason="Only the North is in the pilot.",
        ),
    )
    assert response.status_code == 302 and response["Location"] == metric.get_absolute_url()
    metric.refresh_from_db()
    assert metric.name == "Litter reports each week"
    version = metric.current_version
    assert version is not None and version.number == 2
    assert version.reason == "Only the North is in the pilot."
    assert version.author == metric.steward
    assert version.definition["filter"] == "district = 'North'"
    page = _text(client.get(metric.get_absolute_url()))
    assert "Saved as version 2." in page
    assert "Version 2" in page and "Only the North is in the pilot." in page


def test_history_shows_what_changed_field_by_field(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    metric = metrics[COUNT_ID]
    client = client_as("lead")
    client.post(
        _url("metric_edit"),
        _edit_data(metric, name="Litter reports each week", unit="", reason="Shorter."),
    )
    response = client.get(_url("metric_history"))
    assert response.status_code == 200
    versions = response.context["versions"]
    assert [v["number"] for v in versions] == [2, 1]
    assert versions[0]["current"] and not versions[1]["current"]
    assert versions[0]["reason"] == "Shorter."
    assert versions[0]["author"] == "Lena Lead"
    assert {c["field"]: (c["before"], c["after"]) for c in versions[0]["changes"]} == {
        "name": ("Litter reports per week", "Litter reports each week"),
        "unit": ("reports", None),
    }
    page = _text(response)
    assert "What changed from version 1" in page
    assert "name Litter reports per week Litter reports each week" in page
    assert "unit reports (removed)" in page
    assert "The first definition." in page
    as_json = client.get(_url("metric_history_json")).json()
    assert as_json["versions"][0]["changes"][0]["field"] == "name"


@pytest.mark.parametrize("slug", [COUNT_ID, RATIO_ID])
def test_an_unchanged_form_makes_no_version(slug: str, metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    metric = metrics[slug]
    client = client_as("lead")
    response = client.post(_url("metric_edit", slug), _edit_data(metric, reason="Just checking."))
    assert response.status_code == 302
    assert metric.versions.count() == 1
    assert "Nothing changed, so no new version was made." in _text(client.get(response["Location"]))


def test_an_unchanged_form_from_a_browser_makes_no_version(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    """Browsers send a textarea's line breaks as CRLF (the HTML form-submission rules), so the
    unchanged form of a two-line description must not count as a change."""
    metric, _ = services.save_definition(
        {**COUNT_METRIC, "description": "Line one.\nLine two."}, None, "Two lines."
    )
    data = _edit_data(metric, reason="Just checking.")
    data["description"] = data["description"].replace("\n", "\r\n")
    response = client_as("lead").post(_url("metric_edit"), data)
    assert response.status_code == 302
    metric.refresh_from_db()
    assert metric.current_version.number == 2, services.history(metric)[0]["changes"]


def test_an_unchanged_yaml_form_makes_no_version(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as("lead")
    text = client.get(_url("metric_edit_yaml")).context["form"].initial["definition"]
    response = client.post(
        _url("metric_edit_yaml"),
        {"definition": text.replace("\n", "\r\n"), "reason": "Just checking."},
    )
    assert response.status_code == 302
    assert metrics[COUNT_ID].versions.count() == 1


def test_the_edit_form_needs_a_reason(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    metric = metrics[COUNT_ID]
    data = _edit_data(metric, name="Renamed")
    data["reason"] = ""
    response = client_as("lead").post(_url("metric_edit"), data)
    assert response.status_code == 200
    assert _field_errors(response, "reason")
    assert metric.versions.count() == 1


def test_yaml_edit_with_malformed_yaml_says_where(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    metric = metrics[COUNT_ID]
    broken = f"id: {COUNT_ID}\nname: Litter reports\n  question: [unclosed\n"
    response = client_as("lead").post(
        _url("metric_edit_yaml"), {"definition": broken, "reason": "Tidy."}
    )
    assert response.status_code == 200
    message = " ".join(_field_errors(response, "definition"))
    assert "This is not valid YAML at line 3, column 11" in message, message
    assert metric.versions.count() == 1


def test_yaml_edit_saves_a_new_version(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    metric = metrics[COUNT_ID]
    client = client_as("lead")
    text = client.get(_url("metric_edit_yaml")).context["form"].initial["definition"]
    assert f"id: {COUNT_ID}" in text
    changed = text.replace("grain: week", "grain: month")
    response = client.post(
        _url("metric_edit_yaml"), {"definition": changed, "reason": "Monthly is enough."}
    )
    assert response.status_code == 302
    metric.refresh_from_db()
    assert metric.current_version.number == 2
    assert metric.current_version.definition["time"]["grain"] == "month"


def test_yaml_edit_may_not_change_the_id(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    metric = metrics[COUNT_ID]
    client = client_as("lead")
    text = client.get(_url("metric_edit_yaml")).context["form"].initial["definition"]
    response = client.post(
        _url("metric_edit_yaml"),
        {"definition": text.replace(COUNT_ID, "another-id"), "reason": "Rename."},
    )
    assert response.status_code == 200
    assert "cannot change" in " ".join(_field_errors(response, "definition"))
    assert not Metric.objects.filter(slug="another-id").exists()
    assert metric.versions.count() == 1


# --- new metrics ----------------------------------------------------------------------------


def _new_yaml(metric_id: str, team: str = "team-clean") -> str:
    return (
        f"id: {metric_id}\n"
        "name: Bags collected per week\n"
        "question: How many bags of litter do crews collect each week?\n"
        f"team: {team}\n"
        "owner: public-works\n"
        "steward: editor@example.org\n"
        "dataset: litter_reports\n"
        "measure:\n  aggregate: sum\n  column: bags\n"
        "time:\n  column: reported_on\n  grain: week\n"
        "unit: bags\n"
    )


@pytest.mark.parametrize(
    ("persona", "status"),
    [("lead", 200), ("editor", 200), ("outsider", 200), ("viewer", 403), ("guest", 403)],
)
def test_new_metric_page_is_for_people_who_edit_a_team(
    persona: str, status: int, metrics, client_as
) -> None:  # type: ignore[no-untyped-def]
    """Leads and members of any team may define metrics (the outsider leads Team Safe);
    people who only view or visit a team may not."""
    assert client_as(persona).get(reverse("metrics:metric_new")).status_code == status


def test_new_metric_link_only_for_people_who_may_create(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    new = reverse("metrics:metric_new")
    assert new in client_as("editor").get(reverse("metrics:metric_list")).content.decode()
    assert new not in client_as("viewer").get(reverse("metrics:metric_list")).content.decode()


def test_editor_creates_a_metric(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as("editor")
    response = client.post(
        reverse("metrics:metric_new"),
        {"definition": _new_yaml("bags-collected-weekly"), "reason": "Crews asked for it."},
    )
    assert response.status_code == 302
    metric = Metric.objects.get(slug="bags-collected-weekly")
    assert response["Location"] == metric.get_absolute_url()
    assert metric.team.slug == "team-clean"
    assert metric.steward.email == "editor@example.org"
    assert metric.current_version.number == 1
    assert metric.current_version.reason == "Crews asked for it."
    assert client.get(metric.get_absolute_url()).status_code == 200


def test_a_new_metric_may_not_reuse_an_id(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as("editor").post(
        reverse("metrics:metric_new"), {"definition": _new_yaml(COUNT_ID), "reason": "Again."}
    )
    assert response.status_code == 200
    assert "exists already" in " ".join(_field_errors(response, "definition"))
    metric = Metric.objects.get(slug=COUNT_ID)
    assert metric.name == "Litter reports per week"
    assert metric.versions.count() == 1


def test_a_new_metric_for_someone_elses_team_is_refused(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    """The outsider is not on Team Clean, so for them it does not exist: refused as unknown,
    not with a 403 that would confirm the team is there."""
    response = client_as("outsider").post(
        reverse("metrics:metric_new"), {"definition": _new_yaml("sneaky"), "reason": "Mine."}
    )
    assert response.status_code == 200
    message = " ".join(_field_errors(response, "definition"))
    assert "there is no team 'team-clean'" in message, message
    assert not Metric.objects.filter(slug="sneaky").exists()


def test_a_new_metric_with_malformed_yaml_says_where(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as("editor").post(
        reverse("metrics:metric_new"),
        {"definition": "id: broken\nmeasure: {aggregate: count\n", "reason": "Try."},
    )
    assert response.status_code == 200
    message = " ".join(_field_errors(response, "definition"))
    assert "This is not valid YAML at line 2, column 27" in message, message
    assert not Metric.objects.filter(slug="broken").exists()


def _probe_yaml(dataset: str, team: str = "team-safe") -> str:
    return (
        "id: probe\nname: Probe\nquestion: Does it exist?\n"
        f"team: {team}\nowner: police\nsteward: outsider@example.org\ndataset: {dataset}\n"
        "measure:\n  aggregate: count\ntime:\n  column: received_at\n  grain: week\n"
    )


def _probe(client, dataset: str, team: str = "team-safe") -> str:  # type: ignore[no-untyped-def]
    response = client.post(
        reverse("metrics:metric_new"),
        {"definition": _probe_yaml(dataset, team), "reason": "Probing."},
    )
    assert response.status_code in (200, 403)
    assert not Metric.objects.filter(slug="probe").exists()
    if response.status_code == 403:
        return ""
    return " ".join(str(e) for e in response.context["form"].errors.get("definition", []))


def test_a_misspelt_dataset_does_not_suggest_one_the_author_may_not_see(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    """The outsider gets 404 for litter_reports' page; the new-metric form must not name it
    either, in a suggestion or a list of datasets."""
    message = _probe(client_as("outsider"), "litter_reportz")
    assert "litter_reports" not in message, message


def test_a_dataset_the_author_may_not_see_is_refused_as_if_missing(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    """Naming litter_reports must not tell the outsider its name, sensitivity or agreement."""
    message = _probe(client_as("outsider"), "litter_reports")
    assert message, "refused without a message"
    for secret in ("Litter reports", "restricted", "agreement"):
        assert secret not in message, message


def test_new_metric_errors_do_not_reveal_teams_the_author_is_not_on(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    """Team Clean's page is a 404 for the outsider; a misspelt team must not list it."""
    message = _probe(client_as("outsider"), "calls_for_service", team="team-cleen")
    assert "team-clean" not in message, message


def test_a_public_metric_on_restricted_data_hides_small_counts_from_outsiders(
    metrics, client_as
) -> None:  # type: ignore[no-untyped-def]
    """Publishing restricted data needs suppress_below "so that small counts about people are
    hidden": someone outside the data's agreement sees no count below it."""
    services.save_definition(
        {**COUNT_METRIC, "public": True, "suppress_below": 20}, None, "Published."
    )
    services.refresh()
    client = client_as("outsider")
    total = client.get(_url("metric_detail_json")).json()["series"]["points"]
    assert [p["value"] for p in total] == weekly_counts()  # 23 to 26: at or above 20
    north = client.get(_url("metric_detail_json"), {"series": "district|North"}).json()
    shown = [p["value"] for p in north["series"]["points"]]
    assert all(v is None or v >= 20 for v in shown), f"counts below 20 shown: {shown}"
    rows = _csv(client.get(_url("metric_detail_csv"), {"series": "district|North"}))
    assert all(not r["value"] or float(r["value"]) >= 20 for r in rows), rows


# --- agreement ------------------------------------------------------------------------------


def test_partners_are_the_organizations_on_the_team(metrics, personas) -> None:  # type: ignore[no-untyped-def]
    assert metrics[COUNT_ID].partners() == [personas.partner, personas.department]


def test_a_viewer_may_not_agree(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as("viewer").post(_url("metric_agree"), {"comment": ""})
    assert response.status_code == 403
    assert not SignOff.objects.exists()


def test_an_outsider_cannot_agree_to_a_metric_they_cannot_see(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    assert client_as("outsider").post(_url("metric_agree"), {}).status_code == 404
    assert not SignOff.objects.exists()


def test_the_viewer_is_not_offered_the_agree_button(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    assert (
        _url("metric_agree") not in client_as("viewer").get(_url("metric_detail")).content.decode()
    )
    assert _url("metric_agree") in client_as("guest").get(_url("metric_detail")).content.decode()


def test_guest_agrees_for_the_partner(metrics, personas, client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as("guest")
    response = client.post(_url("metric_agree"), {"comment": "Matches our counts."})
    assert response.status_code == 302 and response["Location"] == _url("metric_detail")
    signoff = SignOff.objects.get()
    assert signoff.organization == personas.partner
    assert signoff.person == personas.guest
    assert signoff.comment == "Matches our counts."
    assert signoff.version == metrics[COUNT_ID].current_version
    page = client.get(_url("metric_detail"))
    text = _text(page)
    assert (
        "Downtown Business Association agrees to version 1 of this definition. "
        "It is now agreed by 1 of 2 partners." in text
    )
    assert "Agreed by 1 of 2 partners to version 1." in text
    assert "Not yet agreed: Public Works." in text
    assert "Matches our counts." in text
    data = client.get(_url("metric_detail_json")).json()["agreement"]
    assert data["summary"] == "agreed by 1 of 2 partners"
    assert data["waiting"] == ["Public Works"]
    assert data["you_may_agree_for"] is None
    assert _url("metric_agree") not in page.content.decode()


def test_agreeing_twice_is_refused_with_a_message(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as("guest")
    client.post(_url("metric_agree"), {})
    response = client.post(_url("metric_agree"), {})
    assert response.status_code == 302
    assert SignOff.objects.count() == 1
    text = _text(client.get(response["Location"]))
    assert "Downtown Business Association agreed to version 1 already" in text


def test_two_people_of_one_organization_agree_once(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    client_as("lead").post(_url("metric_agree"), {})
    response = client_as("editor").post(_url("metric_agree"), {})
    assert response.status_code == 302
    assert SignOff.objects.count() == 1


def test_a_new_version_clears_agreement(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    client_as("guest").post(_url("metric_agree"), {})
    client_as("editor").post(_url("metric_agree"), {})
    lead = client_as("lead")
    summary = lead.get(_url("metric_detail_json")).json()["agreement"]["summary"]
    assert summary == "agreed by 2 of 2 partners"
    response = lead.post(
        _url("metric_edit"), _edit_data(metrics[COUNT_ID], unit="litter reports", reason="Unit.")
    )
    assert response.status_code == 302
    data = lead.get(_url("metric_detail_json")).json()
    assert data["metric"]["version"] == 2
    assert data["agreement"]["summary"] == "agreed by 0 of 2 partners"
    assert data["agreement"]["agreed"] == []
    history = lead.get(_url("metric_history_json")).json()["versions"]
    assert history[0]["agreed_by"] == []
    assert sorted(history[1]["agreed_by"]) == ["Downtown Business Association", "Public Works"]


def test_agree_without_a_csrf_token_is_refused(metrics, personas) -> None:  # type: ignore[no-untyped-def]
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.guest)
    response = client.post(_url("metric_agree"), {"comment": "Forged."})
    assert response.status_code == 403
    assert not SignOff.objects.exists()


def test_agree_is_post_only(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    assert client_as("guest").get(_url("metric_agree")).status_code == 405
    assert not SignOff.objects.exists()


def test_edit_without_a_csrf_token_is_refused(metrics, personas) -> None:  # type: ignore[no-untyped-def]
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.lead)
    data = _edit_data(metrics[COUNT_ID], name="Forged", reason="Forged.")
    assert client.post(_url("metric_edit"), data).status_code == 403
    assert metrics[COUNT_ID].versions.count() == 1


def test_json_twin_is_json(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as("lead").get(_url("metric_detail_json"))
    assert response["Content-Type"] == "application/json"
    json.loads(response.content)


def test_the_team_page_lists_the_teams_metrics_with_their_agreement(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    page = client_as("viewer").get("/teams/team-clean/")
    text = _text(page)
    assert "Litter reports per week" in text and "agreed by 0 of" in text
    listed = client_as("viewer").get("/teams/team-clean.json").json()["metrics"]
    assert {m["slug"] for m in listed} == TEAM_CLEAN_METRICS
    safe = client_as("outsider").get("/teams/team-safe.json").json()["metrics"]
    assert {m["slug"] for m in safe} == {CALLS_ID}


def test_the_dataset_page_lists_the_metrics_computed_from_it(metrics, client_as) -> None:  # type: ignore[no-untyped-def]
    page = client_as("lead").get("/data/litter_reports/")
    assert "Metrics computed from this data" in _text(page)
    listed = client_as("guest").get("/data/litter_reports.json").json()["metrics"]
    assert {m["slug"] for m in listed} == TEAM_CLEAN_METRICS
    calls = client_as("outsider").get("/data/calls_for_service.json").json()["metrics"]
    assert {m["slug"] for m in calls} == {CALLS_ID}
