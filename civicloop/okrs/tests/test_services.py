"""The OKR rules as the personas meet them: bad input refused naming the field and the fix,
progress maths, quarter close, history, governance, check-ins due and reminders, quarters."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import mail

from civicloop.okrs import api, services
from civicloop.okrs.models import (
    Change,
    ChangeAction,
    CheckIn,
    KeyResult,
    Mission,
    Objective,
    OkrPolicy,
    QuarterClose,
    Reminder,
)
from civicloop.okrs.quarters import Quarter, quarters_of, year_end, year_label, year_start
from civicloop.okrs.services import Decision, NotAllowed, OkrError, OkrInputError
from civicloop.okrs.tests.conftest import MISSION, YEAR, at, measure, milestone
from civicloop.organizations.models import Membership, Role

pytestmark = pytest.mark.django_db

Q1 = Quarter(YEAR, 1)
Q2 = Quarter(YEAR, 2)
Q4 = Quarter(YEAR, 4)
AFTER_Q1 = date(YEAR, 4, 2)  # a day to close 2026-Q1 on


def problems(error: pytest.ExceptionInfo[OkrError]) -> dict[str, str]:
    value = error.value
    if isinstance(value, OkrInputError):
        fields = [name for name, _ in value.problems]
        # One clear message per field: two on one field would contradict or repeat.
        assert len(fields) == len(set(fields)), value.problems
        return dict(value.problems)
    return {value.field: value.message}


def refused(call, *args, **kwargs) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(OkrError) as error:
        call(*args, **kwargs)
    return problems(error)


def new_kr(personas, objective, **overrides) -> KeyResult:  # type: ignore[no-untyped-def]
    return services.create_key_result(
        personas.editor, objective, personas.team, measure(**overrides)
    )


def close(personas, quarter, decisions, today=AFTER_Q1, reflection="We learned a lot."):  # type: ignore[no-untyped-def]
    return services.close_quarter(
        personas.lead, personas.team, quarter, reflection, decisions, today
    )


# --- bad input: each refused, naming the field and the fix ---------------------------------


def test_target_equal_to_start_is_refused(personas, objective) -> None:  # type: ignore[no-untyped-def]
    found = refused(
        services.create_key_result,
        personas.editor,
        objective,
        personas.team,
        measure(start_value="10", target_value="10"),
    )
    assert set(found) == {"target_value"}
    assert "target equals the start value (10)" in found["target_value"]
    assert "Set a target that differs from the start" in found["target_value"]
    assert not KeyResult.objects.exists()


def test_a_key_result_outside_its_objectives_year_is_refused(personas, objective) -> None:  # type: ignore[no-untyped-def]
    found = refused(new_kr, personas, objective, quarter="2027-Q1")
    assert set(found) == {"quarter"}
    assert "2027 Q1 is outside the objective's year (2026)" in found["quarter"]
    assert "choose 2026-Q1 to 2026-Q4" in found["quarter"]
    assert not KeyResult.objects.exists()


def test_a_key_result_cannot_move_out_of_its_objectives_year(personas, objective, kr) -> None:  # type: ignore[no-untyped-def]
    found = refused(
        services.change_key_result,
        personas.editor,
        kr,
        measure(quarter="2025-Q4"),
        "Pull it forward",
    )
    assert "outside the objective's year" in found["quarter"]
    kr.refresh_from_db()
    assert kr.period == Q1


def test_a_quarter_that_is_not_a_quarter_says_how_to_write_one(personas, objective) -> None:  # type: ignore[no-untyped-def]
    found = refused(new_kr, personas, objective, quarter="2026-Q5")
    assert "write it as YEAR-QN, for example 2026-Q3" in found["quarter"]


def test_a_check_in_for_a_closed_quarter_is_refused(personas, objective, kr) -> None:  # type: ignore[no-untyped-def]
    close(personas, Q1, {kr.pk: Decision("40", "dropped")})
    found = refused(
        services.check_in, personas.editor, kr, confidence="on_track", note="late", value="6"
    )
    message = found[""]
    assert "2026 Q1 of Team Clean was closed on" in message
    assert "read-only" in message and "Work on 2026 Q2 instead" in message
    assert not CheckIn.objects.exists()
    kr.refresh_from_db()
    assert kr.current_value is None


def test_a_check_in_before_the_quarter_starts_is_refused(personas, objective) -> None:  # type: ignore[no-untyped-def]
    kr = new_kr(personas, objective, quarter="2026-Q2")
    found = refused(
        services.check_in,
        personas.editor,
        kr,
        confidence="on_track",
        value="9",
        at=at(date(2026, 3, 20)),
    )
    assert "2026 Q2 starts on 01 Apr 2026; check in once it has started" in found[""]


def test_a_check_in_names_every_missing_or_bad_field(personas, objective, kr) -> None:  # type: ignore[no-untyped-def]
    found = refused(
        services.check_in, personas.editor, kr, confidence="sure", note="x" * 1001, value="lots"
    )
    assert set(found) == {"confidence", "note", "value"}
    assert "on track, at risk or off track" in found["confidence"]
    assert "1001 characters; keep it under 1000" in found["note"]
    assert "The value must be a number, not “lots”" in found["value"]
    found = refused(services.check_in, personas.editor, kr, confidence="on_track")
    assert found == {"value": "Give the current value (in days)."}
    assert not CheckIn.objects.exists()


def test_weights_may_not_be_negative(personas, objective) -> None:  # type: ignore[no-untyped-def]
    found = refused(new_kr, personas, objective, weight="-1")
    assert set(found) == {"weight"}
    assert "weight is -1; weights cannot be negative. Use 0 or more" in found["weight"]
    assert not KeyResult.objects.exists()


def test_weights_may_not_all_be_zero(personas, objective) -> None:  # type: ignore[no-untyped-def]
    found = refused(new_kr, personas, objective, weight="0")
    assert "would weigh 0" in found["weight"]
    assert "Give at least one a weight above 0" in found["weight"]
    # One weighing 0 beside one that counts is fine; then the one that counts cannot drop to 0.
    counted = new_kr(personas, objective, title="Counts")
    new_kr(personas, objective, title="Tracked only", weight="0")
    found = refused(
        services.change_key_result,
        personas.editor,
        counted,
        measure(title="Counts", weight="0"),
        "Stop counting it",
    )
    assert "would weigh 0" in found["weight"]
    counted.refresh_from_db()
    assert counted.weight == 1


def test_a_weight_that_is_not_a_number_is_named(personas, objective) -> None:  # type: ignore[no-untyped-def]
    found = refused(new_kr, personas, objective, weight="heavy")
    assert found["weight"] == "The weight must be a number, not “heavy”."


def test_every_problem_of_one_key_result_is_reported_at_once(personas, objective) -> None:  # type: ignore[no-untyped-def]
    found = refused(
        new_kr,
        personas,
        objective,
        title="",
        quarter="2027-Q2",
        start_value="ten",
        target_value="",
        weight="-2",
        owner=personas.viewer,
    )
    assert set(found) == {"title", "quarter", "start_value", "target_value", "weight", "owner"}
    assert "start value must be a number, not “ten”" in found["start_value"]
    assert "Give the target" in found["target_value"]
    assert "owner must be a lead or member of Team Clean" in found["owner"]
    assert "Vera Viewer is not" in found["owner"] or "viewer@example.org is not" in found["owner"]


def test_a_milestone_cannot_track_a_metric(personas, objective, litter_metric) -> None:  # type: ignore[no-untyped-def]
    found = refused(new_kr, personas, objective, kind="milestone", metric=litter_metric.slug)
    assert "A milestone is done or not done; it cannot track a metric" in found["metric"]


def test_a_metric_the_person_may_not_see_is_simply_not_found(
    personas, objective, litter_metric
) -> None:  # type: ignore[no-untyped-def]
    """The outsider (Police, lead of Team Safe) contributes to Team Clean's objective (shared
    with Team Safe) but cannot link the restricted litter metric: to them it does not exist."""
    objective.partner_teams.add(personas.other_team)
    found = refused(
        services.create_key_result,
        personas.outsider,
        objective,
        personas.other_team,
        measure(metric=litter_metric.slug),
    )
    assert found["metric"] == "There is no metric “litter-reports-weekly” that you can see."
    assert "Litter reports" not in " ".join(found.values())
    unknown = refused(
        new_kr, personas, objective, metric="no-such-metric", start_value="1", target_value="2"
    )
    assert unknown["metric"] == "There is no metric “no-such-metric” that you can see."
    assert not KeyResult.objects.exists()


def test_a_metric_on_data_the_team_may_not_see_is_refused(
    personas, objective, litter_metric
) -> None:  # type: ignore[no-untyped-def]
    """Restricted data: an administrator may see the litter metric, but Team Safe (Police) may
    not, so Team Safe's key result may not track it."""
    objective.partner_teams.add(personas.other_team)
    found = refused(
        services.create_key_result,
        personas.admin,
        objective,
        personas.other_team,
        measure(metric=litter_metric.slug, owner=personas.outsider),
    )
    message = found["metric"]
    assert "reads restricted data (Litter reports)" in message
    assert "Police on Team Safe may not see" in message
    assert "Choose a metric the whole team may see" in message
    assert not KeyResult.objects.exists()


