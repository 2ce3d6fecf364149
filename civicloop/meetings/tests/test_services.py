"""The rules of meetings: scheduling and cadence, the agenda drafted from exceptions and drafted
again, commentary asked by email, actions and their closing, ending a meeting, the follow-up,
and the team's rhythm. Each refusal names its field and saves nothing."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from civicloop.meetings import services
from civicloop.meetings.models import (
    Action,
    AgendaItem,
    Cadence,
    Commentary,
    ItemKind,
    ItemSource,
    Meeting,
    MeetingState,
    Note,
    NoteKind,
)
from civicloop.meetings.tests.conftest import (
    FAILING,
    City,
    a3_due_for_review,
    at,
    hold,
    meeting,
    off_track_key_result,
    today,
)
from civicloop.testing import Personas

pytestmark = pytest.mark.django_db


def problems(error: pytest.ExceptionInfo[services.MeetingError]) -> dict[str, str]:
    return dict(error.value.problems)


def tuesday_after(day: date) -> date:
    return day + timedelta(days=(1 - day.weekday() - 1) % 7 + 1)


# --- scheduling ------------------------------------------------------------------------------


def test_a_team_has_one_meeting_a_day(personas: Personas) -> None:
    day = today() + timedelta(days=10)
    first = meeting(personas, day)
    with pytest.raises(services.MeetingError) as refused:
        services.schedule(personas.team, personas.editor, on=day, title="Again")
    assert set(problems(refused)) == {"on"}
    assert "already has a meeting on" in problems(refused)["on"]
    assert list(Meeting.objects.values_list("pk", flat=True)) == [first.pk]
    # Another team may meet that day.
    services.schedule(personas.other_team, personas.outsider, on=day)


def test_scheduling_checks_length_chair_and_role(personas: Personas) -> None:
    day = today() + timedelta(days=3)
    with pytest.raises(services.MeetingError) as refused:
        services.schedule(personas.team, personas.lead, on=day, minutes=2)
    assert set(problems(refused)) == {"minutes"}
    with pytest.raises(services.MeetingError) as refused:
        services.schedule(personas.team, personas.lead, on=day, chair=personas.outsider)
    assert set(problems(refused)) == {"chair"}
    for person in (personas.viewer, personas.guest, personas.outsider):
        with pytest.raises(services.NotAllowed):
            services.schedule(personas.team, person, on=day)
    assert not Meeting.objects.exists()
    made = services.schedule(personas.team, personas.lead, on=day, title="  Stat  ")
    assert (made.title, made.display_title) == ("Stat", "Stat")


def test_a_fortnightly_cadence_schedules_twelve_weeks_ahead(personas: Personas) -> None:
    now = today()
    first = tuesday_after(now)
    cadence, made = services.set_cadence(
        personas.team,
        personas.lead,
        every_weeks=2,
        weekday=1,
        starts_at=time(9, 30),
        minutes=45,
        first_on=first,
        location="Depot",
        today=now,
    )
    days = [m.on for m in made]
    expected = []
    day = first
    while day <= now + timedelta(weeks=12):
        expected.append(day)
        day += timedelta(weeks=2)
    assert days == expected and len(days) in (6, 7)
    assert all(d.weekday() == 1 for d in days)
    assert all(m.from_cadence and m.starts_at == time(9, 30) and m.minutes == 45 for m in made)
    assert all(m.location == "Depot" for m in made)
    assert cadence.label == "Fortnightly on Tuesdays at 09:30"
    # Scheduling ahead again (the worker does it daily) makes nothing twice.
    assert services.schedule_ahead(personas.team, now) == []
    assert Meeting.objects.count() == len(days)


def test_a_cadence_refuses_a_first_day_not_on_its_weekday(personas: Personas) -> None:
    wednesday = tuesday_after(today()) + timedelta(days=1)
    with pytest.raises(services.MeetingError) as refused:
        services.set_cadence(
            personas.team,
            personas.lead,
            every_weeks=2,
            weekday=1,
            starts_at=time(10),
            minutes=60,
            first_on=wednesday,
        )
    assert set(problems(refused)) == {"first_on"}
    assert "is a Wednesday: choose a day that is a Tuesday" in problems(refused)["first_on"]
    with pytest.raises(services.MeetingError) as refused:
        services.set_cadence(
            personas.team,
            personas.lead,
            every_weeks=12,
            weekday=2,
            starts_at=time(10),
            minutes=1,
            first_on=wednesday,
        )
    assert set(problems(refused)) == {"every_weeks", "minutes"}
    assert not Cadence.objects.exists() and not Meeting.objects.exists()


def test_changing_the_cadence_moves_untouched_meetings_and_keeps_the_rest(
    personas: Personas,
) -> None:
    now = today()
    first = tuesday_after(now)
    _, made = services.set_cadence(
        personas.team,
        personas.lead,
        every_weeks=2,
        weekday=1,
        starts_at=time(10),
        minutes=60,
        first_on=first,
        today=now,
    )
    services.add_item(made[1], personas.lead, title="The depot move")
    thursday = first + timedelta(days=2)
    _, moved = services.set_cadence(
        personas.team,
        personas.lead,
        every_weeks=2,
        weekday=3,
        starts_at=time(10),
        minutes=60,
        first_on=thursday,
        today=now,
    )
    left = list(Meeting.objects.order_by("on"))
    tuesdays = [m for m in left if m.on.weekday() == 1]
    assert [m.pk for m in tuesdays] == [made[1].pk]  # the one with an item on it stays
    assert [m.on for m in left if m.on.weekday() == 3] == [m.on for m in moved]
    assert moved[0].on == thursday


def test_cancelling_needs_a_reason(personas: Personas) -> None:
    m = meeting(personas)
    with pytest.raises(services.MeetingError) as refused:
        services.cancel(m, personas.lead, "  ")
    assert set(problems(refused)) == {"reason"}
    m.refresh_from_db()
    assert m.state == MeetingState.SCHEDULED
    services.cancel(m, personas.lead, "The depot move.")
    m.refresh_from_db()
    assert (m.state, m.cancelled_reason) == (MeetingState.CANCELLED, "The depot move.")
    with pytest.raises(services.MeetingError):
        services.cancel(m, personas.lead, "Twice.")


# --- the agenda ------------------------------------------------------------------------------


def _earlier_meeting_with_actions(personas: Personas) -> tuple[Meeting, Action, Action, Action]:
    """Last fortnight's meeting, held, with three actions: open, done and dropped."""
    earlier = meeting(personas, today() - timedelta(days=14))
    args = {"meeting": earlier, "owner": personas.editor}
    open_one = services.add_action(
        personas.team,
        personas.lead,
        text="Ask the hauler for missed collections by route",
        due_on=today() - timedelta(days=2),
        **args,
    )
    done = services.add_action(
        personas.team, personas.lead, text="Put up signs", due_on=today(), **args
    )
    dropped = services.add_action(
        personas.team, personas.lead, text="Buy a drone", due_on=today(), **args
    )
    hold(earlier, personas)
    services.close_action(done, personas.editor, done=True)
    services.close_action(dropped, personas.lead, done=False, note="No budget.")
    return earlier, open_one, done, dropped


