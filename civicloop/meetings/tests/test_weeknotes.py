"""Weeknotes: the draft written from what changed in a week (each kind of fact, and only what
every member may see), a person's edit kept when the week is drafted again, publishing (the
email digest, the feed), the private feed link, who gets each page, forms with bad input, and
people's text made safe on the page and in the feed.

The week: Team Clean's litter reports run at about 10 a week for 20 weeks from Monday 6 January
2025, then jump to 40 in the week of Monday 26 May (WEEK), and fall back the week after. The
count is better lower, so a special cause of concern appears in WEEK and ends the week after.
In WEEK the data is loaded, an action is opened and another done, an A3 is started and a key
result checked in. A second metric reads the same rows from a second dataset, whose agreement
with the partner has since ended: the partner's guest may no longer see it, so nothing of it
may reach the weeknote.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from civicloop.datasets.models import Dataset, DatasetVersion, Sensitivity
from civicloop.improvement import services as a3_services
from civicloop.meetings import weeknotes
from civicloop.meetings.models import Action, Weeknote, WeeknoteState
from civicloop.metrics.models import Metric
from civicloop.okrs import services as okr_services
from civicloop.okrs.models import Confidence, KeyResult, Mission, Objective
from civicloop.organizations.models import Membership
from civicloop.testing import Personas, load_csv

pytestmark = pytest.mark.django_db

FIRST_MONDAY = date(2025, 1, 6)
QUIET = (9, 11, 10, 12, 8, 10, 11, 9, 10, 12, 11, 9, 10, 8, 12, 10, 11, 9, 10, 11)
SPIKE = 40
WEEK = FIRST_MONDAY + timedelta(weeks=len(QUIET))  # Monday 26 May 2025
NEXT_WEEK = WEEK + timedelta(weeks=1)
COUNTS = (*QUIET, SPIKE, 10, 11)

SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "report_id", "type": "integer", "constraints": {"required": True}},
        {"name": "reported_on", "type": "date", "format": "%Y-%m-%d"},
    ],
    "primaryKey": ["report_id"],
}


def at(day: date, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


def reports_csv() -> str:
    lines = ["report_id,reported_on"]
    for week, count in enumerate(COUNTS):
        monday = FIRST_MONDAY + timedelta(weeks=week)
        for k in range(count):
            lines.append(f"{len(lines)},{monday + timedelta(days=k % 7)}")
    return "\n".join(lines) + "\n"


def definition(metric_id: str, name: str, dataset: str) -> dict[str, Any]:
    return {
        "id": metric_id,
        "name": name,
        "question": f"{name}: are fewer streets littered?",
        "team": "team-clean",
        "owner": "public-works",
        "steward": "lead@example.org",
        "dataset": dataset,
        "measure": {"aggregate": "count"},
        "time": {"column": "reported_on", "grain": "week"},
        "unit": "reports",
        "direction": "lower_is_better",
    }


def text(response: Any) -> str:
    """The page as a person reads it: tags dropped, whitespace collapsed, entities decoded."""
    body = re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(body)).strip()


def field_errors(response: Any, name: str) -> str:
    found = re.search(
        rf'<ul class="errorlist" id="id_{name}_error">(.*?)</ul>', response.content.decode(), re.S
    )
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))) if found else ""


@dataclass
class Week:
    personas: Personas
    metric: Metric
    hidden_metric: Metric
    opened: Action
    done: Action
    key_result: KeyResult


def _dataset(personas: Personas, slug: str, name: str) -> Dataset:
    from civicloop.datasets import services as data_services
    from civicloop.datasets.engine.schema import schema_from_descriptor

    dataset = data_services.create_dataset(
        slug=slug,
        name=name,
        owner=personas.department,
        steward=personas.lead,
        actor=personas.lead,
        schema=schema_from_descriptor(SCHEMA),
        schema_confirmed=True,
        sensitivity=Sensitivity.RESTRICTED,
        update_frequency="weekly",
    )
    data_services.set_agreement(
        dataset,
        [personas.partner],
        "Street cleanliness reporting with the business association.",
        timezone.localdate() + timedelta(days=365),
        personas.lead,
    )
    return dataset


@pytest.fixture
def week(personas: Personas, data_dir: Path, tmp_path: Path) -> Week:
    from civicloop.datasets import services as data_services
    from civicloop.metrics import services as metric_services

    shared = _dataset(personas, "street_reports", "Street litter reports")
    private = _dataset(personas, "crew_notes", "Crew incident notes")
    metric, _ = metric_services.save_definition(
        definition("street-reports-weekly", "Street litter reports per week", shared.slug),
        None,
        "First definition.",
    )
    hidden, _ = metric_services.save_definition(
        definition("crew-notes-weekly", "Crew incident notes per week", private.slug),
        None,
        "First definition.",
    )
    for dataset in (shared, private):
        run = load_csv(dataset, reports_csv(), tmp_path, name=f"{dataset.slug}.csv")
        assert run.status == "succeeded", run.summary
    report = metric_services.refresh()
    assert not report.failed, report.failed
    data_services.set_agreement(private, [], "Internal only from now on.", None, personas.lead)
    # The loads happened "in" the week: on its Tuesday.
    DatasetVersion.objects.update(created_at=at(WEEK + timedelta(days=1)))

    lead, editor = personas.lead, personas.editor
    opened = Action.objects.create(
        team=personas.team,
        text="Ask crews about the *spike* in reports",
        owner=editor,
        due_on=WEEK + timedelta(days=10),
        created_at=at(WEEK + timedelta(days=2)),
    )
    done = Action.objects.create(
        team=personas.team,
        text="Put up signs on Canal Street",
        owner=lead,
        due_on=WEEK,
        created_at=at(WEEK - timedelta(days=20)),
        done_on=WEEK + timedelta(days=3),
    )
    a3_services.create_a3(
        editor, personas.team, {"title": "Litter doubles after markets"}, at=at(WEEK)
    )
    mission = Mission.objects.create(
        slug="clean-streets", title="Clean streets", public_value="Streets free of litter."
    )
    objective = Objective.objects.create(
        team=personas.team, mission=mission, year=2025, title="Fewer littered streets", owner=lead
    )
    key_result = KeyResult.objects.create(
        objective=objective,
        team=personas.team,
        year=2025,
        quarter=2,
        title="Streets cleaned within a day",
        owner=lead,
        unit="streets",
    )
    okr_services.check_in(
        editor,
        key_result,
        confidence=Confidence.AT_RISK,
        value="12",
        at=at(WEEK + timedelta(days=4)),
    )
    metric.refresh_from_db()
    hidden.refresh_from_db()
    return Week(personas, metric, hidden, opened, done, key_result)


def draft(week: Week, monday: date = WEEK) -> Weeknote:
    return weeknotes.draft_weeknote(week.personas.team, monday, by=week.personas.editor)


def url(name: str, weeknote: Weeknote | None = None, **kwargs: Any) -> str:
    if weeknote is not None:
        kwargs["pk"] = weeknote.pk
    return reverse(f"meetings:{name}", kwargs=kwargs)


TEAM = {"slug": "team-clean"}


# --- the draft ------------------------------------------------------------------------------


def test_the_draft_tells_each_kind_of_change_in_the_week(week: Week) -> None:
    weeknote = draft(week)
    body = weeknote.body
    assert weeknote.title == "Team Clean: week of 26 May 2025"
    assert weeknote.body == weeknote.drafted
    assert body.startswith("What changed for Team Clean from Monday 26 May to Sunday 1 June 2025.")
    for heading in ("Signals", "Key results that moved", "Actions opened and closed"):
        assert f"## {heading}" in body
    assert "## A3 steps" in body and "## Data loaded" in body
    site = settings.SITE_URL
    assert (
        f"- [Street litter reports per week]({site}/metrics/street-reports-weekly/): a special "
        "cause of concern appeared — the latest week (40 reports) is above the upper process "
        "limit"
    ) in body
    assert f"[Street litter reports]({site}/data/street_reports/): version 1 loaded on " in body
    assert "Tuesday 27 May" in body
    assert (
        f"[Streets cleaned within a day]({site}/okrs/key-results/{week.key_result.pk}/): value "
        "now 12 streets; confidence now at risk (at a check-in)."
    ) in body
    # People's words are read as words, not as Markdown emphasis.
    assert r"Opened: Ask crews about the \*spike\* in reports (Eddie Editor, due 5 Jun 2025)." in (
        body
    )
    assert "Done: Put up signs on Canal Street (Lena Lead, done on 29 May 2025)." in body
    assert "[Litter doubles after markets](" in body and "): started." in body
    facts = weeknote.facts
    assert [f["change"] for f in facts["signals"]] == ["appeared"]
    assert facts["signals"][0]["after"] == "special_cause_concern"
    assert {f["change"] for f in facts["actions"]} == {"opened", "done"}
    assert facts["members"] == 4


def test_the_draft_says_when_a_signal_ends(week: Week) -> None:
    weeknote = draft(week, NEXT_WEEK)
    assert "a special cause" not in weeknote.body
    assert "the special cause of concern ended" in weeknote.body
    assert [f["change"] for f in weeknote.facts["signals"]] == ["ended"]


def test_a_quiet_week_says_nothing_changed(week: Week) -> None:
    weeknote = draft(week, FIRST_MONDAY + timedelta(weeks=5))
    assert "## " not in weeknote.body
    assert "Nothing changed this week that civicloop can see: no signal appeared or ended" in (
        weeknote.body
    )


def test_the_draft_keeps_to_what_every_member_may_see(week: Week) -> None:
    """The guest's organization is no longer in the crew notes' agreement: that metric's signal
    and that data's load stay out of the weeknote, which everyone on the team reads."""
    personas = week.personas
    assert week.hidden_metric.can_view(personas.editor)
    assert not week.hidden_metric.can_view(personas.guest)
    weeknote = draft(week)
    assert "Crew incident notes" not in weeknote.body
    assert "crew-notes" not in weeknote.body
    assert "crew_notes" not in str(weeknote.facts)