def test_a_team_with_someone_who_may_not_see_the_data_cannot_track_it(
    personas, objective, litter_metric
) -> None:  # type: ignore[no-untyped-def]
    """The guest's organization has a sharing agreement, so Team Clean may track the metric,
    until someone from Police joins Team Clean."""
    linked = new_kr(personas, objective, metric=litter_metric.slug, title="Tracked")
    assert linked.metric == litter_metric
    Membership.objects.create(team=personas.team, person=personas.outsider, role=Role.VIEWER)
    found = refused(new_kr, personas, objective, metric=litter_metric.slug, title="Another")
    assert "Police on Team Clean may not see" in found["metric"]


def test_an_objective_names_its_missing_fields(personas, mission) -> None:  # type: ignore[no-untyped-def]
    found = refused(
        services.create_objective,
        personas.lead,
        personas.team,
        {"title": "", "mission": "no-such-mission", "year": "26"},
    )
    assert set(found) == {"title", "mission", "year"}
    assert "Choose the mission this objective serves (clean-safe-streets)" in found["mission"]
    assert "four digits, e.g. 2026" in found["year"]
    assert not Objective.objects.exists()


def test_an_objective_owner_must_edit_the_team(personas, mission) -> None:  # type: ignore[no-untyped-def]
    found = refused(
        services.create_objective,
        personas.lead,
        personas.team,
        {"title": "T", "mission": mission.slug, "year": YEAR, "owner": personas.guest},
    )
    assert "owner must be a lead or member of Team Clean" in found["owner"]


def test_a_mission_needs_a_title_and_its_public_value(personas) -> None:  # type: ignore[no-untyped-def]
    found = refused(services.save_mission, personas.lead, {"title": " ", "public_value": ""})
    assert set(found) == {"title", "public_value"}
    assert "in words a resident would use" in found["public_value"]
    assert not Mission.objects.exists()


# --- permissions, in the services -----------------------------------------------------------


def test_a_viewer_changes_nothing(personas, objective, kr) -> None:  # type: ignore[no-untyped-def]
    viewer = personas.viewer
    with pytest.raises(NotAllowed, match="leads and members; you can read them"):
        services.change_key_result(viewer, kr, measure(title="Hijacked"), "because")
    with pytest.raises(NotAllowed, match="made by its leads and members"):
        services.check_in(viewer, kr, confidence="on_track", value="1")
    with pytest.raises(NotAllowed, match="written by its leads and members"):
        services.create_key_result(viewer, objective, personas.team, measure(title="Mine"))
    with pytest.raises(NotAllowed, match="governance lets its leads"):
        services.change_objective(viewer, objective, {"title": "Hijacked"}, "because")
    with pytest.raises(NotAllowed, match="governance lets its leads"):
        services.create_objective(viewer, personas.team, {"title": "Mine"})
    with pytest.raises(NotAllowed, match="leads close its quarter"):
        services.close_quarter(viewer, personas.team, Q1, "r", {}, AFTER_Q1)
    with pytest.raises(NotAllowed, match="city's leaders"):
        services.save_mission(viewer, MISSION)
    with pytest.raises(NotAllowed, match="leads set how its OKRs are governed"):
        services.save_policy(viewer, personas.team, "members", 7)
    kr.refresh_from_db()
    objective.refresh_from_db()
    assert kr.title == "Clear fly-tips within 5 days" and kr.current_value is None
    assert objective.title == "Fewer fly-tips on our streets"
    assert KeyResult.objects.count() == 1 and Objective.objects.count() == 1
    assert not CheckIn.objects.exists() and not QuarterClose.objects.exists()
    assert not OkrPolicy.objects.exists()
    assert not Change.objects.filter(who=viewer).exists()


