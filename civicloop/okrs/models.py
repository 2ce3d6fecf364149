"""Missions, annual objectives, quarterly key results, check-ins, quarter closes and history.

Who may do what, in one place (views, the API and the CLI ask these questions):
- missions are the organization's long-term purposes: everyone signed in reads them; the
  city's leaders (administrators of a city department, and site administrators) write them;
- an objective belongs to a team (and may be shared with partner teams: a coalition
  objective). Everyone signed in reads it unless it is private, when only the people of its
  teams do; to anyone else a private objective does not exist. The roles the owning team's
  governance names (leads, or leads and members) create and change objectives;
- a key result belongs to the team that works on it, which may be another team than the
  objective's (it contributes to that team's objective). Leads and members of the key result's
  team change it and check in; viewers and guests read;
- a team's leads close its quarter; the closed quarter is read-only from then on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from civicloop.okrs.quarters import Quarter
from civicloop.organizations.models import OrganizationKind, Role, Team

if TYPE_CHECKING:
    from civicloop.accounts.models import User


def is_city_leader(user: User) -> bool:
    """Leaders define missions: site administrators and administrators of a city department."""
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    org = user.organization
    return bool(user.is_org_admin and org is not None and org.kind == OrganizationKind.DEPARTMENT)


class Mission(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    public_value = models.TextField(
        help_text="The good this mission produces and for whom, in plain language a resident "
        "would use."
    )
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("position", "title")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("okrs:mission_detail", kwargs={"slug": self.slug})

    def can_change(self, user: User) -> bool:
        return is_city_leader(user)


class ChangeRoles(models.TextChoices):
    LEADS = "leads", "Leads only"
    MEMBERS = "members", "Leads and members"


class OkrPolicy(models.Model):
    """A team's stated governance of its OKRs."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="okr_policy")
    objectives_changed_by = models.CharField(
        max_length=10,
        choices=ChangeRoles.choices,
        default=ChangeRoles.LEADS,
        help_text="Who may write and change the team's objectives during the year.",
    )
    checkin_every_days = models.PositiveSmallIntegerField(
        choices=[(7, "Weekly"), (14, "Fortnightly")],
        default=7,
        help_text="How often key result owners check in.",
    )

    def __str__(self) -> str:
        return f"OKR governance of {self.team}"


def policy_for(team: Team) -> OkrPolicy:
    """The team's governance, or the default (leads change objectives, weekly check-ins)."""
    policy = OkrPolicy.objects.filter(team=team).first()
    return policy if policy is not None else OkrPolicy(team=team)


def _edits(team: Team, user: User) -> bool:
    role = team.role_of(user)
    return user.is_superuser or (role is not None and role.can_edit)


class ObjectiveQuerySet(models.QuerySet["Objective"]):
    def visible_to(self, user: User) -> ObjectiveQuerySet:
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self.all()
        mine = models.Q(team__memberships__person=user) | models.Q(
            partner_teams__memberships__person=user
        )
        return self.filter(models.Q(is_private=False) | mine).distinct()


