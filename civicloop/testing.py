"""The personas every permission test uses, importable by any app's tests.

One team (Team Clean) run by a department, with a partner's guest, and an outsider from a third
organization who is in no team. Every view is tested against each of them.

Two datasets go with them: the department's restricted litter reports (steward: the lead),
shared by agreement with the partner, and the other department's internal calls for service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.utils import timezone

from civicloop.accounts.models import User
from civicloop.datasets.models import Dataset, IngestRun, Sensitivity
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
    # The department's restricted dataset, shared with the partner; the other department's
    # internal one. Created by make_personas, with a schema but no data loaded.
    restricted_dataset: Dataset
    internal_dataset: Dataset


LITTER_SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "report_id", "type": "integer", "constraints": {"required": True}},
        {"name": "reported_on", "type": "date", "format": "%Y-%m-%d"},
        {"name": "district", "type": "string", "constraints": {"enum": ["North", "South"]}},
        {"name": "bags", "type": "integer", "constraints": {"minimum": 0}},
    ],
    "primaryKey": ["report_id"],
    "missingValues": [""],
}
LITTER_CSV = (
    "report_id,reported_on,district,bags\n"
    "1,2026-01-05,North,3\n"
    "2,2026-01-06,South,4\n"
    "3,2026-01-07,North,1\n"
)
CALLS_SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "call_id", "type": "integer", "constraints": {"required": True}},
        {"name": "received_at", "type": "datetime"},
        {"name": "category", "type": "string"},
    ],
    "primaryKey": ["call_id"],
}


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
    restricted, internal = _make_datasets(department, partner, other, lead)
    return Personas(
        department,
        partner,
        other,
        team,
        other_team,
        lead,
        editor,
        viewer,
        guest,
        outsider,
        admin,
        restricted_dataset=restricted,
        internal_dataset=internal,
    )


def _make_datasets(
    department: Organization, partner: Organization, other: Organization, lead: User
) -> tuple[Dataset, Dataset]:
    from civicloop.datasets import services
    from civicloop.datasets.engine.schema import schema_from_descriptor

    restricted = services.create_dataset(
        slug="litter_reports",
        name="Litter reports",
        description="Reports of litter and illegal dumping, with the bags collected.",
        owner=department,
        steward=lead,
        actor=lead,
        schema=schema_from_descriptor(LITTER_SCHEMA),
        schema_confirmed=True,
        sensitivity=Sensitivity.RESTRICTED,
        update_frequency="weekly",
    )
    services.set_agreement(
        restricted,
        [partner],
        "Cleanliness reporting for the downtown business improvement district.",
        timezone.localdate() + timedelta(days=365),
        lead,
    )
    internal = services.create_dataset(
        slug="calls_for_service",
        name="Calls for service",
        owner=other,
        schema=schema_from_descriptor(CALLS_SCHEMA),
        schema_confirmed=True,
        sensitivity=Sensitivity.INTERNAL,
        update_frequency="daily",
    )
    return restricted, internal


def load_csv(
    dataset: Dataset,
    text: str,
    folder: Path,
    *,
    name: str = "upload.csv",
    user: User | None = None,
    **options: Any,
) -> IngestRun:
    """Load CSV text into a dataset now, in this thread, as the worker would."""
    from civicloop.datasets import services
    from civicloop.warehouse import Warehouse

    source = folder / name
    source.write_text(text, encoding="utf-8")
    run = services.queue_load(dataset, source, name, user, **options)
    run = services.run_load_now(run, Warehouse.default())
    dataset.refresh_from_db()
    return run