def test_the_guest_reads_but_does_not_check_in(personas, objective, kr) -> None:  # type: ignore[no-untyped-def]
    assert kr.can_view(personas.guest) and not kr.can_change(personas.guest)
    with pytest.raises(NotAllowed):
        services.check_in(personas.guest, kr, confidence="on_track", value="1")


def test_missions_are_set_by_city_leaders_only(personas) -> None:  # type: ignore[no-untyped-def]
    """The lead administers a city department; the outsider's Police is a department too, but
    they do not administer it; the guest's organization is a business."""
    assert services.save_mission(personas.admin, {**MISSION, "title": "Homes for all"})
    for person in (personas.editor, personas.guest, personas.outsider):
        with pytest.raises(NotAllowed):
            services.save_mission(person, {**MISSION, "title": "Mine"})
    personas.guest.is_org_admin = True
    personas.guest.save()
    with pytest.raises(NotAllowed):  # administers a business, not a city department
        services.save_mission(personas.guest, {**MISSION, "title": "Mine"})
    assert Mission.objects.count() == 1


def test_an_outsider_does_not_see_another_organizations_private_objectives(
    personas, mission
) -> None:  # type: ignore[no-untyped-def]
    private = services.create_objective(
        personas.lead,
        personas.team,
        {"title": "Secret depot move", "mission": mission.slug, "year": YEAR, "is_private": True},
    )
    public = services.create_objective(
        personas.lead,
        personas.team,
        {"title": "Fewer fly-tips", "mission": mission.slug, "year": YEAR},
    )
    services.create_key_result(personas.editor, private, personas.team, measure())
    outsider = personas.outsider
    assert not private.can_view(outsider) and public.can_view(outsider)
    assert list(Objective.objects.visible_to(outsider)) == [public]
    assert not KeyResult.objects.visible_to(outsider).exists()
    for person in (personas.lead, personas.editor, personas.viewer, personas.guest, personas.admin):
        assert private.can_view(person), person
    tree = api.tree_data(outsider, Q1)
    titles = [o["title"] for m in tree["missions"] for o in m["objectives"]]
    assert titles == ["Fewer fly-tips"]
    changes = api.changes_data(outsider, date(2000, 1, 1))
    assert not any("Secret" in c["subject"] for c in changes["changes"])
    assert any(
        "Secret" in c["subject"]
        for c in api.changes_data(personas.viewer, date(2000, 1, 1))["changes"]
    )
    # Nor can Team Safe hang a key result on it.
    with pytest.raises(NotAllowed):
        services.create_key_result(outsider, private, personas.other_team, measure())


def test_a_partner_team_sees_a_private_coalition_objective(personas, mission) -> None:  # type: ignore[no-untyped-def]
    shared = services.create_objective(
        personas.admin,
        personas.team,
        {
            "title": "Safer, cleaner night-time streets",
            "mission": mission.slug,
            "year": YEAR,
            "is_private": True,
            "owner": personas.lead,
            "partner_teams": [personas.other_team],
        },
    )
    assert shared.can_view(personas.outsider)
    assert [t.name for t in shared.teams()] == ["Team Clean", "Team Safe"]
    # Team Safe contributes a key result to Team Clean's objective.
    theirs = services.create_key_result(
        personas.outsider, shared, personas.other_team, measure(title="Night patrols")
    )
    assert theirs.team == personas.other_team and theirs.objective == shared
    # ... and only Team Safe's leads and members change it, not Team Clean's.
    assert theirs.can_change(personas.outsider) and not theirs.can_change(personas.lead)
    # Team Clean's governance, not the partner's, decides who changes the objective.
    assert shared.can_change(personas.lead) and not shared.can_change(personas.outsider)


# --- progress maths -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "target", "current", "expected"),
    [
        (0, 100, 40, 0.4),
        (0, 100, 150, 1.0),  # past the target: clamped
        (0, 100, -10, 0.0),  # went backwards: clamped
        (10, 5, 8, 0.4),  # a decreasing target
        (10, 5, 4, 1.0),
        (10, 5, 12, 0.0),
        (10, 5, 10, 0.0),
        (10, 5, 5, 1.0),
        (-2, 2, 0, 0.5),
    ],
)
def test_progress_is_clamped_from_start_to_target(start, target, current, expected) -> None:  # type: ignore[no-untyped-def]
    kr = KeyResult(kind="measure", start_value=start, target_value=target, current_value=current)
    assert kr.progress() == pytest.approx(expected)


def test_progress_of_a_key_result_with_no_value_or_no_span(personas) -> None:  # type: ignore[no-untyped-def]
    assert KeyResult(kind="measure", start_value=1, target_value=2).progress() is None
    assert (
        KeyResult(kind="measure", start_value=1, target_value=1, current_value=1).progress() is None
    )


def test_a_decreasing_target_is_recorded_as_decreasing(personas, kr) -> None:  # type: ignore[no-untyped-def]
    assert kr.direction == "decrease"
    services.check_in(personas.editor, kr, confidence="at_risk", value="8")
    kr.refresh_from_db()
    assert kr.current_value == 8 and kr.progress() == pytest.approx(0.4)