def test_the_agenda_is_drafted_from_exceptions(city: City) -> None:
    personas = city.personas
    _, open_one, done, dropped = _earlier_meeting_with_actions(personas)
    m = meeting(personas)
    key_result = off_track_key_result(personas, m.on)
    a3 = a3_due_for_review(personas, m.on)
    drafted = services.draft_agenda(m, personas.lead)
    items = list(m.items.all())
    assert drafted.added == items and drafted.kept == 0
    metric_items = {i.metric: i for i in items if i.kind == ItemKind.METRIC}
    # Concern, failing and stale are on it, each saying why; the quiet metrics are not.
    assert list(metric_items) == [city.concern, city.failing, city.stale]
    assert all(i.source == ItemSource.DRAFTED for i in items if i.kind != ItemKind.ACTION)
    assert "above the upper process limit" in metric_items[city.concern].reason
    assert "target" in metric_items[city.failing].reason
    assert metric_items[city.stale].reason == ("Stale: last loaded 30 days ago, expected weekly.")
    (kr_item,) = [i for i in items if i.kind == ItemKind.KEY_RESULT]
    assert kr_item.key_result == key_result
    assert kr_item.reason.startswith("Key result off track: 25 streets against a target of 80")
    (carried,) = [i for i in items if i.kind == ItemKind.ACTION]
    assert carried.action == open_one and carried.source == ItemSource.CARRIED
    assert carried.reason.startswith("Open action for Eddie Editor, overdue since ")
    assert {done.pk, dropped.pk}.isdisjoint({i.action_id for i in items})
    (a3_item,) = [i for i in items if i.kind == ItemKind.A3]
    assert a3_item.a3 == a3
    assert a3_item.reason.startswith(f"A3 due for review on {m.on:%d %b %Y}")
    assert a3_item.reason.endswith("1 plan step overdue.")
    assert [i.position for i in items] == sorted(i.position for i in items)
    m.refresh_from_db()
    assert m.agenda_drafted_at is not None


