"""The rules of meetings: scheduling, the agenda drafted from exceptions, commentary requests,
notes and actions, and the follow-up. Every change goes through here.

Each function checks permission first (NotAllowed), then the input (MeetingError naming each
field and the fix), then saves in one transaction. Nothing is half-saved when a check fails.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.template.loader import render_to_string
from django.utils import timezone

from civicloop.meetings import attention
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
    Weekday,
)
from civicloop.metrics.models import Metric
from civicloop.organizations.models import Team

if TYPE_CHECKING:
    from civicloop.accounts.models import User

SCHEDULE_AHEAD = timedelta(weeks=12)
PREPARE_DAYS_AHEAD = 3  # the agenda is drafted, and commentary asked for, three days before
COMMENTARY_LEAD_DAYS = 2  # commentary is due two days before the meeting: no surprises
LAPSED_AFTER_DAYS = 7  # a cadence with no meeting held for its interval plus this is lapsed
TEXT_MAX = 10_000
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class NotAllowed(Exception):
    pass


class MeetingError(Exception):
    """Bad input or a refused step: each problem is (field name or "", message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(message for _, message in problems))

    @classmethod
    def one(cls, field_name: str, message: str) -> MeetingError:
        return cls([(field_name, message)])


def _edit(team: Team, user: User) -> None:
    if not team.can_edit(user):
        raise NotAllowed("Only the team's leads and members may change its meetings.")


def _member(team: Team, person: User | None, field_name: str) -> None:
    if person is None:
        raise MeetingError.one(field_name, "Choose who owns it.")
    if team.role_of(person) is None:
        raise MeetingError.one(
            field_name, f"{person.full_name} is not on {team.name}: choose someone on the team."
        )


# --- scheduling ----------------------------------------------------------------------------


def schedule(
    team: Team,
    user: User,
    *,
    on: date,
    starts_at: time = time(10, 0),
    minutes: int = 60,
    title: str = "",
    location: str = "",
    chair: User | None = None,
) -> Meeting:
    _edit(team, user)
    problems = []
    if minutes < 5 or minutes > 480:
        problems.append(("minutes", "A meeting lasts from 5 to 480 minutes."))
    existing = Meeting.objects.filter(team=team, on=on).first()
    if existing is not None:
        problems.append(
            ("on", f"{team.name} already has a meeting on {on:%d %b %Y}: open that one instead.")
        )
    if problems:
        raise MeetingError(problems)
    if chair is not None and team.role_of(chair) is None:
        raise MeetingError.one("chair", f"{chair.full_name} is not on {team.name}.")
    return Meeting.objects.create(
        team=team,
        on=on,
        starts_at=starts_at,
        minutes=minutes,
        title=title.strip(),
        location=location.strip(),
        chair=chair,
        created_by=user,
    )


def set_cadence(
    team: Team,
    user: User,
    *,
    every_weeks: int,
    weekday: int,
    starts_at: time,
    minutes: int,
    first_on: date,
    location: str = "",
    today: date | None = None,
) -> tuple[Cadence, list[Meeting]]:
    """Save the team's cadence and schedule its meetings for the next twelve weeks. Meetings
    already scheduled from an earlier cadence, not yet held, with nothing on them move."""
    _edit(team, user)
    today = today or timezone.localdate()
    problems = []
    if every_weeks < 1 or every_weeks > 8:
        problems.append(("every_weeks", "Meet every 1 to 8 weeks (2 is fortnightly)."))
    if weekday not in Weekday.values:
        problems.append(("weekday", "Meet on a working day, Monday to Friday."))
    elif first_on.weekday() != weekday:
        problems.append(
            (
                "first_on",
                f"{first_on:%d %b %Y} is a {first_on:%A}: choose a day that is a "
                f"{DAY_NAMES[weekday]}.",
            )
        )
    if minutes < 5 or minutes > 480:
        problems.append(("minutes", "A meeting lasts from 5 to 480 minutes."))
    if problems:
        raise MeetingError(problems)
    with transaction.atomic():
        cadence, _ = Cadence.objects.update_or_create(
            team=team,
            defaults={
                "every_weeks": every_weeks,
                "weekday": weekday,
                "starts_at": starts_at,
                "minutes": minutes,
                "first_on": first_on,
                "location": location.strip(),
                "created_by": user,
                "updated_at": timezone.now(),
            },
        )
        wanted = set(cadence.dates(today, today + SCHEDULE_AHEAD))
        # Untouched future meetings of an earlier cadence that the new one does not keep.
        Meeting.objects.filter(
            team=team, from_cadence=True, state=MeetingState.SCHEDULED, on__gte=today
        ).exclude(on__in=wanted).filter(items=None, notes=None, packs=None).delete()
        made = schedule_ahead(team, today)
    return cadence, made