def test_a_milestone_is_all_or_nothing(personas, objective) -> None:  # type: ignore[no-untyped-def]
    kr = services.create_key_result(personas.editor, objective, personas.team, milestone())
    assert kr.start_value is None and kr.target_value is None and kr.progress() == 0.0
    services.check_in(personas.editor, kr, confidence="on_track", done=True, note="Published")
    kr.refresh_from_db()
    assert kr.done and kr.progress() == 1.0
    change = Change.objects.filter(action=ChangeAction.CHECKED_IN).first()
    assert change is not None
    assert {"field": "done", "before": "no", "after": "yes"} in change.changes


def _row(weight: float, progress: float | None, source: str = "check-in") -> dict:  # type: ignore[type-arg]
    return {"weight": weight, "progress": progress, "status": {"source": source}}


def test_objective_progress_is_the_weighted_mean() -> None:
    assert api.objective_progress([_row(3, 1.0), _row(1, 0.0)]) == pytest.approx(0.75)
    assert api.objective_progress([_row(1, 0.5), _row(1, 0.25)]) == pytest.approx(0.375)
    # A key result with no value yet counts as 0; one weighing 0 does not count at all.
    assert api.objective_progress([_row(1, 1.0), _row(1, None)]) == pytest.approx(0.5)
    assert api.objective_progress([_row(1, 0.6), _row(0, 0.0)]) == pytest.approx(0.6)
    # All zero (or nothing at all): no progress, rather than a division by zero.
    assert api.objective_progress([_row(0, 1.0), _row(0, 0.5)]) is None
    assert api.objective_progress([]) is None
    # A value the reader may not see is left out rather than counted as 0.
    assert api.objective_progress([_row(1, 0.5), _row(5, None, "withheld")]) == pytest.approx(0.5)


def test_objective_progress_on_the_pages_data(personas, objective) -> None:  # type: ignore[no-untyped-def]
    heavy = new_kr(
        personas, objective, title="Heavy", weight="3", start_value="0", target_value="10"
    )
    light = new_kr(personas, objective, title="Light", weight="1")
    ignored = new_kr(personas, objective, title="Ignored", weight="0")
    services.check_in(personas.editor, heavy, confidence="on_track", value="5")  # 50 %
    services.check_in(personas.editor, light, confidence="on_track", value="5")  # 100 %
    services.check_in(personas.editor, ignored, confidence="on_track", value="10")  # 0 %
    data = api.team_okrs_data(personas.team, Q1, personas.viewer, date(2026, 2, 1))
    (row,) = data["objectives"]
    assert row["progress"] == pytest.approx((3 * 0.5 + 1 * 1.0) / 4)
    assert row["progress_pct"] == 62
    assert [k["progress_pct"] for k in row["key_results"]] == [50, 100, 0]
    tree = api.tree_data(personas.viewer, Q1)
    assert tree["missions"][0]["objectives"][0]["progress_pct"] == 62
    assert tree["missions"][0]["progress_pct"] == 62


# --- quarter close --------------------------------------------------------------------------


def test_closing_a_quarter_scores_and_keeps_the_reflection(personas, objective, kr) -> None:  # type: ignore[no-untyped-def]
    services.check_in(personas.editor, kr, confidence="at_risk", value="8")
    done = new_kr(personas, objective, title="Done", start_value="0", target_value="1")
    closed = close(
        personas,
        Q1,
        {
            kr.pk: Decision("40", "dropped", "Crews moved to bins."),
            done.pk: Decision("100", "completed"),
        },
    )
    assert closed.reflection == "We learned a lot." and closed.closed_by == personas.lead
    kr.refresh_from_db()
    done.refresh_from_db()
    assert kr.score == pytest.approx(0.4) and kr.outcome == "dropped"
    assert kr.close_note == "Crews moved to bins."
    assert done.score == 1.0 and done.outcome == "completed"
    assert kr.is_closed()
    entry = Change.objects.filter(key_result=kr, action=ChangeAction.CLOSED).get()
    assert entry.who == personas.lead
    assert {"field": "score", "before": "—", "after": "40%"} in entry.changes
    assert {"field": "outcome", "before": "Open", "after": "Dropped"} in entry.changes
    team_entry = Change.objects.get(action=ChangeAction.CLOSED, key_result=None)
    assert team_entry.reason == "We learned a lot."


def test_a_closed_quarter_is_read_only(personas, objective, kr) -> None:  # type: ignore[no-untyped-def]
    close(personas, Q1, {kr.pk: Decision("0", "dropped")})
    with pytest.raises(OkrError, match="read-only"):
        services.check_in(personas.editor, kr, confidence="on_track", value="6")
    with pytest.raises(OkrError, match="read-only"):
        services.change_key_result(personas.editor, kr, measure(title="Better"), "Rewording")
    found = refused(new_kr, personas, objective, title="Late addition")
    assert "read-only" in found["quarter"]
    # Nor may another key result move into it.
    later = new_kr(personas, objective, title="Q2 work", quarter="2026-Q2")
    found = refused(
        services.change_key_result,
        personas.editor,
        later,
        measure(title="Q2 work", quarter="2026-Q1"),
        "Back-date it",
    )
    assert "read-only" in found["quarter"]
    with pytest.raises(OkrError, match="was closed on"):
        close(personas, Q1, {})
    kr.refresh_from_db()
    assert kr.title == "Clear fly-tips within 5 days"


def test_carry_over_creates_the_next_quarters_key_result(personas, objective, kr) -> None:  # type: ignore[no-untyped-def]
    services.check_in(personas.editor, kr, confidence="at_risk", value="8")
    close(personas, Q1, {kr.pk: Decision("40", "carried", "Not there yet.")})
    carried = KeyResult.objects.get(carried_from=kr)
    assert carried.period == Q2 and carried.team == personas.team
    assert carried.objective == objective and carried.owner == personas.editor
    assert carried.title == kr.title and carried.target_value == 5
    assert carried.start_value == 8  # it starts where the last quarter ended
    assert carried.current_value is None and carried.outcome == "" and carried.score is None
    entry = Change.objects.get(key_result=carried, action=ChangeAction.CARRIED)
    assert entry.changes == [{"field": "quarter", "before": "2026 Q1", "after": "2026 Q2"}]
    assert entry.reason == "Carried over from 2026 Q1."
    # The carried key result is open: check-ins work on it.
    services.check_in(
        personas.editor, carried, confidence="on_track", value="7", at=at(date(2026, 4, 10))
    )


