from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("civicloop.core.urls")),
    path("accounts/", include("civicloop.accounts.urls")),
    path("", include("civicloop.organizations.urls")),
    path("", include("civicloop.datasets.urls")),  # /data/ and its twins /data.json, /data.csv
    path("", include("civicloop.metrics.urls")),  # /metrics/ and its twins
    path("", include("civicloop.okrs.urls")),  # /okrs/ and /teams/<slug>/okrs/
    path("", include("civicloop.improvement.urls")),  # /improvement/, /a3/<pk>/, /pdsa/<pk>/
    path("", include("civicloop.meetings.urls")),  # dashboards, meetings, packs, weeknotes
    path("admin/", admin.site.urls),
]

handler403 = "civicloop.core.views.permission_denied"
handler404 = "civicloop.core.views.page_not_found"
