"""OKR pages: the organization's tree and changes under /okrs/; a team's OKRs under
/teams/<slug>/okrs/."""

from django.urls import path

from civicloop.core.twins import Format
from civicloop.okrs import views

app_name = "okrs"

JSON = {"fmt": Format.JSON}
CSV = {"fmt": Format.CSV}
TEAM = "teams/<slug:slug>/okrs"
OBJECTIVE = "okrs/objectives/<int:pk>"
KR = "okrs/key-results/<int:pk>"

urlpatterns = [
    path("okrs/", views.tree, name="tree"),
    path("okrs.json", views.tree, JSON, name="tree_json"),
    path("okrs.csv", views.tree, CSV, name="tree_csv"),
    path("okrs/changes/", views.changes, name="changes"),
    path("okrs/changes.json", views.changes, JSON, name="changes_json"),
    path("okrs/changes.csv", views.changes, CSV, name="changes_csv"),
    path("okrs/report/", views.report, name="report"),
    path("okrs/report.pdf", views.report, {"kind": "pdf"}, name="report_pdf"),
    path("okrs/missions/new/", views.mission_new, name="mission_new"),
    path("okrs/missions/<slug:slug>/", views.mission_detail, name="mission_detail"),
    path("okrs/missions/<slug:slug>.json", views.mission_detail, JSON, name="mission_detail_json"),
    path("okrs/missions/<slug:slug>/edit/", views.mission_edit, name="mission_edit"),
    path(f"{TEAM}/", views.team_okrs, name="team_okrs"),
    path(f"{TEAM}.json", views.team_okrs, JSON, name="team_okrs_json"),
    path(f"{TEAM}.csv", views.team_okrs, CSV, name="team_okrs_csv"),
    path(f"{TEAM}/governance/", views.team_governance, name="team_governance"),
    path(f"{TEAM}/objectives/new/", views.objective_new, name="objective_new"),
    path(f"{TEAM}/<str:quarter>/close/", views.quarter_close, name="quarter_close"),
    path(f"{OBJECTIVE}/", views.objective_detail, name="objective_detail"),
    path(f"{OBJECTIVE}.json", views.objective_detail, JSON, name="objective_detail_json"),
    path(f"{OBJECTIVE}/edit/", views.objective_edit, name="objective_edit"),
    path(f"{OBJECTIVE}/key-results/new/", views.kr_new, name="kr_new"),
    path(f"{KR}/", views.kr_detail, name="kr_detail"),
    path(f"{KR}.json", views.kr_detail, JSON, name="kr_detail_json"),
    path(f"{KR}.csv", views.kr_detail, CSV, name="kr_detail_csv"),
    path(f"{KR}/edit/", views.kr_edit, name="kr_edit"),
    path(f"{KR}/check-in/", views.kr_checkin, name="kr_checkin"),
]
