"""Datasets, who may use them, their versions, and every load and rollback.

The app database is the source of truth for which version of a dataset is current; the
warehouse holds one immutable table per version (`ds_<dataset id>_v<number>`), plus a view named
after the dataset's slug that follows the current version, for analysts.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from civicloop.organizations.models import Organization, OrganizationKind

if TYPE_CHECKING:
    from civicloop.accounts.models import User
    from civicloop.datasets.engine.schema import TableSchema


class Sensitivity(models.TextChoices):
    PUBLIC = "public", "Public: anyone signed in, and later the public site"
    INTERNAL = "internal", "Internal: city departments and organizations in the agreement"
    RESTRICTED = "restricted", "Restricted: the owner and organizations in the agreement"


class Frequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    ANNUALLY = "annually", "Annually"
    AD_HOC = "ad_hoc", "When needed"

    @property
    def interval(self) -> timedelta | None:
        """How long after a load the data counts as stale (a little grace included)."""
        days = {"daily": 1, "weekly": 7, "monthly": 31, "quarterly": 92, "annually": 366}
        return timedelta(days=days[self.value] + 1) if self.value in days else None


class SourceKind(models.TextChoices):
    UPLOAD = "upload", "File upload"
    CSV_URL = "csv_url", "CSV at a web address"
    SOCRATA = "socrata", "Socrata open data portal"
    CKAN = "ckan", "CKAN open data portal"
    ARCGIS = "arcgis", "ArcGIS FeatureServer layer"
    SQL = "sql", "SQL database query"


class LoadMode(models.TextChoices):
    REPLACE = "replace", "Replace all rows"
    APPEND = "append", "Append rows"
    UPSERT = "upsert", "Update or insert by primary key"


class BadRowPolicy(models.TextChoices):
    REJECT = "reject", "Refuse the whole load if any row has a problem"
    QUARANTINE = "quarantine", "Load the good rows; set bad rows aside to download"


slug_validator = RegexValidator(
    r"^[a-z][a-z0-9_]{0,50}$",
    "Use lower-case letters, digits and underscores, starting with a letter (e.g. "
    "service_requests). It names the dataset's table in the warehouse.",
)


class DatasetQuerySet(models.QuerySet["Dataset"]):
    def visible_to(self, user: User) -> DatasetQuerySet:
        """Datasets this person may see; the same rule as Dataset.can_view, as a query."""
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self.all()
        org = user.organization_id
        today = timezone.localdate()
        in_agreement = models.Q(agreement__organizations=org) & (
            models.Q(agreement__valid_until__isnull=True)
            | models.Q(agreement__valid_until__gte=today)
        )
        mine = models.Q(owner=org) | models.Q(steward=user)
        department = bool(user.organization and not user.organization.is_partner)
        internal = models.Q(sensitivity=Sensitivity.INTERNAL) & (
            models.Q(pk__isnull=False) if department else in_agreement
        )
        return self.filter(
            models.Q(sensitivity=Sensitivity.PUBLIC)
            | internal
            | (models.Q(sensitivity=Sensitivity.RESTRICTED) & in_agreement)
            | mine
        ).distinct()


class Dataset(models.Model):
    slug = models.CharField(max_length=51, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="datasets")
    steward = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="stewarded_datasets",
        help_text="The person who answers for this data: its definition, quality and loads.",
    )
    sensitivity = models.CharField(
        max_length=12, choices=Sensitivity.choices, default=Sensitivity.INTERNAL
    )
    schema = models.JSONField(
        default=dict, blank=True, help_text="Table Schema descriptor (fields, primaryKey …)."
    )
    schema_confirmed = models.BooleanField(
        default=False, help_text="A person has checked the inferred schema."
    )
    time_column = models.CharField(max_length=100, blank=True)
    update_frequency = models.CharField(
        max_length=12, choices=Frequency.choices, default=Frequency.MONTHLY
    )
    load_mode = models.CharField(max_length=10, choices=LoadMode.choices, default=LoadMode.REPLACE)
    bad_rows = models.CharField(
        max_length=12, choices=BadRowPolicy.choices, default=BadRowPolicy.REJECT
    )
    source_kind = models.CharField(
        max_length=10, choices=SourceKind.choices, default=SourceKind.UPLOAD
    )
    source_options = models.JSONField(default=dict, blank=True)
    refresh_at = models.TimeField(
        null=True, blank=True, help_text="Daily time for a scheduled refresh from the source."
    )
    current_version = models.ForeignKey(
        "DatasetVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DatasetQuerySet.as_manager()

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("datasets:dataset_detail", kwargs={"slug": self.slug})

    def table_schema(self) -> TableSchema:
        from civicloop.datasets.engine.schema import schema_from_descriptor

        return schema_from_descriptor(self.schema)

    # --- permissions -------------------------------------------------------------------

    def agreement_allows(self, org: Organization | None, on: date | None = None) -> bool:
        agreement = getattr(self, "agreement", None)
        if agreement is None or org is None:
            return False
        return agreement.covers(org, on or timezone.localdate())

    def can_view(self, user: User) -> bool:
        if not user.is_authenticated:
            return False
        if user.is_superuser or self.steward_id == user.pk:
            return True
        org = user.organization
        if org is not None and org.pk == self.owner_id:
            return True
        if self.sensitivity == Sensitivity.PUBLIC:
            return True
        if (
            self.sensitivity == Sensitivity.INTERNAL
            and org is not None
            and (org.kind == OrganizationKind.DEPARTMENT)
        ):
            return True
        return self.agreement_allows(org)

    def can_manage(self, user: User) -> bool:
        """Load data, roll back, edit the schema and the agreement."""
        if not user.is_authenticated:
            return False
        return bool(
            user.is_superuser
            or self.steward_id == user.pk
            or (user.is_org_admin and user.organization_id == self.owner_id)
        )

    # --- freshness ---------------------------------------------------------------------

    @property
    def last_loaded_at(self) -> Any:
        return self.current_version.created_at if self.current_version else None

    @property
    def is_stale(self) -> bool:
        interval = Frequency(self.update_frequency).interval
        if interval is None:
            return False
        if self.current_version is None:
            return True
        return timezone.now() - self.current_version.created_at > interval

    @property
    def freshness(self) -> str:
        if self.current_version is None:
            return "No data loaded yet"
        age = timezone.now() - self.current_version.created_at
        days = age.days
        when = "today" if days == 0 else "yesterday" if days == 1 else f"{days} days ago"
        label = Frequency(self.update_frequency).label.lower()
        if self.is_stale:
            return f"Stale: last loaded {when}, expected {label}"
        return f"Fresh: loaded {when} ({label})"


class DataSharingAgreement(models.Model):
    dataset = models.OneToOneField(Dataset, on_delete=models.CASCADE, related_name="agreement")
    organizations = models.ManyToManyField(
        Organization,
        blank=True,
        related_name="shared_datasets",
        help_text="Organizations, besides the owner, that may use this data.",
    )
    purpose = models.TextField(help_text="What the data may be used for.")
    valid_until = models.DateField(
        null=True, blank=True, help_text="After this date only the owner may use the data."
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    def __str__(self) -> str:
        return f"Agreement for {self.dataset}"

    def covers(self, org: Organization, on: date) -> bool:
        if self.valid_until is not None and on > self.valid_until:
            return False
        return self.organizations.filter(pk=org.pk).exists()

    @property
    def expired(self) -> bool:
        return self.valid_until is not None and timezone.localdate() > self.valid_until


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Waiting to start"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Loaded"
    REFUSED = "refused", "Refused: the data has problems"
    FAILED = "failed", "Failed"
    INTERRUPTED = "interrupted", "Interrupted"

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)


class IngestRun(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    source_name = models.CharField(max_length=300)
    source_path = models.CharField(max_length=500, help_text="The archived raw file.")
    source_sha256 = models.CharField(max_length=64, blank=True)
    source_size = models.BigIntegerField(default=0)
    options = models.JSONField(default=dict, blank=True)
    phase = models.CharField(max_length=20, blank=True)
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(default=0)
    summary = models.TextField(blank=True)
    problems = models.JSONField(default=list, blank=True)
    hints = models.JSONField(default=list, blank=True)
    problem_count = models.BigIntegerField(default=0)
    bad_rows = models.BigIntegerField(default=0)
    rows_in_file = models.BigIntegerField(default=0)
    report_path = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"Load of {self.source_name} into {self.dataset} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("datasets:run_detail", kwargs={"slug": self.dataset.slug, "pk": self.pk})

    @property
    def percent(self) -> int:
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_done / self.progress_total))


class DatasetVersion(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    table_name = models.CharField(max_length=63, unique=True)
    quarantine_table = models.CharField(max_length=63, blank=True)
    run = models.OneToOneField(
        IngestRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="version"
    )
    mode = models.CharField(max_length=10, choices=LoadMode.choices)
    schema = models.JSONField(default=dict)
    row_count = models.BigIntegerField()
    rows_quarantined = models.BigIntegerField(default=0)
    data_as_of = models.DateField(
        null=True,
        blank=True,
        help_text="The last day this data is complete for (e.g. the day an extract was taken). "
        "Metrics count a period only once the data covers all of it.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ("dataset", "-number")
        constraints = [
            models.UniqueConstraint(fields=("dataset", "number"), name="one_number_per_version"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset} version {self.number}"


class EventKind(models.TextChoices):
    CREATED = "created", "Dataset created"
    LOADED = "loaded", "New version loaded"
    ROLLED_BACK = "rolled_back", "Rolled back"
    SCHEMA_CHANGED = "schema_changed", "Schema changed"
    AGREEMENT_CHANGED = "agreement_changed", "Agreement changed"


class DatasetEvent(models.Model):
    """The dataset's history: who did what, when and why. Never edited."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    at = models.DateTimeField(default=timezone.now)
    version = models.ForeignKey(
        DatasetVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ("-at", "-pk")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.dataset}"