def test_carry_over_of_a_target_passed_keeps_its_span(personas, objective, kr) -> None:  # type: ignore[no-untyped-def]
    """A key result that went past its target and is carried over anyway keeps its original
    start, rather than starting beyond the target (which would reverse its direction)."""
    services.check_in(personas.editor, kr, confidence="on_track", value="4")  # target 5
    close(personas, Q1, {kr.pk: Decision("100", "carried")})
    carried = KeyResult.objects.get(carried_from=kr)
    assert carried.start_value == 10 and carried.target_value == 5
    assert carried.direction == "decrease"


def test_carry_over_from_the_last_quarter_is_refused(personas, objective) -> None:  # type: ignore[no-untyped-def]
    last = new_kr(personas, objective, quarter="2026-Q4")
    found = refused(close, personas, Q4, {last.pk: Decision("50", "carried")}, date(2027, 1, 2))
    message = found[f"kr-{last.pk}-outcome"]
    assert "cannot carry over: its objective's year ends with 2026 Q4" in message
    assert "Mark it completed or dropped" in message and "objective for 2027" in message
    assert not QuarterClose.objects.exists()
    assert KeyResult.objects.count() == 1


def test_a_close_names_each_missing_decision(personas, objective, kr) -> None:  # type: ignore[no-untyped-def]
    other = new_kr(personas, objective, title="Other")
    third = new_kr(personas, objective, title="Third")
    found = refused(
        close,
        personas,
        Q1,
        {kr.pk: Decision("150", "completed"), other.pk: Decision("", "")},
        reflection=" ",
    )
    assert "reflection" in found
    assert "scored 150; scores run from 0 to 100 %" in found[f"kr-{kr.pk}-score"]
    assert "choose completed, carry over or drop" in found[f"kr-{other.pk}-outcome"]
    assert "from 0 to 100 %" in found[f"kr-{other.pk}-score"]
    assert "Decide what happens to “Third”" in found[f"kr-{third.pk}-outcome"]
    assert not QuarterClose.objects.exists()
    kr.refresh_from_db()
    assert kr.score is None and kr.outcome == ""


def test_a_quarter_not_started_cannot_close(personas, objective) -> None:  # type: ignore[no-untyped-def]
    found = refused(close, personas, Q2, {}, date(2026, 3, 1))
    assert "2026 Q2 has not started yet; it can be closed from 01 Apr 2026" in found[""]


def test_only_the_teams_leads_close_its_quarter(personas, objective, kr) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotAllowed, match="Team Clean's leads close its quarter"):
        services.close_quarter(
            personas.editor, personas.team, Q1, "r", {kr.pk: Decision("1", "dropped")}, AFTER_Q1
        )
    assert not QuarterClose.objects.exists()


# --- history --------------------------------------------------------------------------------


def test_every_change_to_an_objective_is_in_its_history(personas, mission, objective) -> None:  # type: ignore[no-untyped-def]
    created = Change.objects.get(objective=objective, action=ChangeAction.CREATED)
    assert created.who == personas.lead and created.team == personas.team
    assert created.subject == "Objective “Fewer fly-tips on our streets” (2026)"
    services.change_objective(
        personas.lead,
        objective,
        {
            "title": "No fly-tips left over a week",
            "mission": mission.slug,
            "year": YEAR,
            "owner": personas.editor,
            "is_private": True,
        },
        "The cabinet asked for a sharper objective.",
    )
    entry = Change.objects.get(objective=objective, action=ChangeAction.CHANGED)
    assert entry.who == personas.lead
    assert entry.reason == "The cabinet asked for a sharper objective."
    assert {
        "field": "title",
        "before": "Fewer fly-tips on our streets",
        "after": "No fly-tips left over a week",
    } in entry.changes
    assert {"field": "owner", "before": str(personas.lead), "after": str(personas.editor)} in (
        entry.changes
    )
    assert {"field": "is_private", "before": "no", "after": "yes"} in entry.changes
    assert {c["field"] for c in entry.changes} == {"title", "owner", "is_private"}
    history = api.history_for(personas.viewer, objective=objective)
    assert [h["action"] for h in history] == ["changed", "created"]
    assert history[0]["who"] == str(personas.lead)


def test_an_edit_needs_a_reason(personas, mission, objective, kr) -> None:  # type: ignore[no-untyped-def]
    data = {"title": "New words", "mission": mission.slug, "year": YEAR}
    found = refused(services.change_objective, personas.lead, objective, data, "  ")
    assert set(found) == {"reason"}
    assert "Say why this changes" in found["reason"]
    found = refused(services.change_key_result, personas.editor, kr, measure(title="X"), "")
    assert set(found) == {"reason"}
    found = refused(services.save_mission, personas.lead, MISSION, mission, "")
    assert set(found) == {"reason"}
    objective.refresh_from_db()
    kr.refresh_from_db()
    assert objective.title == "Fewer fly-tips on our streets" and kr.title != "X"
    assert not Change.objects.filter(action=ChangeAction.CHANGED).exists()


def test_a_key_result_change_records_before_and_after(personas, kr) -> None:  # type: ignore[no-untyped-def]
    services.change_key_result(
        personas.lead, kr, measure(target_value="4", weight="2"), "Crews were added."
    )
    entry = Change.objects.get(key_result=kr, action=ChangeAction.CHANGED)
    assert entry.who == personas.lead and entry.reason == "Crews were added."
    assert entry.changes == [
        {"field": "target_value", "before": "5", "after": "4"},
        {"field": "weight", "before": "1", "after": "2"},
    ]


