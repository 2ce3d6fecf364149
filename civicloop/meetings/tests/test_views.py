"""The meeting pages as people use them: every page and its twins, forms refusing bad input on
the field with nothing saved, who may change what, CSRF, capture from present mode, where a
form sends you back to, and the dashboard's breakdown filter."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client

from civicloop.core.pdf import PdfUnavailable, html_class
from civicloop.meetings import pack, services
from civicloop.meetings.models import (
    Action,
    AgendaItem,
    Cadence,
    Commentary,
    Meeting,
    MeetingState,
    Note,
    Pack,
)
from civicloop.meetings.tests.conftest import (
    COMMENTARY,
    City,
    add_crew_metrics,
    field_errors,
    hold,
    meeting,
    messages_of,
    ready_meeting,
    text,
    today,
    url,
)
from civicloop.testing import Personas

pytestmark = pytest.mark.django_db

TEAM = {"slug": "team-clean"}


@pytest.fixture
def ready(city: City) -> Meeting:
    return ready_meeting(city)


def _held(personas: Personas) -> Meeting:
    held = meeting(personas, today() - timedelta(days=2))
    services.add_note(held, personas.lead, kind="decision", text="Cameras to Canal St.", item=None)
    return hold(held, personas)


def _action(personas: Personas, owner=None) -> Action:  # type: ignore[no-untyped-def]
    return services.add_action(
        personas.team,
        personas.lead,
        text="Ring the hauler",
        owner=owner or personas.editor,
        due_on=today() + timedelta(days=3),
    )


# --- every page ------------------------------------------------------------------------------


def test_every_page_renders_for_a_lead(city: City, ready: Meeting, client_as) -> None:  # type: ignore[no-untyped-def]
    personas = city.personas
    client = client_as("lead")
    held = _held(personas)
    issued = pack.issue(ready, personas.lead)
    action = Action.objects.get()
    pages = {
        url("dashboard", **TEAM): "Team Clean: what needs attention",
        url("meeting_list", **TEAM): "Team Clean: performance meetings",
        url("meeting_new", **TEAM): "Schedule a meeting",
        url("cadence_edit", **TEAM): "How often the team meets",
        url("action_list", **TEAM): "Team Clean: actions",
        url("team_action_new", **TEAM): "New action",
        url("meeting_detail", pk=ready.pk): "Team Clean performance meeting",
        url("item_new", pk=ready.pk): "Add an agenda item",
        url("commentary_list", pk=ready.pk): f"Commentary for {ready.on.day} ",
        url("commentary_write", pk=ready.pk, slug=city.failing.slug): "Commentary on Bags",
        url("present", pk=ready.pk): "Keys: → or PageDown next item",
        url("meeting_end", pk=ready.pk): "End the meeting: who attended",
        url("follow_up", pk=held.pk): "Decisions Cameras to Canal St.",
        url("pack_draft", pk=ready.pk): "Draft: built from the data as it is now",
        url("pack_detail", pk=issued.pk): "Frozen as of",
    }
    for address, words in pages.items():
        response = client.get(address)
        assert response.status_code == 200, address
        assert words in text(response), address
    assert action.text in text(client.get(url("action_list", **TEAM)))

    dashboard = client.get(url("dashboard_json", **TEAM)).json()
    assert [c["name"] for c in dashboard["cards"]][:3] == [
        city.concern.name,
        city.failing.name,
        city.stale.name,
    ]
    assert dashboard["rhythm"]["next"]["id"] == ready.pk
    # Last fortnight's action, four days overdue, is on the dashboard with its owner.
    (overdue,) = dashboard["actions"]
    assert (overdue["text"], overdue["owner"], overdue["days_overdue"]) == (
        "Ask the hauler for routes",
        "Eddie Editor",
        4,
    )
    assert dashboard["counts"]["actions_overdue"] == 1
    listed = client.get(url("meeting_list_json", **TEAM)).json()
    assert [m["id"] for m in listed["upcoming"]] == [ready.pk]
    assert {m["id"] for m in listed["past"]} == {held.pk, ready.pk - 1}
    detail = client.get(url("meeting_detail_json", pk=ready.pk)).json()
    assert [i["kind"] for i in detail["items"]] == ["metric"] * 3 + ["key_result", "action", "a3"]
    assert detail["items"][0]["commentary"]["written"] is True
    assert detail["packs"][0]["digest"] == issued.digest
    actions = client.get(url("action_list_json", **TEAM)).json()
    assert [a["id"] for a in actions["open"]] == [action.pk]
    issued_json = client.get(url("pack_detail_json", pk=issued.pk)).json()
    assert issued_json["digest"] == issued.digest and issued_json["number"] == 1
    assert [s["metric"] for s in issued_json["sources"]] == [
        m.slug for m in (city.concern, city.failing, city.stale)
    ]

    rows = _csv(client.get(url("dashboard_csv", **TEAM)))
    assert rows[0][:3] == ["metric", "series", "latest period"]
    assert [r[0] for r in rows[1:4]] == [city.concern.name, city.failing.name, city.stale.name]
    assert rows[1][7] == "Special cause of concern"
    rows = _csv(client.get(url("meeting_list_csv", **TEAM)))
    assert rows[1][:2] == [ready.on.isoformat(), "10:00"]
    rows = _csv(client.get(url("meeting_detail_csv", pk=ready.pk)))
    assert [r[2] for r in rows[1:4]] == [city.concern.name, city.failing.name, city.stale.name]
    rows = _csv(client.get(url("action_list_csv", **TEAM)))
    assert rows[1][:4] == [
        "Ask the hauler for routes",
        "Eddie Editor",
        action.due_on.isoformat(),
        "open",
    ]


def _csv(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_pack_pdfs_are_pdfs(city: City, ready: Meeting, client_as) -> None:  # type: ignore[no-untyped-def]
    try:
        html_class()
    except PdfUnavailable as error:
        pytest.skip(f"WeasyPrint cannot run here: {error}")
    client = client_as("viewer")
    draft = client.get(url("pack_draft_pdf", pk=ready.pk))
    assert draft.status_code == 200 and draft.content.startswith(b"%PDF-")
    assert draft["Content-Disposition"] == (
        f'inline; filename="pack-team-clean-{ready.on.isoformat()}-draft.pdf"'
    )
    issued = pack.issue(ready, city.personas.lead)
    frozen = client.get(url("pack_pdf", pk=issued.pk))
    assert frozen.status_code == 200 and frozen["Content-Type"] == "application/pdf"
    assert frozen["Content-Disposition"].endswith(f'-{ready.on.isoformat()}-1.pdf"')


# --- forms refuse bad input ------------------------------------------------------------------


def test_scheduling_refuses_a_taken_day_and_bad_values_on_their_fields(
    personas: Personas, client_as
) -> None:  # type: ignore[no-untyped-def]
    taken = meeting(personas)
    client = client_as("editor")
    response = client.post(
        url("meeting_new", **TEAM),
        {"on": taken.on.isoformat(), "starts_at": "10:00", "minutes": "60"},
    )
    assert response.status_code == 200
    assert "already has a meeting on" in field_errors(response, "on")
    response = client.post(
        url("meeting_new", **TEAM), {"on": "next week", "starts_at": "25:00", "minutes": "2"}
    )
    assert response.status_code == 200
    for name in ("on", "starts_at", "minutes"):
        assert field_errors(response, name), name
    assert "Please correct 3 problems" in text(response)
    assert Meeting.objects.count() == 1
    made = client.post(
        url("meeting_new", **TEAM),
        {"on": (taken.on + timedelta(days=1)).isoformat(), "starts_at": "09:00", "minutes": "30"},
    )
    assert made.status_code == 302
    assert Meeting.objects.count() == 2


def test_the_cadence_form_refuses_a_first_day_on_another_weekday(
    personas: Personas, client_as
) -> None:  # type: ignore[no-untyped-def]
    day = today() + timedelta(days=7)
    wrong = (day.weekday() + 1) % 5
    response = client_as("lead").post(
        url("cadence_edit", **TEAM),
        {
            "every_weeks": "2",
            "weekday": str(wrong),
            "starts_at": "10:00",
            "minutes": "60",
            "first_on": day.isoformat(),
        },
    )
    assert response.status_code == 200
    assert f"is a {day:%A}: choose a day that is a" in field_errors(response, "first_on")
    assert not Cadence.objects.exists() and not Meeting.objects.exists()
    response = client_as("lead").post(
        url("cadence_edit", **TEAM),
        {"every_weeks": "9", "weekday": "6", "starts_at": "", "minutes": "", "first_on": ""},
    )
    for name in ("every_weeks", "weekday", "starts_at", "minutes", "first_on"):
        assert field_errors(response, name), name
    assert not Cadence.objects.exists()


def test_the_item_form_needs_a_line_or_a_metric(city: City, client_as) -> None:  # type: ignore[no-untyped-def]
    m = meeting(city.personas)
    client = client_as("editor")
    response = client.post(url("item_new", pk=m.pk), {"title": " ", "metric": "", "reason": ""})
    assert response.status_code == 200
    assert "Say what the item is about" in field_errors(response, "title")
    response = client.post(url("item_new", pk=m.pk), {"title": "", "metric": "999999"})
    assert field_errors(response, "metric")
    assert not AgendaItem.objects.exists()
    added = client.post(url("item_new", pk=m.pk), {"title": "", "metric": city.south.pk})
    assert added.status_code == 302
    assert AgendaItem.objects.get().title == city.south.name


def test_the_commentary_form_needs_words(city: City, ready: Meeting, client_as) -> None:  # type: ignore[no-untyped-def]
    address = url("commentary_write", pk=ready.pk, slug=city.failing.slug)
    response = client_as("lead").post(address, {"text": "   "})
    assert response.status_code == 200
    assert "Write the commentary" in field_errors(response, "text")
    assert not Commentary.objects.get(metric=city.failing).is_written
    saved = client_as("editor").post(address, {"text": "Bags are *weighed* now."}, follow=True)
    assert "Commentary on Bags collected per week saved." in messages_of(saved)
    assert "<em>weighed</em>" in saved.content.decode()


def test_a_bad_note_or_action_is_refused_with_nothing_saved(personas: Personas, client_as) -> None:  # type: ignore[no-untyped-def]
    m = meeting(personas)
    client = client_as("editor")
    response = client.post(url("note_add", pk=m.pk), {"kind": "note", "text": " "}, follow=True)
    assert response.redirect_chain[-1][0] == m.get_absolute_url()
    assert "Not saved: Write the note" in messages_of(response)
    response = client.post(url("note_add", pk=m.pk), {"kind": "rumour", "text": "Hi"}, follow=True)
    assert "Not saved:" in messages_of(response)
    assert not Note.objects.exists()
    response = client.post(
        url("action_add", pk=m.pk), {"text": "Sweep", "owner": "", "due_on": ""}, follow=True
    )
    said = messages_of(response)
    assert "Action not saved:" in said and "Choose who owns the action." in said
    assert "Give a due date" in said
    response = client.post(
        url("action_add", pk=m.pk),
        {"text": "Sweep", "owner": personas.outsider.pk, "due_on": "2027-01-04"},
        follow=True,
    )
    assert "Action not saved:" in messages_of(response)
    response = client.post(
        url("team_action_new", **TEAM),
        {"text": "Sweep", "owner": personas.editor.pk, "due_on": "4 Jan"},
    )
    assert response.status_code == 200 and field_errors(response, "due_on")
    assert not Action.objects.exists()


def test_ending_without_attendees_and_cancelling_without_a_reason_are_refused(
    personas: Personas, client_as
) -> None:  # type: ignore[no-untyped-def]
    m = meeting(personas)
    client = client_as("lead")
    # Nothing ticked: a browser still sends the form's CSRF token (not checked by this client).
    response = client.post(url("meeting_end", pk=m.pk), {"csrfmiddlewaretoken": "token"})
    assert response.status_code == 200
    assert "Tick who attended" in field_errors(response, "attendees")
    response = client.post(url("meeting_end", pk=m.pk), {"attendees": [personas.outsider.pk]})
    assert field_errors(response, "attendees")
    response = client.post(url("meeting_cancel", pk=m.pk), {"reason": ""}, follow=True)
    assert "Say why the meeting is cancelled" in messages_of(response)
    m.refresh_from_db()
    assert m.state == MeetingState.SCHEDULED and not m.attendees.exists()
    ended = client.post(
        url("meeting_end", pk=m.pk), {"attendees": [personas.lead.pk, personas.viewer.pk]}
    )
    assert ended["Location"] == url("follow_up", pk=m.pk)
    m.refresh_from_db()
    assert m.state == MeetingState.HELD


def test_dropping_an_action_needs_a_note(personas: Personas, client_as) -> None:  # type: ignore[no-untyped-def]
    action = _action(personas)
    client = client_as("editor")
    response = client.post(
        url("action_close", pk=action.pk), {"outcome": "dropped", "closing_note": ""}, follow=True
    )
    assert "Say why the action is dropped." in messages_of(response)
    response = client.post(url("action_close", pk=action.pk), {"outcome": "later"}, follow=True)
    assert "Choose done or dropped." in messages_of(response)
    action.refresh_from_db()
    assert action.is_open
    response = client.post(
        url("action_close", pk=action.pk), {"outcome": "done", "closing_note": "Rang."}, follow=True
    )
    assert "“Ring the hauler” is done." in messages_of(response)
    action.refresh_from_db()
    assert action.status == "done"


# --- who may change what ---------------------------------------------------------------------


def test_viewers_and_guests_are_refused_changes_and_nothing_changes(
    city: City, ready: Meeting, client_as
) -> None:  # type: ignore[no-untyped-def]
    items = AgendaItem.objects.count()
    for persona in ("viewer", "guest"):
        client = client_as(persona)
        posts = [
            (url("note_add", pk=ready.pk), {"kind": "note", "text": "Mine"}),
            (url("action_add", pk=ready.pk), {"text": "Mine", "owner": "", "due_on": ""}),
            (url("agenda_draft", pk=ready.pk), {}),
            (url("pack_issue", pk=ready.pk), {}),
            (url("meeting_cancel", pk=ready.pk), {"reason": "Because."}),
            (url("item_new", pk=ready.pk), {"title": "Mine"}),
            (url("commentary_request", pk=ready.pk), {}),
            (url("commentary_write", pk=ready.pk, slug=city.failing.slug), {"text": "Mine"}),
        ]
        for address, data in posts:
            assert client.post(address, data).status_code == 403, (persona, address)
    assert not Note.objects.exists() and not Pack.objects.exists()
    assert AgendaItem.objects.count() == items
    ready.refresh_from_db()
    assert ready.state == MeetingState.SCHEDULED
    assert not Commentary.objects.get(metric=city.failing).is_written


def test_people_not_on_the_team_are_not_told_it_exists(
    city: City, ready: Meeting, client_as
) -> None:  # type: ignore[no-untyped-def]
    issued = pack.issue(ready, city.personas.lead)
    outsider = client_as("outsider")
    for address in (
        url("dashboard", **TEAM),
        url("meeting_list", **TEAM),
        url("meeting_detail", pk=ready.pk),
        url("present", pk=ready.pk),
        url("pack_detail", pk=issued.pk),
        url("pack_detail_json", pk=issued.pk),
    ):
        assert outsider.get(address).status_code == 404, address
    assert outsider.post(url("note_add", pk=ready.pk), {"text": "x"}).status_code == 404
    anonymous = client_as("anonymous").get(url("dashboard", **TEAM))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")


def test_an_actions_owner_closes_it_whatever_their_role(personas: Personas, client_as) -> None:  # type: ignore[no-untyped-def]
    theirs = _action(personas, owner=personas.viewer)
    others = _action(personas, owner=personas.editor)
    client = client_as("viewer")
    assert client.post(url("action_close", pk=others.pk), {"outcome": "done"}).status_code == 403
    assert client.post(url("action_close", pk=theirs.pk), {"outcome": "done"}).status_code == 302
    theirs.refresh_from_db()
    others.refresh_from_db()
    assert (theirs.status, others.status) == ("done", "open")


def test_posts_need_the_csrf_token(personas: Personas) -> None:
    m = meeting(personas)
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.lead)
    refused = client.post(url("note_add", pk=m.pk), {"kind": "note", "text": "Forged"})
    assert refused.status_code == 403
    assert not Note.objects.exists()
    page = client.get(url("meeting_detail", pk=m.pk)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    saved = client.post(
        url("note_add", pk=m.pk), {"kind": "note", "text": "Real", "csrfmiddlewaretoken": token}
    )
    assert saved.status_code == 302
    assert Note.objects.get().text == "Real"


# --- present mode ----------------------------------------------------------------------------


def test_present_mode_is_one_item_per_screen_with_its_chart(
    city: City, ready: Meeting, client_as
) -> None:  # type: ignore[no-untyped-def]
    page = client_as("viewer").get(url("present", pk=ready.pk))
    body = page.content.decode()
    slides = re.findall(r'<section class="slide" id="item-(\d+)"', body)
    assert [int(s) for s in slides] == list(ready.items.values_list("pk", flat=True))
    assert f"1 of {len(slides)} · Metric" in text(page)
    assert body.count('<figure class="slide-chart"><img src="data:image/svg+xml') == 3
    assert "<strong>market week</strong>" in body  # the commentary, as Markdown
    assert COMMENTARY.split("**")[0] in text(page)
    assert 'data-go="next"' in body and "present.js" in body
    # A viewer reads; only the team's editors get the capture forms.
    assert 'class="capture-form"' not in body
    assert (
        'class="capture-form"'
        in client_as("editor").get(url("present", pk=ready.pk)).content.decode()
    )


def test_present_mode_captures_notes_and_actions_as_json(
    city: City, ready: Meeting, client_as
) -> None:  # type: ignore[no-untyped-def]
    personas = city.personas
    item = ready.items.get(metric=city.concern)
    client = client_as("editor")
    fetch = {"HTTP_X_REQUESTED_WITH": "fetch"}
    saved = client.post(
        url("note_add", pk=ready.pk),
        {"kind": "decision", "text": "Sweep North twice", "item": item.pk},
        **fetch,
    )
    assert saved.status_code == 200
    assert saved.json() == {
        "ok": True,
        "kind": "Decision",
        "text": "Sweep North twice",
        "author": "Eddie Editor",
    }
    refused = client.post(url("note_add", pk=ready.pk), {"kind": "note", "text": ""}, **fetch)
    assert refused.status_code == 400
    assert refused.json()["ok"] is False
    assert refused.json()["errors"]["text"] == ["Write the note (it cannot be empty)."]
    action = client.post(
        url("action_add", pk=ready.pk),
        {
            "text": "Crew to North",
            "owner": personas.viewer.pk,
            "due_on": "2027-01-05",
            "item": item.pk,
        },
        **fetch,
    )
    assert action.json() == {
        "ok": True,
        "text": "Crew to North",
        "owner": "Vera Viewer",
        "due_on": "05 Jan 2027",
    }
    bad = client.post(url("action_add", pk=ready.pk), {"text": "", "item": item.pk}, **fetch)
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"text", "owner", "due_on"}
    assert Note.objects.get().item == item
    captured = Action.objects.get(text="Crew to North")
    assert (captured.item, captured.metric, captured.meeting) == (item, city.concern, ready)


def test_a_form_goes_back_where_it_came_from_on_this_site_only(
    personas: Personas, client_as
) -> None:  # type: ignore[no-untyped-def]
    m = meeting(personas)
    client = client_as("editor")
    back = f"{url('present', pk=m.pk)}#item-3"
    response = client.post(url("note_add", pk=m.pk), {"text": "One", "kind": "note", "next": back})
    assert response["Location"] == back
    for away in (
        "https://evil.example/",
        "//evil.example/",
        "///evil.example/",
        "\\\\evil.example",
        "javascript:alert(1)",
    ):
        response = client.post(
            url("note_add", pk=m.pk), {"text": "Two", "kind": "note", "next": away}
        )
        assert response["Location"] == m.get_absolute_url(), away
    # A browser reads a backslash as a slash: "/\\host" must not leave the site either.
    response = client.post(
        url("note_add", pk=m.pk), {"text": "Three", "kind": "note", "next": "/\\evil.example/"}
    )
    location = response["Location"].replace("\\", "/")
    assert location.startswith("/") and not location.startswith("//"), location


# --- the dashboard's breakdown filter --------------------------------------------------------


def test_the_dashboard_shows_one_breakdown_value(city: City, client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as("guest")
    page = client.get(url("dashboard", **TEAM), {"series": "district=North"})
    assert page.status_code == 200
    words = text(page)
    assert f"{city.concern.name} (North)" in words
    assert "1 metric for district North; 1 needs attention" in words
    assert "Not broken down by district: " in words and city.failing.name in words
    assert '<option value="district=North" selected>' in page.content.decode()
    twin = client.get(url("dashboard_json", **TEAM), {"series": "district=North"}).json()
    assert [c["series"] for c in twin["cards"]] == ["North"]


def test_an_unknown_breakdown_value_says_so(city: City, client_as) -> None:  # type: ignore[no-untyped-def]
    client = client_as("lead")
    response = client.get(url("dashboard", **TEAM), {"series": "district=East"}, follow=True)
    assert response.redirect_chain[-1][0] == url("dashboard", **TEAM)
    assert "No metric of Team Clean has the series district = 'East'" in messages_of(response)
    twin = client.get(url("dashboard_json", **TEAM), {"series": "district=East"})
    assert twin.status_code == 400
    assert "district = 'East'" in twin.json()["error"]


# --- messages and mail from the pages --------------------------------------------------------


def test_asking_for_commentary_from_the_page(city: City, client_as) -> None:  # type: ignore[no-untyped-def]
    m = meeting(city.personas)
    services.draft_agenda(m, city.personas.lead)
    client = client_as("editor")
    response = client.post(url("commentary_request", pk=m.pk), follow=True)
    assert "Commentary asked for 3 metrics, by email to 1 person." in messages_of(response)
    assert [e.to for e in mail.outbox] == [["lead@example.org"]]
    response = client.post(url("commentary_request", pk=m.pk), follow=True)
    assert "Everyone has already been asked" in messages_of(response)
    assert len(mail.outbox) == 1


def test_sending_the_follow_up_from_the_page(personas: Personas, client_as) -> None:  # type: ignore[no-untyped-def]
    scheduled = meeting(personas)
    response = client_as("lead").post(url("follow_up_send", pk=scheduled.pk), follow=True)
    assert "End the meeting first" in messages_of(response)
    held = _held(personas)
    response = client_as("lead").post(url("follow_up_send", pk=held.pk), follow=True)
    assert "Follow-up sent to 2 people." in messages_of(response)
    assert "Send it again" in text(response)
    (email,) = mail.outbox
    assert "Cameras to Canal St." in email.body


def test_issuing_the_pack_from_the_page_freezes_it(city: City, ready: Meeting, client_as) -> None:  # type: ignore[no-untyped-def]
    response = client_as("editor").post(url("pack_issue", pk=ready.pk), follow=True)
    issued = Pack.objects.get()
    assert response.redirect_chain[-1][0] == url("pack_detail", pk=issued.pk)
    assert f"Pack 1, issued {issued.snapshot['issued_at']} by Eddie Editor." in text(response)
    assert "Frozen as of" in text(response)
    meeting_page = client_as("viewer").get(url("meeting_detail", pk=ready.pk))
    assert "Pack 1 (PDF), issued by Eddie Editor" in text(meeting_page)


def test_peoples_text_is_escaped_on_the_meeting_pages(personas: Personas, client_as) -> None:  # type: ignore[no-untyped-def]
    m = meeting(personas)
    nasty = "<script>alert('x')</script>"
    item = services.add_item(m, personas.lead, title=nasty, reason=nasty)
    services.add_note(m, personas.lead, text=nasty, item=item)
    services.add_action(
        personas.team, personas.lead, text=nasty, owner=personas.editor, due_on=today(), meeting=m
    )
    for name in ("meeting_detail", "present"):
        body = client_as("viewer").get(url(name, pk=m.pk)).content.decode()
        assert "<script>alert" not in body, name
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in body, name
    listed = client_as("viewer").get(url("action_list", **TEAM)).content.decode()
    assert "<script>alert" not in listed
    parsed = json.loads(client_as("viewer").get(url("meeting_detail_json", pk=m.pk)).content)
    assert parsed["items"][0]["title"] == nasty


def test_a_guest_is_not_shown_numbers_of_data_they_may_not_see_on_the_agenda(
    city: City, client_as
) -> None:  # type: ignore[no-untyped-def]
    _, private = add_crew_metrics(city)
    m = meeting(city.personas)
    services.draft_agenda(m, city.personas.lead)
    item = m.items.get(metric=private)
    assert "(41 notes)" in item.reason
    client = client_as("guest")
    for name in ("meeting_detail", "present"):
        page = client.get(url(name, pk=m.pk))
        assert page.status_code == 200
        assert "41 notes" not in text(page), f"{name} shows the guest a number of {private.slug}"
    twin = client.get(url("meeting_detail_json", pk=m.pk)).content.decode()
    assert "41 notes" not in twin