def schedule_ahead(team: Team, today: date | None = None) -> list[Meeting]:
    """Create the cadence's meetings up to twelve weeks ahead (the worker calls this daily)."""
    cadence = Cadence.objects.filter(team=team).first()
    if cadence is None:
        return []
    today = today or timezone.localdate()
    taken = set(Meeting.objects.filter(team=team).values_list("on", flat=True))
    made = []
    for day in cadence.dates(today, today + SCHEDULE_AHEAD):
        if day in taken:
            continue
        try:
            with transaction.atomic():
                made.append(
                    Meeting.objects.create(
                        team=team,
                        on=day,
                        starts_at=cadence.starts_at,
                        minutes=cadence.minutes,
                        location=cadence.location,
                        from_cadence=True,
                        created_by=cadence.created_by,
                    )
                )
        except IntegrityError:  # another process made it meanwhile
            continue
    return made


def schedule_all(today: date | None = None) -> int:
    return sum(len(schedule_ahead(c.team, today)) for c in Cadence.objects.select_related("team"))


def prepare_due(today: date | None = None) -> list[Meeting]:
    """Three days before each scheduled meeting whose agenda nobody has drafted yet: draft it
    from the data and ask the metric owners for commentary (the worker calls this every
    minute; a drafted meeting is left alone). Drafted as the team's first lead sees the data;
    a team without a lead is skipped. Returns the meetings prepared."""
    from civicloop.organizations.models import Role

    today = today or timezone.localdate()
    prepared = []
    due = Meeting.objects.filter(
        state=MeetingState.SCHEDULED,
        agenda_drafted_at=None,
        on__gte=today,
        on__lte=today + timedelta(days=PREPARE_DAYS_AHEAD),
    ).select_related("team")
    for meeting in due:
        lead = meeting.team.memberships.filter(role=Role.LEAD).select_related("person").first()
        if lead is None:
            continue
        draft_agenda(meeting, lead.person, today=today)
        with contextlib.suppress(MeetingError):  # no metrics on the agenda: nobody to ask
            request_commentary(meeting, lead.person)
        prepared.append(meeting)
    return prepared


def cancel(meeting: Meeting, user: User, reason: str) -> None:
    _edit(meeting.team, user)
    if meeting.state != MeetingState.SCHEDULED:
        raise MeetingError.one("", "Only a meeting not yet held can be cancelled.")
    if not reason.strip():
        raise MeetingError.one("reason", "Say why the meeting is cancelled (the team will see it).")
    meeting.state = MeetingState.CANCELLED
    meeting.cancelled_reason = reason.strip()[:300]
    meeting.save(update_fields=["state", "cancelled_reason"])


def previous_meeting(meeting: Meeting) -> Meeting | None:
    return (
        Meeting.objects.filter(team=meeting.team, on__lt=meeting.on, state=MeetingState.HELD)
        .order_by("-on")
        .first()
    )


def next_meeting(team: Team, today: date | None = None) -> Meeting | None:
    today = today or timezone.localdate()
    return (
        Meeting.objects.filter(team=team, on__gte=today, state=MeetingState.SCHEDULED)
        .order_by("on")
        .first()
    )


# --- the agenda ------------------------------------------------------------------------------


@dataclass
class Drafted:
    added: list[AgendaItem] = field(default_factory=list)
    kept: int = 0
    removed: int = 0


