"""The personas every permission test uses, importable by any app's tests.

One team (Team Clean) run by a department, with a partner's guest, and an outsider from a third
organization who is in no team. Every view is tested against each of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from civicloop.accounts.models import User
from civicloop.organizations.models import (
    Membership,
    Organization,
    OrganizationKind,
    Role,
    Team,
)

PERSONA_PASSWORD = "correct horse battery staple 42"

# Persona name -> what they may do with the team. Views assert against this table.
TEAM_PERSONAS = ("lead", "editor", "viewer", "guest", "outsider", "anonymous")


@dataclass
class Personas:
    department: Organization
    partner: Organization
    other_department: Organization
    team: Team
    other_team: Team
    lead: User
    editor: User
    viewer: User
    guest: User
    outsider: User
    admin: User


def _person(email: str, name: str, org: Organization, **extra: object) -> User:
    return User.objects.create_user(
        email=email, password=None, full_name=name, organization=org, **extra
    )


def make_personas() -> Personas:
    department = Organization.objects.create(
        name="Public Works", slug="public-works", kind=OrganizationKind.DEPARTMENT
    )
    partner = Organization.objects.create(
        name="Downtown Business Association",
        slug="downtown-business",
        kind=OrganizationKind.BUSINESS,
    )
    other = Organization.objects.create(
        name="Police", slug="police", kind=OrganizationKind.DEPARTMENT
    )
    team = Team.objects.create(name="Team Clean", slug="team-clean", purpose="Cleaner streets.")
    other_team = Team.objects.create(name="Team Safe", slug="team-safe", purpose="Fewer shootings.")
    lead = _person("lead@example.org", "Lena Lead", department, is_org_admin=True)
    editor = _person("editor@example.org", "Eddie Editor", department)
    viewer = _person("viewer@example.org", "Vera Viewer", department)
    guest = _person("guest@example.org", "Gus Guest", partner)
    outsider = _person("outsider@example.org", "Olu Outsider", other)
    admin = User.objects.create_superuser(
        email="admin@example.org", password=None, full_name="Ada Admin", organization=department
    )
    for person, role in (
        (lead, Role.LEAD),
        (editor, Role.MEMBER),
        (viewer, Role.VIEWER),
        (guest, Role.GUEST),
    ):
        Membership.objects.create(team=team, person=person, role=role)
    Membership.objects.create(team=other_team, person=outsider, role=Role.LEAD)
    return Personas(
        department, partner, other, team, other_team, lead, editor, viewer, guest, outsider, admin
    )
