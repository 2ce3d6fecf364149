"""The rules of A3s and PDSA cycles, as the services apply them: who may do what, the states
and what each needs, the cycle's steps in order, the rebase an adopted change becomes, and
templates. Every refusal names the field and saves nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from civicloop.improvement import services, study
from civicloop.improvement.models import (
    A3,
    A3Event,
    CountermeasureStatus,
    PdsaCycle,
    State,
)
from civicloop.improvement.sections import BY_KEY, default_questions
from civicloop.improvement.services import A3Error, NotAllowed
from civicloop.improvement.tests.conftest import (
    CHANGE_ON,
    MONDAYS,
    City,
    new_a3,
    plan,
    ready_a3,
    studied_cycle,
)
from civicloop.metrics.definition import Rebase
from civicloop.metrics.models import Annotation, MetricVersion
from civicloop.testing import Personas

pytestmark = pytest.mark.django_db


def problems(error: pytest.ExceptionInfo[A3Error]) -> dict[str, str]:
    """The refusal's problems by field (messages of one field joined)."""
    out: dict[str, str] = {}
    for name, message in error.value.problems:
        out[name] = f"{out[name]} | {message}" if name in out else message
    return out


# --- who may do what -------------------------------------------------------------------------


def test_the_team_s_leads_and_members_edit_its_viewers_and_guests_only_read(
    personas: Personas,
) -> None:
    a3 = new_a3(personas)
    for person in (personas.lead, personas.editor):
        services.update_a3(person, a3, {"background": f"Written by {person.full_name}."})
        assert a3.can_view(person) and a3.can_change(person)
    for person in (personas.viewer, personas.guest):
        assert a3.can_view(person) and not a3.can_change(person)
        with pytest.raises(NotAllowed, match="you may read it"):
            services.update_a3(person, a3, {"background": "Not mine to write."})
        with pytest.raises(NotAllowed):
            services.save_countermeasure(person, a3, {"title": "A crew"})
        with pytest.raises(NotAllowed):
            services.move(person, a3, State.IN_PROGRESS)
        with pytest.raises(NotAllowed, match="may start its A3s"):
            services.create_a3(person, personas.team, {"title": "Mine"})
    a3.refresh_from_db()
    assert a3.background == "Written by Eddie Editor."


def test_the_outsider_sees_an_a3_only_when_it_is_shared_with_their_team_or_open(
    personas: Personas,
) -> None:
    a3 = new_a3(personas)
    outsider = personas.outsider
    assert not a3.can_view(outsider)
    assert not A3.objects.visible_to(outsider).filter(pk=a3.pk).exists()
    assert a3.can_view(personas.admin)

    services.update_a3(personas.editor, a3, {"shared_with": [personas.other_team]})
    assert a3.can_view(outsider) and not a3.can_change(outsider)
    assert list(A3.objects.visible_to(outsider)) == [a3]
    with pytest.raises(NotAllowed):
        services.update_a3(outsider, a3, {"title": "Taken over"})

    services.update_a3(personas.editor, a3, {"shared_with": [], "is_open": True})
    assert a3.can_view(outsider)
    assert list(A3.objects.visible_to(outsider)) == [a3]
    services.update_a3(personas.editor, a3, {"is_open": False})
    assert not a3.can_view(outsider) and not A3.objects.visible_to(outsider).exists()


def test_an_owner_must_be_on_the_team(personas: Personas) -> None:
    with pytest.raises(A3Error) as error:
        services.create_a3(
            personas.editor, personas.team, {"title": "X", "owner": personas.outsider}
        )
    assert "Olu Outsider is not on Team Clean" in problems(error)["owner"]
    assert not A3.objects.exists()
    with pytest.raises(A3Error) as error:
        services.create_a3(personas.editor, personas.team, {"title": "  "})
    assert "title" in problems(error)


# --- states ----------------------------------------------------------------------------------


