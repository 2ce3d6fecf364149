"""A3 projects, their countermeasures, implementation plans and PDSA cycles, with history.

Who may do what, in one place (views and services ask these questions):
- an A3 belongs to a team. The team's people (any role) read it; its leads and members edit it;
  anyone else sees nothing, unless the A3 is shared with their team or open to everyone
  signed in, when they read it;
- a template belongs to a team: its leads and members write it; a shared template may be used
  by any team;
- a closed A3 is a record: nobody edits it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from civicloop.improvement.sections import FISHBONE_CATEGORIES, default_questions
from civicloop.metrics.models import Annotation, Metric, MetricVersion
from civicloop.organizations.models import Team

if TYPE_CHECKING:
    from civicloop.accounts.models import User


def _default_categories() -> list[str]:
    return list(FISHBONE_CATEGORIES)


class A3Template(models.Model):
    """A team's own wording of the A3 questions and fishbone categories, reused by its A3s
    (and by other teams', when shared)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="a3_templates")
    name = models.CharField(max_length=120)
    questions = models.JSONField(default=default_questions)
    fishbone_categories = models.JSONField(default=_default_categories)
    is_shared = models.BooleanField(
        default=False, help_text="Other teams may start their A3s from this template."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("team__name", "name")
        constraints = [
            models.UniqueConstraint(fields=("team", "name"), name="one_template_name_per_team"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.team})"

    def can_use(self, user: User) -> bool:
        return self.is_shared or self.team.role_of(user) is not None or user.is_superuser


class State(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_PROGRESS = "in_progress", "In progress"
    CONFIRMING = "confirming", "Confirming the effect"
    CLOSED = "closed", "Closed"


class Outcome(models.TextChoices):
    ADOPTED = "adopted", "Adopted"
    ABANDONED = "abandoned", "Abandoned"


class A3QuerySet(models.QuerySet["A3"]):
    def visible_to(self, user: User) -> A3QuerySet:
        """The same rule as A3.can_view, as a query."""
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self.all()
        mine = models.Q(team__memberships__person=user) | models.Q(
            shared_with__memberships__person=user
        )
        return self.filter(models.Q(is_open=True) | mine).distinct()


class A3(models.Model):
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="a3s")
    title = models.CharField(max_length=200)
    problem = models.CharField(
        max_length=200,
        blank=True,
        help_text="The problem in a line, as the head of the fishbone: what goes wrong, "
        "where, how much.",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_a3s"
    )
    sponsor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who authorises the work and removes obstacles.",
    )
    mentor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who coaches the owner through the A3 (asks the questions).",
    )
    started_on = models.DateField(default=timezone.localdate)
    review_on = models.DateField(
        null=True, blank=True, help_text="When the team next reviews this A3."
    )
    state = models.CharField(max_length=12, choices=State.choices, default=State.DRAFT)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    closed_on = models.DateField(null=True, blank=True)
    template = models.ForeignKey(A3Template, on_delete=models.SET_NULL, null=True, blank=True)
    # Copied from the template when the A3 starts, so a later change to the template does not
    # rewrite the questions an A3 was written against.
    questions = models.JSONField(default=default_questions)
    fishbone_categories = models.JSONField(default=_default_categories)

    background = models.TextField(blank=True)
    current_condition = models.TextField(blank=True)
    current_as_of = models.DateField(
        null=True,
        blank=True,
        help_text="Draw the current condition's charts with the data up to this date; empty "
        "for the latest data.",
    )
    goal = models.TextField(blank=True)
    goal_metric = models.ForeignKey(
        Metric, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The goal's series: one breakdown value of the metric (a pilot's district), or the total.
    goal_breakdown = models.CharField(max_length=100, blank=True)
    goal_value = models.CharField(max_length=200, blank=True)
    goal_target = models.FloatField(null=True, blank=True)
    goal_by = models.DateField(null=True, blank=True)
    goal_key_result = models.ForeignKey(
        "okrs.KeyResult", on_delete=models.SET_NULL, null=True, blank=True, related_name="a3s"
    )
    whys = models.JSONField(default=list, blank=True)  # ["why 1", "why 2", ...]
    causes = models.JSONField(default=list, blank=True)  # [{"category", "text"}]
    follow_up = models.TextField(blank=True)

    is_open = models.BooleanField(
        default=False, help_text="Everyone signed in may read it (the team still edits it)."
    )
    shared_with = models.ManyToManyField(
        Team,
        blank=True,
        related_name="a3s_shared",
        help_text="Other teams whose people may read this A3.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = A3QuerySet.as_manager()

    class Meta:
        ordering = ("-updated_at", "-pk")
        verbose_name = "A3"
        verbose_name_plural = "A3s"

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("improvement:a3_detail", kwargs={"pk": self.pk})

    def can_view(self, user: User) -> bool:
        if not user.is_authenticated:
            return False
        if user.is_superuser or self.is_open or self.team.role_of(user) is not None:
            return True
        return self.shared_with.filter(memberships__person=user).exists()

    def can_change(self, user: User) -> bool:
        return self.team.can_edit(user)

    @property
    def is_closed(self) -> bool:
        return self.state == State.CLOSED

    @property
    def state_text(self) -> str:
        if self.state == State.CLOSED and self.outcome:
            return f"Closed: {Outcome(self.outcome).label.lower()}"
        return State(self.state).label

    def question(self, key: str) -> str:
        return str(self.questions.get(key) or default_questions()[key])


class A3Metric(models.Model):
    """A metric whose chart the current condition shows (one breakdown value, or the total)."""

    a3 = models.ForeignKey(A3, on_delete=models.CASCADE, related_name="metric_links")
    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="a3_links")
    breakdown = models.CharField(max_length=100, blank=True)
    value = models.CharField(max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ("position", "pk")
        constraints = [
            models.UniqueConstraint(
                fields=("a3", "metric", "breakdown", "value"), name="one_link_per_series"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.a3}: {self.metric} {self.value}".strip()

    @property
    def series_label(self) -> str:
        from civicloop.improvement.services import series_label

        return series_label(self.breakdown, self.value)


class VoiceKind(models.TextChoices):
    QUOTE = "quote", "Quote"
    SURVEY = "survey", "Survey result"
    COMPLAINT = "complaint", "Complaint"


class VoiceSection(models.TextChoices):
    CURRENT = "current_condition", "Current condition"
    FOLLOW_UP = "follow_up", "Follow-up"


class CustomerVoice(models.Model):
    """What residents and service users said: a quote, a survey result or a complaint."""

    a3 = models.ForeignKey(A3, on_delete=models.CASCADE, related_name="voices")
    section = models.CharField(max_length=20, choices=VoiceSection.choices)
    kind = models.CharField(max_length=10, choices=VoiceKind.choices, default=VoiceKind.QUOTE)
    text = models.TextField()
    source = models.CharField(
        max_length=200, blank=True, help_text="Who said it or where it comes from."
    )
    on = models.DateField(null=True, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ("section", "on", "pk")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.text[:40]}"


class CountermeasureStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    TESTING = "testing", "Being tested"
    ADOPTED = "adopted", "Adopted"
    ABANDONED = "abandoned", "Abandoned"


class Countermeasure(models.Model):
    a3 = models.ForeignKey(A3, on_delete=models.CASCADE, related_name="countermeasures")
    position = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    cause = models.CharField(
        max_length=300, blank=True, help_text="The root cause this countermeasure addresses."
    )
    status = models.CharField(
        max_length=10, choices=CountermeasureStatus.choices, default=CountermeasureStatus.PROPOSED
    )

    class Meta:
        ordering = ("position", "pk")

    def __str__(self) -> str:
        return self.title


class PlanAction(models.Model):
    """One step of the implementation plan: who does what, by when."""

    a3 = models.ForeignKey(A3, on_delete=models.CASCADE, related_name="actions")
    countermeasure = models.ForeignKey(
        Countermeasure, on_delete=models.SET_NULL, null=True, blank=True, related_name="actions"
    )
    what = models.CharField(max_length=300)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField()
    done_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ("due_on", "pk")

    def __str__(self) -> str:
        return self.what

    def is_overdue(self, today: Any) -> bool:
        return self.done_on is None and self.due_on < today


class PredictedDirection(models.TextChoices):
    DECREASE = "decrease", "Go down"
    INCREASE = "increase", "Go up"


class Decision(models.TextChoices):
    ADOPT = "adopt", "Adopt"
    ADAPT = "adapt", "Adapt"
    ABANDON = "abandon", "Abandon"


class CycleStage(models.TextChoices):
    PLAN = "plan", "Plan"
    DO = "do", "Do"
    STUDY = "study", "Study"
    ACT = "act", "Act"
    DONE = "done", "Done"


class PdsaCycle(models.Model):
    """One Plan-Do-Study-Act cycle testing a countermeasure, judged on a metric's chart."""

    countermeasure = models.ForeignKey(
        Countermeasure, on_delete=models.CASCADE, related_name="cycles"
    )
    number = models.PositiveSmallIntegerField()
    previous = models.OneToOneField(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="next_cycle",
        help_text="The cycle this one follows on from (its Act step led here).",
    )
    # Plan
    change = models.TextField(help_text="What change will be tried.")
    question = models.TextField(blank=True, help_text="What this cycle should tell us.")
    who = models.CharField(max_length=300, blank=True)
    where = models.CharField(max_length=300, blank=True)
    metric = models.ForeignKey(Metric, on_delete=models.PROTECT, related_name="pdsa_cycles")
    breakdown = models.CharField(
        max_length=100, blank=True, help_text="Limit the test to one breakdown value (a pilot)."
    )
    value = models.CharField(max_length=200, blank=True)
    prediction = models.TextField(
        help_text="What we predict will happen, written before it starts."
    )
    predicted_direction = models.CharField(max_length=10, choices=PredictedDirection.choices)
    predicted_value = models.FloatField(
        null=True, blank=True, help_text="Where we predict the measure's mean will settle."
    )
    data_to_collect = models.TextField(blank=True)
    planned_start = models.DateField(null=True, blank=True)
    # Do
    started_on = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)
    what_happened = models.TextField(blank=True)
    annotation = models.ForeignKey(
        Annotation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Study: the product's verdict (kept as it was when studied) and what the team makes of it
    studied_at = models.DateTimeField(null=True, blank=True)
    verdict = models.JSONField(default=dict, blank=True)
    study_notes = models.TextField(blank=True)
    # Act
    decision = models.CharField(max_length=10, choices=Decision.choices, blank=True)
    act_notes = models.TextField(blank=True)
    decided_on = models.DateField(null=True, blank=True)
    rebase_pending = models.BooleanField(
        default=False,
        help_text="Adopted, but the metric's steward has still to rebase its chart.",
    )
    rebase_version = models.ForeignKey(
        MetricVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("countermeasure", "number")
        constraints = [
            models.UniqueConstraint(
                fields=("countermeasure", "number"), name="one_cycle_number_per_countermeasure"
            ),
        ]

    def __str__(self) -> str:
        return f"PDSA cycle {self.number}: {self.change[:60]}"

    def get_absolute_url(self) -> str:
        return reverse("improvement:cycle_detail", kwargs={"pk": self.pk})

    @property
    def a3(self) -> A3:
        return self.countermeasure.a3

    @property
    def stage(self) -> str:
        """The step the cycle is at: the first not yet done."""
        if self.started_on is None:
            return CycleStage.PLAN
        if self.ended_on is None:
            return CycleStage.DO
        if self.studied_at is None:
            return CycleStage.STUDY
        if not self.decision:
            return CycleStage.ACT
        return CycleStage.DONE

    @property
    def scope_label(self) -> str:
        from civicloop.improvement.services import series_label

        return series_label(self.breakdown, self.value) if self.breakdown else "everywhere"


class A3Event(models.Model):
    """One entry in an A3's history: who did what, what it was before and after, and why."""

    a3 = models.ForeignKey(A3, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    who = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=40)
    subject = models.CharField(max_length=300)
    # The metric the entry speaks of (a chart, a verdict, a rebase): people who may not see it
    # get the entry without its name and numbers.
    metric = models.ForeignKey(
        Metric, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changes = models.JSONField(default=list, blank=True)  # [{"field", "before", "after"}]
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ("-at", "-pk")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d} {self.action}: {self.subject}"