def _kr_rows(team: Team, user: User, on: date) -> list[dict[str, Any]]:
    from civicloop.okrs import api as okr_api
    from civicloop.okrs.export import report_status
    from civicloop.okrs.quarters import Quarter

    data = okr_api.team_okrs_data(team, Quarter.containing(on), user, on)
    rows = []
    for objective in data["objectives"]:
        for row in objective["key_results"]:
            if row["team_slug"] != team.slug:
                continue
            row = {**row, "report_status": report_status(row), "objective": objective["title"]}
            rows.append(row)
    return rows


def draft_agenda(meeting: Meeting, user: User, today: date | None = None) -> Drafted:
    """Draft the agenda from exceptions: metrics with a special cause of concern, failing their
    target or with stale data; key results off track; actions still open from earlier
    meetings (carried until done); A3s due for review. Items people added stay; drafted items
    already discussed (with notes or actions) stay; the rest are drafted again."""
    from civicloop.improvement.models import A3, State

    team = meeting.team
    _edit(team, user)
    if meeting.state != MeetingState.SCHEDULED:
        raise MeetingError.one("", "The agenda of a meeting already held or cancelled is final.")
    today = today or timezone.localdate()
    result = Drafted()
    with transaction.atomic():
        stale = meeting.items.exclude(source=ItemSource.ADDED).filter(notes=None, actions=None)
        result.removed = stale.count()
        stale.delete()
        existing = list(meeting.items.all())
        result.kept = len(existing)
        have = {(i.kind, i.metric_id, i.key_result_id, i.a3_id, i.action_id) for i in existing}
        position = max((i.position for i in existing), default=0)

        def add(kind: str, source: str, title: str, reason: str, **links: Any) -> None:
            nonlocal position
            key = (
                kind,
                getattr(links.get("metric"), "pk", None),
                getattr(links.get("key_result"), "pk", None),
                getattr(links.get("a3"), "pk", None),
                getattr(links.get("action"), "pk", None),
            )
            if key in have:
                return
            have.add(key)
            position += 10
            result.added.append(
                AgendaItem.objects.create(
                    meeting=meeting,
                    position=position,
                    kind=kind,
                    source=source,
                    title=title[:300],
                    reason=reason[:400],
                    added_by=None,
                    **links,
                )
            )

        for card in attention.cards(team, user):
            reasons = [r for r in card.reasons if r != attention.COMMENTARY]
            if not reasons:
                continue
            data = attention.card_data(card)
            said = {
                attention.CONCERN: data["variation_sentence"],
                attention.FAILING: data["assurance_sentence"],
                attention.STALE: f"{data['freshness']}.",
            }
            reason = " ".join(said[r] or attention.REASON_LABELS[r] for r in reasons)
            add(
                ItemKind.METRIC,
                ItemSource.DRAFTED,
                card.metric.name,
                reason,
                metric=card.metric,
            )
        for row in _kr_rows(team, user, meeting.on):
            if row["report_status"]["severity"] < 2 or row["closed"]:
                continue
            from civicloop.okrs.models import KeyResult

            kr = KeyResult.objects.get(pk=row["id"])
            add(
                ItemKind.KEY_RESULT,
                ItemSource.DRAFTED,
                row["title"],
                f"Key result {row['report_status']['label'].lower()}: {row['current_text']} "
                f"against a target of {row['target_text']} ({row['objective']}).",
                key_result=kr,
            )
        for action in (
            Action.objects.open()
            .filter(team=team, created_at__lt=meeting.starts)
            .exclude(meeting=meeting)
            .select_related("owner")
        ):
            if action.due_on < today:
                when = f"overdue since {action.due_on:%d %b %Y}"
            elif action.due_on < meeting.on:
                when = f"due {action.due_on:%d %b %Y}, before this meeting"
            else:
                when = f"due {action.due_on:%d %b %Y}"
            add(
                ItemKind.ACTION,
                ItemSource.CARRIED,
                action.text,
                f"Open action for {action.owner.full_name}, {when}.",
                action=action,
            )
        for a3 in A3.objects.filter(team=team, review_on__lte=meeting.on).exclude(
            state=State.CLOSED
        ):
            late = [p for p in a3.actions.all() if p.is_overdue(today)]
            extra = (
                f" {len(late)} plan step{'s' if len(late) != 1 else ''} overdue." if late else ""
            )
            add(
                ItemKind.A3,
                ItemSource.DRAFTED,
                a3.title,
                f"A3 due for review on {a3.review_on:%d %b %Y} ({a3.state_text.lower()}).{extra}",
                a3=a3,
            )
        meeting.agenda_drafted_at = timezone.now()
        meeting.save(update_fields=["agenda_drafted_at"])
    return result