def test_drafting_again_keeps_added_and_discussed_items_and_duplicates_nothing(
    city: City,
) -> None:
    personas = city.personas
    m = meeting(personas)
    services.draft_agenda(m, personas.lead)
    added = services.add_item(m, personas.editor, title="Hot spots for the cameras")
    concern = m.items.get(metric=city.concern)
    services.add_note(m, personas.lead, text="Crews saw it too.", item=concern)
    stale = m.items.get(metric=city.stale)
    services.add_action(
        personas.team,
        personas.lead,
        text="Ask for the audits",
        owner=personas.editor,
        due_on=today() + timedelta(days=3),
        meeting=m,
        item=stale,
    )
    before = list(m.items.values_list("kind", "metric", "title"))
    drafted = services.draft_agenda(m, personas.lead)
    assert drafted.kept == 3 and drafted.removed == 1 and len(drafted.added) == 1
    after = list(m.items.values_list("kind", "metric", "title"))
    assert sorted(after, key=str) == sorted(before, key=str)
    assert m.items.filter(pk__in=[added.pk, concern.pk, stale.pk]).count() == 3
    keys = [(i.kind, i.metric_id, i.key_result_id, i.a3_id, i.action_id) for i in m.items.all()]
    assert len(keys) == len(set(keys))


def test_a_held_meetings_agenda_is_its_record(city: City) -> None:
    m = meeting(city.personas)
    services.draft_agenda(m, city.personas.lead)
    hold(m, city.personas)
    with pytest.raises(services.MeetingError):
        services.draft_agenda(m, city.personas.lead)
    item = m.items.first()
    with pytest.raises(services.MeetingError):
        services.remove_item(item, city.personas.lead)
    with pytest.raises(services.NotAllowed):
        services.draft_agenda(
            meeting(city.personas, today() + timedelta(days=9)), city.personas.viewer
        )


def test_an_action_is_on_every_next_agenda_until_it_is_done(personas: Personas) -> None:
    first = meeting(personas, today() - timedelta(days=28))
    action = services.add_action(
        personas.team,
        personas.lead,
        text="Map the fly-tipping hot spots",
        owner=personas.viewer,
        due_on=today() - timedelta(days=20),
        meeting=first,
    )
    Action.objects.filter(pk=action.pk).update(created_at=at(first.on, 11))  # in the meeting
    hold(first, personas)
    second = meeting(personas, today() - timedelta(days=14))
    services.draft_agenda(second, personas.lead)
    assert list(second.items.values_list("action", flat=True)) == [action.pk]
    hold(second, personas)
    third = meeting(personas, today() + timedelta(days=1))
    services.draft_agenda(third, personas.lead)
    assert list(third.items.values_list("action", flat=True)) == [action.pk]
    # Done (by its owner, a viewer): drafting again takes it off; the next does not carry it.
    services.close_action(action, personas.viewer, done=True, note="On the shared map.")
    services.draft_agenda(third, personas.lead)
    assert not third.items.exists()
    fourth = meeting(personas, today() + timedelta(days=15))
    services.draft_agenda(fourth, personas.lead)
    assert not fourth.items.exists()
    # The earlier meetings' records keep it.
    assert second.items.filter(action=action).exists()