def test_a_check_in_records_value_and_confidence(personas, kr) -> None:  # type: ignore[no-untyped-def]
    services.check_in(personas.editor, kr, confidence="at_risk", value="8", note="Slow start")
    services.check_in(personas.editor, kr, confidence="off_track", value="9", note="Rain")
    latest = Change.objects.filter(key_result=kr, action=ChangeAction.CHECKED_IN).first()
    assert latest is not None and latest.who == personas.editor and latest.reason == "Rain"
    assert latest.changes == [
        {"field": "value", "before": "8 days", "after": "9 days"},
        {"field": "confidence", "before": "At risk", "after": "Off track"},
    ]
    summary = api.changes_data(personas.viewer, date(2000, 1, 1))["summary"]
    assert summary["check_ins"] == 2 and summary["confidence_dropped"] == 2


def test_an_objective_with_key_results_keeps_its_year(personas, mission, objective, kr) -> None:  # type: ignore[no-untyped-def]
    found = refused(
        services.change_objective,
        personas.lead,
        objective,
        {"title": objective.title, "mission": mission.slug, "year": 2027},
        "Next year instead",
    )
    assert "has key results in 2026; its year cannot move" in found["year"]


def test_a_mission_change_is_recorded(personas, mission) -> None:  # type: ignore[no-untyped-def]
    services.save_mission(
        personas.lead,
        {**MISSION, "title": "Clean streets"},
        mission,
        "Safety moved to its own mission.",
    )
    entry = Change.objects.get(mission=mission, action=ChangeAction.CHANGED)
    assert entry.changes == [
        {"field": "title", "before": "Clean, safe streets", "after": "Clean streets"}
    ]
    assert entry.reason == "Safety moved to its own mission." and entry.who == personas.lead
    mission.refresh_from_db()
    assert mission.slug == "clean-safe-streets"  # links keep working


def test_a_mission_called_new_still_has_a_page(personas) -> None:  # type: ignore[no-untyped-def]
    """/okrs/missions/new/ is the form to add one: no mission may take the slug "new"."""
    mission = services.save_mission(personas.lead, {**MISSION, "title": "New"})
    assert mission.slug != "new"
    assert mission.get_absolute_url() != "/okrs/missions/new/"


# --- governance -----------------------------------------------------------------------------


def test_by_default_only_leads_change_objectives(personas, mission, objective) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotAllowed) as error:
        services.create_objective(
            personas.editor, personas.team, {"title": "Mine", "mission": mission.slug, "year": YEAR}
        )
    assert error.value.message == (
        "Team Clean's governance lets its leads write and change its objectives."
    )
    assert not objective.can_change(personas.editor)


def test_governance_members_lets_the_editor_change_objectives(personas, mission, objective) -> None:  # type: ignore[no-untyped-def]
    services.save_policy(personas.lead, personas.team, "members", 14)
    entry = Change.objects.get(team=personas.team, subject="OKR governance of Team Clean")
    assert entry.who == personas.lead
    assert entry.changes == [
        {"field": "who changes objectives", "before": "Leads only", "after": "Leads and members"},
        {"field": "check-ins every (days)", "before": "7", "after": "14"},
    ]
    assert objective.can_change(personas.editor)
    services.change_objective(
        personas.editor,
        objective,
        {"title": "Fewer fly-tips, faster", "mission": mission.slug, "year": YEAR},
        "Members own the objectives now.",
    )
    created = services.create_objective(
        personas.editor, personas.team, {"title": "Mine", "mission": mission.slug, "year": YEAR}
    )
    assert created.owner == personas.editor
    # Viewers and guests still may not.
    for person in (personas.viewer, personas.guest):
        assert not objective.can_change(person)
        with pytest.raises(NotAllowed, match="leads and members write"):
            services.create_objective(
                person, personas.team, {"title": "X", "mission": mission.slug, "year": YEAR}
            )


def test_governance_input_is_checked(personas) -> None:  # type: ignore[no-untyped-def]
    found = refused(services.save_policy, personas.lead, personas.team, "everyone", 30)
    assert set(found) == {"objectives_changed_by", "checkin_every_days"}
    assert "weekly (7) or fortnightly (14)" in found["checkin_every_days"]
    with pytest.raises(NotAllowed):
        services.save_policy(personas.editor, personas.team, "members", 7)
    assert not OkrPolicy.objects.exists()


# --- check-ins due and reminders ------------------------------------------------------------


@pytest.fixture
def q1_kr(personas, objective) -> KeyResult:  # type: ignore[no-untyped-def]
    """Written before 2026-Q1 started, owned by the editor."""
    return services.create_key_result(
        personas.editor, objective, personas.team, measure(), at=at(date(2025, 12, 15))
    )


def test_a_check_in_is_due_a_week_after_the_last(personas, q1_kr) -> None:  # type: ignore[no-untyped-def]
    assert services.due_checkins(today=date(2026, 1, 7)) == []
    (due,) = services.due_checkins(today=date(2026, 1, 8))
    assert due.key_result == q1_kr and due.due_on == date(2026, 1, 8)
    assert due.last_check_in is None and due.days_overdue(date(2026, 1, 8)) == 0
    (due,) = services.due_checkins(today=date(2026, 1, 11))
    assert due.days_overdue(date(2026, 1, 11)) == 3
    services.check_in(
        personas.editor, q1_kr, confidence="on_track", value="9", at=at(date(2026, 1, 11))
    )
    assert services.due_checkins(today=date(2026, 1, 17)) == []
    (due,) = services.due_checkins(today=date(2026, 1, 18))
    assert due.due_on == date(2026, 1, 18) and due.last_check_in == date(2026, 1, 11)


def test_fortnightly_check_ins_are_due_after_fourteen_days(personas, q1_kr) -> None:  # type: ignore[no-untyped-def]
    services.save_policy(personas.lead, personas.team, "leads", 14)
    assert services.due_checkins(today=date(2026, 1, 14)) == []
    assert [d.due_on for d in services.due_checkins(today=date(2026, 1, 15))] == [date(2026, 1, 15)]