def add_item(
    meeting: Meeting,
    user: User,
    *,
    title: str,
    reason: str = "",
    metric: Metric | None = None,
    breakdown: str = "",
    value: str = "",
    a3: Any = None,
    key_result: Any = None,
) -> AgendaItem:
    _edit(meeting.team, user)
    if meeting.state == MeetingState.CANCELLED:
        raise MeetingError.one("", "This meeting was cancelled: add the item to another one.")
    title = title.strip()
    if metric is not None and not title:
        title = metric.name
    if not title:
        raise MeetingError.one("title", "Say what the item is about, in a line.")
    if metric is not None and metric.team_id != meeting.team_id:
        raise MeetingError.one("metric", f"{metric.name} is not one of {meeting.team.name}'s.")
    kind = (
        ItemKind.METRIC
        if metric
        else ItemKind.A3
        if a3
        else ItemKind.KEY_RESULT
        if key_result
        else ItemKind.TOPIC
    )
    last = meeting.items.order_by("-position").values_list("position", flat=True).first() or 0
    return AgendaItem.objects.create(
        meeting=meeting,
        position=last + 10,
        kind=kind,
        source=ItemSource.ADDED,
        title=title[:300],
        reason=reason.strip()[:400],
        metric=metric,
        breakdown=breakdown,
        value=value,
        a3=a3,
        key_result=key_result,
        added_by=user,
    )


def remove_item(item: AgendaItem, user: User) -> None:
    _edit(item.meeting.team, user)
    if item.meeting.state != MeetingState.SCHEDULED:
        raise MeetingError.one("", "The agenda of a meeting already held is its record.")
    if item.notes.exists() or item.actions.exists():
        raise MeetingError.one("", "This item has notes or actions: it stays on the record.")
    item.delete()


def move_item(item: AgendaItem, user: User, direction: int) -> None:
    """Swap the item with its neighbour above (-1) or below (+1)."""
    _edit(item.meeting.team, user)
    if item.meeting.state != MeetingState.SCHEDULED:
        raise MeetingError.one("", "The agenda of a meeting already held is its record.")
    items = list(item.meeting.items.order_by("position", "pk"))
    index = items.index(item)
    other = index + direction
    if other < 0 or other >= len(items):
        return
    items[index], items[other] = items[other], items[index]
    with transaction.atomic():
        for n, it in enumerate(items):
            if it.position != (n + 1) * 10:
                it.position = (n + 1) * 10
                it.save(update_fields=["position"])


# --- commentary ------------------------------------------------------------------------------


def commentary_states(meeting: Meeting) -> dict[int, dict[str, Any]]:
    """metric id -> whether its commentary was asked for, of whom, when it is due, whether it
    is written (its text, by whom, when) and overdue: for the dashboard, meeting and pack."""
    today = timezone.localdate()
    out = {}
    for c in meeting.commentaries.select_related("requested_of", "author"):
        asked_of = c.requested_of.full_name if c.requested_of else None
        out[c.metric_id] = {
            "requested_of": asked_of,
            "asked_of": asked_of,
            "asked": c.requested_at is not None,
            "requested_at": c.requested_at.isoformat() if c.requested_at else None,
            "due_on": c.due_on.isoformat() if c.due_on else None,
            "written": c.is_written,
            "text": c.text.strip(),
            "author": c.author.full_name if c.author else None,
            "written_on": f"{timezone.localtime(c.written_at):%d %b %Y}" if c.written_at else None,
            "overdue": c.is_overdue(today),
        }
    return out


def _owner_of(metric: Metric, team: Team) -> User | None:
    """Who answers for a metric's commentary: its steward if they are on the team, else the
    team's first lead."""
    if metric.steward is not None and team.role_of(metric.steward) is not None:
        return metric.steward
    lead = team.memberships.filter(role="lead").select_related("person").first()
    return lead.person if lead else None


