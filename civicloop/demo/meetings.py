"""The demo city's performance meetings: Team Clean meets fortnightly on Tuesdays.

Its last meeting (two weeks before the next) was held: a decision, a data request and two
actions, one done since and one still open and overdue, so the next meeting's agenda carries
it. The next meeting's agenda is drafted from Team Clean's real signals, its metric owners
were asked for commentary, and one has written theirs. No email is sent by the demo.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from civicloop.accounts.models import User
from civicloop.demo import city
from civicloop.meetings import services
from civicloop.meetings.models import (
    Action,
    Commentary,
    ItemKind,
    Meeting,
    MeetingState,
    NoteKind,
)
from civicloop.organizations.models import Team

TEAM = "team-clean"
TUESDAY = 1


def _person(key: str) -> User:
    return User.objects.get(email=city.email_for(key))


def _at(day: date, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour)))


def next_tuesday(today: date) -> date:
    """The next meeting day: the first Tuesday after today."""
    return today + timedelta(days=(TUESDAY - today.weekday() - 1) % 7 + 1)


def define_demo_meetings(today: date) -> int:
    """Seed (once) Team Clean's cadence and meetings; returns how many meetings it has."""
    team = Team.objects.get(slug=TEAM)
    if Meeting.objects.filter(team=team, state=MeetingState.HELD).exists():
        services.schedule_ahead(team, today)
        return team.meetings.count()
    grace = _person("grace.lin")
    marcus = _person("marcus.bell")
    amara = _person("amara.okafor")
    victor = _person("victor.chen")
    upcoming = next_tuesday(today)
    last = upcoming - timedelta(weeks=2)
    with transaction.atomic():
        services.set_cadence(
            team,
            grace,
            every_weeks=2,
            weekday=TUESDAY,
            starts_at=time(10, 0),
            minutes=60,
            first_on=last - timedelta(weeks=4),
            location="Public Works depot, meeting room 2",
            today=last,
        )
        held = Meeting.objects.get(team=team, on=last)
        held.chair = amara
        held.save(update_fields=["chair"])
        services.draft_agenda(held, grace, today=last)
        first_metric = held.items.filter(kind=ItemKind.METRIC).first()
        services.add_item(
            held,
            amara,
            title="Hot spots for the camera and signs",
            reason="Which five sites the new cameras go to first.",
        )
        services.start(held, grace)
        services.add_note(
            held,
            grace,
            kind=NoteKind.DECISION,
            text="Keep the dedicated dumping crew in District 3 and plan it for District 5.",
            item=first_metric,
        )
        services.add_note(
            held,
            marcus,
            kind=NoteKind.DATA_REQUEST,
            text="Missed collections by hauler route, to see whether the spikes are one route.",
            item=first_metric,
        )
        services.add_note(
            held,
            amara,
            kind=NoteKind.NOTE,
            text="Victor Chen offered the business association's shopkeeper reports of "
            "dumping behind the high street.",
            item=None,
        )
        route_data = services.add_action(
            team,
            marcus,
            text="Ask the hauler for missed collections by route",
            owner=marcus,
            due_on=last + timedelta(days=5),
            meeting=held,
            item=first_metric,
        )
        rota = services.add_action(
            team,
            grace,
            text="Draft the District 5 crew rota",
            owner=grace,
            due_on=last + timedelta(days=10),
            meeting=held,
        )
        services.end(held, grace, [grace, marcus, amara, victor], today=today)
        Action.objects.filter(pk__in=[route_data.pk, rota.pk]).update(
            created_at=_at(last, 11), updated_at=_at(last, 11)
        )
        Meeting.objects.filter(pk=held.pk).update(
            started_at=_at(last, 10),
            ended_at=_at(last, 11),
            follow_up_sent_at=_at(last, 15),
            agenda_drafted_at=_at(last - timedelta(days=3), 9),
        )
        held.notes.update(created_at=_at(last, 10))
        services.close_action(rota, grace, done=True, note="Shared with the District 5 crew lead.")
        done = min(last + timedelta(days=8), today)  # never in the future
        Action.objects.filter(pk=rota.pk).update(done_on=done, updated_at=_at(done, 16))

        services.schedule_ahead(team, today)
        nxt = Meeting.objects.get(team=team, on=upcoming)
        nxt.chair = amara
        nxt.save(update_fields=["chair"])
        services.draft_agenda(nxt, grace, today=today)
        # The owners were asked for commentary (the demo sends no email); Grace wrote hers.
        asked_at = _at(today, 9)
        for item in nxt.items.filter(kind=ItemKind.METRIC).select_related("metric__steward"):
            assert item.metric is not None
            Commentary.objects.get_or_create(
                meeting=nxt,
                metric=item.metric,
                defaults={
                    "requested_of": item.metric.steward or grace,
                    "requested_at": asked_at,
                    "due_on": upcoming - timedelta(days=1),
                },
            )
        # Grace writes hers on the missed collections spike (the steward of Team Clean's
        # metrics), or the first metric asked of her if that is not on the agenda.
        written = (
            nxt.commentaries.filter(metric__slug="missed-collections-weekly").first()
            or nxt.commentaries.order_by("metric__name").first()
        )
        if written is not None:
            services.write_commentary(
                nxt,
                written.metric,
                grace,
                "The latest week is the first after the route change on the east side: the "
                "new crew missed streets it did not know. The hauler has walked the route "
                "with them; we expect next week back within the limits.",
            )
    return team.meetings.count()