def test_items_added_by_hand_are_checked(city: City) -> None:
    personas = city.personas
    m = meeting(personas)
    with pytest.raises(services.MeetingError) as refused:
        services.add_item(m, personas.lead, title="  ")
    assert set(problems(refused)) == {"title"}
    item = services.add_item(m, personas.lead, title="", metric=city.south, reason="Asked for.")
    assert (item.kind, item.title, item.source) == ("metric", city.south.name, "added")
    assert item.added_by == personas.lead
    with pytest.raises(services.NotAllowed):
        services.add_item(m, personas.guest, title="Guest item")
    assert m.items.count() == 1


# --- commentary ------------------------------------------------------------------------------


def test_commentary_is_asked_of_each_owner_once_by_email(city: City) -> None:
    from civicloop.metrics import services as metric_services

    personas = city.personas
    metric_services.save_definition(
        {**FAILING, "steward": "editor@example.org"}, None, "Eddie answers for the bags."
    )
    m = meeting(personas)
    services.draft_agenda(m, personas.lead)
    asked = services.request_commentary(m, personas.lead)
    assert asked == {
        "lead@example.org": [city.concern.name, city.stale.name],
        "editor@example.org": [city.failing.name],
    }
    assert sorted(tuple(e.to) for e in mail.outbox) == [
        ("editor@example.org",),
        ("lead@example.org",),
    ]
    (to_lead,) = [e for e in mail.outbox if e.to == ["lead@example.org"]]
    assert to_lead.subject == f"Commentary for Team Clean performance meeting, {m.on:%d %b}"
    assert f"/meetings/{m.pk}/commentary/" in to_lead.body
    assert city.concern.name in to_lead.body and city.failing.name not in to_lead.body
    due = m.on - timedelta(days=services.COMMENTARY_LEAD_DAYS)
    assert f"by {due.day} {due:%B}:" in to_lead.body
    html_body, kind = to_lead.alternatives[0]
    assert kind == "text/html" and city.stale.name in html_body
    entries = Commentary.objects.filter(meeting=m)
    assert entries.count() == 3 and all(c.due_on == due for c in entries)
    # Asking again asks nobody twice.
    assert services.request_commentary(m, personas.lead) == {}
    assert len(mail.outbox) == 2


def test_commentary_needs_metrics_on_the_agenda_and_a_scheduled_meeting(
    personas: Personas,
) -> None:
    m = meeting(personas)
    with pytest.raises(services.MeetingError) as refused:
        services.request_commentary(m, personas.lead)
    assert "no metrics yet" in str(refused.value)
    with pytest.raises(services.NotAllowed):
        services.request_commentary(m, personas.viewer)
    assert mail.outbox == []


def test_writing_commentary_needs_words_and_the_right_person(city: City) -> None:
    personas = city.personas
    m = meeting(personas)
    for blank in ("", "   \n "):
        with pytest.raises(services.MeetingError) as refused:
            services.write_commentary(m, city.concern, personas.lead, blank)
        assert set(problems(refused)) == {"text"}
    with pytest.raises(services.MeetingError):
        services.write_commentary(m, city.concern, personas.lead, "x" * 10_001)
    for person in (personas.viewer, personas.guest, personas.outsider):
        with pytest.raises(services.NotAllowed):
            services.write_commentary(m, city.concern, person, "I was not asked.")
    assert not Commentary.objects.filter(text__gt="").exists()
    written = services.write_commentary(m, city.concern, personas.editor, "  The market week.  ")
    assert (written.text, written.author, written.is_written) == (
        "The market week.",
        personas.editor,
        True,
    )


# --- actions ---------------------------------------------------------------------------------