def request_commentary(meeting: Meeting, user: User) -> dict[str, list[str]]:
    """Ask each agenda metric's owner, by email, for a short commentary before the meeting.
    Asks once per metric; returns person email -> metric names asked in this call."""
    team = meeting.team
    _edit(team, user)
    if meeting.state != MeetingState.SCHEDULED:
        raise MeetingError.one("", "Commentary is asked for before a meeting, not after it.")
    metrics = [i.metric for i in meeting.items.select_related("metric__steward") if i.metric]
    if not metrics:
        raise MeetingError.one(
            "", "The agenda has no metrics yet: draft it, or add a metric, then ask."
        )
    due = meeting.on - timedelta(days=COMMENTARY_LEAD_DAYS)
    asked: dict[str, list[str]] = {}
    people: dict[str, User] = {}
    with transaction.atomic():
        for metric in dict.fromkeys(metrics):
            owner = _owner_of(metric, team)
            entry, _ = Commentary.objects.get_or_create(meeting=meeting, metric=metric)
            if entry.requested_at is not None or owner is None:
                continue
            entry.requested_of = owner
            entry.requested_at = timezone.now()
            entry.due_on = due
            entry.save(update_fields=["requested_of", "requested_at", "due_on"])
            asked.setdefault(owner.email, []).append(metric.name)
            people[owner.email] = owner
    for email, names in asked.items():
        person = people[email]
        url = f"{settings.SITE_URL}{meeting.get_absolute_url()}commentary/"
        context = {
            "person": person,
            "meeting": meeting,
            "names": names,
            "url": url,
            "due": due,
        }
        message = EmailMultiAlternatives(
            subject=f"Commentary for {meeting.display_title}, {meeting.on:%d %b}",
            body=render_to_string("meetings/email/commentary_request.txt", context),
            to=[email],
        )
        message.attach_alternative(
            render_to_string("meetings/email/commentary_request.html", context), "text/html"
        )
        message.send()
    return asked


def write_commentary(meeting: Meeting, metric: Metric, user: User, text: str) -> Commentary:
    entry = Commentary.objects.filter(meeting=meeting, metric=metric).first() or Commentary(
        meeting=meeting, metric=metric
    )
    if not entry.can_write(user) or not metric.can_view(user):
        raise NotAllowed("Only the metric's steward or the team's leads and members write this.")
    text = text.strip()
    if not text:
        raise MeetingError.one(
            "text", "Write the commentary: a few sentences on what the data shows and why."
        )
    if len(text) > TEXT_MAX:
        raise MeetingError.one("text", f"Keep the commentary under {TEXT_MAX:,} characters.")
    entry.text = text
    entry.author = user
    entry.written_at = timezone.now()
    entry.save()
    return entry


# --- in the meeting --------------------------------------------------------------------------


def start(meeting: Meeting, user: User) -> None:
    _edit(meeting.team, user)
    if meeting.state == MeetingState.CANCELLED:
        raise MeetingError.one("", "This meeting was cancelled.")
    if meeting.started_at is None:
        meeting.started_at = timezone.now()
        meeting.save(update_fields=["started_at"])


def end(meeting: Meeting, user: User, attendees: Iterable[User], today: date | None = None) -> None:
    """Mark the meeting held with who came; the cadence's next meeting is scheduled."""
    _edit(meeting.team, user)
    if meeting.state == MeetingState.CANCELLED:
        raise MeetingError.one("", "This meeting was cancelled.")
    people = list(attendees)
    if not people:
        raise MeetingError.one("attendees", "Tick who attended (at least one person).")
    outside = [p.full_name for p in people if meeting.team.role_of(p) is None]
    if outside:
        raise MeetingError.one("attendees", f"Not on the team: {', '.join(outside)}.")
    with transaction.atomic():
        meeting.state = MeetingState.HELD
        meeting.started_at = meeting.started_at or timezone.now()
        meeting.ended_at = timezone.now()
        meeting.save(update_fields=["state", "started_at", "ended_at"])
        meeting.attendees.set(people)
    schedule_ahead(meeting.team, today)