def test_due_check_ins_of_one_team(personas, objective, q1_kr) -> None:  # type: ignore[no-untyped-def]
    objective.partner_teams.add(personas.other_team)
    services.create_key_result(
        personas.outsider,
        objective,
        personas.other_team,
        measure(title="Night patrols"),
        at=at(date(2025, 12, 20)),
    )
    today = date(2026, 2, 1)
    assert len(services.due_checkins(today=today)) == 2
    assert [d.key_result for d in services.due_checkins([personas.team], today)] == [q1_kr]
    # The team page shows whose check-ins are overdue.
    data = api.team_okrs_data(personas.team, Q1, personas.viewer, today)
    assert data["due"] == [
        {
            "key_result": "Clear fly-tips within 5 days",
            "url": q1_kr.get_absolute_url(),
            "owner": str(personas.editor),
            "due_on": "2026-01-08",
            "days_overdue": 24,
            "last_check_in": None,
        }
    ]


def test_a_closed_quarter_has_nothing_due(personas, q1_kr) -> None:  # type: ignore[no-untyped-def]
    close(personas, Q1, {q1_kr.pk: Decision("0", "dropped")}, today=date(2026, 3, 20))
    assert services.due_checkins(today=date(2026, 3, 21)) == []
    assert services.send_reminders(date(2026, 3, 21)).emails == 0


def test_a_key_result_of_another_quarter_is_not_due(personas, objective) -> None:  # type: ignore[no-untyped-def]
    new_kr(personas, objective, quarter="2026-Q2")
    assert services.due_checkins(today=date(2026, 2, 1)) == []


def test_reminders_are_sent_once_per_due_date(personas, q1_kr, settings) -> None:  # type: ignore[no-untyped-def]
    settings.SITE_URL = "https://performance.example.gov"
    report = services.send_reminders(date(2026, 1, 10))
    assert report.emails == 1 and report.key_results == 1
    assert report.people == ["editor@example.org"]
    (email,) = mail.outbox
    assert email.to == ["editor@example.org"]
    assert email.subject == "Check-in due: Clear fly-tips within 5 days"
    assert "Clear fly-tips within 5 days (Team Clean, 2026 Q1): 2 days overdue" in email.body
    assert f"https://performance.example.gov/okrs/key-results/{q1_kr.pk}/" in email.body
    assert Reminder.objects.get().due_on == date(2026, 1, 8)
    # The next day the same check-in is still due, but it has been asked for.
    assert services.send_reminders(date(2026, 1, 11)).emails == 0
    assert len(mail.outbox) == 1
    # Once checked in, the next one is due a week later, and asked for once.
    services.check_in(
        personas.editor, q1_kr, confidence="on_track", value="9", at=at(date(2026, 1, 12))
    )
    assert services.send_reminders(date(2026, 1, 18)).emails == 0
    assert services.send_reminders(date(2026, 1, 19)).emails == 1
    assert "due today" in mail.outbox[1].body
    assert services.send_reminders(date(2026, 1, 19)).emails == 0
    assert len(mail.outbox) == 2


def test_a_reminder_lists_every_due_check_in_of_its_owner(personas, objective, q1_kr) -> None:  # type: ignore[no-untyped-def]
    services.create_key_result(
        personas.editor, objective, personas.team, milestone(), at=at(date(2025, 12, 15))
    )
    report = services.send_reminders(date(2026, 1, 9))
    assert report.emails == 1 and report.key_results == 2
    (email,) = mail.outbox
    assert email.subject == "2 check-ins due"
    assert "Publish the street-cleaning timetable" in email.body


def test_a_dry_run_sends_nothing(personas, q1_kr) -> None:  # type: ignore[no-untyped-def]
    report = services.send_reminders(date(2026, 1, 10), dry_run=True)
    assert report.emails == 0 and report.key_results == 1
    assert report.people == ["editor@example.org"]
    assert mail.outbox == [] and not Reminder.objects.exists()
    # A dry run does not use up the reminder.
    assert services.send_reminders(date(2026, 1, 10)).emails == 1


# --- quarters -------------------------------------------------------------------------------


def test_quarters_of_a_calendar_year() -> None:
    assert year_label(2026) == "2026"
    assert Quarter(2026, 3).label == "2026 Q3" and Quarter(2026, 3).code == "2026-Q3"
    assert Quarter.containing(date(2026, 12, 2)) == Quarter(2026, 4)
    assert Quarter(2026, 1).start == date(2026, 1, 1) and Quarter(2026, 4).end == date(2026, 12, 31)
    assert Quarter(2026, 4).next() == Quarter(2027, 1)
    assert Quarter(2026, 1).previous() == Quarter(2025, 4)


def test_quarters_of_a_year_starting_in_april(settings) -> None:  # type: ignore[no-untyped-def]
    settings.OKR_YEAR_START = 4
    assert year_label(2026) == "2026/27" and year_label(2099) == "2099/00"
    assert year_start(2026) == date(2026, 4, 1) and year_end(2026) == date(2027, 3, 31)
    q1, q4 = Quarter(2026, 1), Quarter(2026, 4)
    assert q1.label == "2026/27 Q1" and q1.code == "2026-Q1"
    assert (q1.start, q1.end) == (date(2026, 4, 1), date(2026, 6, 30))
    assert (q4.start, q4.end) == (date(2027, 1, 1), date(2027, 3, 31))
    assert Quarter.containing(date(2026, 4, 1)) == q1
    assert Quarter.containing(date(2026, 6, 30)) == q1
    assert Quarter.containing(date(2026, 7, 1)) == Quarter(2026, 2)
    assert Quarter.containing(date(2027, 2, 10)) == q4
    assert Quarter.containing(date(2027, 3, 31)) == q4
    assert Quarter.containing(date(2026, 3, 31)) == Quarter(2025, 4)
    assert Quarter.containing(date(2026, 1, 1)) == Quarter(2025, 4)
    assert q4.next() == Quarter(2027, 1) and q4.next().start == date(2027, 4, 1)
    # Every day of the year is in exactly one of its quarters, in order.
    day, quarters = year_start(2026), quarters_of(2026)
    while day <= year_end(2026):
        (inside,) = [q for q in quarters if q.start <= day <= q.end]
        assert Quarter.containing(day) == inside
        day += timedelta(days=1)