def test_a_key_result_tracking_hidden_data_moves_without_its_numbers(week: Week) -> None:
    kr = week.key_result
    kr.metric = week.hidden_metric
    kr.save(update_fields=["metric"])
    okr_services.record_kr(
        None,
        "refreshed",
        kr,
        changes=[{"field": "value", "before": "12 streets", "after": "17 streets"}],
        at=at(WEEK + timedelta(days=5)),
    )
    body = draft(week).body
    assert "its value moved with the data it tracks" in body
    assert "17 streets" not in body


def test_drafting_needs_a_monday_that_has_started(week: Week) -> None:
    with pytest.raises(weeknotes.WeeknoteError, match="starts on a Monday"):
        draft(week, WEEK + timedelta(days=1))
    future = weeknotes.monday_of(timezone.localdate()) + timedelta(weeks=1)
    with pytest.raises(weeknotes.WeeknoteError, match="has not started yet"):
        draft(week, future)
    with pytest.raises(weeknotes.NotAllowed):
        weeknotes.draft_weeknote(week.personas.team, WEEK, by=week.personas.viewer)
    assert not Weeknote.objects.exists()


def test_drafting_again_keeps_a_persons_edit_and_offers_the_newer_draft(
    week: Week, client_as
) -> None:  # type: ignore[no-untyped-def]
    personas = week.personas
    weeknote = draft(week)
    weeknotes.edit_weeknote(weeknote, personas.editor, "Bins and signs", "Our own words.")
    Action.objects.create(
        team=personas.team,
        text="Count bags at the market",
        owner=personas.lead,
        due_on=WEEK + timedelta(days=14),
        created_at=at(WEEK + timedelta(days=5)),
    )
    again = draft(week)
    assert again.pk == weeknote.pk
    assert again.title == "Bins and signs"
    assert again.body == "Our own words.\n"
    assert "Count bags at the market" in again.drafted
    assert weeknotes.has_newer_draft(again)

    page = client_as("editor").get(url("weeknote_detail", again))
    assert "has drafted this week again since the text was last edited" in text(page)
    assert "Count bags at the market" in text(page)  # the newer draft, to compare

    response = client_as("editor").post(url("weeknote_take_draft", again))
    assert response.status_code == 302
    again.refresh_from_db()
    assert "Count bags at the market" in again.body
    assert again.title == "Bins and signs"
    assert not weeknotes.has_newer_draft(again)