def add_note(
    meeting: Meeting, user: User, *, text: str, kind: str = NoteKind.NOTE, item: AgendaItem | None
) -> Note:
    _edit(meeting.team, user)
    if meeting.state == MeetingState.CANCELLED:
        raise MeetingError.one("", "This meeting was cancelled.")
    text = text.strip()
    if not text:
        raise MeetingError.one("text", "Write the note (it cannot be empty).")
    if len(text) > TEXT_MAX:
        raise MeetingError.one("text", f"Keep a note under {TEXT_MAX:,} characters.")
    if kind not in NoteKind.values:
        raise MeetingError.one("kind", "Choose note, decision or data request.")
    if item is not None and item.meeting_id != meeting.pk:
        raise MeetingError.one("item", "That item is on another meeting's agenda.")
    return Note.objects.create(meeting=meeting, item=item, kind=kind, text=text, author=user)


def add_action(
    team: Team,
    user: User,
    *,
    text: str,
    owner: User | None,
    due_on: date | None,
    meeting: Meeting | None = None,
    item: AgendaItem | None = None,
    metric: Metric | None = None,
    key_result: Any = None,
    a3: Any = None,
) -> Action:
    _edit(team, user)
    problems = []
    text = text.strip()
    if not text:
        problems.append(("text", "Say what is to be done, in a line."))
    if owner is None:
        problems.append(("owner", "Choose who owns the action."))
    elif team.role_of(owner) is None:
        problems.append(("owner", f"{owner.full_name} is not on {team.name}."))
    if due_on is None:
        problems.append(("due_on", "Give a due date (YYYY-MM-DD)."))
    if meeting is not None and meeting.team_id != team.pk:
        problems.append(("", "That meeting is another team's."))
    if meeting is not None and meeting.state == MeetingState.CANCELLED:
        problems.append(("", "This meeting was cancelled: add the action to another one."))
    if metric is not None and metric.team_id != team.pk:
        problems.append(("metric", f"{metric.name} is not one of {team.name}'s metrics."))
    if a3 is not None and a3.team_id != team.pk:
        problems.append(("a3", f"The A3 “{a3.title}” is another team's."))
    if key_result is not None and key_result.team_id != team.pk:
        problems.append(("key_result", f"“{key_result.title}” is another team's key result."))
    if problems:
        raise MeetingError(problems)
    assert owner is not None and due_on is not None
    if item is not None and metric is None and key_result is None and a3 is None:
        metric, key_result, a3 = item.metric, item.key_result, item.a3
        if item.action is not None:
            metric = metric or item.action.metric
    return Action.objects.create(
        team=team,
        meeting=meeting,
        item=item,
        text=text[:300],
        owner=owner,
        due_on=due_on,
        metric=metric,
        key_result=key_result,
        a3=a3,
        created_by=user,
    )


def close_action(action: Action, user: User, *, done: bool, note: str = "") -> None:
    if not action.can_close(user):
        raise NotAllowed("Only the action's owner or the team's leads and members close it.")
    if not action.is_open:
        raise MeetingError.one("", f"This action is already {action.status}.")
    if not done and not note.strip():
        raise MeetingError.one("closing_note", "Say why the action is dropped.")
    today = timezone.localdate()
    if done:
        action.done_on = today
    else:
        action.dropped_on = today
    action.closing_note = note.strip()[:300]
    action.updated_at = timezone.now()
    action.save(update_fields=["done_on", "dropped_on", "closing_note", "updated_at"])


def reopen_action(action: Action, user: User) -> None:
    if not action.can_close(user):
        raise NotAllowed("Only the action's owner or the team's leads and members reopen it.")
    action.done_on = None
    action.dropped_on = None
    action.updated_at = timezone.now()
    action.save(update_fields=["done_on", "dropped_on", "updated_at"])


# --- after it --------------------------------------------------------------------------------


def follow_up_data(meeting: Meeting) -> dict[str, Any]:
    notes = list(meeting.notes.select_related("item", "author"))
    actions = list(
        Action.objects.filter(Q(meeting=meeting) | Q(agenda_items__meeting=meeting))
        .distinct()
        .select_related("owner")
        .order_by("due_on", "pk")
    )
    return {
        "meeting": meeting,
        "decisions": [n for n in notes if n.kind == NoteKind.DECISION],
        "data_requests": [n for n in notes if n.kind == NoteKind.DATA_REQUEST],
        "notes": [n for n in notes if n.kind == NoteKind.NOTE],
        "new_actions": [a for a in actions if a.meeting_id == meeting.pk],
        "carried_actions": [a for a in actions if a.meeting_id != meeting.pk],
        "attendees": list(meeting.attendees.order_by("full_name")),
        "next": next_meeting(meeting.team, meeting.on + timedelta(days=1)),
        "site_url": settings.SITE_URL,
        "today": timezone.localdate(),
    }


