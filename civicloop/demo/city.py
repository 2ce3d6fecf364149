"""The demo city of Alderport: its organizations, people and teams.

Everything is keyed on natural keys (slugs, emails) and written with update_or_create, so
running `civicloop demo` again updates the city in place and never duplicates anyone.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from civicloop.accounts.models import User
from civicloop.organizations.models import (
    Membership,
    Organization,
    OrganizationKind,
    Role,
    Team,
    TeamKind,
)

CITY_NAME = "Alderport"
EMAIL_DOMAIN = "alderport.example"  # .example is reserved: these addresses can never be real

ORGANIZATIONS: tuple[tuple[str, str, OrganizationKind, str], ...] = (
    (
        "city-administrator",
        "City Administrator's Office",
        OrganizationKind.DEPARTMENT,
        "Runs the city's performance programme and facilitates the impact teams.",
    ),
    (
        "public-works",
        "Public Works",
        OrganizationKind.DEPARTMENT,
        "Keeps streets clean and safe: illegal dumping, potholes, streetlights, trees.",
    ),
    (
        "economic-workforce",
        "Economic & Workforce Development",
        OrganizationKind.DEPARTMENT,
        "Business support, commercial corridors and job training.",
    ),
    ("police", "Police", OrganizationKind.DEPARTMENT, "Alderport Police Department."),
    (
        "human-services",
        "Human Services",
        OrganizationKind.DEPARTMENT,
        "Outreach, shelter and support for residents who are unhoused.",
    ),
    (
        "housing",
        "Housing & Community Development",
        OrganizationKind.DEPARTMENT,
        "Affordable housing, rapid rehousing and permanent supportive housing.",
    ),
    (
        "customer-services",
        "Customer Services",
        OrganizationKind.DEPARTMENT,
        "Runs the 311 contact centre, app and web service requests.",
    ),
    (
        "eastbay-neighbors",
        "Eastbay Neighbors Alliance",
        OrganizationKind.NONPROFIT,
        "A community non-profit doing violence interruption and tenant support.",
    ),
    (
        "alderport-unified",
        "Alderport Unified School District",
        OrganizationKind.SCHOOL,
        "The city's public school district.",
    ),
    (
        "downtown-business",
        "Downtown Alderport Business Association",
        OrganizationKind.BUSINESS,
        "Represents businesses on the downtown and waterfront corridors.",
    ),
)


@dataclass(frozen=True)
class DemoPerson:
    key: str  # the part before @ in the email
    name: str
    title: str
    org: str
    org_admin: bool = False


PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson(
        "amara.okafor",
        "Amara Okafor",
        "Performance & Impact Team Facilitator",
        "city-administrator",
        org_admin=True,
    ),
    DemoPerson("daniel.reyes", "Daniel Reyes", "Senior Performance Analyst", "city-administrator"),
    DemoPerson(
        "grace.lin", "Grace Lin", "Deputy Director, Streets", "public-works", org_admin=True
    ),
    DemoPerson("marcus.bell", "Marcus Bell", "Illegal Dumping Crew Supervisor", "public-works"),
    DemoPerson(
        "sofia.alvarez", "Sofia Alvarez", "Keep Alderport Clean Coordinator", "public-works"
    ),
    DemoPerson("tom.becker", "Tom Becker", "Corridor Manager", "economic-workforce"),
    DemoPerson("nia.carter", "Nia Carter", "Workforce Programs Lead", "economic-workforce"),
    DemoPerson("james.oconnor", "James O'Connor", "Captain, Ceasefire Unit", "police"),
    DemoPerson("priya.nair", "Priya Nair", "Crime Analyst", "police"),
    DemoPerson(
        "leila.haddad",
        "Leila Haddad",
        "Encampment Response Manager",
        "human-services",
        org_admin=True,
    ),
    DemoPerson("samuel.osei", "Samuel Osei", "Outreach Team Lead", "human-services"),
    DemoPerson("hannah.kim", "Hannah Kim", "Housing Programs Director", "housing"),
    DemoPerson("luis.moreno", "Luis Moreno", "Rapid Rehousing Analyst", "housing"),
    DemoPerson(
        "olivia.grant",
        "Olivia Grant",
        "311 Contact Centre Manager",
        "customer-services",
        org_admin=True,
    ),
    DemoPerson("kwame.asante", "Kwame Asante", "Customer Insight Analyst", "customer-services"),
    DemoPerson("rosa.delgado", "Rosa Delgado", "Executive Director", "eastbay-neighbors"),
    DemoPerson("malik.johnson", "Malik Johnson", "Violence Interruption Lead", "eastbay-neighbors"),
    DemoPerson("erin.walsh", "Erin Walsh", "Director of Student Support", "alderport-unified"),
    DemoPerson("victor.chen", "Victor Chen", "Executive Director", "downtown-business"),
)

TEAMS: tuple[tuple[str, str, TeamKind, str, str], ...] = (
    (
        "team-clean",
        "Team Clean",
        TeamKind.IMPACT,
        "Fewer illegal dumping sites and less impact from encampments on neighbours, with "
        "reports cleared faster in every district.",
        'Residents in District 3 told us: "We report the same mattress three times and it is '
        'still there a week later."',
    ),
    (
        "team-housed",
        "Team Housed",
        TeamKind.IMPACT,
        "More people moved from the street and shelters into stable homes, and fewer returning "
        "to homelessness.",
        '"I had a voucher for four months and nobody would rent to me." — a shelter resident',
    ),
    (
        "team-safe",
        "Team Safe",
        TeamKind.IMPACT,
        "Fewer shootings and homicides, with the neighbourhoods most affected safer first.",
        "Parents at two District 6 schools asked for safe routes after a summer of shootings.",
    ),
    (
        "customer-services-team",
        "311 Service Team",
        TeamKind.SERVICE,
        "Every resident request answered, routed right first time and closed with an update.",
        'Survey comments most often ask: "Tell me when it is done."',
    ),
)

MEMBERSHIPS: tuple[tuple[str, str, Role], ...] = (
    # Team Clean: Public Works leads with the facilitator; several departments and a partner.
    ("team-clean", "amara.okafor", Role.LEAD),
    ("team-clean", "grace.lin", Role.LEAD),
    ("team-clean", "marcus.bell", Role.MEMBER),
    ("team-clean", "sofia.alvarez", Role.MEMBER),
    ("team-clean", "leila.haddad", Role.MEMBER),
    ("team-clean", "tom.becker", Role.MEMBER),
    ("team-clean", "olivia.grant", Role.MEMBER),
    ("team-clean", "daniel.reyes", Role.MEMBER),
    ("team-clean", "priya.nair", Role.VIEWER),
    ("team-clean", "victor.chen", Role.GUEST),
    # Team Housed
    ("team-housed", "amara.okafor", Role.LEAD),
    ("team-housed", "hannah.kim", Role.LEAD),
    ("team-housed", "luis.moreno", Role.MEMBER),
    ("team-housed", "samuel.osei", Role.MEMBER),
    ("team-housed", "leila.haddad", Role.MEMBER),
    ("team-housed", "nia.carter", Role.MEMBER),
    ("team-housed", "rosa.delgado", Role.GUEST),
    # Team Safe
    ("team-safe", "amara.okafor", Role.LEAD),
    ("team-safe", "james.oconnor", Role.LEAD),
    ("team-safe", "priya.nair", Role.MEMBER),
    ("team-safe", "samuel.osei", Role.MEMBER),
    ("team-safe", "daniel.reyes", Role.MEMBER),
    ("team-safe", "nia.carter", Role.VIEWER),
    ("team-safe", "malik.johnson", Role.GUEST),
    ("team-safe", "erin.walsh", Role.GUEST),
    # 311 service team
    ("customer-services-team", "olivia.grant", Role.LEAD),
    ("customer-services-team", "kwame.asante", Role.MEMBER),
    ("customer-services-team", "sofia.alvarez", Role.MEMBER),
    ("customer-services-team", "daniel.reyes", Role.VIEWER),
)

ADMIN_KEY = "admin"


@dataclass(frozen=True)
class DemoDataset:
    slug: str  # also the warehouse table the demo generator produces
    name: str
    owner: str
    steward: str
    sensitivity: str
    frequency: str
    description: str
    shared_with: tuple[str, ...] = ()
    purpose: str = ""


DATASETS: tuple[DemoDataset, ...] = (
    DemoDataset(
        "service_requests",
        "311 service requests",
        "customer-services",
        "olivia.grant",
        "internal",
        "daily",
        "Every request residents made to 311 by phone, app, web, email or in person, "
        "with when it was opened and closed.",
        ("downtown-business",),
        "Team Clean: cleanliness of the downtown and waterfront corridors.",
    ),
    DemoDataset(
        "refuse_collection",
        "Refuse collection misses",
        "public-works",
        "grace.lin",
        "internal",
        "weekly",
        "Scheduled and missed refuse collections per district per week.",
        ("downtown-business",),
        "Team Clean: cleanliness of the downtown and waterfront corridors.",
    ),
    DemoDataset(
        "shootings",
        "Shootings and homicides",
        "police",
        "priya.nair",
        "restricted",
        "weekly",
        "Shootings and homicides per district per week. Counts are small: publish "
        "only with suppression.",
        (
            "human-services",
            "eastbay-neighbors",
            "alderport-unified",
            "city-administrator",
            "economic-workforce",
        ),
        "Team Safe: targeting violence-interruption outreach and school safe routes.",
    ),
    DemoDataset(
        "housing",
        "Housing placements and shelter",
        "housing",
        "hannah.kim",
        "internal",
        "monthly",
        "People placed in housing and people sheltered per month, by programme.",
        ("eastbay-neighbors",),
        "Team Housed: tracking placements with partners.",
    ),
    DemoDataset(
        "satisfaction_survey",
        "Customer satisfaction survey",
        "customer-services",
        "kwame.asante",
        "internal",
        "weekly",
        "Residents' ratings (1 to 5) after a request was closed.",
        ("downtown-business",),
        "Team Clean: how residents rate clean-ups on the corridors.",
    ),
    DemoDataset(
        "district_population",
        "Population by council district",
        "city-administrator",
        "daniel.reyes",
        "public",
        "annually",
        "Residents per council district (the planning estimate): the denominator for rates "
        "per 100,000 residents.",
    ),
)

# Who to show on the console after the demo loads, and why each is interesting to sign in as.
SHOWCASE_LOGINS: tuple[tuple[str, str], ...] = (
    ("amara.okafor", "facilitator: lead of the three impact teams"),
    ("grace.lin", "lead of Team Clean (Public Works), steward of its metrics"),
    ("marcus.bell", "member of Team Clean (Public Works)"),
    ("priya.nair", "viewer of Team Clean, member of Team Safe (Police)"),
    ("victor.chen", "guest on Team Clean (business association)"),
    (ADMIN_KEY, "administrator: every team, and /admin/"),
)


def email_for(key: str) -> str:
    return f"{key}@{EMAIL_DOMAIN}"


def demo_password(data_dir: Path) -> str:
    """One random password per demo data folder, kept there so re-runs print the same one."""
    password_file = data_dir / "demo_password"
    if password_file.exists():
        return password_file.read_text(encoding="utf-8").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    password = "demo-" + secrets.token_urlsafe(9)
    password_file.write_text(password, encoding="utf-8")
    password_file.chmod(0o600)
    return password


@dataclass(frozen=True)
class CityCounts:
    organizations: int
    people: int
    teams: int
    memberships: int


@transaction.atomic
def create_city(password: str) -> CityCounts:
    orgs = {
        slug: Organization.objects.update_or_create(
            slug=slug, defaults={"name": name, "kind": kind, "description": description}
        )[0]
        for slug, name, kind, description in ORGANIZATIONS
    }
    people = {person.key: _upsert_person(person, orgs, password) for person in PEOPLE}
    _upsert_admin(orgs["city-administrator"], password)
    teams = {
        slug: Team.objects.update_or_create(
            slug=slug,
            defaults={"name": name, "kind": kind, "purpose": purpose, "customer_voice": voice},
        )[0]
        for slug, name, kind, purpose, voice in TEAMS
    }
    for team_slug, person_key, role in MEMBERSHIPS:
        Membership.objects.update_or_create(
            team=teams[team_slug], person=people[person_key], defaults={"role": role}
        )
    return CityCounts(len(orgs), len(people) + 1, len(teams), len(MEMBERSHIPS))


def _upsert_person(person: DemoPerson, orgs: dict[str, Organization], password: str) -> User:
    user, created = User.objects.update_or_create(
        email=email_for(person.key),
        defaults={
            "full_name": person.name,
            "job_title": person.title,
            "organization": orgs[person.org],
            "is_org_admin": person.org_admin,
        },
    )
    if created or not user.check_password(password):
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def _upsert_admin(org: Organization, password: str) -> User:
    admin, created = User.objects.update_or_create(
        email=email_for(ADMIN_KEY),
        defaults={
            "full_name": "Demo Administrator",
            "job_title": "civicloop administrator",
            "organization": org,
            "is_staff": True,
            "is_superuser": True,
        },
    )
    if created or not admin.check_password(password):
        admin.set_password(password)
        admin.save(update_fields=["password"])
    return admin