def test_drafting_again_refreshes_an_unedited_draft(week: Week) -> None:
    weeknote = draft(week)
    Action.objects.create(
        team=week.personas.team,
        text="Count bags at the market",
        owner=week.personas.lead,
        due_on=WEEK + timedelta(days=14),
        created_at=at(WEEK + timedelta(days=5)),
    )
    again = draft(week)
    assert again.pk == weeknote.pk
    assert "Count bags at the market" in again.body
    assert again.body == again.drafted
    assert not weeknotes.has_newer_draft(again)


def test_a_published_weeknote_is_never_changed_by_drafting(week: Week) -> None:
    weeknote = draft(week)
    weeknotes.publish_weeknote(weeknote, week.personas.editor)
    before = Weeknote.objects.get(pk=weeknote.pk)
    Action.objects.create(
        team=week.personas.team,
        text="Count bags at the market",
        owner=week.personas.lead,
        due_on=WEEK + timedelta(days=14),
        created_at=at(WEEK + timedelta(days=5)),
    )
    again = draft(week)
    assert (again.body, again.drafted, again.facts) == (before.body, before.drafted, before.facts)
    with pytest.raises(weeknotes.WeeknoteError, match="record now"):
        weeknotes.edit_weeknote(again, week.personas.editor, "New", "New words")