def send_follow_up(meeting: Meeting, user: User) -> list[str]:
    """Email the one-page follow-up to everyone who attended; returns the addresses."""
    _edit(meeting.team, user)
    if meeting.state != MeetingState.HELD:
        raise MeetingError.one(
            "", "End the meeting first (tick who attended): the follow-up goes to them."
        )
    data = follow_up_data(meeting)
    to = [p.email for p in data["attendees"] if p.email]
    if not to:
        raise MeetingError.one("", "Nobody who attended has an email address.")
    message = EmailMultiAlternatives(
        subject=f"Follow-up: {meeting.display_title}, {meeting.on:%d %b %Y}",
        body=render_to_string("meetings/email/follow_up.txt", data),
        to=to,
    )
    message.attach_alternative(render_to_string("meetings/email/follow_up.html", data), "text/html")
    message.send()
    meeting.follow_up_sent_at = timezone.now()
    meeting.save(update_fields=["follow_up_sent_at"])
    return to


# --- the team's rhythm -----------------------------------------------------------------------


def rhythm(
    team: Team, today: date | None = None, open_actions: list[Action] | None = None
) -> dict[str, Any]:
    """Whether the team's meetings happen and its actions move: what the dashboard warns of.
    `open_actions`: the team's open actions if the caller has them already."""
    today = today or timezone.localdate()
    cadence = Cadence.objects.filter(team=team).first()
    recent = list(
        Meeting.objects.filter(team=team, on__gte=today - timedelta(days=400)).order_by("on")
    )
    held = [m for m in recent if m.state == MeetingState.HELD]
    last_held = held[-1] if held else None
    lapsed = [m for m in reversed(recent) if m.is_lapsed(today)]
    coming = next((m for m in recent if m.on >= today and m.state == MeetingState.SCHEDULED), None)
    interval = timedelta(weeks=cadence.every_weeks) if cadence else timedelta(weeks=4)
    since = (today - last_held.on).days if last_held else None
    overdue_gap = bool(
        cadence
        and cadence.first_on < today
        and (
            last_held is None or today - last_held.on > interval + timedelta(days=LAPSED_AFTER_DAYS)
        )
    )
    if open_actions is None:
        open_actions = list(
            Action.objects.open()
            .filter(team=team)
            .select_related("owner")
            .annotate(last_noted=Max("agenda_items__notes__created_at"))
        )
    overdue = [a for a in open_actions if a.is_overdue(today)]
    stalled = [a for a in open_actions if a.is_stalled(today)]
    unsent = (
        last_held is not None
        and last_held.follow_up_sent_at is None
        and (today - last_held.on).days >= 2
    )
    warnings = []
    if lapsed:
        warnings.append(
            f"{len(lapsed)} meeting{'s' if len(lapsed) != 1 else ''} passed without being held "
            f"or cancelled (latest {lapsed[0].on:%d %b %Y})."
        )
    if overdue_gap:
        assert cadence is not None
        held_text = (
            f"No meeting held for {since} days" if since is not None else "No meeting held yet"
        )
        warnings.append(f"{held_text}, though the team meets: {cadence.label}.")
    if stalled:
        warnings.append(
            f"{len(stalled)} action{'s' if len(stalled) != 1 else ''} stalled: more than two "
            "weeks overdue with nothing said since."
        )
    if unsent:
        assert last_held is not None
        warnings.append(f"The follow-up of {last_held.on:%d %b %Y} was never sent.")
    return {
        "cadence": cadence.label if cadence else None,
        "last_held": last_held,
        "days_since_held": since,
        "lapsed": lapsed,
        "open_actions": open_actions,
        "overdue_actions": overdue,
        "stalled_actions": stalled,
        "follow_up_unsent": unsent,
        "warnings": warnings,
        "next": coming,
    }
