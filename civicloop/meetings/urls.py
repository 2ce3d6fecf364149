"""Dashboards, meetings, actions and packs: a team's under /teams/<slug>/, one meeting under
/meetings/<pk>/, one action under /actions/<pk>/, one issued pack under /packs/<pk>/."""

from django.urls import path

from civicloop.core.twins import Format
from civicloop.meetings import urls_weeknotes, views

app_name = "meetings"

JSON = {"fmt": Format.JSON}
CSV = {"fmt": Format.CSV}
PDF = {"fmt": "pdf"}
TEAM = "teams/<slug:slug>"
MEETING = "meetings/<int:pk>"

urlpatterns = [
    path(f"{TEAM}/dashboard/", views.dashboard, name="dashboard"),
    path(f"{TEAM}/dashboard.json", views.dashboard, JSON, name="dashboard_json"),
    path(f"{TEAM}/dashboard.csv", views.dashboard, CSV, name="dashboard_csv"),
    path(f"{TEAM}/meetings/", views.meeting_list, name="meeting_list"),
    path(f"{TEAM}/meetings.json", views.meeting_list, JSON, name="meeting_list_json"),
    path(f"{TEAM}/meetings.csv", views.meeting_list, CSV, name="meeting_list_csv"),
    path(f"{TEAM}/meetings/new/", views.meeting_new, name="meeting_new"),
    path(f"{TEAM}/meetings/cadence/", views.cadence_edit, name="cadence_edit"),
    path(f"{TEAM}/actions/", views.action_list, name="action_list"),
    path(f"{TEAM}/actions.json", views.action_list, JSON, name="action_list_json"),
    path(f"{TEAM}/actions.csv", views.action_list, CSV, name="action_list_csv"),
    path(f"{TEAM}/actions/new/", views.team_action_new, name="team_action_new"),
    path(f"{MEETING}/", views.meeting_detail, name="meeting_detail"),
    path(f"{MEETING}.json", views.meeting_detail, JSON, name="meeting_detail_json"),
    path(f"{MEETING}.csv", views.meeting_detail, CSV, name="meeting_detail_csv"),
    path(f"{MEETING}/agenda/draft/", views.agenda_draft, name="agenda_draft"),
    path(f"{MEETING}/agenda/new/", views.item_new, name="item_new"),
    path(f"{MEETING}/agenda/<int:item>/remove/", views.item_remove, name="item_remove"),
    path(f"{MEETING}/agenda/<int:item>/move/", views.item_move, name="item_move"),
    path(f"{MEETING}/cancel/", views.meeting_cancel, name="meeting_cancel"),
    path(f"{MEETING}/commentary/", views.commentary_list, name="commentary_list"),
    path(f"{MEETING}/commentary/request/", views.commentary_request, name="commentary_request"),
    path(f"{MEETING}/commentary/<slug:slug>/", views.commentary_write, name="commentary_write"),
    path(f"{MEETING}/present/", views.present, name="present"),
    path(f"{MEETING}/notes/", views.note_add, name="note_add"),
    path(f"{MEETING}/actions/", views.action_add, name="action_add"),
    path(f"{MEETING}/end/", views.meeting_end, name="meeting_end"),
    path(f"{MEETING}/follow-up/", views.follow_up, name="follow_up"),
    path(f"{MEETING}/follow-up/send/", views.follow_up_send, name="follow_up_send"),
    path(f"{MEETING}/pack/", views.pack_draft, name="pack_draft"),
    path(f"{MEETING}/pack.pdf", views.pack_draft, PDF, name="pack_draft_pdf"),
    path(f"{MEETING}/pack/issue/", views.pack_issue, name="pack_issue"),
    path("actions/<int:pk>/close/", views.action_close, name="action_close"),
    path("actions/<int:pk>/reopen/", views.action_reopen, name="action_reopen"),
    path("packs/<int:pk>/", views.pack_detail, name="pack_detail"),
    path("packs/<int:pk>.json", views.pack_detail, JSON, name="pack_detail_json"),
    path("packs/<int:pk>.pdf", views.pack_detail, PDF, name="pack_pdf"),
]

urlpatterns += urls_weeknotes.urlpatterns  # /teams/<slug>/weeknotes/, /weeknotes/<pk>/
