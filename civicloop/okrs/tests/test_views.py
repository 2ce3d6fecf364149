"""The OKR pages as the personas use them: the forms with good and bad input (errors on the
page, nothing saved), the JSON and CSV twins, what changed since a day, the one-page report,
and the guards (a private objective does not exist for the outsider; a viewer's POST changes
nothing)."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from civicloop.okrs import services
from civicloop.okrs.models import (
    Change,
    ChangeAction,
    CheckIn,
    KeyResult,
    Mission,
    Objective,
    OkrPolicy,
    QuarterClose,
)
from civicloop.okrs.quarters import Quarter
from civicloop.okrs.services import Decision
from civicloop.okrs.tests.conftest import MISSION, at, measure
from civicloop.organizations.models import Membership, Role

pytestmark = pytest.mark.django_db


def this_quarter() -> Quarter:
    return Quarter.containing(timezone.localdate())


THIS = this_quarter()
YEAR = THIS.year


def text(response) -> str:  # type: ignore[no-untyped-def]
    """The page as a person reads it: tags dropped, whitespace collapsed, entities decoded."""
    body = re.sub(r"<script.*?</script>|<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(body))


def rows(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    content = response.content.decode("utf-8").lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(content)))


def page_json(response) -> dict:  # type: ignore[type-arg,no-untyped-def]
    assert response.status_code == 200, response.content[:500]
    return json.loads(response.content)


@pytest.fixture
def mission(personas) -> Mission:  # type: ignore[no-untyped-def]
    return services.save_mission(personas.lead, MISSION)


@pytest.fixture
def objective(personas, mission) -> Objective:  # type: ignore[no-untyped-def]
    return services.create_objective(
        personas.lead,
        personas.team,
        {"title": "Fewer fly-tips on our streets", "mission": mission.slug, "year": YEAR},
    )


@pytest.fixture
def kr(personas, objective) -> KeyResult:  # type: ignore[no-untyped-def]
    """This quarter's key result, owned by the editor."""
    return services.create_key_result(
        personas.editor, objective, personas.team, measure(quarter=THIS.code)
    )


@pytest.fixture
def private(personas, mission) -> Objective:  # type: ignore[no-untyped-def]
    objective = services.create_objective(
        personas.lead,
        personas.team,
        {
            "title": "Move the depot quietly",
            "mission": mission.slug,
            "year": YEAR,
            "is_private": True,
        },
    )
    services.create_key_result(
        personas.editor,
        objective,
        personas.team,
        measure(title="Sign the depot lease", quarter=THIS.code),
    )
    return objective


def kr_form(team, **overrides) -> dict[str, str]:  # type: ignore[no-untyped-def]
    data = {
        "team": str(team.pk),
        "quarter": THIS.code,
        "title": "Answer every report within a day",
        "kind": "measure",
        "start_value": "40",
        "target_value": "100",
        "unit": "%",
        "weight": "1",
        "decimals": "0",
    }
    data.update(overrides)
    return data


# --- missions -------------------------------------------------------------------------------


