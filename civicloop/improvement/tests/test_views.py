"""The A3 and PDSA pages as the personas use them: who gets each page, the forms with bad input
(the message on the field, nothing saved), the steps of a cycle through the pages, the JSON and
CSV twins, people's text made safe, numbers withheld from readers who may not see the metric,
and the one-page print and PDF."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import zlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from civicloop.improvement import api, services
from civicloop.improvement.models import (
    A3,
    A3Event,
    A3Metric,
    A3Template,
    Countermeasure,
    CustomerVoice,
    PdsaCycle,
    PlanAction,
    State,
)
from civicloop.improvement.tests.conftest import (
    CHANGE_ON,
    MONDAYS,
    City,
    new_a3,
    plan,
    ready_a3,
    studied_cycle,
)
from civicloop.metrics.models import Annotation, MetricVersion

pytestmark = pytest.mark.django_db

PERSONAS = ("lead", "editor", "viewer", "guest", "outsider", "anonymous")
EVERYONE = {p: 200 for p in PERSONAS} | {"anonymous": 302}
READS = EVERYONE | {"outsider": 404}
EDITS = READS | {"viewer": 403, "guest": 403}
MM = 72 / 25.4  # PDF points in a millimetre


def text(response) -> str:  # type: ignore[no-untyped-def]
    """The page as a person reads it: tags dropped, whitespace collapsed, entities decoded."""
    body = re.sub(
        r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", response.content.decode(), flags=re.S
    )
    words = re.sub(r"\s+", " ", html.unescape(body)).strip()
    return re.sub(r"\( ", "(", re.sub(r" ([,.;:)])", r"\1", words))


def field_errors(response, name: str) -> str:  # type: ignore[no-untyped-def]
    """The messages shown on one field of the form (empty when none)."""
    found = re.search(
        rf'<ul class="errorlist" id="id_{name}_error">(.*?)</ul>', response.content.decode(), re.S
    )
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))) if found else ""


def flashed(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in response.context["messages"]] if response.context else []


@dataclass
class Sheet:
    """Team Clean's A3 on the North requests, ready for in progress: the North chart in its
    current condition, a resident's quote, and two cycles (1 studied, 2 only planned)."""

    city: City
    a3: A3
    countermeasure: Countermeasure
    studied: PdsaCycle
    planned: PdsaCycle
    link: A3Metric
    voice: CustomerVoice

    def url(self, name: str, **kwargs: Any) -> str:
        return reverse(f"improvement:{name}", kwargs={"pk": self.a3.pk, **kwargs})


@pytest.fixture
def sheet(city: City) -> Sheet:
    personas = city.personas
    a3, countermeasure = ready_a3(personas, city.count)
    link = services.link_metric(personas.editor, a3, city.count, "district", "North")
    voice = services.add_voice(
        personas.editor,
        a3,
        {
            "section": "current_condition",
            "text": "I reported it three times.",
            "source": "Resident",
        },
    )
    studied = studied_cycle(personas, countermeasure, city.count)
    planned = services.add_cycle(
        personas.editor, countermeasure, plan(city.count, change="Texts to residents")
    )
    return Sheet(city, a3, countermeasure, studied, planned, link, voice)


def cycle_url(name: str, cycle: PdsaCycle) -> str:
    return reverse(f"improvement:{name}", kwargs={"pk": cycle.pk})


# --- who gets each page ----------------------------------------------------------------------