def test_a_draft_with_empty_sections_does_not_move_on_and_every_gap_is_named(
    personas: Personas,
) -> None:
    a3 = new_a3(personas)
    with pytest.raises(A3Error) as error:
        services.move(personas.editor, a3, State.IN_PROGRESS)
    items = error.value.problems
    # One problem per gap, each on its section (a form counts them right).
    assert [name for name, _ in items] == [
        "background",
        "current_condition",
        "goal",
        "root_cause",
        "countermeasures",
        "plan",
    ]
    for key, message in items:
        assert message.startswith(f"Before it can be in progress: {BY_KEY[key].title}:")
        assert default_questions()[key] in message  # the section's guiding question
    a3.refresh_from_db()
    assert a3.state == State.DRAFT
    assert not a3.events.filter(action="State").exists()


def test_a_goal_needs_its_measure_before_the_a3_moves_on(city: City) -> None:
    personas = city.personas
    a3, _ = ready_a3(personas, city.count)
    services.update_a3(personas.editor, a3, {"goal_metric": None, "goal_target": None})
    with pytest.raises(A3Error) as error:
        services.move(personas.editor, a3, State.IN_PROGRESS)
    assert list(problems(error)) == ["goal"]
    assert "link it to a key result, or to a metric with a target value" in problems(error)["goal"]
    with pytest.raises(A3Error) as error:
        services.update_a3(personas.editor, a3, {"goal_target": 14.0})
    assert "A target needs its measure" in problems(error)["goal_target"]


def test_from_draft_to_closed_adopted_each_step_needs_what_it_needs(city: City) -> None:
    personas = city.personas
    editor = personas.editor
    a3, countermeasure = ready_a3(personas, city.count)
    with pytest.raises(A3Error, match="moves to in progress, not to confirming"):
        services.move(editor, a3, State.CONFIRMING)
    services.move(editor, a3, State.IN_PROGRESS)
    assert a3.state == State.IN_PROGRESS

    # Confirming the effect needs a cycle that has started.
    cycle = services.add_cycle(editor, countermeasure, plan(city.count))
    with pytest.raises(A3Error) as error:
        services.move(editor, a3, State.CONFIRMING)
    assert "start a PDSA cycle" in problems(error)["countermeasures"]
    services.start_cycle(editor, cycle, CHANGE_ON)
    services.move(editor, a3, State.CONFIRMING)

    # Closing as adopted needs the follow-up and an adopted countermeasure.
    with pytest.raises(A3Error, match="adopted or abandoned"):
        services.move(editor, a3, State.CLOSED)
    with pytest.raises(A3Error) as error:
        services.move(editor, a3, State.CLOSED, outcome="adopted")
    found = problems(error)
    assert set(found) == {"follow_up", "countermeasures"}
    assert default_questions()["follow_up"] in found["follow_up"]
    assert "adopt a countermeasure" in found["countermeasures"]
    a3.refresh_from_db()
    assert a3.state == State.CONFIRMING

    services.update_a3(editor, a3, {"follow_up": "North fell to 12 a week and stayed there."})
    services.record_do(editor, cycle, MONDAYS[-1], "Ran as planned.")
    services.study_cycle(editor, cycle, "The shift is real.")
    services.act(editor, cycle, "adopt", "Make it the way North works.")
    services.move(editor, a3, State.CLOSED, outcome="adopted")
    a3.refresh_from_db()
    assert a3.state == State.CLOSED and a3.outcome == "adopted"
    assert a3.closed_on == timezone.localdate()
    assert a3.state_text == "Closed: adopted"


def test_abandoning_needs_a_reason(personas: Personas) -> None:
    a3 = new_a3(personas)
    with pytest.raises(A3Error) as error:
        services.move(personas.editor, a3, State.CLOSED, outcome="abandoned", reason=" ")
    assert "Say why" in problems(error)["reason"]
    a3.refresh_from_db()
    assert a3.state == State.DRAFT


