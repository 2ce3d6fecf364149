"""The demo city's Team Clean meets fortnightly: its last meeting was held (a decision, a data
request, two actions, one done since), and the next one's agenda is drafted from its real
signals and carries the open action. Loading the demo again duplicates none of it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from civicloop.demo.meetings import next_tuesday
from civicloop.demo.services import load_demo
from civicloop.meetings import attention, pack, services
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
from civicloop.organizations.models import Team
from civicloop.warehouse import Warehouse

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Cadence, Meeting, AgendaItem, Commentary, Note, Action)
    }


def test_team_clean_holds_a_meeting_and_the_next_one_carries_its_open_action(
    data_dir: Path,
) -> None:
    from civicloop.accounts.models import User

    today = timezone.localdate()
    load_demo(data_dir, Warehouse.default(), scale=0.05, as_of=today)
    team = Team.objects.get(slug="team-clean")
    grace = User.objects.get(email="grace.lin@alderport.example")
    upcoming_day = next_tuesday(today)

    (held,) = Meeting.objects.filter(team=team, state=MeetingState.HELD)
    assert held.on == upcoming_day - timedelta(weeks=2)
    assert held.attendees.count() == 4 and held.follow_up_sent_at is not None
    kinds = sorted(held.notes.values_list("kind", flat=True))
    assert kinds == sorted([NoteKind.DECISION, NoteKind.DATA_REQUEST, NoteKind.NOTE])
    actions = list(Action.objects.filter(meeting=held).order_by("pk"))
    assert [a.status for a in actions] == ["open", "done"]
    open_action = actions[0]
    assert open_action.is_overdue(today) == (open_action.due_on < today)

    upcoming = Meeting.objects.get(team=team, on=upcoming_day)
    assert upcoming.state == MeetingState.SCHEDULED and upcoming.agenda_drafted_at is not None
    items = list(upcoming.items.all())
    carried = [i for i in items if i.kind == ItemKind.ACTION]
    assert [(i.action, i.source) for i in carried] == [(open_action, ItemSource.CARRIED)]
    assert actions[1].pk not in {i.action_id for i in items}
    # Its metrics are the ones the data says need attention now, each with the reason.
    needing = [
        c.metric
        for c in attention.cards(team, grace)
        if {attention.CONCERN, attention.FAILING, attention.STALE} & set(c.reasons)
    ]
    on_agenda = [i.metric for i in items if i.kind == ItemKind.METRIC]
    assert needing and on_agenda == needing
    assert all(i.reason for i in items)
    # Commentary was asked of each metric's owner, and one has written theirs.
    asked = upcoming.commentaries.all()
    assert {c.metric for c in asked} == set(on_agenda)
    assert all(c.requested_at and c.requested_of for c in asked)
    assert [c.author for c in asked if c.is_written] == [grace]
    snapshot, _ = pack.build_snapshot(upcoming, grace)
    assert snapshot["counts"]["commentary_written"] == 1
    assert snapshot["counts"]["commentary_asked"] == len(on_agenda)
    assert services.rhythm(team, today)["warnings"] == []

    before = _counts()
    load_demo(data_dir, Warehouse.default(), scale=0.05, as_of=today)
    assert _counts() == before
    assert Meeting.objects.filter(team=team, state=MeetingState.HELD).count() == 1
