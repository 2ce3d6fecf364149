"""The metric pages, under /metrics/. Metric ids are lower-case letters, digits and hyphens, so
`new` (reserved: no definition may use it) and the `.json`/`.csv` twins never clash."""

from django.urls import path

from civicloop.core.twins import Format
from civicloop.metrics import views

app_name = "metrics"

JSON = {"fmt": Format.JSON}
CSV = {"fmt": Format.CSV}
METRIC = "metrics/<slug:slug>"

urlpatterns = [
    path("metrics/", views.metric_list, name="metric_list"),
    path("metrics.json", views.metric_list, JSON, name="metric_list_json"),
    path("metrics.csv", views.metric_list, CSV, name="metric_list_csv"),
    path("metrics/new/", views.metric_new, name="metric_new"),
    path(f"{METRIC}/", views.metric_detail, name="metric_detail"),
    path(f"{METRIC}.json", views.metric_detail, JSON, name="metric_detail_json"),
    path(f"{METRIC}.csv", views.metric_detail, CSV, name="metric_detail_csv"),
    path(f"{METRIC}/history/", views.metric_history, name="metric_history"),
    path(f"{METRIC}/history.json", views.metric_history, JSON, name="metric_history_json"),
    path(f"{METRIC}/edit/", views.metric_edit, name="metric_edit"),
    path(f"{METRIC}/edit/yaml/", views.metric_edit_yaml, name="metric_edit_yaml"),
    path(f"{METRIC}/agree/", views.metric_agree, name="metric_agree"),
    path(f"{METRIC}/chart.svg", views.metric_chart, {"kind": "svg"}, name="metric_chart_svg"),
    path(f"{METRIC}/chart.png", views.metric_chart, {"kind": "png"}, name="metric_chart_png"),
    path(f"{METRIC}/chart.vl.json", views.metric_chart, {"kind": "vl"}, name="metric_chart_spec"),
    path(f"{METRIC}/annotations/", views.annotation_add, name="annotation_add"),
    path(
        f"{METRIC}/annotations/<int:pk>/delete/",
        views.annotation_delete,
        name="annotation_delete",
    ),
    path("spc/vega.js", views.vega_script, name="vega_script"),
]