def test_a_draft_may_be_abandoned_at_any_time_with_the_reason_and_the_lesson(
    personas: Personas,
) -> None:
    """The state page promises: abandoned "at any time, with the reason". Empty sections do
    not stand in the way; only what was learned, for the next team, is asked for."""
    a3 = new_a3(personas)
    with pytest.raises(A3Error) as error:
        services.move(
            personas.editor, a3, State.CLOSED, outcome="abandoned", reason="Police took it on."
        )
    assert list(problems(error)) == ["follow_up"]
    services.update_a3(personas.editor, a3, {"follow_up": "Police own the dumping hotspots."})
    services.move(
        personas.editor, a3, State.CLOSED, outcome="abandoned", reason="Police took it on."
    )
    a3.refresh_from_db()
    assert a3.state_text == "Closed: abandoned" and a3.closed_on == timezone.localdate()
    event = a3.events.first()
    assert event is not None and event.reason == "Police took it on."
    assert event.changes == [{"field": "state", "before": "Draft", "after": "Closed: abandoned"}]


def test_going_back_a_step_needs_a_reason_and_the_history_keeps_it(city: City) -> None:
    personas = city.personas
    a3, _ = ready_a3(personas, city.count)
    services.move(personas.lead, a3, State.IN_PROGRESS)
    with pytest.raises(A3Error) as error:
        services.move(personas.lead, a3, State.DRAFT)
    assert "reason" in problems(error)
    services.move(personas.lead, a3, State.DRAFT, reason="The goal was not agreed.")
    event = a3.events.filter(action="State").first()
    assert event is not None
    assert event.who == personas.lead
    assert event.changes == [{"field": "state", "before": "In progress", "after": "Draft"}]
    assert event.reason == "The goal was not agreed."


def test_a_closed_a3_is_a_record_nobody_changes(personas: Personas) -> None:
    a3 = new_a3(personas)
    A3.objects.filter(pk=a3.pk).update(state=State.CLOSED, outcome="abandoned", closed_on=CHANGE_ON)
    a3.refresh_from_db()
    for attempt in (
        lambda: services.update_a3(personas.lead, a3, {"background": "More."}),
        lambda: services.save_countermeasure(personas.lead, a3, {"title": "Another"}),
        lambda: services.set_root_causes(personas.lead, a3, whys=["Why?"]),
        lambda: services.move(personas.lead, a3, State.IN_PROGRESS),
    ):
        with pytest.raises(A3Error, match=r"closed on 04 Aug 2025 .*a record now"):
            attempt()
    a3.refresh_from_db()
    assert a3.background == "" and not a3.countermeasures.exists()


def test_the_history_records_who_what_before_after_and_why(personas: Personas) -> None:
    a3 = new_a3(personas)
    first = a3.events.get()
    assert (first.action, first.who, first.subject) == ("Started", personas.editor, a3.title)
    changes = services.update_a3(
        personas.lead,
        a3,
        {"title": "Requests wait 9 days in North", "background": "Residents wait."},
        reason="Sharper title.",
    )
    assert changes == [
        {
            "field": "title",
            "before": "Requests wait too long in North",
            "after": "Requests wait 9 days in North",
        },
        {"field": "background", "before": "—", "after": "Residents wait."},
    ]
    event = a3.events.first()
    assert event is not None
    assert (event.action, event.who, event.reason) == ("Changed", personas.lead, "Sharper title.")
    assert event.changes == changes
    # Saving the same again is no change, and no entry.
    assert services.update_a3(personas.lead, a3, {"background": "Residents wait."}) == []
    assert a3.events.count() == 2


# --- PDSA cycles -----------------------------------------------------------------------------


def test_a_cycle_needs_its_prediction_written_before_it_starts(city: City) -> None:
    personas = city.personas
    _a3, countermeasure = ready_a3(personas, city.count)
    with pytest.raises(A3Error) as error:
        services.add_cycle(
            personas.editor,
            countermeasure,
            plan(city.count, prediction="", predicted_direction="", change=""),
        )
    found = problems(error)
    assert set(found) == {"change", "prediction", "predicted_direction"}
    assert "Write the prediction before the cycle starts" in found["prediction"]
    assert not PdsaCycle.objects.exists()


def test_a_pilot_must_be_a_value_the_metric_has(city: City) -> None:
    _, countermeasure = ready_a3(city.personas, city.count)
    with pytest.raises(A3Error) as error:
        services.add_cycle(city.personas.editor, countermeasure, plan(city.count, value="West"))
    assert problems(error)["value"] == (
        "Service requests per week has no series district = West; the pilot can be one of: "
        "district = East, district = North, district = South."
    )