def test_the_lead_adds_a_mission(personas, client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as("lead")
    response = client.post(
        reverse("okrs:mission_new"),
        {
            "title": "Homes for everyone",
            "public_value": "Every resident has a home.",
            "is_active": "on",
        },
    )
    mission = Mission.objects.get()
    assert response.status_code == 302 and response["Location"] == mission.get_absolute_url()
    assert mission.is_active and mission.owner == personas.lead
    page = text(client.get(mission.get_absolute_url()))
    assert "Homes for everyone" in page and "Every resident has a home." in page
    assert "Mission “Homes for everyone” added." in page


def test_a_mission_without_its_public_value_is_refused_on_the_page(personas, client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as("lead").post(
        reverse("okrs:mission_new"), {"title": "Homes", "public_value": " "}
    )
    assert response.status_code == 200
    page = text(response)
    assert "Please correct 1 problem" in page
    assert "Say the good this mission produces and for whom" in page
    assert not Mission.objects.exists()


def test_a_mission_edit_needs_a_reason(personas, client_as, mission) -> None:  # type: ignore[no-untyped-def]
    url = reverse("okrs:mission_edit", kwargs={"slug": mission.slug})
    form = {**MISSION, "title": "Clean streets", "is_active": "on"}
    response = client_as("lead").post(url, form)
    assert response.status_code == 200 and "Say why this changes" in text(response)
    mission.refresh_from_db()
    assert mission.title == "Clean, safe streets"
    response = client_as("lead").post(url, {**form, "reason": "Safety has its own mission."})
    assert response.status_code == 302
    mission.refresh_from_db()
    assert mission.title == "Clean streets"
    page = text(client_as("viewer").get(mission.get_absolute_url()))
    assert "Title: Clean, safe streets → Clean streets" in page
    assert "Why: Safety has its own mission." in page


def test_a_mission_called_new_has_a_page(personas, client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as("lead")
    client.post(reverse("okrs:mission_new"), {"title": "New", "public_value": "Something new."})
    mission = Mission.objects.get()
    response = client.get(mission.get_absolute_url())
    assert response.status_code == 200 and "Something new." in text(response)


# --- objectives -----------------------------------------------------------------------------


def test_the_lead_adds_an_objective(personas, client_as, mission) -> None:  # type: ignore[no-untyped-def]
    client = client_as("lead")
    page = text(client.get(reverse("okrs:objective_new", kwargs={"slug": "team-clean"})))
    assert "Add an objective for Team Clean" in page and "Clean, safe streets" in page
    response = client.post(
        reverse("okrs:objective_new", kwargs={"slug": "team-clean"}),
        {"mission": mission.slug, "year": str(YEAR), "title": "Bins emptied on the day"},
    )
    objective = Objective.objects.get()
    assert response.status_code == 302 and response["Location"] == objective.get_absolute_url()
    assert objective.team == personas.team and objective.owner == personas.lead
    assert objective.year == YEAR and not objective.is_private
    assert Change.objects.filter(objective=objective, action=ChangeAction.CREATED).exists()


def test_a_bad_objective_shows_every_problem_and_saves_nothing(
    personas, client_as, mission
) -> None:  # type: ignore[no-untyped-def]
    response = client_as("lead").post(
        reverse("okrs:objective_new", kwargs={"slug": "team-clean"}),
        {"mission": mission.slug, "year": "twenty", "title": ""},
    )
    assert response.status_code == 200
    page = text(response)
    assert "Please correct 2 problems" in page
    assert "Give the OKR year as four digits, e.g. 2026." in page
    assert "Write the objective in a sentence" in page
    assert not Objective.objects.exists()


def test_an_objective_edit_needs_a_reason_and_is_recorded(
    personas, client_as, mission, objective
) -> None:  # type: ignore[no-untyped-def]
    url = reverse("okrs:objective_edit", kwargs={"pk": objective.pk})
    client = client_as("lead")
    form = {"mission": mission.slug, "year": str(YEAR), "title": "No fly-tip left a week"}
    response = client.post(url, form)
    assert response.status_code == 200 and "Say why this changes" in text(response)
    objective.refresh_from_db()
    assert objective.title == "Fewer fly-tips on our streets"
    response = client.post(url, {**form, "owner": str(personas.lead.pk), "reason": "Sharper."})
    assert response.status_code == 302
    page = text(client_as("guest").get(objective.get_absolute_url()))
    assert "No fly-tip left a week" in page
    assert "Title: Fewer fly-tips on our streets → No fly-tip left a week" in page
    assert "Why: Sharper." in page


def test_editing_a_coalition_objective_keeps_its_partners(personas, client_as, mission) -> None:  # type: ignore[no-untyped-def]
    """The lead of Team Clean is not in Team Safe, so the form cannot offer Team Safe as a
    choice; saving the objective must still keep Team Safe as a partner."""
    shared = services.create_objective(
        personas.admin,
        personas.team,
        {
            "title": "Safer, cleaner nights",
            "mission": mission.slug,
            "year": YEAR,
            "owner": personas.lead,
            "partner_teams": [personas.other_team],
        },
    )
    url = reverse("okrs:objective_edit", kwargs={"pk": shared.pk})
    form = client_as("lead").get(url).context["form"]
    assert form["partner_teams"].initial == [personas.other_team]
    response = client_as("lead").post(
        url,
        {
            "mission": mission.slug,
            "year": str(YEAR),
            "title": "Safer, cleaner nights in the centre",
            "owner": str(personas.lead.pk),
            "partner_teams": [str(personas.other_team.pk)],
            "reason": "Narrower.",
        },
    )
    assert response.status_code == 302, text(response)
    shared.refresh_from_db()
    assert shared.title == "Safer, cleaner nights in the centre"
    assert list(shared.partner_teams.all()) == [personas.other_team]


def test_with_members_governance_the_editor_changes_objectives(
    personas, client_as, objective
) -> None:  # type: ignore[no-untyped-def]
    editor = client_as("editor")
    assert (
        editor.get(reverse("okrs:objective_new", kwargs={"slug": "team-clean"})).status_code == 403
    )
    response = client_as("lead").post(
        reverse("okrs:team_governance", kwargs={"slug": "team-clean"}),
        {"objectives_changed_by": "members", "checkin_every_days": "14"},
    )
    assert response.status_code == 302
    policy = OkrPolicy.objects.get(team=personas.team)
    assert policy.objectives_changed_by == "members" and policy.checkin_every_days == 14
    assert (
        editor.get(reverse("okrs:objective_new", kwargs={"slug": "team-clean"})).status_code == 200
    )
    assert (
        editor.get(reverse("okrs:objective_edit", kwargs={"pk": objective.pk})).status_code == 200
    )
    page = text(client_as("viewer").get(reverse("okrs:team_okrs", kwargs={"slug": "team-clean"})))
    assert "leads and members write and change objectives; check-ins every 14 days" in page


def test_bad_governance_is_refused_on_the_page(personas, client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as("lead").post(
        reverse("okrs:team_governance", kwargs={"slug": "team-clean"}),
        {"objectives_changed_by": "everyone", "checkin_every_days": "30"},
    )
    assert response.status_code == 200
    assert "Please correct 2 problems" in text(response)
    assert not OkrPolicy.objects.exists()


# --- key results ----------------------------------------------------------------------------


def test_the_editor_adds_a_key_result(personas, client_as, objective) -> None:  # type: ignore[no-untyped-def]
    client = client_as("editor")
    url = reverse("okrs:kr_new", kwargs={"pk": objective.pk})
    assert client.get(url).status_code == 200
    response = client.post(url, kr_form(personas.team))
    kr = KeyResult.objects.get()
    assert response.status_code == 302 and response["Location"] == kr.get_absolute_url()
    assert kr.owner == personas.editor and kr.team == personas.team and kr.period == THIS
    assert (kr.start_value, kr.target_value, kr.unit, kr.direction) == (40, 100, "%", "increase")


@pytest.mark.parametrize(
    ("overrides", "shown"),
    [
        (
            {"target_value": "40"},
            "The target equals the start value (40), so progress could never be measured. "
            "Set a target that differs from the start.",
        ),
        (
            {"quarter": f"{YEAR + 1}-Q1"},
            f"{YEAR + 1} Q1 is outside the objective's year ({YEAR}): choose {YEAR}-Q1 to "
            f"{YEAR}-Q4",
        ),
        ({"weight": "-1"}, "The weight is -1; weights cannot be negative. Use 0 or more."),
        ({"weight": "0"}, "would weigh 0, so the objective would have no progress"),
        ({"start_value": "forty"}, "The start value must be a number, not “forty”."),
        ({"quarter": "next quarter"}, "is not a quarter: write it as YEAR-QN"),
    ],
)
def test_a_bad_key_result_is_refused_on_the_page(
    personas, client_as, objective, overrides, shown
) -> None:  # type: ignore[no-untyped-def]
    response = client_as("editor").post(
        reverse("okrs:kr_new", kwargs={"pk": objective.pk}), kr_form(personas.team, **overrides)
    )
    assert response.status_code == 200
    page = text(response)
    assert "Please correct 1 problem" in page
    assert shown in page
    assert not KeyResult.objects.exists()


def test_a_restricted_metric_is_refused_on_the_page(
    personas, client_as, objective, litter_metric
) -> None:  # type: ignore[no-untyped-def]
    """Someone from Police joins Team Clean as a viewer: Team Clean may no longer track the
    restricted litter data, and the lead is told why on the form."""
    Membership.objects.create(team=personas.team, person=personas.outsider, role=Role.VIEWER)
    response = client_as("lead").post(
        reverse("okrs:kr_new", kwargs={"pk": objective.pk}),
        kr_form(personas.team, metric=litter_metric.slug, start_value="10", target_value="4"),
    )
    assert response.status_code == 200
    page = text(response)
    assert "“Litter reports per week” reads restricted data (Litter reports)" in page
    assert "Police on Team Clean may not see" in page
    assert not KeyResult.objects.exists()


def test_the_outsider_cannot_link_the_restricted_metric(
    personas, client_as, objective, litter_metric
) -> None:  # type: ignore[no-untyped-def]
    objective.partner_teams.add(personas.other_team)  # Team Clean shares it with Team Safe
    client = client_as("outsider")
    url = reverse("okrs:kr_new", kwargs={"pk": objective.pk})
    form = client.get(url).context["form"]
    assert litter_metric.slug not in [value for value, _ in form.fields["metric"].widget.choices]
    response = client.post(url, kr_form(personas.other_team, metric=litter_metric.slug))
    assert response.status_code == 200
    page = text(response)
    assert "There is no metric “litter-reports-weekly” that you can see." in page
    assert "Litter reports per week" not in page
    assert not KeyResult.objects.exists()


def test_a_partner_team_contributes_a_key_result(personas, client_as, objective) -> None:  # type: ignore[no-untyped-def]
    """The outsider leads Team Safe: once Team Clean shares its objective with Team Safe, they
    may hang Team Safe's key result on it, but not one of Team Clean's. Before, they may not
    add any."""
    client = client_as("outsider")
    url = reverse("okrs:kr_new", kwargs={"pk": objective.pk})
    assert client.post(url, kr_form(personas.other_team)).status_code == 403
    objective.partner_teams.add(personas.other_team)
    refused = client.post(url, kr_form(personas.team))
    assert refused.status_code == 200 and "Select a valid choice" in text(refused)
    assert not KeyResult.objects.exists()
    response = client.post(url, kr_form(personas.other_team, title="Night patrols"))
    assert response.status_code == 302
    kr = KeyResult.objects.get()
    assert kr.team == personas.other_team and kr.objective == objective
    page = text(client_as("viewer").get(reverse("okrs:team_okrs", kwargs={"slug": "team-clean"})))
    assert "Night patrols Team Safe" in page  # the contributing team named under its title


def test_a_key_result_edit_needs_a_reason_and_is_recorded(personas, client_as, kr) -> None:  # type: ignore[no-untyped-def]
    url = reverse("okrs:kr_edit", kwargs={"pk": kr.pk})
    client = client_as("lead")
    form = {
        **kr_form(personas.team),
        "title": kr.title,
        "start_value": "10",
        "target_value": "4",
        "unit": "days",
        "owner": str(personas.editor.pk),
    }
    response = client.post(url, form)
    assert response.status_code == 200 and "Say why this changes" in text(response)
    kr.refresh_from_db()
    assert kr.target_value == 5
    response = client.post(url, {**form, "reason": "Two more crews."})
    assert response.status_code == 302
    kr.refresh_from_db()
    assert kr.target_value == 4 and kr.owner == personas.editor
    page = text(client_as("viewer").get(kr.get_absolute_url()))
    assert "Target: 5 → 4" in page and "Why: Two more crews." in page


def test_the_editor_checks_in(personas, client_as, kr) -> None:  # type: ignore[no-untyped-def]
    client = client_as("editor")
    response = client.post(
        reverse("okrs:kr_checkin", kwargs={"pk": kr.pk}),
        {"value": "8", "confidence": "at_risk", "note": "Bins first"},
    )
    assert response.status_code == 302 and response["Location"] == kr.get_absolute_url()
    checkin = CheckIn.objects.get()
    assert (checkin.value, checkin.confidence, checkin.note) == (8, "at_risk", "Bins first")
    assert checkin.author == personas.editor
    page = text(client.get(kr.get_absolute_url()))
    assert "Checked in. Thank you." in page
    assert "8 days" in page and "40 %" in page and "At risk" in page


def test_a_bad_check_in_is_refused_on_the_page(personas, client_as, kr) -> None:  # type: ignore[no-untyped-def]
    response = client_as("editor").post(
        reverse("okrs:kr_checkin", kwargs={"pk": kr.pk}), {"value": "eight", "note": "?"}
    )
    assert response.status_code == 400
    page = text(response)
    assert "This field is required." in page  # the confidence
    assert not CheckIn.objects.exists()
    response = client_as("editor").post(
        reverse("okrs:kr_checkin", kwargs={"pk": kr.pk}),
        {"value": "eight", "confidence": "on_track"},
    )
    assert response.status_code == 400
    assert "The value must be a number, not “eight”." in text(response)
    assert not CheckIn.objects.exists()


# --- quarter close --------------------------------------------------------------------------


@pytest.fixture
def q1_kr(personas, objective) -> KeyResult:  # type: ignore[no-untyped-def]
    """A key result in the first quarter of this year (always started)."""
    return services.create_key_result(
        personas.editor, objective, personas.team, measure(quarter=f"{YEAR}-Q1")
    )


def test_the_lead_closes_a_quarter_and_it_is_read_only(personas, client_as, q1_kr) -> None:  # type: ignore[no-untyped-def]
    services.check_in(personas.editor, q1_kr, confidence="at_risk", value="8")
    code = f"{YEAR}-Q1"
    url = reverse("okrs:quarter_close", kwargs={"slug": "team-clean", "quarter": code})
    client = client_as("lead")
    form = client.get(url).context["form"]
    assert form[f"kr-{q1_kr.pk}-score"].initial == "40"  # the score starts at the progress
    response = client.post(
        url,
        {
            "reflection": "Crews went to bins.",
            f"kr-{q1_kr.pk}-score": "40",
            f"kr-{q1_kr.pk}-outcome": "carried",
            f"kr-{q1_kr.pk}-note": "Keep going.",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"/teams/team-clean/okrs/?quarter={code}"
    assert QuarterClose.objects.get().reflection == "Crews went to bins."
    carried = KeyResult.objects.get(carried_from=q1_kr)
    assert carried.period == Quarter(YEAR, 2) and carried.start_value == 8
    page = text(client_as("viewer").get(response["Location"]))
    assert "This quarter's record is read-only." in page and "Crews went to bins." in page
    # The key result page says so and offers no check-in.
    response = client_as("editor").get(q1_kr.get_absolute_url())
    assert "is closed" in text(response) and "read-only" in text(response)
    assert response.context["can_change"] is False
    assert b'name="confidence"' not in response.content


def test_a_check_in_on_a_closed_quarter_is_refused_with_the_reason(
    personas, client_as, q1_kr
) -> None:  # type: ignore[no-untyped-def]
    services.close_quarter(
        personas.lead, personas.team, q1_kr.period, "Done.", {q1_kr.pk: Decision("0", "dropped")}
    )
    response = client_as("editor").post(
        reverse("okrs:kr_checkin", kwargs={"pk": q1_kr.pk}),
        {"value": "6", "confidence": "on_track", "note": "Late"},
    )
    assert response.status_code == 400
    page = text(response)
    assert f"{YEAR} Q1 of Team Clean was closed on" in page
    assert f"Work on {YEAR} Q2 instead." in page
    assert not CheckIn.objects.exists()


def test_an_edit_of_a_closed_quarters_key_result_is_refused(personas, client_as, q1_kr) -> None:  # type: ignore[no-untyped-def]
    services.close_quarter(
        personas.lead, personas.team, q1_kr.period, "Done.", {q1_kr.pk: Decision("0", "dropped")}
    )
    response = client_as("editor").post(
        reverse("okrs:kr_edit", kwargs={"pk": q1_kr.pk}),
        {
            **kr_form(personas.team, quarter=f"{YEAR}-Q1"),
            "title": "Rewritten",
            "reason": "Afterthought",
        },
        follow=True,
    )
    # Sent back to the key result, with the reason the form is not offered.
    assert response.redirect_chain[-1][0] == reverse("okrs:kr_detail", kwargs={"pk": q1_kr.pk})
    assert "read-only" in text(response)
    q1_kr.refresh_from_db()
    assert q1_kr.title == "Clear fly-tips within 5 days"


def test_a_bad_close_shows_its_problems_and_closes_nothing(personas, client_as, mission) -> None:  # type: ignore[no-untyped-def]
    last_year = services.create_objective(
        personas.lead,
        personas.team,
        {"title": "Last year's", "mission": mission.slug, "year": YEAR - 1},
    )
    kr = services.create_key_result(
        personas.editor, last_year, personas.team, measure(quarter=f"{YEAR - 1}-Q4")
    )
    url = reverse("okrs:quarter_close", kwargs={"slug": "team-clean", "quarter": f"{YEAR - 1}-Q4"})
    response = client_as("lead").post(
        url, {"reflection": "", f"kr-{kr.pk}-score": "50", f"kr-{kr.pk}-outcome": "carried"}
    )
    assert response.status_code == 200
    page = text(response)
    assert "Write the team's reflection" in page
    assert f"cannot carry over: its objective's year ends with {YEAR - 1} Q4" in page
    assert not QuarterClose.objects.exists() and KeyResult.objects.count() == 1


def test_a_bad_quarter_in_the_address_is_a_400(personas, client_as) -> None:  # type: ignore[no-untyped-def]
    url = reverse("okrs:quarter_close", kwargs={"slug": "team-clean", "quarter": "2026-Q9"})
    response = client_as("lead").get(url)
    assert response.status_code == 400
    assert "“2026-Q9” is not a quarter: write it as YEAR-QN, for example 2026-Q3." in text(response)
    response = client_as("viewer").get(reverse("okrs:tree") + "?quarter=soon")
    assert response.status_code == 400 and "quarter: “soon” is not a quarter" in text(response)
    response = client_as("viewer").get(reverse("okrs:tree_json") + "?quarter=soon")
    assert response.status_code == 400 and "is not a quarter" in response.json()["error"]


# --- a team's page: who is overdue ----------------------------------------------------------


def test_the_team_sees_whose_check_ins_are_overdue(personas, client_as, objective) -> None:  # type: ignore[no-untyped-def]
    kr = services.create_key_result(
        personas.editor,
        objective,
        personas.team,
        measure(quarter=THIS.code),
        at=at(THIS.start - timedelta(days=3)),
    )
    today = timezone.localdate()
    due_on = THIS.start + timedelta(days=7)
    data = page_json(
        client_as("guest").get(reverse("okrs:team_okrs_json", kwargs={"slug": "team-clean"}))
    )
    if due_on <= today:
        assert data["due"] == [
            {
                "key_result": kr.title,
                "url": kr.get_absolute_url(),
                "owner": "Eddie Editor",
                "due_on": due_on.isoformat(),
                "days_overdue": (today - due_on).days,
                "last_check_in": None,
            }
        ]
        page = text(
            client_as("guest").get(reverse("okrs:team_okrs", kwargs={"slug": "team-clean"}))
        )
        assert "Check-ins due" in page and "Eddie Editor" in page
    else:
        assert data["due"] == []


# --- twins ----------------------------------------------------------------------------------


def test_the_tree_and_its_twins(personas, client_as, kr) -> None:  # type: ignore[no-untyped-def]
    services.check_in(personas.editor, kr, confidence="at_risk", value="8")
    client = client_as("guest")
    page = text(client.get(reverse("okrs:tree")))
    assert "Clean, safe streets" in page and "Fewer fly-tips on our streets" in page
    assert "Clear fly-tips within 5 days" in page
    data = page_json(client.get(reverse("okrs:tree_json")))
    assert data["quarter"]["code"] == THIS.code
    (mission,) = data["missions"]
    assert mission["slug"] == "clean-safe-streets" and mission["progress_pct"] == 40
    (objective,) = mission["objectives"]
    assert objective["team"] == "Team Clean" and objective["progress_pct"] == 40
    (key_result,) = objective["key_results"]
    assert key_result["id"] == kr.pk and key_result["current"] == 8
    assert key_result["start"] == 10 and key_result["target"] == 5
    assert key_result["status"]["source"] == "check-in" and key_result["confidence"] == "at_risk"
    (row,) = rows(client.get(reverse("okrs:tree_csv")))
    assert row["mission"] == "Clean, safe streets" and row["key result"] == kr.title
    assert row["current"] == "8.0" and row["progress %"] == "40" and row["confidence"] == "At risk"
    assert row["objective progress %"] == "40"


def test_the_team_page_and_its_twins(personas, client_as, kr) -> None:  # type: ignore[no-untyped-def]
    client = client_as("viewer")
    data = page_json(client.get(reverse("okrs:team_okrs_json", kwargs={"slug": "team-clean"})))
    assert data["team"]["name"] == "Team Clean" and data["quarter"]["code"] == THIS.code
    assert [o["title"] for o in data["objectives"]] == ["Fewer fly-tips on our streets"]
    assert data["closed"] is None and data["governance"]["checkin_every_days"] == 7
    response = client.get(reverse("okrs:team_okrs_csv", kwargs={"slug": "team-clean"}))
    assert (
        response["Content-Disposition"] == f'attachment; filename="team-clean-okrs-{THIS.code}.csv"'
    )
    assert [r["key result"] for r in rows(response)] == [kr.title]
    other = Quarter(YEAR, 1 if THIS.number != 1 else 2).code
    data = page_json(
        client.get(
            reverse("okrs:team_okrs_json", kwargs={"slug": "team-clean"}) + f"?quarter={other}"
        )
    )
    assert data["objectives"][0]["key_results"] == []


def test_the_key_result_and_its_twins(personas, client_as, kr) -> None:  # type: ignore[no-untyped-def]
    services.check_in(personas.editor, kr, confidence="at_risk", value="8", note="Bins first")
    client = client_as("guest")
    data = page_json(client.get(reverse("okrs:kr_detail_json", kwargs={"pk": kr.pk})))
    row = data["key_result"]
    assert row["title"] == kr.title and row["objective"]["title"] == "Fewer fly-tips on our streets"
    assert [c["value"] for c in row["checkins"]] == [8]
    assert [h["action"] for h in row["history"]] == ["checked_in", "created"]
    (line,) = rows(client.get(reverse("okrs:kr_detail_csv", kwargs={"pk": kr.pk})))
    assert line["author"] == "Eddie Editor" and line["value"] == "8.0"
    assert line["confidence"] == "At risk" and line["note"] == "Bins first"
    objective = page_json(
        client.get(reverse("okrs:objective_detail_json", kwargs={"pk": kr.objective_id}))
    )
    assert [q["code"] for q in objective["quarters"]] == [f"{YEAR}-Q{n}" for n in range(1, 5)]
    quarter = next(q for q in objective["quarters"] if q["code"] == THIS.code)
    assert quarter["progress_pct"] == 40 and quarter["key_results"][0]["id"] == kr.pk
    mission = page_json(
        client.get(reverse("okrs:mission_detail_json", kwargs={"slug": "clean-safe-streets"}))
    )
    assert mission["objectives"] == [
        {
            "id": kr.objective_id,
            "title": "Fewer fly-tips on our streets",
            "team": "Team Clean",
            "url": f"/okrs/objectives/{kr.objective_id}/",
        }
    ]
    assert (
        page_json(
            client.get(
                reverse("okrs:mission_detail_json", kwargs={"slug": "clean-safe-streets"})
                + "?year=2099"
            )
        )["objectives"]
        == []
    )
    response = client.get(
        reverse("okrs:mission_detail_json", kwargs={"slug": "clean-safe-streets"}) + "?year=26"
    )
    assert response.status_code == 400 and "four digits" in response.json()["error"]


def test_a_title_is_shown_as_text_not_run(personas, client_as, mission) -> None:  # type: ignore[no-untyped-def]
    objective = services.create_objective(
        personas.lead,
        personas.team,
        {"title": "<script>alert(1)</script>", "mission": mission.slug, "year": YEAR},
    )
    for url in (reverse("okrs:tree"), objective.get_absolute_url(), reverse("okrs:report")):
        content = client_as("viewer").get(url).content
        assert b"<script>alert(1)</script>" not in content
        assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in content


# --- what changed ---------------------------------------------------------------------------


def test_what_changed_since_a_day(personas, client_as, kr) -> None:  # type: ignore[no-untyped-def]
    long_ago = at(timezone.localdate() - timedelta(days=40))
    services.record(
        personas.lead,
        ChangeAction.CHANGED,
        "An old change",
        team=personas.team,
        key_result=kr,
        at=long_ago,
    )
    services.check_in(personas.editor, kr, confidence="off_track", value="9", note="Rain")
    client = client_as("guest")
    data = page_json(client.get(reverse("okrs:changes_json")))
    assert data["since"] == (timezone.localdate() - timedelta(days=7)).isoformat()
    subjects = [c["subject"] for c in data["changes"]]
    assert "An old change" not in subjects
    assert data["changes"][0]["action"] == "checked_in" and data["changes"][0]["reason"] == "Rain"
    assert data["summary"]["check_ins"] == 1 and data["summary"]["confidence_dropped"] == 1
    since = (timezone.localdate() - timedelta(days=60)).isoformat()
    data = page_json(client.get(reverse("okrs:changes_json") + f"?since={since}"))
    assert "An old change" in [c["subject"] for c in data["changes"]]
    page = text(client.get(reverse("okrs:changes") + f"?since={since}"))
    assert f"What changed since {since}" in page and "An old change" in page
    assert "Value: — → 9 days" in page and "Note: Rain" in page
    table = rows(client.get(reverse("okrs:changes_csv") + f"?since={since}"))
    assert table[0]["action"] == "Checked in" and table[0]["who"] == "Eddie Editor"
    assert "value: — → 9 days" in table[0]["what changed"]
    team = page_json(client.get(reverse("okrs:changes_json") + "?team=team-clean"))
    everything = page_json(client.get(reverse("okrs:changes_json")))["changes"]
    assert team["team"] == "team-clean"
    assert team["changes"] == [c for c in everything if c["team"] == "Team Clean"]
    assert any(c["subject"] == "Mission “Clean, safe streets”" for c in everything)


def test_a_bad_since_is_a_400_that_says_how_to_write_it(personas, client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as("viewer")
    response = client.get(reverse("okrs:changes") + "?since=last+week")
    assert response.status_code == 400
    assert "since: “last week” is not a date; write it as YYYY-MM-DD" in text(response)
    response = client.get(reverse("okrs:changes_json") + "?since=2026-13-01")
    assert response.status_code == 400
    assert "“2026-13-01” is not a date; write it as YYYY-MM-DD" in response.json()["error"]
    response = client.get(reverse("okrs:changes_csv") + "?since=yesterday")
    assert response.status_code == 400


def test_changes_of_a_team_one_is_not_in_are_not_told(personas, client_as) -> None:  # type: ignore[no-untyped-def]
    real = client_as("outsider").get(reverse("okrs:changes_json") + "?team=team-clean")
    missing = client_as("outsider").get(reverse("okrs:changes_json") + "?team=no-such-team")
    assert real.status_code == missing.status_code == 400
    assert real.json()["error"] == "team: there is no team “team-clean” you are in."


# --- the one-page report ----------------------------------------------------------------------


def test_the_report_as_html_and_pdf(personas, client_as, kr) -> None:  # type: ignore[no-untyped-def]
    services.check_in(personas.editor, kr, confidence="at_risk", value="8")
    client = client_as("viewer")
    response = client.get(reverse("okrs:report"))
    assert response.status_code == 200
    page = text(response)
    assert f"Objectives and key results, {THIS.label}" in page
    assert "Clean, safe streets" in page and "Clear fly-tips within 5 days" in page
    assert "1 key results" in page and "from check-ins: 0 on track, 1 at risk, 0 off track" in page
    team = text(client.get(reverse("okrs:report") + "?team=team-clean"))
    assert f"Team Clean: objectives and key results, {THIS.label}" in team
    pdf = client.get(reverse("okrs:report_pdf") + "?team=team-clean")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert pdf["Content-Disposition"] == f'inline; filename="okrs-team-clean-{THIS.code}.pdf"'
    assert client.get(reverse("okrs:report") + "?quarter=Q3").status_code == 400


def test_the_outsider_gets_no_report_of_a_team_they_are_not_in(personas, client_as, kr) -> None:  # type: ignore[no-untyped-def]
    client = client_as("outsider")
    assert client.get(reverse("okrs:report") + "?team=team-clean").status_code == 404
    assert client.get(reverse("okrs:report_pdf") + "?team=team-clean").status_code == 404


# --- guards ---------------------------------------------------------------------------------


def test_a_private_objective_does_not_exist_for_the_outsider(
    personas, client_as, objective, private
) -> None:  # type: ignore[no-untyped-def]
    client = client_as("outsider")
    private_kr = private.key_results.get()
    for url in (
        private.get_absolute_url(),
        reverse("okrs:objective_detail_json", kwargs={"pk": private.pk}),
        reverse("okrs:objective_edit", kwargs={"pk": private.pk}),
        reverse("okrs:kr_new", kwargs={"pk": private.pk}),
        private_kr.get_absolute_url(),
        reverse("okrs:kr_detail_json", kwargs={"pk": private_kr.pk}),
        reverse("okrs:kr_edit", kwargs={"pk": private_kr.pk}),
    ):
        assert client.get(url).status_code == 404, url
    # The same answer as for an objective that does not exist at all.
    assert client.get(reverse("okrs:objective_detail", kwargs={"pk": 999999})).status_code == 404
    tree = client.get(reverse("okrs:tree_json")).content.decode()
    assert "Move the depot quietly" not in tree and "Sign the depot lease" not in tree
    assert "Fewer fly-tips on our streets" in tree
    for url in (
        reverse("okrs:tree"),
        reverse("okrs:tree_csv"),
        reverse("okrs:report"),
        reverse("okrs:changes_json") + "?since=2000-01-01",
        reverse("okrs:mission_detail_json", kwargs={"slug": "clean-safe-streets"}),
    ):
        content = client.get(url).content.decode()
        assert "depot" not in content, url
    # Everyone in Team Clean (the guest too) sees it.
    for persona in ("lead", "editor", "viewer", "guest", "admin"):
        tree = client_as(persona).get(reverse("okrs:tree_json")).content.decode()
        assert "Move the depot quietly" in tree, persona


def test_a_viewers_posts_are_refused_and_change_nothing(
    personas, client_as, mission, objective, kr
) -> None:  # type: ignore[no-untyped-def]
    client = client_as("viewer")
    before = Change.objects.count()
    posts = [
        (reverse("okrs:mission_new"), {"title": "Mine", "public_value": "Mine."}),
        (
            reverse("okrs:mission_edit", kwargs={"slug": mission.slug}),
            {"title": "Hijacked", "public_value": "x", "reason": "x"},
        ),
        (
            reverse("okrs:objective_new", kwargs={"slug": "team-clean"}),
            {"mission": mission.slug, "year": str(YEAR), "title": "Mine"},
        ),
        (
            reverse("okrs:objective_edit", kwargs={"pk": objective.pk}),
            {"mission": mission.slug, "year": str(YEAR), "title": "Hijacked", "reason": "x"},
        ),
        (reverse("okrs:kr_new", kwargs={"pk": objective.pk}), kr_form(personas.team)),
        (
            reverse("okrs:kr_edit", kwargs={"pk": kr.pk}),
            {**kr_form(personas.team), "title": "Hijacked", "reason": "x"},
        ),
        (
            reverse("okrs:kr_checkin", kwargs={"pk": kr.pk}),
            {"value": "1", "confidence": "on_track"},
        ),
        (
            reverse("okrs:team_governance", kwargs={"slug": "team-clean"}),
            {"objectives_changed_by": "members", "checkin_every_days": "7"},
        ),
        (
            reverse("okrs:quarter_close", kwargs={"slug": "team-clean", "quarter": THIS.code}),
            {"reflection": "x", f"kr-{kr.pk}-score": "1", f"kr-{kr.pk}-outcome": "dropped"},
        ),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    mission.refresh_from_db()
    objective.refresh_from_db()
    kr.refresh_from_db()
    assert mission.title == "Clean, safe streets" and Mission.objects.count() == 1
    assert objective.title == "Fewer fly-tips on our streets" and Objective.objects.count() == 1
    assert kr.title == "Clear fly-tips within 5 days" and KeyResult.objects.count() == 1
    assert kr.current_value is None and kr.outcome == ""
    assert not CheckIn.objects.exists() and not QuarterClose.objects.exists()
    assert not OkrPolicy.objects.exists()
    assert Change.objects.count() == before


def test_the_viewer_sees_no_buttons_they_may_not_use(personas, client_as, objective, kr) -> None:  # type: ignore[no-untyped-def]
    client = client_as("viewer")
    response = client.get(kr.get_absolute_url())
    assert response.context["can_change"] is False and b"Check in</button>" not in response.content
    page = client.get(objective.get_absolute_url()).content.decode()
    assert "Add a key result" not in page and "Change this objective" not in page
    team = client.get(reverse("okrs:team_okrs", kwargs={"slug": "team-clean"})).content.decode()
    assert "Add an objective" not in team and "Close " not in team
    lead = client_as("lead").get(reverse("okrs:team_okrs", kwargs={"slug": "team-clean"}))
    assert "Add an objective" in lead.content.decode() and f"Close {THIS.label}" in text(lead)


def test_a_date_in_the_future_or_past_does_not_break_the_tree(personas, client_as, kr) -> None:  # type: ignore[no-untyped-def]
    for code in ("1999-Q1", "2100-Q4", f"{YEAR}-Q1"):
        assert client_as("viewer").get(reverse("okrs:tree") + f"?quarter={code}").status_code == 200


# --- milestones and key results that track a metric -----------------------------------------


def test_a_milestone_is_checked_in_as_done(personas, client_as, objective) -> None:  # type: ignore[no-untyped-def]
    kr = services.create_key_result(
        personas.editor,
        objective,
        personas.team,
        {"title": "Publish the timetable", "quarter": THIS.code, "kind": "milestone"},
    )
    client = client_as("editor")
    form = client.get(kr.get_absolute_url()).context["checkin_form"]
    assert set(form.fields) == {"done", "confidence", "note"}
    response = client.post(
        reverse("okrs:kr_checkin", kwargs={"pk": kr.pk}),
        {"done": "on", "confidence": "on_track", "note": "Published"},
    )
    assert response.status_code == 302
    kr.refresh_from_db()
    assert kr.done and kr.progress() == 1.0
    row = page_json(client.get(reverse("okrs:kr_detail_json", kwargs={"pk": kr.pk})))["key_result"]
    assert row["current_text"] == "Done" and row["progress_pct"] == 100 and row["target_text"] == ""


def test_a_key_result_tracking_a_metric_on_its_pages(
    personas, client_as, mission, litter_metric
) -> None:  # type: ignore[no-untyped-def]
    """The litter data runs through January 2026; the objective is for 2026, the key result
    for its first quarter. Team Clean sees the numbers; the outsider (Police, no agreement)
    reads the key result of this public objective but not the restricted numbers."""
    objective = services.create_objective(
        personas.lead,
        personas.team,
        {"title": "Fewer litter reports", "mission": mission.slug, "year": 2026},
    )
    client = client_as("lead")
    url = reverse("okrs:kr_new", kwargs={"pk": objective.pk})
    choices = [v for v, _ in client.get(url).context["form"].fields["metric"].widget.choices]
    assert litter_metric.slug in choices
    response = client.post(
        url,
        kr_form(
            personas.team,
            quarter="2026-Q1",
            title="Under 5 litter reports a week",
            metric=litter_metric.slug,
            start_value="10",
            target_value="4",
            unit="",
        ),
    )
    assert response.status_code == 302, text(response)
    kr = KeyResult.objects.get()
    assert kr.metric == litter_metric and kr.current_value == 7
    # The check-in form asks no value: it comes from the data.
    response = client_as("editor").get(kr.get_absolute_url())
    assert "value" not in response.context["checkin_form"].fields
    assert "The value comes from the metric (7 reports)" in text(response)
    assert "<svg" in response.content.decode()
    response = client_as("editor").post(
        reverse("okrs:kr_checkin", kwargs={"pk": kr.pk}), {"confidence": "at_risk", "note": "Hm"}
    )
    assert response.status_code == 302
    row = page_json(client_as("guest").get(reverse("okrs:kr_detail_json", kwargs={"pk": kr.pk})))
    assert row["key_result"]["current"] == 7 and row["key_result"]["status"]["source"] == "data"
    assert row["key_result"]["checkins"][0]["from_metric"] is True
    # The outsider.
    outsider = client_as("outsider")
    response = outsider.get(kr.get_absolute_url())
    assert response.status_code == 200
    page = text(response)
    assert "Withheld" in page and "This key result tracks data you may not see." in page
    assert "7 reports" not in page and "Litter reports per week" not in page
    assert "<svg" not in response.content.decode()
    for url in (
        reverse("okrs:kr_detail_json", kwargs={"pk": kr.pk}),
        reverse("okrs:kr_detail_csv", kwargs={"pk": kr.pk}),
        reverse("okrs:tree_json") + "?quarter=2026-Q1",
        reverse("okrs:tree_csv") + "?quarter=2026-Q1",
        reverse("okrs:objective_detail_json", kwargs={"pk": objective.pk}),
        reverse("okrs:changes_json") + "?since=2000-01-01",
        reverse("okrs:report") + "?quarter=2026-Q1",
    ):
        content = outsider.get(url).content.decode()
        assert "Under 5 litter reports a week" in content or url.endswith("csv"), url
        assert "7 reports" not in content and "Litter reports per week" not in content, url
    (line,) = rows(outsider.get(reverse("okrs:tree_csv") + "?quarter=2026-Q1"))
    assert line["current"] == "" and line["start"] == "" and line["status"] == "Withheld"


# --- odds and ends --------------------------------------------------------------------------


def test_a_formula_in_a_title_is_not_run_by_a_spreadsheet(personas, client_as, objective) -> None:  # type: ignore[no-untyped-def]
    services.create_key_result(
        personas.editor,
        objective,
        personas.team,
        measure(title='=HYPERLINK("http://evil.example")', quarter=THIS.code),
    )
    (line,) = rows(client_as("viewer").get(reverse("okrs:tree_csv")))
    assert line["key result"] == '\'=HYPERLINK("http://evil.example")'


def test_the_pdf_says_what_is_missing_when_it_cannot_be_made(
    personas, client_as, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from civicloop.okrs import export

    def unavailable(data):  # type: ignore[no-untyped-def]
        raise export.PdfUnavailable("PDF export needs WeasyPrint and the Pango library.")

    monkeypatch.setattr(export, "render_pdf", unavailable)
    response = client_as("viewer").get(reverse("okrs:report_pdf"))
    assert response.status_code == 400
    assert "PDF export needs WeasyPrint and the Pango library." in text(response)


def test_a_closed_quarter_cannot_be_closed_twice(personas, client_as, q1_kr) -> None:  # type: ignore[no-untyped-def]
    services.close_quarter(
        personas.lead, personas.team, q1_kr.period, "Done.", {q1_kr.pk: Decision("0", "dropped")}
    )
    url = reverse("okrs:quarter_close", kwargs={"slug": "team-clean", "quarter": f"{YEAR}-Q1"})
    response = client_as("lead").post(
        url,
        {
            "reflection": "Again",
            f"kr-{q1_kr.pk}-score": "90",
            f"kr-{q1_kr.pk}-outcome": "completed",
        },
    )
    assert response.status_code == 200
    assert "its record is read-only" in text(response)
    assert QuarterClose.objects.get().reflection == "Done."
    q1_kr.refresh_from_db()
    assert q1_kr.score == 0 and q1_kr.outcome == "dropped"


def test_a_check_in_is_posted_not_fetched(personas, client_as, kr) -> None:  # type: ignore[no-untyped-def]
    response = client_as("editor").get(reverse("okrs:kr_checkin", kwargs={"pk": kr.pk}))
    assert response.status_code == 405