def test_the_worker_drafts_last_weeks_weeknotes_on_mondays(personas: Personas) -> None:
    monday = weeknotes.monday_of(timezone.localdate())
    assert weeknotes.weekly_drafts(monday + timedelta(days=1)) == 0
    assert weeknotes.weekly_drafts(monday) == 2  # Team Clean and Team Safe
    assert weeknotes.weekly_drafts(monday) == 0  # once only
    notes = Weeknote.objects.filter(week=monday - timedelta(weeks=1))
    assert {w.team.slug for w in notes} == {"team-clean", "team-safe"}
    assert all(w.state == WeeknoteState.DRAFT for w in notes)


# --- publishing -----------------------------------------------------------------------------


def test_publishing_emails_the_team_and_puts_it_on_the_feed(week: Week, client_as) -> None:  # type: ignore[no-untyped-def]
    weeknote = draft(week)
    editor = client_as("editor")
    assert editor.get(url("weeknote_publish", weeknote)).status_code == 405
    response = editor.post(url("weeknote_publish", weeknote), follow=True)
    assert "Published, and emailed to 4 people." in text(response)
    weeknote.refresh_from_db()
    assert weeknote.state == WeeknoteState.PUBLISHED
    assert weeknote.published_by == week.personas.editor
    assert weeknote.emailed_to == 4
    sent = {m.to[0] for m in mail.outbox}
    assert sent == {p.email for p in (week.personas.lead, week.personas.editor,
                                       week.personas.viewer, week.personas.guest)}  # fmt: skip
    assert all(len(m.to) == 1 for m in mail.outbox)  # nobody sees the others' addresses
    message = mail.outbox[0]
    assert message.subject == "Team Clean: week of 26 May 2025"
    assert "## Signals" in message.body
    assert f"{settings.SITE_URL}/weeknotes/{weeknote.pk}/" in message.body
    html_part, kind = message.alternatives[0]  # type: ignore[attr-defined]
    assert kind == "text/html"
    assert "<h4>Signals</h4>" in html_part

    # A second press finds it published: no second digest.
    again = editor.post(url("weeknote_publish", weeknote), follow=True)
    assert "record now" in text(again)
    assert len(mail.outbox) == 4

    feed = editor.get(url("weeknote_feed", **TEAM))
    assert feed.status_code == 200
    assert feed["Content-Type"].startswith("application/rss+xml")
    xml = feed.content.decode()
    assert "<title>Team Clean: week of 26 May 2025</title>" in xml
    assert f"<link>{settings.SITE_URL}/weeknotes/{weeknote.pk}/</link>" in xml