def _other_teams_metric_and_a3(personas: Personas):  # type: ignore[no-untyped-def]
    from civicloop.improvement import services as a3_services
    from civicloop.metrics import services as metric_services

    metric, _ = metric_services.save_definition(
        {
            "id": "calls-weekly",
            "name": "Calls per week",
            "question": "How many calls come in each week?",
            "team": "team-safe",
            "owner": "police",
            "steward": "outsider@example.org",
            "dataset": "calls_for_service",
            "measure": {"aggregate": "count"},
            "time": {"column": "received_at", "grain": "week"},
        },
        None,
        "First definition.",
    )
    a3 = a3_services.create_a3(personas.outsider, personas.other_team, {"title": "Slow answers"})
    return metric, a3


def test_an_action_needs_what_who_from_the_team_and_when(city: City) -> None:
    personas = city.personas
    m = meeting(personas)
    with pytest.raises(services.MeetingError) as refused:
        services.add_action(personas.team, personas.lead, text=" ", owner=None, due_on=None)
    assert set(problems(refused)) == {"text", "owner", "due_on"}
    with pytest.raises(services.MeetingError) as refused:
        services.add_action(
            personas.team,
            personas.lead,
            text="Call the hauler",
            owner=personas.outsider,
            due_on=today(),
            meeting=m,
        )
    assert problems(refused) == {"owner": "Olu Outsider is not on Team Clean."}
    metric, a3 = _other_teams_metric_and_a3(personas)
    with pytest.raises(services.MeetingError) as refused:
        services.add_action(
            personas.team,
            personas.lead,
            text="Call the hauler",
            owner=personas.editor,
            due_on=today(),
            metric=metric,
            a3=a3,
        )
    assert set(problems(refused)) == {"metric", "a3"}
    with pytest.raises(services.NotAllowed):
        services.add_action(
            personas.team, personas.viewer, text="Mine", owner=personas.viewer, due_on=today()
        )
    assert not Action.objects.exists()


def test_an_action_on_an_item_is_linked_to_what_the_item_is_about(city: City) -> None:
    personas = city.personas
    m = meeting(personas)
    services.draft_agenda(m, personas.lead)
    item = m.items.get(metric=city.concern)
    action = services.add_action(
        personas.team,
        personas.lead,
        text="Walk North with the crew",
        owner=personas.guest,  # anyone on the team may own one
        due_on=today() + timedelta(days=5),
        meeting=m,
        item=item,
    )
    assert (action.metric, action.item, action.meeting) == (city.concern, item, m)


def test_closing_an_action_done_or_dropped(personas: Personas) -> None:
    action = services.add_action(
        personas.team, personas.lead, text="Sweep", owner=personas.viewer, due_on=today()
    )
    with pytest.raises(services.NotAllowed):
        services.close_action(action, personas.guest, done=True)
    with pytest.raises(services.MeetingError) as refused:
        services.close_action(action, personas.lead, done=False, note=" ")
    assert set(problems(refused)) == {"closing_note"}
    action.refresh_from_db()
    assert action.is_open
    services.close_action(action, personas.lead, done=False, note="Crews were cut.")
    action.refresh_from_db()
    assert (action.status, action.dropped_on, action.closing_note) == (
        "dropped",
        today(),
        "Crews were cut.",
    )
    with pytest.raises(services.MeetingError) as refused:
        services.close_action(action, personas.lead, done=True)
    assert "already dropped" in str(refused.value)
    services.reopen_action(action, personas.viewer)
    services.close_action(action, personas.viewer, done=True)
    action.refresh_from_db()
    assert (action.status, action.done_on, action.dropped_on) == ("done", today(), None)


# --- ending and following up -----------------------------------------------------------------


def test_ending_needs_attendees_who_are_on_the_team(personas: Personas) -> None:
    m = meeting(personas)
    with pytest.raises(services.MeetingError) as refused:
        services.end(m, personas.lead, [])
    assert set(problems(refused)) == {"attendees"}
    with pytest.raises(services.MeetingError) as refused:
        services.end(m, personas.lead, [personas.lead, personas.outsider])
    assert problems(refused) == {"attendees": "Not on the team: Olu Outsider."}
    m.refresh_from_db()
    assert m.state == MeetingState.SCHEDULED and not m.attendees.exists()
    services.end(m, personas.lead, [personas.lead, personas.guest])
    m.refresh_from_db()
    assert m.state == MeetingState.HELD and m.ended_at is not None
    assert set(m.attendees.all()) == {personas.lead, personas.guest}