def test_the_plan_changes_until_the_cycle_starts_then_the_prediction_is_fixed(
    city: City,
) -> None:
    personas = city.personas
    _, countermeasure = ready_a3(personas, city.count)
    cycle = services.add_cycle(personas.editor, countermeasure, plan(city.count))
    changes = services.update_plan(personas.editor, cycle, {"predicted_value": 12.0})
    assert changes == [{"field": "predicted_value", "before": "13", "after": "12"}]
    services.start_cycle(personas.editor, cycle, CHANGE_ON)
    with pytest.raises(A3Error) as error:
        services.update_plan(personas.editor, cycle, {"prediction": "Actually, a rise."})
    assert "its plan and prediction are fixed" in problems(error)["prediction"]
    cycle.refresh_from_db()
    assert cycle.prediction.startswith("Requests in North fall") and cycle.predicted_value == 12


def test_starting_a_cycle_marks_the_change_on_the_metric_s_chart(city: City) -> None:
    personas = city.personas
    _, countermeasure = ready_a3(personas, city.count)
    cycle = services.add_cycle(personas.editor, countermeasure, plan(city.count))
    assert cycle.number == 1 and cycle.stage == "plan"
    services.start_cycle(personas.editor, cycle, CHANGE_ON)
    mark = Annotation.objects.get(metric=city.count)
    assert mark.on == CHANGE_ON
    # The A3 is the team's own: the chart says a change went live, not what it was.
    assert mark.text == "PDSA 1 went live (Team Clean's improvement work)"
    assert not mark.can_delete(personas.lead)  # the record of a tested change stays
    assert mark.author == personas.editor
    assert cycle.annotation == mark and cycle.stage == "do"
    countermeasure.refresh_from_db()
    assert countermeasure.status == CountermeasureStatus.TESTING
    with pytest.raises(A3Error, match="started on 04 Aug 2025 already"):
        services.start_cycle(personas.editor, cycle, CHANGE_ON)


def test_a_cycle_cannot_start_in_the_future(city: City) -> None:
    _, countermeasure = ready_a3(city.personas, city.count)
    cycle = services.add_cycle(city.personas.editor, countermeasure, plan(city.count))
    tomorrow = timezone.localdate() + timedelta(days=1)
    with pytest.raises(A3Error) as error:
        services.start_cycle(city.personas.editor, cycle, tomorrow)
    assert "is in the future" in problems(error)["started_on"]
    with pytest.raises(A3Error) as error:
        services.start_cycle(city.personas.editor, cycle, None)
    assert "started_on" in problems(error)
    cycle.refresh_from_db()
    assert cycle.started_on is None and not Annotation.objects.exists()


def test_the_do_step_follows_the_start_and_cannot_end_before_it(city: City) -> None:
    user = city.personas.editor
    _, countermeasure = ready_a3(city.personas, city.count)
    cycle = services.add_cycle(user, countermeasure, plan(city.count))
    with pytest.raises(A3Error) as error:
        services.record_do(user, cycle, CHANGE_ON, "Ran.")
    assert "Start the cycle first" in problems(error)["ended_on"]
    services.start_cycle(user, cycle, CHANGE_ON)
    with pytest.raises(A3Error) as error:
        services.record_do(user, cycle, CHANGE_ON - timedelta(days=1), "")
    found = problems(error)
    assert "cannot end (03 Aug 2025) before it started (04 Aug 2025)" in found["ended_on"]
    assert "Say what happened" in found["what_happened"]
    cycle.refresh_from_db()
    assert cycle.ended_on is None