def test_the_feed_has_published_weeknotes_only(week: Week, client_as) -> None:  # type: ignore[no-untyped-def]
    draft(week)
    xml = client_as("lead").get(url("weeknote_feed", **TEAM)).content.decode()
    assert "<item>" not in xml
    assert "<title>Team Clean weeknotes</title>" in xml


def test_the_private_feed_link_works_signed_out_until_its_person_leaves(
    week: Week, client_as
) -> None:  # type: ignore[no-untyped-def]
    personas = week.personas
    weeknotes.publish_weeknote(draft(week), personas.editor)
    page = client_as("guest").get(url("weeknote_list", **TEAM))
    link = html.unescape(re.search(r'id="private-feed" class="feed-url" value="([^"]+)"',
                                   page.content.decode()).group(1))  # fmt: skip
    assert link.startswith(f"{settings.SITE_URL}/teams/team-clean/weeknotes.rss?token=")
    path = link.removeprefix(settings.SITE_URL)
    anonymous = client_as("anonymous")
    response = anonymous.get(path)
    assert response.status_code == 200
    assert "Team Clean: week of 26 May 2025" in response.content.decode()
    # Without the token, or with one tampered with, or for another team: as if it were not there.
    assert anonymous.get(url("weeknote_feed", **TEAM)).status_code == 404
    assert anonymous.get(path[:-2] + "xx").status_code == 404
    other = weeknotes.feed_token(personas.outsider, personas.other_team)
    assert anonymous.get(url("weeknote_feed", **TEAM), {"token": other}).status_code == 404

    Membership.objects.filter(team=personas.team, person=personas.guest).delete()
    assert anonymous.get(path).status_code == 404


def test_the_feed_escapes_and_cleans_peoples_text(week: Week, client_as) -> None:  # type: ignore[no-untyped-def]
    weeknote = draft(week)
    body = (
        "Crews did **well** & fast.\n\n<script>alert('x')</script>\n\n"
        "[a link](javascript:alert(1)) and <img src=x onerror=alert(2)>"
    )
    weeknotes.edit_weeknote(weeknote, week.personas.editor, "Bins <b>& bags</b>", body)
    weeknotes.publish_weeknote(weeknote, week.personas.editor)

    page = client_as("viewer").get(url("weeknote_detail", weeknote)).content.decode()
    assert "<strong>well</strong> &amp; fast" in page
    assert "<script>alert" not in page and "javascript:" not in page and "onerror" not in page
    assert "Bins &lt;b&gt;&amp; bags&lt;/b&gt;" in page

    xml = client_as("viewer").get(url("weeknote_feed", **TEAM)).content.decode()
    # Well-formed despite the text (our own response, so the stdlib parser is fine).
    item = ElementTree.fromstring(xml).find("channel/item")  # noqa: S314
    assert item is not None and item.findtext("title") == "Bins <b>& bags</b>"
    assert "<strong>well</strong> &amp; fast" in (item.findtext("description") or "")
    assert "<script" not in xml and "javascript:" not in xml and "onerror" not in xml
    assert "<title>Bins &lt;b&gt;&amp; bags&lt;/b&gt;</title>" in xml
    assert "&lt;strong&gt;well&lt;/strong&gt; &amp;amp; fast" in xml  # HTML, escaped in XML


