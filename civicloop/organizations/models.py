"""Organizations, teams and memberships, and who may see or change them.

The rules live here, in one place, so that views, the API and later apps ask the same questions:
- a team is seen only by its members (any role) and superusers; to anyone else it does not exist;
- leads and members change a team's description; only leads change who is in it;
- viewers and guests read; guests are people from partner organizations invited to one team;
- the organization directory is seen by everyone signed in; an organization's profile is changed
  by its own administrators.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.urls import reverse

if TYPE_CHECKING:
    from civicloop.accounts.models import User


class OrganizationKind(models.TextChoices):
    DEPARTMENT = "department", "City department"
    NONPROFIT = "nonprofit", "Non-profit"
    SCHOOL = "school", "School or school district"
    BUSINESS = "business", "Business or business association"
    AGENCY = "agency", "Other public agency"


class Role(models.TextChoices):
    LEAD = "lead", "Lead"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"
    GUEST = "guest", "Guest"

    @property
    def can_edit(self) -> bool:
        return self in (Role.LEAD, Role.MEMBER)

    @property
    def can_manage_members(self) -> bool:
        return self is Role.LEAD


class TeamKind(models.TextChoices):
    IMPACT = "impact", "Impact team"
    SERVICE = "service", "Service team"
    COALITION = "coalition", "Coalition"


class Organization(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=20, choices=OrganizationKind.choices)
    description = models.TextField(blank=True)
    website = models.URLField(blank=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("organizations:organization_detail", kwargs={"slug": self.slug})

    @property
    def is_partner(self) -> bool:
        return self.kind != OrganizationKind.DEPARTMENT

    def can_edit(self, user: User) -> bool:
        if user.is_superuser:
            return True
        return bool(user.is_org_admin and user.organization_id == self.pk)


class TeamQuerySet(models.QuerySet["Team"]):
    def visible_to(self, user: User) -> TeamQuerySet:
        """The teams this person may know exist."""
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self.all()
        return self.filter(memberships__person=user).distinct()


class Team(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=20, choices=TeamKind.choices, default=TeamKind.IMPACT)
    purpose = models.TextField(help_text="What this team exists to improve, in a sentence or two.")
    customer_voice = models.TextField(
        blank=True,
        help_text="Who the team serves and what they have told us, in their words.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("organizations:team_detail", kwargs={"slug": self.slug})

    def role_of(self, user: User) -> Role | None:
        if not user.is_authenticated:
            return None
        # values_list: a related manager's instance would fetch its deferred team_id again.
        role = self.memberships.filter(person=user).values_list("role", flat=True).first()
        return Role(role) if role is not None else None

    def can_edit(self, user: User) -> bool:
        role = self.role_of(user)
        return user.is_superuser or (role is not None and role.can_edit)

    def can_manage_members(self, user: User) -> bool:
        role = self.role_of(user)
        return user.is_superuser or (role is not None and role.can_manage_members)


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    joined_on = models.DateField(auto_now_add=True)

    class Meta:
        ordering = ("team", "person")
        constraints = [
            models.UniqueConstraint(fields=("team", "person"), name="one_membership_per_team"),
        ]

    def __str__(self) -> str:
        return f"{self.person} — {self.get_role_display()} of {self.team}"