def test_study_needs_the_do_step_and_keeps_the_verdict_as_it_was(city: City) -> None:
    user = city.personas.editor
    _, countermeasure = ready_a3(city.personas, city.count)
    cycle = services.add_cycle(user, countermeasure, plan(city.count))
    services.start_cycle(user, cycle, CHANGE_ON)
    with pytest.raises(A3Error) as error:
        services.study_cycle(user, cycle, "Looks good.")
    assert "Record the Do step first" in problems(error)["study_notes"]
    assert cycle.studied_at is None
    services.record_do(user, cycle, MONDAYS[-1], "Ran as planned.")
    with pytest.raises(A3Error) as error:
        services.study_cycle(user, cycle, "  ")
    assert "Say what the team makes of the data" in problems(error)["study_notes"]
    services.study_cycle(user, cycle, "North fell; the rest did not.")
    cycle.refresh_from_db()
    assert cycle.stage == "act"
    verdict = cycle.verdict
    assert verdict["signal"] == study.PREDICTED
    # Judged on the test's own window: up to the day the Do step says it ended.
    assert verdict["as_of"] == MONDAYS[-1].isoformat()
    assert [s["label"] for s in verdict["series"]] == [
        "District North",
        "The rest (District East, District South)",
    ]
    assert verdict["series"][1]["signal"] == study.NO_SIGNAL
    event = cycle.a3.events.first()
    assert event is not None and event.action == "PDSA studied"
    assert event.subject == "Cycle 1: Special cause in the predicted direction"


def test_adopting_as_the_metric_s_steward_rebases_the_metric_at_the_change(city: City) -> None:
    personas = city.personas
    a3, countermeasure = ready_a3(personas, city.count)
    cycle = studied_cycle(personas, countermeasure, city.count)
    versions = MetricVersion.objects.filter(metric=city.count).count()
    with pytest.raises(A3Error) as error:
        services.act(personas.lead, cycle, "", "")
    assert set(problems(error)) == {"decision", "act_notes"}

    services.act(personas.lead, cycle, "adopt", "Make it the way North works.")
    cycle.refresh_from_db()
    city.count.refresh_from_db()
    assert MetricVersion.objects.filter(metric=city.count).count() == versions + 1
    reason = f"Adopted: A dedicated North crew in District North (A3 “{a3.title}”, PDSA 1)"
    assert services.rebase_reason(cycle) == reason
    # The pilot's series is rebased, not the whole metric: the rest did not change.
    rebases = city.count.definition().chart.rebases
    assert rebases == (Rebase(CHANGE_ON, reason, "district", "North"),)
    assert city.count.current_version is not None
    assert city.count.current_version.reason == reason
    assert cycle.rebase_pending is False
    assert cycle.rebase_version == city.count.current_version
    countermeasure.refresh_from_db()
    assert countermeasure.status == CountermeasureStatus.ADOPTED
    assert a3.events.filter(action="Metric rebased").exists()
    with pytest.raises(A3Error, match="already"):
        services.act(personas.lead, cycle, "adapt", "Again.")


def test_adopting_as_a_member_leaves_the_rebase_to_the_steward(city: City) -> None:
    personas = city.personas
    _a3, countermeasure = ready_a3(personas, city.count)
    cycle = studied_cycle(personas, countermeasure, city.count, value="", breakdown="")
    before = city.count.current_version
    services.act(personas.editor, cycle, "adopt", "Make it the way we work.")
    cycle.refresh_from_db()
    city.count.refresh_from_db()
    assert cycle.rebase_pending is True and cycle.rebase_version is None
    assert city.count.current_version == before
    assert services.pending_rebases(personas.lead) == [cycle]
    assert services.pending_rebases(personas.editor) == []
    with pytest.raises(NotAllowed, match="Only Lena Lead may rebase Service requests per week"):
        services.apply_rebase(personas.editor, cycle)

    services.apply_rebase(personas.lead, cycle)
    cycle.refresh_from_db()
    city.count.refresh_from_db()
    assert cycle.rebase_pending is False
    assert cycle.rebase_version == city.count.current_version != before
    rebases = city.count.definition().chart.rebases
    assert [r.on for r in rebases] == [CHANGE_ON]
    assert rebases[0].reason == services.rebase_reason(cycle)
    with pytest.raises(A3Error, match="no rebase waiting"):
        services.apply_rebase(personas.lead, cycle)


