"""The data pages as people use them: uploads through the browser's forms (real files, the
worker run synchronously), the validation report, versions and rollback, sharing, downloads."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from civicloop.core.worker import run_pending
from civicloop.datasets import services
from civicloop.datasets.models import (
    Dataset,
    DatasetEvent,
    EventKind,
    IngestRun,
    RunStatus,
)
from civicloop.testing import LITTER_CSV, load_csv

pytestmark = pytest.mark.django_db

SLUG = {"slug": "litter_reports"}
PROBLEM_CSV = (
    "report_id,reported_on,district,bags\n"
    "1,2026-01-05,North,3\n"
    "2,31/02/2026,South,4\n"
    "3,2026-01-07,East,1\n"
)


def _upload(client, text: str | bytes, name: str = "litter.csv", **fields):  # type: ignore[no-untyped-def]
    content = text.encode("utf-8") if isinstance(text, str) else text
    data = {"mode": "replace", "bad_rows": "reject", **fields}
    data["file"] = SimpleUploadedFile(name, content)
    return client.post(reverse("datasets:dataset_upload", kwargs=SLUG), data)


def _text(response) -> str:  # type: ignore[no-untyped-def]
    """The page as a person reads it: tags dropped, whitespace collapsed, entities decoded."""
    import html

    body = re.sub(r"<script.*?</script>|<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(body))


def _download(response) -> bytes:  # type: ignore[no-untyped-def]
    """The whole file; reading it to the end also closes the response (as a server would)."""
    return b"".join(response.streaming_content)


# --- uploading a new version -----------------------------------------------------------------


def test_upload_with_problems_is_refused_and_reported_by_row_and_column(
    personas, client_as, data_dir
) -> None:
    client = client_as("lead")
    response = _upload(client, PROBLEM_CSV)
    run = IngestRun.objects.get(dataset=personas.restricted_dataset)
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    # The request only queued the load: the worker does it.
    assert run.status == RunStatus.QUEUED
    page = client.get(run.get_absolute_url())
    assert "Waiting to start" in _text(page) and "Refresh" in _text(page)
    assert 'aria-live="polite"' in page.content.decode()
    assert "run-progress.js" in page.content.decode()

    assert run_pending() == 1
    page = _text(client.get(run.get_absolute_url()))
    assert "Refused: the data has problems" in page
    assert "row 3, column reported_on: '31/02/2026' is not a date" in page
    assert "row 4, column district: 'East'" in page
    assert "Nothing was changed" in page
    assert "Download all 2 problems as CSV" in page

    report = client.get(reverse("datasets:run_problems", kwargs={**SLUG, "pk": run.pk}))
    assert report.status_code == 200
    assert report["Content-Disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(_download(report).decode("utf-8-sig"))))
    assert rows[0] == ["row", "column", "value", "problem"]
    assert [r[:3] for r in rows[1:]] == [
        ["3", "reported_on", "31/02/2026"],
        ["4", "district", "East"],
    ]

    # The twin the page polls says the same, and never where files are kept on the server.
    twin = client.get(reverse("datasets:run_detail_json", kwargs={**SLUG, "pk": run.pk}))
    data = twin.json()
    assert data["status"] == "refused" and data["finished"] is True
    assert data["problems"][0]["text"].startswith("row 3, column reported_on")
    assert str(data_dir) not in twin.content.decode()
    personas.restricted_dataset.refresh_from_db()
    assert personas.restricted_dataset.current_version is None


def test_successful_upload_makes_a_new_version(personas, client_as, data_dir) -> None:
    client = client_as("lead")
    _upload(client, LITTER_CSV, name="litter-january.csv")
    run_pending()
    run = IngestRun.objects.get(dataset=personas.restricted_dataset)
    page = _text(client.get(run.get_absolute_url()))
    assert "Status: Loaded" in page and "Version 1 of Litter reports is now current" in page

    detail = client.get(reverse("datasets:dataset_detail", kwargs=SLUG))
    text = _text(detail)
    assert "Version 1: 3 rows" in text
    assert "litter-january.csv" in text and run.source_sha256[:12] in text
    assert "New version loaded" in text  # the history
    data = client.get(reverse("datasets:dataset_detail_json", kwargs=SLUG)).json()
    (version,) = data["versions"]
    assert version["current"] and version["rows"] == 3 and version["mode"] == "replace"
    assert version["source"]["sha256"] == run.source_sha256
    assert version["downloads"]["csv"].endswith("/versions/1.csv")
    assert data["runs"][0]["status"] == "succeeded"


def test_upload_with_quarantine_sets_bad_rows_aside_for_download(
    personas, client_as, data_dir
) -> None:
    client = client_as("lead")
    _upload(client, PROBLEM_CSV, bad_rows="quarantine")
    run_pending()
    dataset = Dataset.objects.get(slug="litter_reports")
    assert dataset.current_version.row_count == 1
    assert dataset.current_version.rows_quarantined == 2
    aside = client.get(
        reverse("datasets:version_quarantine", kwargs={**SLUG, "number": 1}),
    )
    rows = list(csv.reader(io.StringIO(_download(aside).decode("utf-8-sig"))))
    assert rows[0][:2] == ["source_row", "problems"]
    assert [r[0] for r in rows[1:]] == ["3", "4"]
    assert "Rows set aside (CSV)" in _text(
        client.get(reverse("datasets:dataset_detail", kwargs=SLUG))
    )


def test_refused_uploads_say_why_and_queue_nothing(personas, client_as, data_dir, settings) -> None:
    client = client_as("lead")
    empty = _upload(client, b"")
    assert empty.status_code == 200
    assert "The file is empty (0 bytes)" in _text(empty)
    assert 'aria-invalid="true"' in empty.content.decode()

    wrong = _upload(client, "a,b\n1,2\n", name="litter.docx")
    assert "unrecognised file type .docx" in _text(wrong)
    assert ".csv, .tsv, .txt, .xlsx, .parquet, .json" in _text(wrong)

    settings.MAX_UPLOAD_MB = 1
    big = LITTER_CSV + "".join(f"{i},2026-01-08,South,2\n" for i in range(10, 60_000))
    too_big = _upload(client, big)
    text = _text(too_big)
    assert re.search(r"The file is 1\.\d MB; the limit is 1 MB \(CIVICLOOP_MAX_UPLOAD_MB\)", text)

    assert not IngestRun.objects.exists()
    assert not list(data_dir.glob("archive/**/*.csv")), "a refused upload is not archived"


def test_a_workbook_with_several_sheets_asks_which(personas, client_as, data_dir) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.title = "January"
    workbook.create_sheet("February")
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = _upload(client_as("lead"), buffer.getvalue(), name="litter.xlsx")
    assert "The workbook has sheets 'January', 'February': type the one to load." in _text(response)
    assert not IngestRun.objects.exists()


# --- versions and rollback ----------------------------------------------------------------------


def test_rollback_needs_a_reason_and_is_recorded(personas, client_as, data_dir, tmp_path) -> None:
    dataset = personas.restricted_dataset
    load_csv(dataset, LITTER_CSV, tmp_path, user=personas.lead)
    load_csv(dataset, LITTER_CSV + "4,2026-01-08,South,9\n", tmp_path, user=personas.lead)
    client = client_as("lead")
    url = reverse("datasets:version_rollback", kwargs={**SLUG, "number": 1})
    detail = reverse("datasets:dataset_detail", kwargs=SLUG)

    refused = client.post(url, {"reason": "  "}, follow=True)
    assert "Not rolled back: Say why you are rolling back" in _text(refused)
    dataset.refresh_from_db()
    assert dataset.current_version.number == 2

    done = client.post(url, {"reason": "Version 2 double-counted a week."}, follow=True)
    assert done.redirect_chain[-1][0] == detail + "#versions"
    assert "Litter reports now uses version 1 (3 rows)" in _text(done)
    dataset.refresh_from_db()
    assert dataset.current_version.number == 1
    event = DatasetEvent.objects.get(dataset=dataset, kind=EventKind.ROLLED_BACK)
    assert event.actor == personas.lead and "double-counted" in event.note
    assert "Rolled back (version 1)" in _text(done) and "double-counted" in _text(done)

    # The partner sees the versions but may not roll back.
    guest = client_as("guest")
    assert "Roll back to version" not in _text(guest.get(detail))
    assert guest.post(url, {"reason": "mine now"}).status_code == 403


# --- sharing -----------------------------------------------------------------------------------


def test_expired_agreement_hides_restricted_data_from_the_partner(
    personas, client_as, data_dir, tmp_path
) -> None:
    dataset = personas.restricted_dataset
    load_csv(dataset, LITTER_CSV, tmp_path, user=personas.lead)
    guest = client_as("guest")
    detail = reverse("datasets:dataset_detail", kwargs=SLUG)
    download = reverse("datasets:version_csv", kwargs={**SLUG, "number": 1})
    assert guest.get(detail).status_code == 200
    assert "Litter reports" in _text(guest.get(reverse("datasets:dataset_list")))

    dataset.agreement.valid_until = timezone.localdate() - timedelta(days=1)
    dataset.agreement.save()
    assert guest.get(detail).status_code == 404
    assert guest.get(download).status_code == 404
    assert "Litter reports" not in _text(guest.get(reverse("datasets:dataset_list")))
    assert "litter_reports" not in guest.get(reverse("datasets:dataset_list_json")).content.decode()
    # The owner's people still see it, with the expiry in plain words.
    page = _text(client_as("editor").get(detail))
    assert "Expired: this agreement ended on" in page


def test_a_hidden_dataset_looks_like_a_missing_one(personas, client_as) -> None:
    outsider = client_as("outsider")
    real = outsider.get(reverse("datasets:dataset_detail", kwargs=SLUG))
    missing = outsider.get(reverse("datasets:dataset_detail", kwargs={"slug": "no_such_data"}))
    assert real.status_code == missing.status_code == 404
    token = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')
    assert token.sub(b"", real.content) == token.sub(b"", missing.content)


def test_list_shows_only_visible_datasets_with_stale_in_words(
    personas, client_as, data_dir, tmp_path
) -> None:
    load_csv(personas.restricted_dataset, LITTER_CSV, tmp_path)
    version = personas.restricted_dataset.current_version
    version.created_at = timezone.now() - timedelta(days=20)
    version.save()

    lead = _text(client_as("lead").get(reverse("datasets:dataset_list")))
    assert "Litter reports" in lead and "Calls for service" in lead  # internal: departments
    assert "Stale Last loaded 20 days ago, expected weekly" in lead
    guest = client_as("guest").get(reverse("datasets:dataset_list_json")).json()
    assert [d["slug"] for d in guest["datasets"]] == ["litter_reports"]
    outsider = client_as("outsider").get(reverse("datasets:dataset_list_csv"))
    rows = list(csv.reader(io.StringIO(outsider.content.decode("utf-8-sig"))))
    assert [r[1] for r in rows[1:]] == ["calls_for_service"]
    assert rows[1][-1] == "yes"  # never loaded, expected daily: stale


def test_agreement_form_saves_and_records_history(personas, client_as) -> None:
    client = client_as("lead")
    url = reverse("datasets:agreement_edit", kwargs=SLUG)
    form = client.get(url)
    assert 'type="checkbox"' in form.content.decode()
    assert "Public Works" not in _text(form).split("Organizations that may use this data")[1]
    until = (timezone.localdate() + timedelta(days=30)).isoformat()
    response = client.post(
        url,
        {
            "organizations": [personas.partner.pk, personas.other_department.pk],
            "purpose": "Team Clean's shared measures.",
            "valid_until": until,
        },
    )
    assert response.status_code == 302
    dataset = Dataset.objects.get(slug="litter_reports")
    assert set(dataset.agreement.organizations.all()) == {
        personas.partner,
        personas.other_department,
    }
    assert (
        client_as("outsider").get(reverse("datasets:dataset_detail", kwargs=SLUG)).status_code
        == 200
    )
    missing = client.post(url, {"purpose": ""})
    assert "Purpose: This field is required." in _text(missing)


# --- schemas -------------------------------------------------------------------------------


def test_schema_edit_by_fields_and_by_json(personas, client_as) -> None:
    client = client_as("lead")
    url = reverse("datasets:schema_edit", kwargs=SLUG)
    page = client.get(url)
    assert 'for="id_f1_format"' in page.content.decode()

    fields = {
        "editor": "fields",
        "f0_type": "integer",
        "f0_required": "on",
        "f1_type": "date",
        "f1_format": "DD/MM/YYYY",
        "f2_type": "string",
        "f3_type": "integer",
        "primary_key": ["report_id"],
        "missing_values": "NA, -",
    }
    refused = client.post(url, fields)
    assert refused.status_code == 200
    assert "Format of reported_on: Format 'DD/MM/YYYY' has no % codes" in _text(refused)

    saved = client.post(url, {**fields, "f1_format": "%d/%m/%Y"})
    assert saved.status_code == 302
    dataset = Dataset.objects.get(slug="litter_reports")
    by_name = {f["name"]: f for f in dataset.schema["fields"]}
    assert by_name["reported_on"]["format"] == "%d/%m/%Y"
    assert by_name["district"]["constraints"] == {"enum": ["North", "South"]}  # kept
    assert "required" not in by_name["bags"].get("constraints", {})
    assert dataset.schema["missingValues"] == ["", "NA", "-"]
    assert DatasetEvent.objects.filter(dataset=dataset, kind=EventKind.SCHEMA_CHANGED).exists()

    bad_json = client.post(url, {"editor": "json", "descriptor_json": '{"fields": ['})
    assert "This is not valid JSON" in _text(bad_json)
    unknown = client.post(
        url,
        {
            "editor": "json",
            "descriptor_json": json.dumps({"fields": [{"name": "x", "type": "money"}]}),
        },
    )
    assert "Field 'x' has type 'money'" in _text(unknown)


# --- a new dataset --------------------------------------------------------------------------------


def test_new_dataset_infers_a_schema_the_lead_confirms(personas, client_as, data_dir) -> None:
    client = client_as("lead")
    text = "Ticket,Opened,Closed,Ward\nA-1,01/31/2026,02/03/2026,3\nA-2,02/01/2026,,4\n"
    started = client.post(
        reverse("datasets:dataset_new"),
        {
            "name": "Missed bins",
            "slug": "missed_bins",
            "description": "Bins reported as missed.",
            "owner": personas.department.pk,
            "sensitivity": "internal",
            "update_frequency": "weekly",
            "file": SimpleUploadedFile("missed.csv", text.encode()),
        },
    )
    assert started.status_code == 302
    token = started["Location"].rstrip("/").rsplit("/", 1)[1]
    kept = data_dir / "uploads" / token
    assert kept.read_text() == text
    assert not Dataset.objects.filter(slug="missed_bins").exists()  # nothing yet

    confirm = client.get(started["Location"])
    page = _text(confirm)
    assert "Check the columns of Missed bins" in page
    body = confirm.content.decode()
    assert re.search(r'name="f1_format"[^>]*value="%m/%d/%Y"', body), "dates inferred US-style"
    created = client.post(
        started["Location"],
        {
            "editor": "fields",
            "f0_type": "string",
            "f0_required": "on",
            "f1_type": "date",
            "f1_format": "%m/%d/%Y",
            "f1_required": "on",
            "f2_type": "date",
            "f2_format": "%m/%d/%Y",
            "f3_type": "integer",
            "primary_key": ["Ticket"],
            "missing_values": "",
            "time_column": "Opened",
        },
    )
    dataset = Dataset.objects.get(slug="missed_bins")
    run = IngestRun.objects.get(dataset=dataset)
    assert created.status_code == 302 and created["Location"] == run.get_absolute_url()
    assert dataset.steward == personas.lead and dataset.schema_confirmed
    assert dataset.time_column == "Opened" and dataset.schema["primaryKey"] == ["Ticket"]
    assert not kept.exists()
    run_pending()
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.summary
    assert run.source_name == "missed.csv"
    assert "Version 1: 2 rows" in _text(client.get(dataset.get_absolute_url()))


def test_new_dataset_refusals(personas, client_as, data_dir) -> None:
    client = client_as("lead")
    base = {
        "name": "Header only",
        "slug": "header_only",
        "owner": personas.department.pk,
        "sensitivity": "internal",
        "update_frequency": "weekly",
    }
    header_only = client.post(
        reverse("datasets:dataset_new"),
        {**base, "file": SimpleUploadedFile("h.csv", b"a,b\n")},
    )
    assert "The file has a header but no rows of data." in _text(header_only)
    taken = client.post(
        reverse("datasets:dataset_new"),
        {**base, "slug": "litter_reports", "file": SimpleUploadedFile("h.csv", b"a\n1\n")},
    )
    assert "A dataset called 'litter_reports' exists already." in _text(taken)
    reserved = client.post(
        reverse("datasets:dataset_new"),
        {**base, "slug": "new", "file": SimpleUploadedFile("h.csv", b"a\n1\n")},
    )
    assert "'new' is reserved" in _text(reserved)
    # The owner must be an organization the lead administers.
    other = client.post(
        reverse("datasets:dataset_new"),
        {
            **base,
            "owner": personas.other_department.pk,
            "file": SimpleUploadedFile("h.csv", b"a\n1\n"),
        },
    )
    assert "Select a valid choice" in _text(other)
    assert not list(data_dir.glob("uploads/*")), "refused first files are not kept"
    assert not Dataset.objects.filter(slug="header_only").exists()


def test_cancelling_a_new_dataset_deletes_the_upload(personas, client_as, data_dir) -> None:
    client = client_as("lead")
    started = client.post(
        reverse("datasets:dataset_new"),
        {
            "name": "Cancelled",
            "slug": "cancelled",
            "owner": personas.department.pk,
            "sensitivity": "internal",
            "update_frequency": "weekly",
            "file": SimpleUploadedFile("c.csv", b"a\n1\n"),
        },
    )
    token = started["Location"].rstrip("/").rsplit("/", 1)[1]
    client.post(started["Location"], {"cancel": "1"})
    assert not (data_dir / "uploads" / token).exists()
    assert client.get(started["Location"]).status_code == 404
    assert not Dataset.objects.filter(slug="cancelled").exists()


# --- downloads and safety ------------------------------------------------------------------------


def test_downloads_neutralise_formulas(personas, client_as, data_dir, tmp_path) -> None:
    dataset = personas.restricted_dataset
    services.update_schema(
        dataset,
        {
            "fields": [
                {"name": "report_id", "type": "integer"},
                {"name": "note", "type": "string"},
                {"name": "bags", "type": "integer"},
            ]
        },
        personas.lead,
    )
    text = 'report_id,note,bags\n1,"=HYPERLINK(""http://evil.example"",""x"")",-3\n2,@SUM(A1),4\n'
    load_csv(dataset, text, tmp_path)
    client = client_as("guest")
    response = client.get(reverse("datasets:version_csv", kwargs={**SLUG, "number": 1}))
    assert response["Content-Disposition"] == 'attachment; filename="litter_reports-v1.csv"'
    rows = list(csv.reader(io.StringIO(_download(response).decode("utf-8-sig"))))
    assert rows[1][1].startswith("'=HYPERLINK(")
    assert rows[2][1] == "'@SUM(A1)"
    assert rows[1][2] == "-3"  # numbers untouched

    xlsx = client.get(reverse("datasets:version_xlsx", kwargs={**SLUG, "number": 1}))
    book = openpyxl.load_workbook(io.BytesIO(_download(xlsx)))
    sheet = book.active
    assert sheet["B2"].value.startswith("'=HYPERLINK(") and sheet["C2"].value == -3
    # The temporary export files are gone once the downloads are sent.
    assert not [p for p in (data_dir / "exports").iterdir()]
    assert (
        client.get(reverse("datasets:version_csv", kwargs={**SLUG, "number": 9})).status_code == 404
    )
    none_aside = reverse("datasets:version_quarantine", kwargs={**SLUG, "number": 1})
    assert client.get(none_aside).status_code == 404


def test_descriptions_and_values_are_escaped(personas, client_as, data_dir, tmp_path) -> None:
    dataset = personas.restricted_dataset
    dataset.description = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    dataset.save()
    page = client_as("lead").get(reverse("datasets:dataset_detail", kwargs=SLUG))
    body = page.content.decode()
    assert "<script>alert" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body

    run = load_csv(dataset, "report_id,reported_on,district,bags\n<b>1</b>,,,\n", tmp_path)
    report = client_as("lead").get(run.get_absolute_url()).content.decode()
    assert "<b>1</b>" not in report and "&lt;b&gt;1&lt;/b&gt;" in report


def test_problem_report_is_only_served_from_the_archive(
    personas, client_as, data_dir, tmp_path
) -> None:
    run = load_csv(personas.restricted_dataset, PROBLEM_CSV, tmp_path)
    url = reverse("datasets:run_problems", kwargs={**SLUG, "pk": run.pk})
    assert client_as("lead").get(url).status_code == 200
    outside = tmp_path / "secret.csv"
    outside.write_text("secret")
    IngestRun.objects.filter(pk=run.pk).update(report_path=str(outside))
    assert client_as("lead").get(url).status_code == 404
    IngestRun.objects.filter(pk=run.pk).update(report_path="")
    assert client_as("lead").get(url).status_code == 404


def test_human_sizes() -> None:
    from civicloop.datasets.forms import human_size

    assert human_size(0) == "0 bytes"
    assert human_size(1536) == "1.5 KB"
    assert human_size(int(2.3 * 1024**3)) == "2.3 GB"
    assert human_size(2048 * 1024**2) == "2 GB"


def test_large_csv_schema_is_inferred_from_a_sample_cut_between_rows(tmp_path: Path) -> None:
    from civicloop.datasets.views import _row_boundary

    head = b'a,b\n1,"two\nlines"\n3,"open'
    assert head[: _row_boundary(head, quoted=True)] == b'a,b\n1,"two\nlines"\n'
    assert _row_boundary(b"no newline", quoted=True) == -1


def test_a_large_first_file_is_inferred_from_its_head_and_loaded_whole(
    personas, client_as, data_dir, monkeypatch
) -> None:
    from civicloop.datasets import views

    monkeypatch.setattr(views, "SAMPLE_BYTES", 80)
    rows = "".join(f'{i},"line one\nline two",{i * 2}\n' for i in range(1, 40))
    text = "id,note,count\n" + rows
    client = client_as("lead")
    started = client.post(
        reverse("datasets:dataset_new"),
        {
            "name": "Notes",
            "slug": "notes",
            "owner": personas.department.pk,
            "sensitivity": "internal",
            "update_frequency": "ad_hoc",
            "file": SimpleUploadedFile("notes.csv", text.encode()),
        },
    )
    assert started.status_code == 302, _text(started)
    confirm = client.get(started["Location"])
    assert "from 2 rows" in _text(confirm)  # the head, cut between rows, not inside a quote
    assert not list(data_dir.glob("uploads/*.sample"))
    schema = json.dumps(
        {
            "fields": [
                {"name": "id", "type": "integer"},
                {"name": "note", "type": "string"},
                {"name": "count", "type": "integer"},
            ]
        }
    )
    client.post(started["Location"], {"editor": "json", "descriptor_json": schema})
    run_pending()
    dataset = Dataset.objects.get(slug="notes")
    assert dataset.current_version.row_count == 39