def test_the_follow_up_goes_to_attendees_after_the_meeting(personas: Personas) -> None:
    m = meeting(personas, today() - timedelta(days=1))
    item = services.add_item(m, personas.lead, title="Hot spots")
    services.add_note(
        m, personas.lead, kind=NoteKind.DECISION, text="Cameras go to Canal St.", item=item
    )
    services.add_note(
        m, personas.editor, kind=NoteKind.DATA_REQUEST, text="Reports by hour of day.", item=None
    )
    services.add_note(m, personas.editor, text="Victor offered the shops' reports.", item=None)
    services.add_action(
        personas.team,
        personas.lead,
        text="Order two cameras",
        owner=personas.editor,
        due_on=date(2027, 1, 15),
        meeting=m,
        item=item,
    )
    with pytest.raises(services.MeetingError) as refused:
        services.send_follow_up(m, personas.lead)
    assert "End the meeting first" in str(refused.value)
    assert mail.outbox == []
    hold(m, personas, personas.lead, personas.editor, personas.guest)
    with pytest.raises(services.NotAllowed):
        services.send_follow_up(m, personas.viewer)
    sent = services.send_follow_up(m, personas.editor)
    assert sorted(sent) == ["editor@example.org", "guest@example.org", "lead@example.org"]
    (email,) = mail.outbox
    assert sorted(email.to) == sorted(sent)
    assert email.subject == f"Follow-up: Team Clean performance meeting, {m.on:%d %b %Y}"
    body = email.body
    assert "DECISIONS\n- Cameras go to Canal St." in body
    assert "- Order two cameras — Eddie Editor, due 15 Jan 2027" in body
    assert "DATA REQUESTS FOR NEXT TIME\n- Reports by hour of day." in body
    assert "Attended: Eddie Editor, Gus Guest, Lena Lead." in body
    html_body, _ = email.alternatives[0]
    assert "Cameras go to Canal St." in html_body and "Order two cameras" in html_body
    m.refresh_from_db()
    assert m.follow_up_sent_at is not None


def test_notes_are_checked(personas: Personas) -> None:
    m = meeting(personas)
    other = meeting(personas, today() + timedelta(days=20))
    elsewhere = services.add_item(other, personas.lead, title="Elsewhere")
    with pytest.raises(services.MeetingError) as refused:
        services.add_note(m, personas.lead, text=" ", item=None)
    assert set(problems(refused)) == {"text"}
    with pytest.raises(services.MeetingError) as refused:
        services.add_note(m, personas.lead, text="Hi", kind="gossip", item=None)
    assert set(problems(refused)) == {"kind"}
    with pytest.raises(services.MeetingError) as refused:
        services.add_note(m, personas.lead, text="Hi", item=elsewhere)
    assert set(problems(refused)) == {"item"}
    with pytest.raises(services.NotAllowed):
        services.add_note(m, personas.guest, text="Hi", item=None)
    assert not Note.objects.exists()


# --- the team's rhythm -----------------------------------------------------------------------


def test_a_team_keeping_its_rhythm_has_no_warnings(personas: Personas) -> None:
    held = meeting(personas, today() - timedelta(days=3))
    hold(held, personas)
    services.send_follow_up(held, personas.lead)
    meeting(personas, today() + timedelta(days=11))
    rhythm = services.rhythm(personas.team)
    assert rhythm["warnings"] == []
    assert rhythm["last_held"] == held and rhythm["days_since_held"] == 3


