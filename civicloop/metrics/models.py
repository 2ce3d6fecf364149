"""Metrics, their immutable versions, partners' agreement to a version, and computed series.

A metric's meaning lives in its versions: each saved change is a new `MetricVersion` holding
the whole canonical definition, with who changed it, when and why. The `Metric` row keeps the
few fields the app needs to query (team, dataset, steward, public), copied from the current
version when it is saved. Series always point at the version that produced them and the
dataset versions they read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from civicloop.datasets.models import Dataset, DatasetVersion, Sensitivity
from civicloop.organizations.models import Organization, OrganizationKind, Role, Team

if TYPE_CHECKING:
    from civicloop.accounts.models import User
    from civicloop.metrics.definition import MetricDefinition


class MetricQuerySet(models.QuerySet["Metric"]):
    def visible_to(self, user: User) -> MetricQuerySet:
        """The same rule as Metric.can_view, as a query."""
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self.all()
        team_and_data = models.Q(team__memberships__person=user) & models.Q(
            dataset__in=Dataset.objects.visible_to(user)
        )
        return self.filter(models.Q(is_public=True) | team_and_data).distinct()


class Metric(models.Model):
    slug = models.CharField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="metrics")
    owner = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="metrics")
    steward = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="stewarded_metrics",
        help_text="The person who answers for this definition; only they may change it.",
    )
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="metrics")
    population_dataset = models.ForeignKey(
        Dataset, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    is_public = models.BooleanField(default=False)
    current_version = models.ForeignKey(
        "MetricVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MetricQuerySet.as_manager()

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("metrics:metric_detail", kwargs={"slug": self.slug})

    def definition(self) -> MetricDefinition:
        assert self.current_version is not None
        return self.current_version.parsed()

    # --- permissions ---------------------------------------------------------------------

    def can_view(self, user: User) -> bool:
        if not user.is_authenticated:
            return False
        if user.is_superuser or self.is_public:
            return True
        return self.team.role_of(user) is not None and self.dataset.can_view(user)

    def can_change(self, user: User) -> bool:
        """Changing a definition needs the steward's role (or the owner's administrator)."""
        if not user.is_authenticated:
            return False
        return bool(
            user.is_superuser
            or self.steward_id == user.pk
            or (user.is_org_admin and user.organization_id == self.owner_id)
        )

    def can_annotate(self, user: User) -> bool:
        """Adding an event to the chart (a pilot started, a system changed): the team's leads
        and members, and whoever may change the definition."""
        if not self.can_view(user):
            return False
        role = self.team.role_of(user)
        return self.can_change(user) or role in (Role.LEAD, Role.MEMBER)

    def agreeing_organization(self, user: User) -> Organization | None:
        """The partner this person may agree for: their own organization, if it is on the team
        and they are on the team in a role that speaks for it (not a read-only viewer)."""
        if not user.is_authenticated or user.organization is None:
            return None
        role = self.team.role_of(user)
        if role is None or role is Role.VIEWER:
            return None
        return user.organization

    def partners(self) -> list[Organization]:
        """The organizations on the metric's team that can speak for themselves: each is asked
        to agree. An organization whose people on the team are all viewers is not asked."""
        ids = self.team.memberships.exclude(role=Role.VIEWER).values_list(
            "person__organization", flat=True
        )
        return list(Organization.objects.filter(pk__in=ids).order_by("name"))


def organization_may_use(dataset: Dataset, org: Organization) -> bool:
    """Whether people of this organization may see this dataset (Dataset.can_view's rule)."""
    if org.pk == dataset.owner_id or dataset.sensitivity == Sensitivity.PUBLIC:
        return True
    if dataset.sensitivity == Sensitivity.INTERNAL and org.kind == OrganizationKind.DEPARTMENT:
        return True
    return dataset.agreement_allows(org)


class MetricVersion(models.Model):
    """One saved definition. Never edited: a change is a new version."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("metric", "-number")
        constraints = [
            models.UniqueConstraint(fields=("metric", "number"), name="one_number_per_metric"),
        ]

    def __str__(self) -> str:
        return f"{self.metric} version {self.number}"

    def parsed(self) -> MetricDefinition:
        from civicloop.metrics.definition import parse_definition

        return parse_definition(self.definition)


class SignOff(models.Model):
    """A partner organization agrees to one version of a definition."""

    version = models.ForeignKey(MetricVersion, on_delete=models.CASCADE, related_name="signoffs")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    comment = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("at",)
        constraints = [
            models.UniqueConstraint(
                fields=("version", "organization"), name="one_signoff_per_partner"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization} agreed to {self.version}"


class SeriesRun(models.Model):
    """One computation of a metric version over given dataset versions."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="runs")
    metric_version = models.ForeignKey(MetricVersion, on_delete=models.CASCADE, related_name="runs")
    dataset_version = models.ForeignKey(
        DatasetVersion, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    population_version = models.ForeignKey(
        DatasetVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    fingerprint = models.CharField(max_length=200)
    engine = models.CharField(max_length=20)
    computed_at = models.DateTimeField(default=timezone.now)
    seconds = models.FloatField(default=0)
    first_day = models.DateField(null=True)
    last_day = models.DateField(null=True)
    complete_through = models.DateField(null=True)
    rows = models.BigIntegerField(default=0)
    warnings = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ("-computed_at", "-pk")

    def __str__(self) -> str:
        return f"{self.metric_version} computed {self.computed_at:%Y-%m-%d %H:%M}"


class Series(models.Model):
    """A metric's values per period: the total (breakdown "") or one breakdown value's."""

    run = models.ForeignKey(SeriesRun, on_delete=models.CASCADE, related_name="series")
    breakdown = models.CharField(max_length=100, blank=True)
    value = models.CharField(max_length=200, blank=True)
    periods = models.JSONField(default=list)  # ISO dates of period starts
    values = models.JSONField(default=list)  # float or null per period
    numerators = models.JSONField(default=list, blank=True)
    denominators = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ("run", "breakdown", "value")
        constraints = [
            models.UniqueConstraint(
                fields=("run", "breakdown", "value"), name="one_series_per_value"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.run.metric}: {self.breakdown or 'total'} {self.value}".strip()

    def points(self) -> list[dict[str, Any]]:
        rows = []
        for index, period in enumerate(self.periods):
            rows.append(
                {
                    "period": period,
                    "value": self.values[index],
                    "numerator": self.numerators[index] if self.numerators else None,
                    "denominator": self.denominators[index] if self.denominators else None,
                }
            )
        return rows


class Annotation(models.Model):
    """An event marked on a metric's chart, so the chart tells the story of what changed."""

    metric = models.ForeignKey(Metric, on_delete=models.CASCADE, related_name="annotations")
    on = models.DateField(help_text="The day the event happened.")
    text = models.CharField(max_length=200)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("on", "pk")

    def __str__(self) -> str:
        return f"{self.metric}: {self.on} {self.text}"

    def can_delete(self, user: User) -> bool:
        if self.is_pdsa_change():
            return False  # the record of a tested change: its A3 keeps the story
        return bool(
            user.is_authenticated
            and (user.pk == self.author_id or self.metric.can_change(user) or user.is_superuser)
        )

    def is_pdsa_change(self) -> bool:
        """Whether a PDSA cycle put this event on the chart (the day its change went live)."""
        from civicloop.improvement.models import PdsaCycle

        return PdsaCycle.objects.filter(annotation=self).exists()
