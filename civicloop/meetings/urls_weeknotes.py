"""Weeknotes' pages, included in the `meetings` namespace by civicloop/meetings/urls.py: a team's
under /teams/<slug>/weeknotes/ (with its JSON twin and RSS feed), one weeknote under
/weeknotes/<pk>/."""

from django.urls import path

from civicloop.core.twins import Format
from civicloop.meetings import views_weeknotes as views

JSON = {"fmt": Format.JSON}
TEAM = "teams/<slug:slug>/weeknotes"
WEEKNOTE = "weeknotes/<int:pk>"

urlpatterns = [
    path(f"{TEAM}/", views.weeknote_list, name="weeknote_list"),
    path(f"{TEAM}.json", views.weeknote_list, JSON, name="weeknote_list_json"),
    path(f"{TEAM}.rss", views.weeknote_feed, name="weeknote_feed"),
    path(f"{TEAM}/draft/", views.weeknote_draft, name="weeknote_draft"),
    path(f"{WEEKNOTE}/", views.weeknote_detail, name="weeknote_detail"),
    path(f"{WEEKNOTE}.json", views.weeknote_detail, JSON, name="weeknote_detail_json"),
    path(f"{WEEKNOTE}/edit/", views.weeknote_edit, name="weeknote_edit"),
    path(f"{WEEKNOTE}/take-draft/", views.weeknote_take_draft, name="weeknote_take_draft"),
    path(f"{WEEKNOTE}/publish/", views.weeknote_publish, name="weeknote_publish"),
]