def test_adapting_leads_to_the_next_cycle_numbered_through_the_a3(city: City) -> None:
    personas = city.personas
    user = personas.editor
    a3, crew = ready_a3(personas, city.count)
    first = studied_cycle(personas, crew, city.count)
    with pytest.raises(A3Error, match="Study the cycle first"):
        services.act(user, services.add_cycle(user, crew, plan(city.count)), "adapt", "Hm.")
    services.act(user, first, "adapt", "Try it with a text to the resident.")
    sweeps = services.save_countermeasure(user, a3, {"title": "Weekend sweeps"})
    following = services.add_cycle(user, sweeps, plan(city.count), previous=first)
    assert following.previous == first and first.next_cycle == following
    assert [c.number for c in PdsaCycle.objects.filter(countermeasure__a3=a3)] == [1, 2, 3]
    assert following.number == 3  # after cycle 2, planned (unstarted) under the crew
    with pytest.raises(A3Error) as error:
        services.add_cycle(user, crew, plan(city.count), previous=first)
    assert problems(error)["previous"] == "Cycle 1 already has a next cycle."
    # Another A3's cycles start again at 1.
    _, other = ready_a3(personas, city.count)
    assert services.add_cycle(user, other, plan(city.count)).number == 1


def test_abandoning_the_last_open_cycle_abandons_its_countermeasure(city: City) -> None:
    _, countermeasure = ready_a3(city.personas, city.count)
    cycle = studied_cycle(city.personas, countermeasure, city.count)
    services.act(city.personas.editor, cycle, "abandon", "No better than before.")
    countermeasure.refresh_from_db()
    assert countermeasure.status == CountermeasureStatus.ABANDONED
    assert cycle.rebase_pending is False


# --- the other sections ----------------------------------------------------------------------


def test_an_action_needs_an_owner_and_a_due_date(personas: Personas) -> None:
    a3 = new_a3(personas)
    with pytest.raises(A3Error) as error:
        services.save_action(personas.editor, a3, {"what": "Brief the crew"})
    found = problems(error)
    assert found["owner"] == "Every action needs an owner: the person who will do it."
    assert found["due_on"] == "Every action needs a due date (YYYY-MM-DD)."
    assert not a3.actions.exists()


def test_fishbone_causes_go_under_the_a3_s_own_categories(personas: Personas) -> None:
    a3 = new_a3(personas)
    with pytest.raises(A3Error) as error:
        services.set_root_causes(personas.editor, a3, causes=[("Weather", "Rain")])
    assert "“Weather” is not one of this A3's fishbone categories" in problems(error)["causes"]
    with pytest.raises(A3Error) as error:
        services.set_root_causes(personas.editor, a3, whys=[f"Why {n}?" for n in range(8)])
    assert "Keep to 7 whys" in problems(error)["whys"]
    services.set_root_causes(
        personas.editor, a3, whys=["Why?", " ", "Because."], causes=[("People", "Few crews")]
    )
    a3.refresh_from_db()
    assert a3.whys == ["Why?", "Because."]
    assert a3.causes == [{"category": "People", "text": "Few crews"}]


def test_a_chart_of_a_breakdown_value_the_metric_lacks_is_refused(city: City) -> None:
    a3 = new_a3(city.personas)
    with pytest.raises(A3Error) as error:
        services.link_metric(city.personas.editor, a3, city.count, "district", "West")
    assert problems(error)["value"] == (
        "Service requests per week has no series district = 'West'; its values are East, "
        "North, South."
    )
    link = services.link_metric(city.personas.editor, a3, city.count, "district", "North")
    assert link.series_label == "District North"
    with pytest.raises(A3Error, match="on the A3 already"):
        services.link_metric(city.personas.editor, a3, city.count, "district", "North")
    # The current condition then counts as described.
    assert "current_condition" not in dict(services.missing_for(a3, State.IN_PROGRESS))


# --- templates -------------------------------------------------------------------------------

TEMPLATE = {
    "name": "Street services A3",
    "question_background": "Which streets does this affect, and why now?",
    "fishbone_categories": "Crews\nPolicies\nProcedures\nPlace",
}