def test_every_page_answers_each_persona_as_their_role_allows(sheet: Sheet, client_as) -> None:  # type: ignore[no-untyped-def]
    team = {"slug": "team-clean"}
    template = services.save_template(
        sheet.city.personas.lead,
        sheet.city.personas.team,
        {"name": "Ours", "fishbone_categories": "A\nB"},
    )
    action = sheet.a3.actions.get()
    pages: list[tuple[str, dict[str, int], bool]] = [  # (url, statuses, follows sharing)
        (reverse("improvement:a3_list"), EVERYONE, False),
        (reverse("improvement:a3_list_json"), EVERYONE, False),
        (reverse("improvement:a3_list_csv"), EVERYONE, False),
        (reverse("improvement:team_a3s", kwargs=team), READS, False),
        (reverse("improvement:a3_new", kwargs=team), EDITS, False),
        (reverse("improvement:template_new", kwargs=team), EDITS, False),
        (reverse("improvement:template_edit", kwargs={**team, "pk": template.pk}), EDITS, False),
        (sheet.url("a3_detail"), READS, True),
        (sheet.url("a3_detail_json"), READS, True),
        (cycle_url("cycle_detail", sheet.studied), READS, True),
        (cycle_url("cycle_detail_json", sheet.studied), READS, True),
        (cycle_url("cycle_detail", sheet.planned), READS, True),
        (sheet.url("a3_edit"), EDITS, True),
        (sheet.url("a3_sharing"), EDITS, True),
        (sheet.url("a3_state"), EDITS, True),
        (sheet.url("a3_section", key="background"), EDITS, True),
        (sheet.url("a3_section", key="goal"), EDITS, True),
        (sheet.url("a3_root_causes"), EDITS, True),
        (sheet.url("a3_voice_add"), EDITS, True),
        (sheet.url("countermeasure_new"), EDITS, True),
        (sheet.url("countermeasure_edit", cm=sheet.countermeasure.pk), EDITS, True),
        (sheet.url("cycle_new", cm=sheet.countermeasure.pk), EDITS, True),
        (sheet.url("action_new"), EDITS, True),
        (sheet.url("action_edit", action=action.pk), EDITS, True),
        (cycle_url("cycle_plan", sheet.planned), EDITS, True),
    ]
    for persona in PERSONAS:
        client = client_as(persona)
        for url, statuses, _ in pages:
            response = client.get(url)
            assert response.status_code == statuses[persona], f"{persona} GET {url}"
            if persona == "anonymous":
                assert response["Location"].startswith("/accounts/login/")
    # Shared with Team Safe, the outsider reads the A3 and its cycles, and changes nothing.
    services.update_a3(
        sheet.city.personas.editor, sheet.a3, {"shared_with": [sheet.city.personas.other_team]}
    )
    outsider = client_as("outsider")
    for url, statuses, follows in pages:
        expected = statuses["outsider"]
        if follows:
            expected = 403 if statuses is EDITS else 200
        assert outsider.get(url).status_code == expected, f"shared: outsider GET {url}"
    # No such section; a section that is not a text; another A3's countermeasure.
    lead = client_as("lead")
    assert lead.get(sheet.url("a3_section", key="plan")).status_code == 404
    _other, other_cm = ready_a3(sheet.city.personas, sheet.city.count)
    assert lead.get(sheet.url("countermeasure_edit", cm=other_cm.pk)).status_code == 404