def test_lapsed_meetings_stalled_actions_and_unsent_follow_ups_are_warned_of(
    personas: Personas,
) -> None:
    now = today()
    held = meeting(personas, now - timedelta(days=30))
    hold(held, personas)
    lapsed = meeting(personas, now - timedelta(days=16))
    meeting(personas, now - timedelta(days=2))
    stalled = services.add_action(
        personas.team,
        personas.lead,
        text="Fix the bins",
        owner=personas.editor,
        due_on=now - timedelta(days=20),
        meeting=held,
    )
    Action.objects.filter(pk=stalled.pk).update(updated_at=at(now - timedelta(days=30), 11))
    overdue = services.add_action(
        personas.team,
        personas.lead,
        text="Ring the hauler",
        owner=personas.editor,
        due_on=now - timedelta(days=3),
    )
    rhythm = services.rhythm(personas.team)
    warnings = rhythm["warnings"]
    latest = now - timedelta(days=2)
    assert warnings == [
        f"2 meetings passed without being held or cancelled (latest {latest:%d %b %Y}).",
        "1 action stalled: more than two weeks overdue with nothing said since.",
        f"The follow-up of {held.on:%d %b %Y} was never sent.",
    ]
    assert rhythm["lapsed"][-1] == lapsed
    assert [a.pk for a in rhythm["stalled_actions"]] == [stalled.pk]
    assert {a.pk for a in rhythm["overdue_actions"]} == {stalled.pk, overdue.pk}
    # Something said about the action since it fell due: no longer stalled.
    Action.objects.filter(pk=stalled.pk).update(updated_at=timezone.now())
    assert services.rhythm(personas.team)["stalled_actions"] == []


def test_a_cadence_with_no_meeting_held_for_too_long_is_warned_of(personas: Personas) -> None:
    now = today()
    first = tuesday_after(now) - timedelta(weeks=8)
    services.set_cadence(
        personas.team,
        personas.lead,
        every_weeks=2,
        weekday=1,
        starts_at=time(10),
        minutes=60,
        first_on=first,
        today=now,
    )
    held = services.schedule(personas.team, personas.lead, on=first)
    hold(held, personas)
    services.send_follow_up(held, personas.lead)
    warnings = services.rhythm(personas.team)["warnings"]
    days = (now - first).days
    assert (
        f"No meeting held for {days} days, though the team meets: Fortnightly on Tuesdays at "
        "10:00." in warnings
    )


def test_a_note_on_a_stalled_action_since_it_fell_due_unstalls_it(personas: Personas) -> None:
    now = today()
    action = services.add_action(
        personas.team,
        personas.lead,
        text="Fix the bins",
        owner=personas.editor,
        due_on=now - timedelta(days=20),
    )
    Action.objects.filter(pk=action.pk).update(updated_at=at(now - timedelta(days=30), 11))
    assert [a.pk for a in services.rhythm(personas.team)["stalled_actions"]] == [action.pk]
    m = meeting(personas, now - timedelta(days=10))
    item = AgendaItem.objects.create(
        meeting=m, kind=ItemKind.ACTION, source=ItemSource.CARRIED, title="Fix", action=action
    )
    note = services.add_note(m, personas.lead, text="The parts are ordered.", item=item)
    Note.objects.filter(pk=note.pk).update(created_at=at(now - timedelta(days=10), 10))
    assert services.rhythm(personas.team)["stalled_actions"] == []


# --- the worker prepares meetings ------------------------------------------------------------


def test_three_days_ahead_the_agenda_is_drafted_and_commentary_asked_once(city: City) -> None:
    personas = city.personas
    now = today()
    soon = meeting(personas, now + timedelta(days=services.PREPARE_DAYS_AHEAD))
    later = meeting(personas, now + timedelta(days=services.PREPARE_DAYS_AHEAD + 1))
    drafted_by_hand = meeting(personas, now + timedelta(days=1))
    services.add_item(drafted_by_hand, personas.lead, title="Our own agenda")
    services.draft_agenda(drafted_by_hand, personas.lead)
    before = drafted_by_hand.items.count()
    mail.outbox.clear()
    assert services.prepare_due(now) == [soon]
    assert list(soon.items.filter(kind=ItemKind.METRIC).values_list("metric", flat=True)) == [
        city.concern.pk,
        city.failing.pk,
        city.stale.pk,
    ]
    assert [e.to for e in mail.outbox] == [["lead@example.org"]]
    assert not later.items.exists()
    assert drafted_by_hand.items.count() == before
    # The worker runs every minute: a prepared meeting is left alone.
    assert services.prepare_due(now) == []
    assert len(mail.outbox) == 1
