"""Plain-data views of organizations and teams: one source for pages, JSON and CSV twins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from civicloop.organizations.models import Membership, Organization, Role, Team

if TYPE_CHECKING:
    from civicloop.accounts.models import User


def person_data(person: User) -> dict[str, Any]:
    return {
        "name": person.full_name,
        "email": person.email,
        "job_title": person.job_title,
        "organization": person.organization.name if person.organization else None,
    }


def team_summary(team: Team, role: str | None) -> dict[str, Any]:
    return {
        "name": team.name,
        "slug": team.slug,
        "kind": team.get_kind_display(),
        "purpose": team.purpose,
        "my_role": Role(role).label if role else None,
        "url": team.get_absolute_url(),
    }


def my_teams_data(user: User) -> dict[str, Any]:
    memberships = (
        Membership.objects.filter(person=user).select_related("team").order_by("team__name")
    )
    teams = [team_summary(m.team, m.role) for m in memberships]
    if user.is_superuser:
        # Administrators also see teams they are not in, so they can help any of them.
        member_of = {m.team_id for m in memberships}
        teams += [team_summary(t, None) for t in Team.objects.exclude(pk__in=member_of)]
    return {"teams": teams}


def team_members(team: Team) -> list[Membership]:
    """Members grouped by organization, leads first within each organization."""
    role_order = {role.value: index for index, role in enumerate(Role)}
    memberships = list(
        team.memberships.select_related("person", "person__organization").order_by(
            "person__organization__name", "person__full_name"
        )
    )
    memberships.sort(
        key=lambda m: (
            m.person.organization.name if m.person.organization else "",
            role_order[m.role],
            m.person.full_name,
        )
    )
    return memberships


def team_metrics(team: Team, viewer: User) -> list[dict[str, Any]]:
    """The team's shared measures this person may see, for the team page: each with its latest
    value and SPC icons, those that need attention (special cause of concern, failing
    assurance) first."""
    from civicloop.metrics.api import metric_rows
    from civicloop.metrics.models import Metric

    metrics = (
        Metric.objects.visible_to(viewer)
        .filter(team=team)
        .exclude(current_version=None)
        .select_related("team", "owner", "dataset", "current_version")
        .order_by("name")
    )
    rows = metric_rows(list(metrics), viewer)

    def attention(row: dict[str, Any]) -> int:
        if row["variation"] == "special_cause_concern":
            return 0
        return 1 if row["assurance"] == "consistent_fail" else 2

    return sorted(rows, key=attention)


def team_detail_data(
    team: Team, memberships: list[Membership], viewer: User | None = None
) -> dict[str, Any]:
    by_org: dict[str, list[dict[str, Any]]] = {}
    for membership in memberships:
        org = membership.person.organization
        entry = {**person_data(membership.person), "role": membership.get_role_display()}
        by_org.setdefault(org.name if org else "No organization", []).append(entry)
    return {
        "team": {
            "name": team.name,
            "slug": team.slug,
            "kind": team.get_kind_display(),
            "purpose": team.purpose,
            "customer_voice": team.customer_voice,
        },
        "organizations": [
            {"organization": name, "members": members} for name, members in by_org.items()
        ],
        "member_count": len(memberships),
        "metrics": team_metrics(team, viewer) if viewer is not None else [],
    }


def organization_summary(org: Organization) -> dict[str, Any]:
    return {
        "name": org.name,
        "slug": org.slug,
        "kind": org.get_kind_display(),
        "partner": org.is_partner,
        "url": org.get_absolute_url(),
    }


def organization_detail_data(org: Organization, viewer: User) -> dict[str, Any]:
    people = list(org.people.filter(is_active=True).order_by("full_name"))
    # Teams are listed only where the viewer may see them: a team's existence is its members'.
    teams = (
        Team.objects.visible_to(viewer)
        .filter(memberships__person__organization=org)
        .distinct()
        .order_by("name")
    )
    return {
        "organization": {
            **organization_summary(org),
            "description": org.description,
            "website": org.website,
        },
        "people": [person_data(p) for p in people],
        "teams": [{"name": t.name, "url": t.get_absolute_url()} for t in teams],
    }
