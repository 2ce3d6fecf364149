from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from civicloop.organizations.models import Membership, Role

TEAM_URL = "/teams/team-clean/"


def test_my_teams_lists_only_my_teams_with_my_role(personas, client_as) -> None:
    page = client_as("guest").get("/teams/").content.decode()
    assert "Team Clean" in page and "Guest" in page
    assert "Team Safe" not in page


def test_team_page_shows_members_grouped_by_organization(personas, client_as) -> None:
    response = client_as("viewer").get(TEAM_URL)
    page = response.content.decode()
    assert "Cleaner streets." in page
    # Two organizations, each a caption over its own members.
    assert page.index("Downtown Business Association") < page.index("Gus Guest")
    assert page.index("Public Works") < page.index("Lena Lead")
    assert "4 people from 2 organizations" in page


def test_viewer_sees_no_edit_or_manage_controls(personas, client_as) -> None:
    page = client_as("viewer").get(TEAM_URL).content.decode()
    assert "Edit purpose" not in page
    assert "Add a member" not in page
    lead_page = client_as("lead").get(TEAM_URL).content.decode()
    assert "Edit purpose" in lead_page and "Add a member" in lead_page


def test_editor_saves_purpose(personas, client_as) -> None:
    response = client_as("editor").post(
        reverse("organizations:team_edit", kwargs={"slug": "team-clean"}),
        {"purpose": "Every dumping report cleared within 3 days.", "customer_voice": "Fix it."},
        follow=True,
    )
    assert "Team description saved." in response.content.decode()
    personas.team.refresh_from_db()
    assert personas.team.purpose == "Every dumping report cleared within 3 days."


def test_empty_purpose_is_refused_with_a_field_message(personas, client_as) -> None:
    response = client_as("lead").post(
        reverse("organizations:team_edit", kwargs={"slug": "team-clean"}), {"purpose": "  "}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Please correct 1 problem" in page and "This field is required." in page
    personas.team.refresh_from_db()
    assert personas.team.purpose == "Cleaner streets."


def test_user_text_is_escaped(personas, client_as) -> None:
    """Regression guard: a purpose containing markup is shown as text, never run as script."""
    personas.team.purpose = "<script>alert('x')</script>"
    personas.team.save()
    page = client_as("viewer").get(TEAM_URL).content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page


def test_lead_adds_a_member_by_email(personas, client_as) -> None:
    response = client_as("lead").post(
        "/teams/team-clean/members/add/", {"email": "OUTSIDER@example.org", "role": "viewer"}
    )
    assert response.status_code == 302
    membership = Membership.objects.get(team=personas.team, person=personas.outsider)
    assert membership.role == Role.VIEWER
    # Now a member, the former outsider may see the team.
    assert client_as("outsider").get(TEAM_URL).status_code == 200


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("nobody@example.org", "Nobody with this email address has an account"),
        ("viewer@example.org", "Vera Viewer is already in this team."),
        ("not-an-email", "Enter a valid email address."),
    ],
)
def test_adding_a_member_explains_what_is_wrong(personas, client_as, email, message) -> None:
    before = Membership.objects.count()
    response = client_as("lead").post(
        "/teams/team-clean/members/add/", {"email": email, "role": "member"}
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Membership.objects.count() == before


def test_role_outside_the_list_is_refused(personas, client_as) -> None:
    response = client_as("lead").post(
        "/teams/team-clean/members/add/", {"email": "admin@example.org", "role": "owner"}
    )
    assert "Select a valid choice" in response.content.decode()


def test_lead_changes_a_role_and_removes_a_member(personas, client_as) -> None:
    client = client_as("lead")
    viewer = Membership.objects.get(team=personas.team, person=personas.viewer)
    client.post(f"/teams/team-clean/members/{viewer.pk}/", {"role": "member"})
    viewer.refresh_from_db()
    assert viewer.role == Role.MEMBER
    client.post(f"/teams/team-clean/members/{viewer.pk}/", {"remove": "1"})
    assert not Membership.objects.filter(pk=viewer.pk).exists()


def test_the_last_lead_cannot_step_down(personas, client_as) -> None:
    """A team with no lead could never be managed again, so the last lead is kept."""
    lead = Membership.objects.get(team=personas.team, person=personas.lead)
    response = client_as("lead").post(
        f"/teams/team-clean/members/{lead.pk}/", {"remove": "1"}, follow=True
    )
    assert "is the only lead of Team Clean" in response.content.decode()
    lead.refresh_from_db()
    assert lead.role == Role.LEAD


def test_membership_of_another_team_cannot_be_changed_through_this_one(personas, client_as) -> None:
    other = Membership.objects.get(team=personas.other_team)
    response = client_as("lead").post(f"/teams/team-clean/members/{other.pk}/", {"remove": "1"})
    assert response.status_code == 404
    assert Membership.objects.filter(pk=other.pk).exists()


def test_team_json_twin_matches_the_page(personas, client_as) -> None:
    data = client_as("viewer").get("/teams/team-clean.json").json()
    assert data["team"]["name"] == "Team Clean"
    assert data["member_count"] == 4
    orgs = {o["organization"]: [m["name"] for m in o["members"]] for o in data["organizations"]}
    assert orgs["Downtown Business Association"] == ["Gus Guest"]
    assert orgs["Public Works"][0] == "Lena Lead"  # leads first


def test_members_csv_neutralises_formulas(personas, client_as) -> None:
    """A job title like '=HYPERLINK(...)' must not run when the CSV is opened in Excel."""
    personas.viewer.job_title = '=HYPERLINK("http://evil.example","click")'
    personas.viewer.save()
    response = client_as("lead").get("/teams/team-clean.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["name", "email", "job title", "organization", "role"]
    titles = {row[0]: row[2] for row in rows[1:]}
    assert titles["Vera Viewer"].startswith("'=HYPERLINK")


def test_organization_page_lists_people_and_only_visible_teams(personas, client_as) -> None:
    page = client_as("outsider").get("/organizations/public-works/").content.decode()
    assert "Lena Lead" in page and "Eddie Editor" in page
    assert "Team Clean" not in page  # the outsider may not know Team Clean exists
    page = client_as("viewer").get("/organizations/public-works/").content.decode()
    assert "Team Clean" in page


def test_org_admin_edits_profile(personas, client_as) -> None:
    response = client_as("lead").post(
        "/organizations/public-works/edit/",
        {"description": "Streets, trees and sanitation.", "website": "works.example.gov"},
    )
    assert response.status_code == 302
    personas.department.refresh_from_db()
    assert personas.department.website == "https://works.example.gov"


def test_unknown_organization_is_404(personas, client_as) -> None:
    assert client_as("lead").get("/organizations/nope/").status_code == 404