def test_a_template_is_refused_with_every_problem_and_nothing_saved(personas: Personas) -> None:
    services.save_template(personas.lead, personas.team, TEMPLATE)
    with pytest.raises(A3Error) as error:
        services.save_template(
            personas.editor,
            personas.team,
            {**TEMPLATE, "name": "street SERVICES a3", "fishbone_categories": "Crews"},
        )
    found = problems(error)
    assert found["name"] == (
        "Team Clean already has a template called “street SERVICES a3”; pick another."
    )
    assert found["fishbone_categories"] == (
        "Give between 2 and 8 categories, one per line; there are 1."
    )
    with pytest.raises(A3Error) as error:
        services.save_template(personas.editor, personas.team, {"fishbone_categories": ""})
    assert set(problems(error)) == {"name", "fishbone_categories"}
    with pytest.raises(A3Error, match="may appear once"):
        services.save_template(
            personas.editor, personas.team, {"name": "B", "fishbone_categories": "Crews\ncrews"}
        )
    with pytest.raises(NotAllowed):
        services.save_template(personas.viewer, personas.team, {**TEMPLATE, "name": "Mine"})
    assert personas.team.a3_templates.count() == 1


def test_an_a3_keeps_the_questions_it_was_started_with(personas: Personas) -> None:
    template = services.save_template(personas.lead, personas.team, TEMPLATE)
    a3 = new_a3(personas, template=template)
    assert a3.question("background") == "Which streets does this affect, and why now?"
    assert a3.question("goal") == default_questions()["goal"]
    assert a3.fishbone_categories == ["Crews", "Policies", "Procedures", "Place"]
    assert a3.events.get().reason == "From the template “Street services A3”."
    # The team rewords its template later: the A3 keeps what it was written against.
    services.save_template(
        personas.lead,
        personas.team,
        {**TEMPLATE, "question_background": "Who is hurt?", "fishbone_categories": "A\nB"},
        template,
    )
    a3.refresh_from_db()
    assert a3.question("background") == "Which streets does this affect, and why now?"
    assert a3.fishbone_categories == ["Crews", "Policies", "Procedures", "Place"]
    # And the gaps are named with the A3's own questions.
    with pytest.raises(A3Error) as error:
        services.move(personas.editor, a3, State.IN_PROGRESS)
    assert "Which streets does this affect, and why now?" in problems(error)["background"]
    assert "Who is hurt?" not in str(error.value.problems)


def test_a_shared_template_serves_other_teams_an_unshared_one_does_not(
    personas: Personas,
) -> None:
    shared = services.save_template(personas.lead, personas.team, {**TEMPLATE, "is_shared": "on"})
    private = services.save_template(
        personas.lead, personas.team, {**TEMPLATE, "name": "Our own A3"}
    )
    assert services.templates_for(personas.outsider, personas.other_team) == [shared]
    assert services.templates_for(personas.editor, personas.team) == [private, shared]
    a3 = services.create_a3(
        personas.outsider, personas.other_team, {"title": "Shootings", "template": shared}
    )
    assert a3.question("background") == TEMPLATE["question_background"]
    with pytest.raises(A3Error) as error:
        services.create_a3(
            personas.outsider, personas.other_team, {"title": "Shootings", "template": private}
        )
    assert problems(error)["template"] == (
        "That template is not shared with your team; pick another."
    )
    assert A3.objects.filter(team=personas.other_team).count() == 1
    assert A3Event.objects.filter(a3__team=personas.other_team).count() == 1


# --- what the data allows --------------------------------------------------------------------


def test_adopting_a_pilot_rebases_the_pilot_s_series_and_no_other(city: City) -> None:
    from civicloop.metrics.api import metric_detail_data

    personas = city.personas
    _, countermeasure = ready_a3(personas, city.count)
    cycle = studied_cycle(personas, countermeasure, city.count)
    services.act(personas.lead, cycle, "adopt", "Make it the way North works.")
    from civicloop.metrics.services import refresh

    refresh([city.count])
    city.count.refresh_from_db()
    lead = personas.lead
    north = metric_detail_data(city.count, lead, "district", "North")["spc"]["rebases"]
    assert [(r["date"], r["applied"]) for r in north] == [(CHANGE_ON.isoformat(), True)]
    for breakdown, value in (("", ""), ("district", "South"), ("district", "East")):
        assert metric_detail_data(city.count, lead, breakdown, value)["spc"]["rebases"] == []


