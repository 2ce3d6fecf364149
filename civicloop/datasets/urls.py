"""The data pages, under /data/. Dataset short names are lower-case letters, digits and
underscores, so `new` (reserved) and the `.json`/`.csv` twins never clash with a dataset."""

from django.urls import path

from civicloop.core.twins import Format
from civicloop.datasets import views

app_name = "datasets"

JSON = {"fmt": Format.JSON}
CSV = {"fmt": Format.CSV}
DATASET = "data/<slug:slug>"
VERSION = DATASET + "/versions/<int:number>"

urlpatterns = [
    path("data/", views.dataset_list, name="dataset_list"),
    path("data.json", views.dataset_list, JSON, name="dataset_list_json"),
    path("data.csv", views.dataset_list, CSV, name="dataset_list_csv"),
    path("data/new/", views.dataset_new, name="dataset_new"),
    path("data/new/<str:token>/", views.dataset_new_confirm, name="dataset_new_confirm"),
    path(f"{DATASET}/", views.dataset_detail, name="dataset_detail"),
    path(f"{DATASET}.json", views.dataset_detail, JSON, name="dataset_detail_json"),
    path(f"{DATASET}/upload/", views.dataset_upload, name="dataset_upload"),
    path(f"{DATASET}/agreement/", views.agreement_edit, name="agreement_edit"),
    path(f"{DATASET}/schema/", views.schema_edit, name="schema_edit"),
    path(f"{DATASET}/runs/<int:pk>/", views.run_detail, name="run_detail"),
    path(f"{DATASET}/runs/<int:pk>.json", views.run_detail, JSON, name="run_detail_json"),
    path(f"{DATASET}/runs/<int:pk>/problems.csv", views.run_problems, name="run_problems"),
    path(f"{VERSION}.csv", views.version_download, {"fmt": "csv"}, name="version_csv"),
    path(f"{VERSION}.xlsx", views.version_download, {"fmt": "xlsx"}, name="version_xlsx"),
    path(
        f"{VERSION}/quarantine.csv",
        views.version_download,
        {"fmt": "csv", "quarantine": True},
        name="version_quarantine",
    ),
    path(f"{VERSION}/rollback/", views.version_rollback, name="version_rollback"),
]