# --- who gets each page ---------------------------------------------------------------------

READ = {"lead": 200, "editor": 200, "viewer": 200, "guest": 200, "outsider": 404, "admin": 200}
EDIT = {**READ, "viewer": 403, "guest": 403}


@pytest.mark.parametrize("persona", sorted(READ))
def test_each_persona_gets_the_pages_their_role_allows(week: Week, client_as, persona: str) -> None:  # type: ignore[no-untyped-def]
    drafted = draft(week)
    published = weeknotes.draft_weeknote(week.personas.team, NEXT_WEEK)
    weeknotes.publish_weeknote(published, week.personas.lead)
    client = client_as(persona)
    expected_edit = EDIT[persona]
    assert client.get(url("weeknote_list", **TEAM)).status_code == READ[persona]
    assert client.get(url("weeknote_list_json", **TEAM)).status_code == READ[persona]
    assert client.get(url("weeknote_feed", **TEAM)).status_code == READ[persona]
    assert client.get(url("weeknote_detail", published)).status_code == READ[persona]
    assert client.get(url("weeknote_detail_json", published)).status_code == READ[persona]
    assert client.get(url("weeknote_detail", drafted)).status_code == expected_edit
    assert client.get(url("weeknote_edit", drafted)).status_code == expected_edit
    posted = {200: 302}.get(expected_edit, expected_edit)
    form = {"title": "Ours", "body": "Our words."}
    assert client.post(url("weeknote_edit", drafted), form).status_code == posted
    assert client.post(url("weeknote_draft", **TEAM), {"week": "2025-05-28"}).status_code == (
        posted
    )
    assert client.post(url("weeknote_publish", drafted)).status_code == posted
    drafted.refresh_from_db()
    assert drafted.is_published == (expected_edit == 200)


def test_signed_out_people_are_sent_to_sign_in_except_for_the_feed(week: Week, client_as) -> None:  # type: ignore[no-untyped-def]
    weeknote = draft(week)
    client = client_as("anonymous")
    for path in (url("weeknote_list", **TEAM), url("weeknote_detail", weeknote),
                 url("weeknote_edit", weeknote)):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert client.get(url("weeknote_feed", **TEAM)).status_code == 404
    assert client.get(url("weeknote_feed", slug="no-such-team")).status_code == 404


def test_drafts_are_listed_for_the_teams_editors_only(week: Week, client_as) -> None:  # type: ignore[no-untyped-def]
    drafted = draft(week)
    published = weeknotes.draft_weeknote(week.personas.team, NEXT_WEEK)
    weeknotes.publish_weeknote(published, week.personas.lead)
    as_viewer = client_as("viewer").get(url("weeknote_list_json", **TEAM)).json()
    assert [w["id"] for w in as_viewer["weeknotes"]] == [published.pk]
    as_editor = client_as("editor").get(url("weeknote_list_json", **TEAM)).json()
    assert [w["id"] for w in as_editor["weeknotes"]] == [published.pk, drafted.pk]
    page = client_as("viewer").get(url("weeknote_list", **TEAM))
    assert "Draft this week" not in text(page)
    assert "Draft this week" in text(client_as("editor").get(url("weeknote_list", **TEAM)))


# --- the pages' forms -----------------------------------------------------------------------


def test_the_draft_buttons_draft_this_week_or_a_chosen_one(week: Week, client_as) -> None:  # type: ignore[no-untyped-def]
    editor = client_as("editor")
    response = editor.post(url("weeknote_draft", **TEAM), {"week": "2025-05-29"}, follow=True)
    weeknote = Weeknote.objects.get()
    assert weeknote.week == WEEK  # the Thursday's week
    assert response.redirect_chain[-1][0] == weeknote.get_absolute_url()
    assert "Drafted from what changed" in text(response)

    this_week = weeknotes.monday_of(timezone.localdate())
    editor.post(url("weeknote_draft", **TEAM), {"week": this_week.isoformat()})
    assert Weeknote.objects.filter(week=this_week).exists()