def test_the_started_cycle_s_plan_is_not_offered_again(sheet: Sheet, client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as("editor").get(cycle_url("cycle_plan", sheet.studied), follow=True)
    assert response.redirect_chain[-1][0] == cycle_url("cycle_detail", sheet.studied)
    assert "its plan and prediction are fixed from then on" in " ".join(flashed(response))


# --- bad input on every form -----------------------------------------------------------------


def _snapshot(sheet: Sheet) -> tuple[Any, ...]:
    a3 = A3.objects.get(pk=sheet.a3.pk)
    cycles = tuple(
        PdsaCycle.objects.order_by("pk").values_list(
            "prediction", "started_on", "ended_on", "studied_at", "decision"
        )
    )
    return (
        A3Event.objects.count(),
        A3.objects.count(),
        a3.title,
        a3.owner_id,
        a3.background,
        a3.goal_target,
        a3.state,
        a3.whys,
        A3Template.objects.count(),
        Countermeasure.objects.count(),
        PlanAction.objects.count(),
        CustomerVoice.objects.count(),
        A3Metric.objects.count(),
        Annotation.objects.count(),
        MetricVersion.objects.count(),
        cycles,
    )


def test_bad_input_on_every_form_is_shown_on_its_field_and_nothing_is_saved(
    sheet: Sheet, client_as
) -> None:  # type: ignore[no-untyped-def]
    personas = sheet.city.personas
    services.save_template(
        personas.lead, personas.team, {"name": "Ours", "fishbone_categories": "A\nB"}
    )
    team = {"slug": "team-clean"}
    fresh = sheet.planned
    started = services.add_cycle(personas.editor, sheet.countermeasure, plan(sheet.city.count))
    services.start_cycle(personas.editor, started, CHANGE_ON)
    ended = services.add_cycle(personas.editor, sheet.countermeasure, plan(sheet.city.count))
    services.start_cycle(personas.editor, ended, CHANGE_ON)
    services.record_do(personas.editor, ended, MONDAYS[-1], "Ran.")
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    metric = str(sheet.city.count.pk)
    cycle_form = {
        "change": "A crew",
        "metric": metric,
        "value": "North",
        "prediction": "Fewer",
        "predicted_direction": "decrease",
    }
    # (url, posted, field, message, status)
    cases: list[tuple[str, dict[str, str], str, str, int]] = [
        (
            reverse("improvement:a3_new", kwargs=team),
            {"title": " "},
            "title",
            "Give the A3 a title that names the problem",
            200,
        ),
        (
            reverse("improvement:template_new", kwargs=team),
            {"name": "ours", "fishbone_categories": "Crews"},
            "name",
            "Team Clean already has a template called “ours”; pick another.",
            200,
        ),
        (
            reverse("improvement:template_new", kwargs=team),
            {"name": "Another", "fishbone_categories": "Crews"},
            "fishbone_categories",
            "Give between 2 and 8 categories, one per line; there are 1.",
            200,
        ),
        (
            sheet.url("a3_edit"),
            {"title": "", "owner": str(personas.editor.pk)},
            "title",
            "An A3 needs a title.",
            200,
        ),
        (
            sheet.url("a3_edit"),
            {"title": "Still here", "owner": ""},
            "owner",
            "An A3 needs an owner: the person who answers for it.",
            200,
        ),
        (
            sheet.url("a3_sharing"),
            {"shared_with": str(personas.other_team.pk)},
            "shared_with",
            "Select a valid choice.",
            200,
        ),
        (
            sheet.url("a3_section", key="goal"),
            {"text": "Fewer", "goal_metric": "", "goal_target": "14"},
            "goal_target",
            "A target needs its measure: choose the goal's metric too.",
            200,
        ),
        (
            sheet.url("a3_section", key="background"),
            {"text": "x" * 20_001},
            "text",
            "This has 20,001 characters; keep it under 20,000.",
            200,
        ),
        (
            sheet.url("a3_root_causes"),
            {"why_1": "Why?", "causes_0": "c" * 301},
            "causes_0",
            "A cause under People is long: keep it under 300 characters.",
            200,
        ),
        (
            sheet.url("a3_voice_add"),
            {"section": "current_condition", "kind": "quote", "text": " "},
            "text",
            "Write what the resident said, or the survey result, in their words.",
            200,
        ),
        (
            sheet.url("countermeasure_new"),
            {"title": "", "description": "Something"},
            "title",
            "Say the change in a line",
            200,
        ),
        (
            sheet.url("action_new"),
            {"what": "Brief the crew", "owner": "", "due_on": ""},
            "owner",
            "Every action needs an owner: the person who will do it.",
            200,
        ),
        (
            sheet.url("action_new"),
            {"what": "Brief the crew", "owner": "", "due_on": ""},
            "due_on",
            "Every action needs a due date (YYYY-MM-DD).",
            200,
        ),
        (
            sheet.url("cycle_new", cm=sheet.countermeasure.pk),
            {**cycle_form, "prediction": ""},
            "prediction",
            "Write the prediction before the cycle starts",
            200,
        ),
        (
            sheet.url("cycle_new", cm=sheet.countermeasure.pk),
            {**cycle_form, "value": "West"},
            "value",
            "Service requests per week has no breakdown value “West”. Its breakdown values are: "
            "East, North, South.",
            200,
        ),
        (
            cycle_url("cycle_plan", fresh),
            {**cycle_form, "predicted_direction": ""},
            "predicted_direction",
            "Say which way you predict the measure will go: up or down.",
            200,
        ),
        (
            cycle_url("cycle_start", fresh),
            {"started_on": tomorrow},
            "started_on",
            "is in the future: start the cycle on the day the change goes live",
            400,
        ),
        (
            cycle_url("cycle_do", started),
            {"ended_on": (CHANGE_ON - timedelta(days=1)).isoformat(), "what_happened": "Ran."},
            "ended_on",
            "The test cannot end (03 Aug 2025) before it started (04 Aug 2025).",
            400,
        ),
        (
            cycle_url("cycle_study", ended),
            {"study_notes": ""},
            "study_notes",
            "Say what the team makes of the data",
            400,
        ),
        (
            cycle_url("cycle_act", sheet.studied),
            {"decision": "", "act_notes": "Because."},
            "decision",
            "Choose adopt, adapt or abandon.",
            400,
        ),
    ]
    client = client_as("editor")
    before = _snapshot(sheet)
    wrong = []
    for url, posted, name, message, status in cases:
        response = client.post(url, posted)
        content = response.content.decode()
        if response.status_code != status:
            wrong.append(f"POST {url} {sorted(posted)}: {response.status_code}, not {status}")
        elif message not in field_errors(response, name):
            shown = "elsewhere on the page" if message in text(response) else "nowhere"
            wrong.append(f"POST {url}: “{message}” is not on the field {name} ({shown})")
        # The summary at the top names it too, so a screen reader hears it first.
        elif 'class="error-summary" role="alert"' not in content:
            wrong.append(f"POST {url}: no error summary")
        if _snapshot(sheet) != before:
            wrong.append(f"POST {url} saved something")
            before = _snapshot(sheet)
    assert not wrong, "\n".join(wrong)


def test_a_chart_of_a_value_the_metric_lacks_says_which_values_it_has(
    sheet: Sheet, client_as
) -> None:  # type: ignore[no-untyped-def]
    response = client_as("editor").post(
        sheet.url("a3_chart_add"), {"metric": sheet.city.count.pk, "value": "West"}
    )
    # Refused on the form's own field, with what was typed kept.
    assert response.status_code == 400
    assert field_errors(response, "value").strip() == (
        "Service requests per week has no breakdown value “West”. Its breakdown values are: "
        "East, North, South."
    )
    assert 'value="West"' in response.content.decode()
    assert A3Metric.objects.filter(a3=sheet.a3).count() == 1
    response = client_as("editor").post(
        sheet.url("a3_chart_add"), {"metric": sheet.city.count.pk, "value": "south"}, follow=True
    )
    assert flashed(response) == [
        "Chart of Service requests per week added to the current condition."
    ]
    assert list(sheet.a3.metric_links.values_list("value", flat=True)) == ["North", "South"]


def test_moving_on_with_empty_sections_lists_every_gap_on_the_page(personas, client_as) -> None:  # type: ignore[no-untyped-def]
    a3 = new_a3(personas)
    url = reverse("improvement:a3_state", kwargs={"pk": a3.pk})
    response = client_as("editor").post(url, {"state": "in_progress"})
    assert response.status_code == 200
    page = text(response)
    assert "Please correct 6 problems" in page  # one per gap, counted right
    for gap in (
        "Background: write the background (Why does this problem matter, to whom, and why now?)",
        "Implementation plan: add at least one action with an owner and a due date (Who will do "
        "what, by when?)",
    ):
        assert gap in page
    a3.refresh_from_db()
    assert a3.state == State.DRAFT
    # The A3's page says the same before anyone tries.
    detail = text(client_as("editor").get(a3.get_absolute_url()))
    assert "Before it can move to in progress, fill in:" in detail
    assert "Goal / target condition: write the target condition" in detail


def test_the_a3_moves_on_through_its_state_page(sheet: Sheet, client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as("editor")
    response = client.post(sheet.url("a3_state"), {"state": "in_progress"}, follow=True)
    assert flashed(response) == ["The A3 is now in progress."]
    response = client.post(sheet.url("a3_state"), {"state": "draft"})
    assert "Say why" in field_errors(response, "reason")
    response = client.post(
        sheet.url("a3_state"), {"state": "draft", "reason": "The goal moved."}, follow=True
    )
    assert flashed(response) == ["The A3 is now draft."]
    page = text(client.get(sheet.url("a3_detail")))
    assert "State : In progress → Draft" not in page  # the history is in words, not code
    assert "state: In progress → Draft" in page and "Why: The goal moved." in page


def test_a_closed_a3_is_read_but_not_changed_from_its_pages(sheet: Sheet, client_as) -> None:  # type: ignore[no-untyped-def]
    personas = sheet.city.personas
    services.update_a3(personas.editor, sheet.a3, {"follow_up": "Handed to the depot."})
    services.move(personas.editor, sheet.a3, State.CLOSED, outcome="abandoned", reason="Moved.")
    client = client_as("lead")
    page = client.get(sheet.url("a3_detail"))
    assert page.status_code == 200 and "Closed: abandoned" in text(page)
    assert sheet.url("a3_section", key="background") not in page.content.decode()
    response = client.post(
        sheet.url("a3_section", key="background"), {"text": "Rewritten."}, follow=True
    )
    assert response.redirect_chain[-1][0] == sheet.url("a3_detail")
    assert "is a record now, and nothing on it changes" in " ".join(flashed(response))
    response = client.post(cycle_url("cycle_start", sheet.planned), {"started_on": "2025-08-04"})
    assert response.status_code == 302
    sheet.a3.refresh_from_db()
    sheet.planned.refresh_from_db()
    assert sheet.a3.background.startswith("Residents in North")
    assert sheet.planned.started_on is None


# --- a cycle through its pages ----------------------------------------------------------------


def test_a_cycle_runs_plan_do_study_act_through_its_pages(sheet: Sheet, client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as("editor")
    cycle = sheet.planned
    response = client.post(cycle_url("cycle_start", cycle), {"started_on": CHANGE_ON.isoformat()})
    assert response.status_code == 302
    response = client.post(
        cycle_url("cycle_do", cycle),
        {"ended_on": MONDAYS[-1].isoformat(), "what_happened": "The crew **texted** residents."},
    )
    assert response.status_code == 302
    response = client.post(cycle_url("cycle_study", cycle), {"study_notes": "It worked."})
    assert response.status_code == 302
    page = client.get(cycle_url("cycle_detail", cycle))
    content = page.content.decode()
    assert "<strong>texted</strong>" in content
    words = text(page)
    assert "Special cause in the predicted direction." in words
    assert "District North: special cause down since the change." in words
    assert "The rest (District East, District South) shows no such shift" in words
    assert (
        # The Do step ended on the last Monday: that week is not part of the test.
        "It predicted a mean of 13 requests; the new mean is 12 requests, as good or better"
        in words
    )
    assert 'src="data:image/svg+xml;base64,' in content  # the Study chart
    # The editor adopts it; the lead stewards the metric, so the rebase waits for her.
    response = client.post(
        cycle_url("cycle_act", cycle), {"decision": "adopt", "act_notes": "Keep it."}
    )
    assert response.status_code == 302
    cycle.refresh_from_db()
    assert cycle.rebase_pending
    assert "waits for the metric's steward" in text(client.get(cycle_url("cycle_detail", cycle)))
    assert client.post(cycle_url("cycle_rebase", cycle)).status_code == 403
    lead = client_as("lead")
    detail = text(lead.get(sheet.url("a3_detail")))
    assert "rebase Service requests per week at the change date" in detail
    response = lead.post(cycle_url("cycle_rebase", cycle), follow=True)
    assert flashed(response) == [
        "Service requests per week is rebased at 04 Aug 2025, with its reason."
    ]
    cycle.refresh_from_db()
    assert not cycle.rebase_pending and cycle.rebase_version is not None
    assert f"(version {cycle.rebase_version.number})" in text(response)


# --- the twins ---------------------------------------------------------------------------------


def test_the_json_and_csv_twins_say_what_the_pages_say(sheet: Sheet, client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as("viewer")
    data = json.loads(client.get(sheet.url("a3_detail_json")).content)
    assert data["a3"]["title"] == sheet.a3.title and data["a3"]["state"] == "draft"
    assert [s["key"] for s in data["sections"]] == [
        "background",
        "current_condition",
        "goal",
        "root_cause",
        "countermeasures",
        "plan",
        "follow_up",
    ]
    assert data["sections"][6]["question"].startswith("Did the change work")
    (chart,) = data["current_condition"]["charts"]
    assert chart["series"] == "District North" and "drawn" not in chart
    assert chart["description"].startswith("Service requests per week, District North.")
    assert data["current_condition"]["voices"][0]["text"] == "I reported it three times."
    assert data["goal"]["target"] == 14.0 and data["goal"]["metric"]["unit"] == "requests"
    cycles = data["countermeasures"][0]["cycles"]
    assert [c["number"] for c in cycles] == [1, 2]
    assert cycles[0]["study"]["verdict"]["signal"] == "predicted"
    assert cycles[1]["stage"] == "plan" and cycles[1]["study"]["verdict"] is None
    assert data["history"][0]["action"] == "PDSA cycle planned"
    assert "drawn" not in json.dumps(data)

    cycle = json.loads(client.get(cycle_url("cycle_detail_json", sheet.studied)).content)
    assert cycle["plan"]["prediction"].startswith("Requests in North fall")
    assert cycle["plan"]["scope"] == "District North"
    assert cycle["do"]["started_on"] == CHANGE_ON.isoformat()
    assert [s["signal"] for s in cycle["study"]["verdict"]["series"]] == ["predicted", "none"]
    assert cycle["study"]["current"]["signal"] == "predicted"
    assert cycle["stage"] == "act" and "drawn" not in cycle

    listing = json.loads(client.get(reverse("improvement:a3_list_json")).content)
    assert [(r["title"], r["state"], r["team"]) for r in listing["a3s"]] == [
        (sheet.a3.title, "draft", "Team Clean")
    ]
    table = client.get(reverse("improvement:a3_list_csv")).content.decode().lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(table)))
    assert list(rows[0]) == [
        "id",
        "title",
        "team",
        "owner",
        "state",
        "started",
        "next review",
        "url",
    ]
    assert (rows[0]["title"], rows[0]["state"], rows[0]["url"]) == (
        sheet.a3.title,
        "Draft",
        sheet.a3.get_absolute_url(),
    )
    assert client.get(reverse("improvement:a3_list_json") + "?state=bogus").status_code == 400
    assert (
        json.loads(client.get(reverse("improvement:a3_list_json") + "?state=closed").content)["a3s"]
        == []
    )


def test_the_outsider_is_told_nothing_by_the_twins(sheet: Sheet, client_as) -> None:  # type: ignore[no-untyped-def]
    outsider = client_as("outsider")
    assert outsider.get(sheet.url("a3_detail_json")).status_code == 404
    assert outsider.get(cycle_url("cycle_detail_json", sheet.studied)).status_code == 404
    assert json.loads(outsider.get(reverse("improvement:a3_list_json")).content)["a3s"] == []
    table = outsider.get(reverse("improvement:a3_list_csv")).content.decode()
    assert sheet.a3.title not in table
    missing = outsider.get(reverse("improvement:a3_detail_json", kwargs={"pk": 999_999}))
    assert missing.status_code == 404


# --- people's text, made safe ----------------------------------------------------------------


def test_script_typed_into_a_section_never_reaches_the_page_as_a_tag(
    sheet: Sheet, client_as
) -> None:  # type: ignore[no-untyped-def]
    services.set_root_causes(
        sheet.city.personas.editor,
        sheet.a3,
        whys=["<script>alert('why')</script>"],
        causes=[("People", "<b onmouseover=alert(3)>crews</b>")],
    )
    client = client_as("editor")
    typed = (
        "Residents wait **nine days**.\n\n<script>alert('x')</script>\n\n"
        '<img src="x" onerror="alert(1)"> [click](javascript:alert(2))'
    )
    response = client.post(sheet.url("a3_section", key="background"), {"text": typed})
    assert response.status_code == 302
    for page in (client.get(sheet.url("a3_detail")), client.get(sheet.url("a3_print"))):
        content = page.content.decode()
        assert "<strong>nine days</strong>" in content
        assert "<script>alert" not in content  # (shown escaped in the history: as text)
        assert not re.search(r"<[^>]*\bon(error|mouseover)\s*=", content)
        assert not re.search(r"<(img|a)\b[^>]*(src=\"x\"|href=\"javascript:)", content)
        assert "&lt;script&gt;alert(&#x27;why&#x27;)&lt;/script&gt;" in content
    sheet.a3.refresh_from_db()
    assert sheet.a3.background == typed  # kept as typed; cleaned when shown


# --- numbers withheld ------------------------------------------------------------------------


def test_a_reader_who_may_not_see_the_metric_is_told_its_numbers_are_withheld(
    sheet: Sheet, client_as
) -> None:  # type: ignore[no-untyped-def]
    """The outsider reads the A3 shared with Team Safe, but may not see Team Clean's metric:
    its charts, verdicts, target and name are withheld, everywhere the A3 shows."""
    personas = sheet.city.personas
    services.update_a3(personas.editor, sheet.a3, {"shared_with": [personas.other_team]})
    assert not sheet.city.count.can_view(personas.outsider)
    verdict_sentence = sheet.studied.verdict["series"][0]["sentence"]
    assert "11.9" in verdict_sentence
    name = sheet.city.count.name

    viewer = client_as("viewer").get(sheet.url("a3_detail"))
    assert 'src="data:image/svg+xml;base64,' in viewer.content.decode()
    assert verdict_sentence in text(viewer) and name in text(viewer)

    outsider = client_as("outsider")
    page = outsider.get(sheet.url("a3_detail"))
    assert page.status_code == 200
    words = text(page)
    assert f"A chart of a metric you may not see ({api.WITHHELD})." in words
    assert f"The verdict is {api.WITHHELD}." in words
    assert "data:image/svg+xml" not in page.content.decode()
    leaks = [
        shown
        for shown in ("target 14", "→ 14", "11.9", "-40%", name)
        if shown in words  # the goal's target, the verdict's numbers, the metric's name
    ]
    assert leaks == [], f"withheld from the outsider, yet on the page: {leaks}"
    cycle = outsider.get(cycle_url("cycle_detail", sheet.studied))
    assert "data:image" not in cycle.content.decode()
    assert api.WITHHELD in text(cycle)
    assert "11.9" not in text(cycle) and name not in text(cycle)
    data = json.loads(outsider.get(sheet.url("a3_detail_json")).content)
    assert data["current_condition"]["charts"][0]["withheld"]
    assert data["goal"]["target"] is None
    assert data["countermeasures"][0]["cycles"][0]["study"]["verdict"] is None
    assert "11.9" not in json.dumps(data) and name not in json.dumps(data, ensure_ascii=False)
    printed = outsider.get(sheet.url("a3_print"))
    assert "data:image/png" not in printed.content.decode()
    assert api.WITHHELD in text(printed)
    assert "11.9" not in text(printed) and name not in text(printed)


# --- one sheet -------------------------------------------------------------------------------


def pdf_objects(pdf: bytes) -> bytes:
    """The PDF's objects as text, with those packed in compressed object streams unpacked."""
    parts = [pdf]
    for match in re.finditer(rb"<<(.*?)>>\s*stream\r?\n", pdf, re.S):
        header = match.group(1)
        length = re.search(rb"/Length\s+(\d+)", header)
        if b"/ObjStm" in header and b"/FlateDecode" in header and length:
            parts.append(zlib.decompress(pdf[match.end() : match.end() + int(length.group(1))]))
    return b"\n".join(parts)


def test_the_print_page_is_the_a3_on_one_landscape_sheet(sheet: Sheet, client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as("viewer").get(sheet.url("a3_print"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "size: A3 landscape" in content
    assert 'class="chart" src="data:image/png;base64,' in content  # the North chart
    assert 'class="study" src="data:image/png;base64,' in content  # cycle 1's Study chart
    words = text(response)
    assert sheet.a3.title in words
    for heading in (
        "1. Background",
        "2. Current condition",
        "3. Goal / target condition",
        "4. Root-cause analysis",
        "5. Countermeasures",
        "6. Implementation plan",
        "7. Follow-up / effect confirmation",
    ):
        assert heading in words
    assert "Study — Special cause in the predicted direction." in words
    assert "“I reported it three times.” — Quote, Resident" in words
    assert "too long for one sheet" not in words


def test_the_pdf_is_one_a3_landscape_page(sheet: Sheet, client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as("viewer").get(sheet.url("a3_pdf"))
    # 503 means WeasyPrint or Pango is missing: the PDF must work wherever the tests run.
    assert response.status_code == 200, text(response)[:500]
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'inline; filename="a3-{sheet.a3.pk}-requests-wait-too-long-in-north.pdf"'
    )
    pdf = response.content
    assert pdf.startswith(b"%PDF-")
    objects = pdf_objects(pdf)
    assert re.findall(rb"/Type\s*/Pages\b.*?/Count\s+(\d+)", objects, re.S) == [b"1"]
    boxes = re.findall(
        rb"/Type\s*/Page\b.*?/MediaBox\s*\[\s*([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)", objects, re.S
    )
    assert len(boxes) == 1
    x0, y0, x1, y1 = (float(v) for v in boxes[0])
    assert (x1 - x0) / MM == pytest.approx(420, abs=1)
    assert (y1 - y0) / MM == pytest.approx(297, abs=1)