def test_a_key_result_outside_an_april_year_is_refused(personas, objective, settings) -> None:  # type: ignore[no-untyped-def]
    settings.OKR_YEAR_START = 4
    found = refused(new_kr, personas, objective, quarter="2027-Q1")
    assert "2027/28 Q1 is outside the objective's year (2026/27)" in found["quarter"]
    assert new_kr(personas, objective, quarter="2026-Q4").period.start == date(2027, 1, 1)


@pytest.mark.parametrize("code", ["2026-Q3", "2026q3", " 2026-q3 ", "2026Q3"])
def test_quarter_codes_parse(code: str) -> None:
    assert Quarter.parse(code) == Quarter(2026, 3)


@pytest.mark.parametrize("code", ["2026-Q5", "2026-Q0", "Q3 2026", "26-Q3", "", "2026-3"])
def test_a_bad_quarter_code_says_how_to_write_it(code: str) -> None:
    with pytest.raises(ValueError, match=r"is not a quarter: write it as YEAR-QN, for example"):
        Quarter.parse(code)


def test_a_quarter_is_numbered_one_to_four() -> None:
    with pytest.raises(ValueError, match="numbered 1 to 4, not 5"):
        Quarter(2026, 5)


def test_a_change_keeps_the_owner_unless_it_names_one(personas, mission, objective, kr) -> None:  # type: ignore[no-untyped-def]
    """The lead fixing the editor's key result does not become its owner by doing so."""
    services.change_key_result(personas.lead, kr, measure(target_value="4"), "Crews added.")
    kr.refresh_from_db()
    assert kr.owner == personas.editor
    services.save_policy(personas.lead, personas.team, "members", 7)
    services.change_objective(
        personas.editor,
        objective,
        {"title": "Fewer fly-tips", "mission": mission.slug, "year": YEAR},
        "Shorter.",
    )
    objective.refresh_from_db()
    assert objective.owner == personas.lead
    services.change_key_result(
        personas.lead, kr, measure(target_value="4", owner=personas.lead), "I take it on."
    )
    kr.refresh_from_db()
    assert kr.owner == personas.lead


def test_a_change_keeps_what_it_does_not_name(personas, mission, litter_metric) -> None:  # type: ignore[no-untyped-def]
    """Changing only the title of a private coalition objective, or of a key result tracking
    a metric, must not make it public, drop its partners or unlink its metric."""
    shared = services.create_objective(
        personas.admin,
        personas.team,
        {
            "title": "Night-time streets",
            "description": "Late bins and lighting.",
            "mission": mission.slug,
            "year": YEAR,
            "owner": personas.lead,
            "is_private": True,
            "partner_teams": [personas.other_team],
        },
    )
    services.change_objective(personas.lead, shared, {"title": "Safer nights"}, "Shorter.")
    shared.refresh_from_db()
    assert shared.title == "Safer nights" and shared.is_private
    assert shared.description == "Late bins and lighting." and shared.owner == personas.lead
    assert list(shared.partner_teams.all()) == [personas.other_team]
    entry = Change.objects.get(objective=shared, action=ChangeAction.CHANGED)
    assert [c["field"] for c in entry.changes] == ["title"]
    kr = services.create_key_result(
        personas.lead,
        shared,
        personas.team,
        measure(metric=litter_metric.slug, start_value="10", target_value="4", weight="2"),
    )
    services.change_key_result(personas.editor, kr, {"title": "Fewer reports"}, "Plainer.")
    kr.refresh_from_db()
    assert kr.title == "Fewer reports" and kr.metric == litter_metric
    assert (kr.start_value, kr.target_value, kr.weight, kr.period) == (10, 4, 2, Q1)
    services.save_mission(personas.lead, {"title": "Clean streets"}, mission, "Shorter.")
    mission.refresh_from_db()
    assert mission.title == "Clean streets" and mission.public_value == MISSION["public_value"]
    assert mission.is_active


def test_carry_over_into_a_closed_quarter_is_refused(personas, objective, kr) -> None:  # type: ignore[no-untyped-def]
    """Quarters closed out of order: 2026-Q2 is closed, so 2026-Q1 cannot carry into it (the
    carried key result would land in a read-only record, never to be checked in)."""
    close(personas, Q2, {}, today=date(2026, 7, 1))
    found = refused(close, personas, Q1, {kr.pk: Decision("30", "carried")}, date(2026, 7, 1))
    assert "cannot carry over: 2026 Q2 is already closed" in found[f"kr-{kr.pk}-outcome"]
    assert QuarterClose.objects.count() == 1
    assert KeyResult.objects.count() == 1


def test_a_team_contributes_only_to_an_objective_shared_with_it(personas, objective) -> None:  # type: ignore[no-untyped-def]
    """Team Safe's lead may not hang a key result on Team Clean's objective, which would move
    Team Clean's progress without it agreeing; once Team Clean shares it, they may."""
    with pytest.raises(services.OkrError) as error:
        services.create_key_result(
            personas.outsider, objective, personas.other_team, measure(title="Night patrols")
        )
    assert error.value.field == "team"
    assert "Team Safe does not share" in error.value.message
    assert "Ask Team Clean's leads to share the objective with Team Safe" in error.value.message
    assert not KeyResult.objects.exists()
    objective.partner_teams.add(personas.other_team)
    kr = services.create_key_result(
        personas.outsider, objective, personas.other_team, measure(title="Night patrols")
    )
    assert kr.team == personas.other_team and kr.objective == objective


def test_nothing_is_added_to_a_quarter_the_objectives_team_closed(personas, objective) -> None:  # type: ignore[no-untyped-def]
    """Team Clean closed the quarter: a partner team's new key result would change the closed
    record (the objective's progress), so it is refused too."""
    objective.partner_teams.add(personas.other_team)
    quarter = Quarter(YEAR, 1)
    services.close_quarter(
        personas.lead, personas.team, quarter, "Done.", {}, today=date(YEAR, 4, 2)
    )
    with pytest.raises(services.OkrError) as error:
        services.create_key_result(
            personas.outsider,
            objective,
            personas.other_team,
            measure(title="Night patrols", quarter=quarter.code),
        )
    assert error.value.field == "quarter"
    assert f"{quarter.label} of Team Clean was closed" in error.value.message
    assert not KeyResult.objects.exists()
