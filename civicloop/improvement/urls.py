"""A3 and PDSA pages: every A3 under /improvement/, a team's under /teams/<slug>/a3/, one A3
under /a3/<pk>/ and one PDSA cycle under /pdsa/<pk>/."""

from django.urls import path

from civicloop.core.twins import Format
from civicloop.improvement import views

app_name = "improvement"

JSON = {"fmt": Format.JSON}
CSV = {"fmt": Format.CSV}
TEAM = "teams/<slug:slug>/a3"
A3 = "a3/<int:pk>"
CYCLE = "pdsa/<int:pk>"

urlpatterns = [
    path("improvement/", views.a3_list, name="a3_list"),
    path("improvement.json", views.a3_list, JSON, name="a3_list_json"),
    path("improvement.csv", views.a3_list, CSV, name="a3_list_csv"),
    path(f"{TEAM}/", views.team_a3s, name="team_a3s"),
    path(f"{TEAM}/new/", views.a3_new, name="a3_new"),
    path(f"{TEAM}/templates/new/", views.template_edit, name="template_new"),
    path(f"{TEAM}/templates/<int:pk>/", views.template_edit, name="template_edit"),
    path(f"{A3}/", views.a3_detail, name="a3_detail"),
    path(f"{A3}.json", views.a3_detail, JSON, name="a3_detail_json"),
    path(f"{A3}/print/", views.a3_print, name="a3_print"),
    path(f"{A3}.pdf", views.a3_pdf, name="a3_pdf"),
    path(f"{A3}/edit/", views.a3_edit, name="a3_edit"),
    path(f"{A3}/sharing/", views.a3_sharing, name="a3_sharing"),
    path(f"{A3}/state/", views.a3_state, name="a3_state"),
    path(f"{A3}/sections/<slug:key>/", views.a3_section, name="a3_section"),
    path(f"{A3}/root-causes/", views.a3_root_causes, name="a3_root_causes"),
    path(f"{A3}/charts/", views.a3_chart_add, name="a3_chart_add"),
    path(f"{A3}/charts/<int:link>/remove/", views.a3_chart_remove, name="a3_chart_remove"),
    path(f"{A3}/voices/new/", views.a3_voice_add, name="a3_voice_add"),
    path(f"{A3}/voices/<int:voice>/remove/", views.a3_voice_remove, name="a3_voice_remove"),
    path(f"{A3}/countermeasures/new/", views.countermeasure_edit, name="countermeasure_new"),
    path(f"{A3}/countermeasures/<int:cm>/", views.countermeasure_edit, name="countermeasure_edit"),
    path(f"{A3}/countermeasures/<int:cm>/cycles/new/", views.cycle_new, name="cycle_new"),
    path(f"{A3}/actions/new/", views.action_edit, name="action_new"),
    path(f"{A3}/actions/<int:action>/", views.action_edit, name="action_edit"),
    path(f"{A3}/actions/<int:action>/done/", views.action_done, name="action_done"),
    path(f"{CYCLE}/", views.cycle_detail, name="cycle_detail"),
    path(f"{CYCLE}.json", views.cycle_detail, JSON, name="cycle_detail_json"),
    path(f"{CYCLE}/plan/", views.cycle_plan, name="cycle_plan"),
    path(f"{CYCLE}/start/", views.cycle_start, name="cycle_start"),
    path(f"{CYCLE}/do/", views.cycle_do, name="cycle_do"),
    path(f"{CYCLE}/study/", views.cycle_study, name="cycle_study"),
    path(f"{CYCLE}/act/", views.cycle_act, name="cycle_act"),
    path(f"{CYCLE}/rebase/", views.cycle_rebase, name="cycle_rebase"),
]