class Objective(models.Model):
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="objectives")
    partner_teams = models.ManyToManyField(
        Team,
        blank=True,
        related_name="shared_objectives",
        help_text="Other teams that share this objective (a coalition objective).",
    )
    mission = models.ForeignKey(Mission, on_delete=models.PROTECT, related_name="objectives")
    year = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    is_private = models.BooleanField(
        default=False,
        help_text="Only the people of its teams see a private objective; otherwise everyone "
        "signed in does.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ObjectiveQuerySet.as_manager()

    class Meta:
        ordering = ("-year", "mission__position", "title")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("okrs:objective_detail", kwargs={"pk": self.pk})

    def teams(self) -> list[Team]:
        return [self.team, *self.partner_teams.exclude(pk=self.team_id)]

    def in_team(self, user: User) -> bool:
        if not user.is_authenticated:
            return False
        return any(team.role_of(user) is not None for team in self.teams())

    def can_view(self, user: User) -> bool:
        if not user.is_authenticated:
            return False
        return user.is_superuser or not self.is_private or self.in_team(user)

    def can_change(self, user: User) -> bool:
        """The roles the owning team's governance names."""
        if not user.is_authenticated:
            return False
        if user.is_superuser:
            return True
        role = self.team.role_of(user)
        if role is None:
            return False
        if policy_for(self.team).objectives_changed_by == ChangeRoles.MEMBERS:
            return role.can_edit
        return role is Role.LEAD

    def can_add_key_result(self, user: User) -> bool:
        """Leads and members of its teams (its own and those it is shared with) add key
        results: another team contributes once the objective is shared with it."""
        if not self.can_view(user):
            return False
        return user.is_superuser or any(_edits(team, user) for team in self.teams())


class KeyResultKind(models.TextChoices):
    MEASURE = "measure", "A number that moves from where it is now to a target"
    MILESTONE = "milestone", "A milestone: done or not done"


class KeyResultDirection(models.TextChoices):
    INCREASE = "increase", "Increase"
    DECREASE = "decrease", "Decrease"


class Confidence(models.TextChoices):
    ON_TRACK = "on_track", "On track"
    AT_RISK = "at_risk", "At risk"
    OFF_TRACK = "off_track", "Off track"


class Outcome(models.TextChoices):
    OPEN = "", "Open"
    COMPLETED = "completed", "Completed"
    CARRIED = "carried", "Carried over"
    DROPPED = "dropped", "Dropped"


class KeyResultQuerySet(models.QuerySet["KeyResult"]):
    def visible_to(self, user: User) -> KeyResultQuerySet:
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self.all()
        objectives = Objective.objects.visible_to(user).values("pk")
        return self.filter(
            models.Q(objective__in=objectives) | models.Q(team__memberships__person=user)
        ).distinct()


class KeyResult(models.Model):
    objective = models.ForeignKey(Objective, on_delete=models.CASCADE, related_name="key_results")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="key_results")
    year = models.PositiveSmallIntegerField()
    quarter = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=KeyResultKind.choices, default="measure")
    start_value = models.FloatField(null=True, blank=True)
    target_value = models.FloatField(null=True, blank=True)
    unit = models.CharField(max_length=40, blank=True)
    direction = models.CharField(max_length=10, choices=KeyResultDirection.choices, blank=True)
    decimals = models.PositiveSmallIntegerField(default=0)
    weight = models.FloatField(default=1.0)
    metric = models.ForeignKey(
        "metrics.Metric",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="key_results",
        help_text="Take the current value from this metric after every refresh.",
    )
    # The current value: from the latest check-in, or from the linked metric's latest period
    # in the quarter (kept here after every refresh, so pages need no computation).
    current_value = models.FloatField(null=True, blank=True)
    current_period = models.DateField(null=True, blank=True)
    done = models.BooleanField(default=False)
    # Quarter close
    score = models.FloatField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True, default="")
    close_note = models.TextField(blank=True)
    carried_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="carried_into"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = KeyResultQuerySet.as_manager()

    class Meta:
        ordering = ("year", "quarter", "objective", "pk")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("okrs:kr_detail", kwargs={"pk": self.pk})

    @property
    def period(self) -> Quarter:
        return Quarter(self.year, self.quarter)

    @property
    def is_milestone(self) -> bool:
        return self.kind == KeyResultKind.MILESTONE

    def is_closed(self) -> bool:
        return QuarterClose.objects.filter(
            team=self.team_id, year=self.year, quarter=self.quarter
        ).exists()

    def can_view(self, user: User) -> bool:
        if not user.is_authenticated:
            return False
        return self.objective.can_view(user) or self.team.role_of(user) is not None

    def can_change(self, user: User) -> bool:
        return user.is_authenticated and _edits(self.team, user)

    def progress(self) -> float | None:
        """(current - start) / (target - start), clamped to 0..1; a milestone is 0 or 1."""
        if self.is_milestone:
            return 1.0 if self.done else 0.0
        if self.current_value is None or self.start_value is None or self.target_value is None:
            return None
        span = self.target_value - self.start_value
        if span == 0:
            return None
        return min(1.0, max(0.0, (self.current_value - self.start_value) / span))


class CheckIn(models.Model):
    key_result = models.ForeignKey(KeyResult, on_delete=models.CASCADE, related_name="checkins")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)
    value = models.FloatField(null=True, blank=True)
    done = models.BooleanField(null=True, blank=True)
    from_metric = models.BooleanField(default=False)
    confidence = models.CharField(max_length=10, choices=Confidence.choices)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ("-at", "-pk")

    def __str__(self) -> str:
        return f"{self.key_result}: {self.get_confidence_display()} on {self.at:%Y-%m-%d}"


class QuarterClose(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="quarter_closes")
    year = models.PositiveSmallIntegerField()
    quarter = models.PositiveSmallIntegerField()
    reflection = models.TextField()
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    closed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-year", "-quarter")
        constraints = [
            models.UniqueConstraint(
                fields=("team", "year", "quarter"), name="one_close_per_team_quarter"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team} closed {Quarter(self.year, self.quarter).label}"

    @property
    def period(self) -> Quarter:
        return Quarter(self.year, self.quarter)


class ChangeAction(models.TextChoices):
    CREATED = "created", "Created"
    CHANGED = "changed", "Changed"
    CHECKED_IN = "checked_in", "Checked in"
    REFRESHED = "refreshed", "New value from the data"
    CLOSED = "closed", "Quarter closed"
    CARRIED = "carried", "Carried over"


class Change(models.Model):
    """One entry in the OKR history: who did what, what it was before and after, and why."""

    at = models.DateTimeField(default=timezone.now)
    who = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty when the data refresh made the change.",
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, null=True, related_name="+")
    mission = models.ForeignKey(Mission, on_delete=models.SET_NULL, null=True, related_name="+")
    objective = models.ForeignKey(
        Objective, on_delete=models.SET_NULL, null=True, related_name="changes"
    )
    key_result = models.ForeignKey(
        KeyResult, on_delete=models.SET_NULL, null=True, related_name="changes"
    )
    subject = models.CharField(max_length=300)
    action = models.CharField(max_length=12, choices=ChangeAction.choices)
    changes = models.JSONField(default=list, blank=True)  # [{"field", "before", "after"}]
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ("-at", "-pk")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d} {self.get_action_display()}: {self.subject}"


class Reminder(models.Model):
    """A check-in reminder sent, so each due check-in is asked for once."""

    key_result = models.ForeignKey(KeyResult, on_delete=models.CASCADE, related_name="reminders")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    due_on = models.DateField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("key_result", "due_on"), name="one_reminder_per_due"),
        ]

    def __str__(self) -> str:
        return f"Reminder to {self.person} for {self.key_result} (due {self.due_on})"