def test_adopting_what_the_data_does_not_show_working_must_be_said(city: City) -> None:
    personas = city.personas
    _, countermeasure = ready_a3(personas, city.count)
    # South did not change at the change date: its verdict is no special cause.
    cycle = studied_cycle(personas, countermeasure, city.count, value="South")
    assert cycle.verdict["signal"] == study.NO_SIGNAL
    versions = MetricVersion.objects.filter(metric=city.count).count()
    with pytest.raises(A3Error) as error:
        services.act(personas.lead, cycle, "adopt", "We like it.")
    assert "The data does not show this change working" in problems(error)["adopt_anyway"]
    cycle.refresh_from_db()
    assert cycle.decision == ""
    services.act(personas.lead, cycle, "adopt", "Residents asked for it.", adopt_anyway=True)
    cycle.refresh_from_db()
    assert cycle.decision == "adopt" and not cycle.rebase_pending
    # No rebase: the chart shows no change in the process, so none is drawn.
    assert MetricVersion.objects.filter(metric=city.count).count() == versions


def test_the_owner_must_be_able_to_edit_and_dates_follow_the_start(personas: Personas) -> None:
    with pytest.raises(A3Error) as error:
        services.create_a3(
            personas.editor, personas.team, {"title": "Litter", "owner": personas.viewer}
        )
    assert "Vera Viewer is a viewer on Team Clean" in problems(error)["owner"]
    a3 = new_a3(personas)
    early = a3.started_on - timedelta(days=1)
    with pytest.raises(A3Error) as error:
        services.update_a3(personas.editor, a3, {"review_on": early, "goal_by": early})
    assert set(problems(error)) == {"review_on", "goal_by"}
    assert "is before the A3 started" in problems(error)["review_on"]


def test_a_closed_a3_may_still_be_shared_so_other_teams_learn(personas: Personas) -> None:
    a3 = new_a3(personas)
    services.update_a3(personas.editor, a3, {"follow_up": "The depot took it over."})
    services.move(personas.editor, a3, State.CLOSED, outcome="abandoned", reason="Moved.")
    assert not a3.can_view(personas.outsider)
    services.share_a3(personas.admin, a3, is_open=False, shared_with=[personas.other_team])
    assert a3.can_view(personas.outsider)
    assert a3.events.first().action == "Sharing"
    with pytest.raises(NotAllowed):
        services.share_a3(personas.viewer, a3, is_open=True, shared_with=[])


def test_a_goal_may_be_set_for_one_breakdown_value_and_shows_where_it_stands(
    city: City,
) -> None:
    from civicloop.improvement import api

    personas = city.personas
    a3, _ = ready_a3(personas, city.count)
    services.update_a3(
        personas.editor,
        a3,
        {"goal_metric": city.count, "goal_breakdown": "district", "goal_value": "North"},
    )
    goal = api.a3_detail_data(a3, personas.editor)["goal"]
    assert goal["metric"]["series"] == "District North"
    latest = goal["metric"]["latest"]
    assert latest is not None and latest["period"] == MONDAYS[-1].isoformat()
    # The history names the goal's measure, tied to the metric (withheld from who may not see it).
    event = a3.events.filter(action="Goal measure").first()
    assert event is not None and event.metric == city.count


def test_the_do_step_is_recorded_once_the_test_has_ended(city: City) -> None:
    personas = city.personas
    _, countermeasure = ready_a3(personas, city.count)
    cycle = services.add_cycle(personas.editor, countermeasure, plan(city.count))
    services.start_cycle(personas.editor, cycle, CHANGE_ON)
    tomorrow = timezone.localdate() + timedelta(days=1)
    with pytest.raises(A3Error) as error:
        services.record_do(personas.editor, cycle, tomorrow, "Going well.")
    assert "is in the future" in problems(error)["ended_on"]
    cycle.refresh_from_db()
    assert cycle.ended_on is None
