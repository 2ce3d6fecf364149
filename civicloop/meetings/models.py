"""The performance conversation: meetings, their agendas, commentary, notes and actions, the
frozen pack issued for each meeting, and the team's weeknotes.

Who may do what, in one place (views and services ask these questions):
- a team's meetings, packs, actions and weeknotes are read by the team's people (any role);
  anyone else sees nothing (a 404);
- the team's leads and members schedule meetings, draft and change agendas, take notes, capture
  and close actions, issue packs, send follow-ups and write weeknotes;
- a metric's commentary for a meeting is written by the metric's steward or the team's leads
  and members;
- an action's owner (any role on the team) may mark it done, beside the editors;
- an issued pack never changes: it is rendered from the snapshot it froze.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from civicloop.metrics.models import Metric
from civicloop.organizations.models import Team

if TYPE_CHECKING:
    from civicloop.accounts.models import User


def can_read(team: Team, user: User) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or team.role_of(user) is not None))


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"


class Cadence(models.Model):
    """How often a team meets: the product schedules the meetings ahead from it."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="meeting_cadence")
    every_weeks = models.PositiveSmallIntegerField(
        default=2, help_text="1 for weekly, 2 for fortnightly, 4 for every four weeks."
    )
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, default=Weekday.TUESDAY)
    starts_at = models.TimeField(default=time(10, 0))
    minutes = models.PositiveSmallIntegerField(default=60)
    location = models.CharField(max_length=200, blank=True)
    first_on = models.DateField(help_text="The first meeting; later ones follow every N weeks.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.team}: every {self.every_weeks} week(s)"

    @property
    def label(self) -> str:
        every = {1: "Weekly", 2: "Fortnightly"}.get(
            self.every_weeks, f"Every {self.every_weeks} weeks"
        )
        return f"{every} on {Weekday(self.weekday).label}s at {self.starts_at:%H:%M}"

    def dates(self, start: date, end: date) -> list[date]:
        """The cadence's meeting days from `start` to `end`, both included."""
        step = timedelta(weeks=self.every_weeks)
        day = self.first_on
        if day < start:
            day += step * ((start - day).days // step.days)
            if day < start:
                day += step
        out = []
        while day <= end:
            out.append(day)
            day += step
        return out


class MeetingState(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    HELD = "held", "Held"
    CANCELLED = "cancelled", "Cancelled"


class MeetingQuerySet(models.QuerySet["Meeting"]):
    def visible_to(self, user: User) -> MeetingQuerySet:
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self.all()
        return self.filter(team__memberships__person=user).distinct()


class Meeting(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="meetings")
    title = models.CharField(max_length=200, blank=True)
    on = models.DateField()
    starts_at = models.TimeField(default=time(10, 0))
    minutes = models.PositiveSmallIntegerField(default=60)
    location = models.CharField(max_length=200, blank=True)
    state = models.CharField(
        max_length=10, choices=MeetingState.choices, default=MeetingState.SCHEDULED
    )
    cancelled_reason = models.CharField(max_length=300, blank=True)
    from_cadence = models.BooleanField(default=False)
    chair = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attendees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="meetings_attended"
    )
    agenda_drafted_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    follow_up_sent_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = MeetingQuerySet.as_manager()

    class Meta:
        ordering = ("on", "starts_at", "pk")
        constraints = [
            models.UniqueConstraint(fields=("team", "on"), name="one_meeting_per_team_day"),
        ]

    def __str__(self) -> str:
        return self.display_title

    def get_absolute_url(self) -> str:
        return reverse("meetings:meeting_detail", kwargs={"pk": self.pk})

    @property
    def display_title(self) -> str:
        return self.title or f"{self.team.name} performance meeting"

    @property
    def starts(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.on, self.starts_at))

    def can_view(self, user: User) -> bool:
        return can_read(self.team, user)

    def can_change(self, user: User) -> bool:
        return self.team.can_edit(user)

    def is_lapsed(self, today: date) -> bool:
        """Its day has passed and nobody held it (or said it was cancelled)."""
        return self.state == MeetingState.SCHEDULED and self.on < today


class ItemKind(models.TextChoices):
    METRIC = "metric", "Metric"
    KEY_RESULT = "key_result", "Key result"
    ACTION = "action", "Action"
    A3 = "a3", "A3"
    TOPIC = "topic", "Topic"


class ItemSource(models.TextChoices):
    DRAFTED = "drafted", "Drafted from the data"
    CARRIED = "carried", "Carried from an earlier meeting"
    ADDED = "added", "Added by someone"


class AgendaItem(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=12, choices=ItemKind.choices)
    source = models.CharField(max_length=10, choices=ItemSource.choices, default=ItemSource.ADDED)
    title = models.CharField(max_length=300)
    reason = models.CharField(max_length=400, blank=True, help_text="Why it is on the agenda.")
    metric = models.ForeignKey(
        Metric, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    breakdown = models.CharField(max_length=100, blank=True)
    value = models.CharField(max_length=200, blank=True)
    key_result = models.ForeignKey(
        "okrs.KeyResult", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    a3 = models.ForeignKey(
        "improvement.A3", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    action = models.ForeignKey(
        "Action", on_delete=models.CASCADE, null=True, blank=True, related_name="agenda_items"
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("meeting", "position", "pk")

    def __str__(self) -> str:
        return self.title


class Commentary(models.Model):
    """A metric owner's short note on their metric before a meeting ("no surprises")."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="commentaries")
    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="commentaries")
    text = models.TextField(blank=True)
    requested_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField(null=True, blank=True)
    due_on = models.DateField(null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    written_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("meeting", "metric__name")
        verbose_name_plural = "commentaries"
        constraints = [
            models.UniqueConstraint(
                fields=("meeting", "metric"), name="one_commentary_per_meeting_metric"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.metric} for {self.meeting}"

    @property
    def is_written(self) -> bool:
        return bool(self.text.strip())

    def is_overdue(self, today: date) -> bool:
        return not self.is_written and self.due_on is not None and self.due_on < today

    def can_write(self, user: User) -> bool:
        return bool(
            user.is_authenticated
            and (
                user.is_superuser
                or user.pk == self.metric.steward_id
                or user.pk == self.requested_of_id
                or self.meeting.team.can_edit(user)
            )
        )


class NoteKind(models.TextChoices):
    NOTE = "note", "Note"
    DECISION = "decision", "Decision"
    DATA_REQUEST = "data_request", "Data request for next time"


class Note(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="notes")
    item = models.ForeignKey(
        AgendaItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="notes"
    )
    kind = models.CharField(max_length=14, choices=NoteKind.choices, default=NoteKind.NOTE)
    text = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("created_at", "pk")

    def __str__(self) -> str:
        return self.text[:60]


class ActionQuerySet(models.QuerySet["Action"]):
    def open(self) -> ActionQuerySet:
        return self.filter(done_on=None, dropped_on=None)


class Action(models.Model):
    """A commitment made in a meeting: who does what by when, linked to what it is about."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="actions")
    meeting = models.ForeignKey(
        Meeting, on_delete=models.SET_NULL, null=True, blank=True, related_name="actions"
    )
    item = models.ForeignKey(
        AgendaItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="actions"
    )
    text = models.CharField(max_length=300)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField()
    metric = models.ForeignKey(
        Metric, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    key_result = models.ForeignKey(
        "okrs.KeyResult", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    a3 = models.ForeignKey(
        "improvement.A3", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    done_on = models.DateField(null=True, blank=True)
    dropped_on = models.DateField(null=True, blank=True)
    closing_note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ActionQuerySet.as_manager()

    class Meta:
        ordering = ("due_on", "pk")

    def __str__(self) -> str:
        return self.text

    @property
    def is_open(self) -> bool:
        return self.done_on is None and self.dropped_on is None

    def is_overdue(self, today: date) -> bool:
        return self.is_open and self.due_on < today

    def is_stalled(self, today: date) -> bool:
        """Overdue by more than two weeks with nothing done or said about it since it fell
        due: not changed, and no note on an agenda item about it (`last_noted`, when the
        query annotated it) since its due date."""
        noted = getattr(self, "last_noted", None)
        if noted is not None and timezone.localdate(noted) > self.due_on:
            return False
        return (
            self.is_open
            and self.due_on < today - timedelta(days=14)
            and (timezone.localdate(self.updated_at) <= self.due_on)
        )

    @property
    def status(self) -> str:
        if self.done_on:
            return "done"
        if self.dropped_on:
            return "dropped"
        return "open"

    def can_close(self, user: User) -> bool:
        return bool(
            user.is_authenticated and (user.pk == self.owner_id or self.team.can_edit(user))
        )


class Pack(models.Model):
    """A meeting's pack as issued: everything it shows, frozen in `snapshot`, and the metric and
    dataset versions it was made from. Rendering it again reads only the snapshot."""

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="packs")
    number = models.PositiveIntegerField(default=1)
    as_of = models.DateField()
    issued_at = models.DateTimeField(default=timezone.now)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    snapshot = models.JSONField()
    # [{"metric", "slug", "version", "run", "dataset", "dataset_version", ...}]
    sources = models.JSONField(default=list)
    digest = models.CharField(max_length=64, help_text="SHA-256 of the snapshot as stored.")

    class Meta:
        ordering = ("meeting", "-number")
        constraints = [
            models.UniqueConstraint(fields=("meeting", "number"), name="one_pack_number"),
        ]

    def __str__(self) -> str:
        return f"Pack {self.number} for {self.meeting}"

    def get_absolute_url(self) -> str:
        return reverse("meetings:pack_detail", kwargs={"pk": self.pk})


class WeeknoteState(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class Weeknote(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="weeknotes")
    week = models.DateField(help_text="The Monday the week starts.")
    title = models.CharField(max_length=200)
    body = models.TextField(help_text="Markdown.")
    drafted = models.TextField(blank=True, help_text="What the product drafted, kept as it was.")
    facts = models.JSONField(default=dict, blank=True)
    state = models.CharField(
        max_length=10, choices=WeeknoteState.choices, default=WeeknoteState.DRAFT
    )
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    emailed_to = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("team", "-week")
        constraints = [
            models.UniqueConstraint(fields=("team", "week"), name="one_weeknote_per_team_week"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("meetings:weeknote_detail", kwargs={"pk": self.pk})

    @property
    def is_published(self) -> bool:
        return self.state == WeeknoteState.PUBLISHED

    @property
    def week_end(self) -> date:
        return self.week + timedelta(days=6)


class Stamp(models.Model):
    """A counter bumped whenever something a dashboard shows may have changed (see
    civicloop/meetings/cache.py): pages built from it are kept until it moves."""

    name = models.CharField(max_length=40, unique=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.value}"
