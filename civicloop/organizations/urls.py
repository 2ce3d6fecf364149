from django.urls import path

from civicloop.core.twins import Format
from civicloop.organizations import views

app_name = "organizations"

JSON = {"fmt": Format.JSON}
CSV = {"fmt": Format.CSV}

urlpatterns = [
    path("teams/", views.my_teams, name="my_teams"),
    path("teams.json", views.my_teams, JSON, name="my_teams_json"),
    path("teams.csv", views.my_teams, CSV, name="my_teams_csv"),
    path("teams/<slug:slug>/", views.team_detail, name="team_detail"),
    path("teams/<slug:slug>.json", views.team_detail, JSON, name="team_detail_json"),
    path("teams/<slug:slug>.csv", views.team_detail, CSV, name="team_detail_csv"),
    path("teams/<slug:slug>/edit/", views.team_edit, name="team_edit"),
    path("teams/<slug:slug>/members/add/", views.member_add, name="member_add"),
    path("teams/<slug:slug>/members/<int:pk>/", views.member_change, name="member_change"),
    path("organizations/", views.organization_list, name="organization_list"),
    path("organizations.json", views.organization_list, JSON, name="organization_list_json"),
    path("organizations.csv", views.organization_list, CSV, name="organization_list_csv"),
    path("organizations/<slug:slug>/", views.organization_detail, name="organization_detail"),
    path(
        "organizations/<slug:slug>.json",
        views.organization_detail,
        JSON,
        name="organization_detail_json",
    ),
    path(
        "organizations/<slug:slug>.csv",
        views.organization_detail,
        CSV,
        name="organization_detail_csv",
    ),
    path("organizations/<slug:slug>/edit/", views.organization_edit, name="organization_edit"),
]