def test_a_bad_week_is_refused_on_the_list_page(week: Week, client_as) -> None:  # type: ignore[no-untyped-def]
    editor = client_as("editor")
    response = editor.post(url("weeknote_draft", **TEAM), {"week": "next tuesday"})
    assert response.status_code == 400
    assert "Give a date such as 2026-11-23." in field_errors(response, "week")
    future = (timezone.localdate() + timedelta(days=8)).isoformat()
    response = editor.post(url("weeknote_draft", **TEAM), {"week": future})
    assert response.status_code == 400
    assert "has not started yet" in field_errors(response, "week")
    assert not Weeknote.objects.exists()


def test_bad_input_on_the_edit_form_names_the_field_and_saves_nothing(
    week: Week, client_as
) -> None:  # type: ignore[no-untyped-def]
    weeknote = draft(week)
    editor = client_as("editor")
    response = editor.post(url("weeknote_edit", weeknote), {"title": "  ", "body": "Kept words."})
    assert response.status_code == 400
    assert "Give the weeknote a title" in field_errors(response, "title")
    assert "Kept words." in response.content.decode()  # nothing typed is lost
    assert "Please correct 1 problem" in text(response)

    response = editor.post(url("weeknote_edit", weeknote), {"title": "A title", "body": ""})
    assert response.status_code == 400
    assert "the body is empty" in field_errors(response, "body")
    assert 'value="A title"' in response.content.decode()

    long = "x" * (weeknotes.BODY_MAX + 1)
    response = editor.post(url("weeknote_edit", weeknote), {"title": "A title", "body": long})
    assert "keep it under 20,000" in field_errors(response, "body")

    stored = Weeknote.objects.get(pk=weeknote.pk)
    assert (stored.title, stored.body, stored.edited_by) == (
        weeknote.title,
        weeknote.body,
        None,
    )


def test_the_edit_form_saves_title_and_body(week: Week, client_as) -> None:  # type: ignore[no-untyped-def]
    weeknote = draft(week)
    editor = client_as("editor")
    page = editor.get(url("weeknote_edit", weeknote))
    assert "## Signals" in page.content.decode()  # the draft, to edit
    response = editor.post(
        url("weeknote_edit", weeknote),
        {"title": "Bins\nand signs ", "body": "## What we did\r\n\r\nSigns went up."},
        follow=True,
    )
    assert "Weeknote saved." in text(response)
    assert "<h4>What we did</h4>" in response.content.decode()
    weeknote.refresh_from_db()
    assert weeknote.title == "Bins and signs"
    assert weeknote.body == "## What we did\n\nSigns went up.\n"
    assert weeknote.edited_by == week.personas.editor


def test_a_published_weeknotes_edit_page_says_it_is_a_record(week: Week, client_as) -> None:  # type: ignore[no-untyped-def]
    weeknote = draft(week)
    weeknotes.publish_weeknote(weeknote, week.personas.editor)
    response = client_as("editor").get(url("weeknote_edit", weeknote), follow=True)
    assert response.redirect_chain[-1][0] == weeknote.get_absolute_url()
    assert "it is a record now" in text(response)


def test_the_detail_twin_carries_the_facts(week: Week, client_as) -> None:  # type: ignore[no-untyped-def]
    weeknote = draft(week)
    data = client_as("editor").get(url("weeknote_detail_json", weeknote)).json()
    assert data["title"] == weeknote.title
    assert data["state"] == "draft"
    assert data["facts"]["signals"][0]["metric"] == "street-reports-weekly"
    assert "<h4>Signals</h4>" in data["body_html"]
