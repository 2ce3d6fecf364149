"""Data pages. Thin: look up, check permission, call a service, render.

A dataset the reader may not see is a 404 everywhere (its existence is not revealed); one they
see but may not manage is a 403 for every change. Loads never run in the request thread: the
upload is archived, a run is queued, and the worker is woken.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from civicloop.core import worker
from civicloop.core.twins import Format, respond
from civicloop.datasets import api, services
from civicloop.datasets.engine import stage as staging
from civicloop.datasets.engine.schema import schema_from_descriptor
from civicloop.datasets.forms import (
    MAX_TABLE_FIELDS,
    AgreementForm,
    NewDatasetForm,
    RollbackForm,
    SchemaFieldsForm,
    SchemaJsonForm,
    UploadForm,
    administered_organizations,
    may_create_datasets,
    schema_json,
)
from civicloop.datasets.models import Dataset, IngestRun

if TYPE_CHECKING:
    from civicloop.accounts.models import User

log = logging.getLogger(__name__)
SESSION_PREFIX = "civicloop.new-dataset:"
UPLOAD_MAX_AGE = 24 * 60 * 60  # seconds an unconfirmed first upload is kept
SAMPLE_BYTES = 32 << 20  # a large CSV's schema is inferred from its first 32 MiB
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _user(request: HttpRequest) -> User:
    return cast("User", request.user)


def _visible(request: HttpRequest, slug: str) -> Dataset:
    """The dataset, or 404 for anyone who may not know it exists."""
    datasets = Dataset.objects.visible_to(_user(request)).select_related(
        "owner", "steward", "current_version"
    )
    return get_object_or_404(datasets, slug=slug)


def _managed(request: HttpRequest, slug: str) -> Dataset:
    dataset = _visible(request, slug)
    if not dataset.can_manage(_user(request)):
        raise PermissionDenied
    return dataset


# --- reading --------------------------------------------------------------------------------------


def dataset_list(request: HttpRequest, fmt: str = Format.HTML) -> HttpResponse:
    user = _user(request)
    data = api.dataset_list_data(user)
    table = (
        "datasets.csv",
        ["name", "slug", "owner", "sensitivity", "version", "rows", "freshness", "stale"],
        [
            (
                d["name"],
                d["slug"],
                d["owner"],
                d["sensitivity"]["value"],
                d["current_version"] or "",
                d["rows"] if d["rows"] is not None else "",
                d["freshness"]["text"],
                "yes" if d["freshness"]["stale"] else "no",
            )
            for d in data["datasets"]
        ],
    )
    context = {"nav": "data", "can_create": may_create_datasets(user)}
    return respond(request, fmt, "datasets/dataset_list.html", data, context, table)


def dataset_detail(request: HttpRequest, slug: str, fmt: str = Format.HTML) -> HttpResponse:
    dataset = _visible(request, slug)
    data = {
        **api.dataset_detail_data(dataset),
        "metrics": api.metrics_reading(dataset, _user(request)),
    }
    context = {"nav": "data", "can_manage": dataset.can_manage(_user(request))}
    return respond(request, fmt, "datasets/dataset_detail.html", data, context)


def run_detail(request: HttpRequest, slug: str, pk: int, fmt: str = Format.HTML) -> HttpResponse:
    dataset = _visible(request, slug)
    run = get_object_or_404(
        IngestRun.objects.select_related("dataset", "requested_by"), dataset=dataset, pk=pk
    )
    data = api.run_detail_data(run)
    context = {"nav": "data", "can_manage": dataset.can_manage(_user(request))}
    response = respond(request, fmt, "datasets/run_detail.html", data, context)
    response["Cache-Control"] = "no-store"  # polled while the load runs
    return response


def run_problems(request: HttpRequest, slug: str, pk: int) -> HttpResponseBase:
    """Every problem a load found, as CSV. Served by name; the server's paths stay private."""
    dataset = _visible(request, slug)
    run = get_object_or_404(IngestRun, dataset=dataset, pk=pk)
    if not run.report_path:
        raise Http404("This load has no problem report.")
    path = Path(run.report_path).resolve()
    if not path.is_relative_to(services.archive_dir().resolve()) or not path.is_file():
        raise Http404("The problem report is no longer kept.")
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"{dataset.slug}-load-{run.pk}-problems.csv",
        content_type="text/csv; charset=utf-8",
    )


# --- downloads ----------------------------------------------------------------------------------


class _DeleteOnClose:
    """A file handle whose file is removed when the response has been sent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle = path.open("rb")
        self.name = str(path)

    def read(self, size: int = -1) -> bytes:
        return self.handle.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()

    def close(self) -> None:
        self.handle.close()
        self.path.unlink(missing_ok=True)


def version_download(
    request: HttpRequest, slug: str, number: int, fmt: str, quarantine: bool = False
) -> HttpResponseBase:
    from civicloop.datasets.engine.export import ExportError
    from civicloop.warehouse import Warehouse, WarehouseError

    dataset = _visible(request, slug)
    version = get_object_or_404(dataset.versions, number=number)
    if quarantine and not version.quarantine_table:
        raise Http404("This version set no rows aside.")
    folder = Path(settings.DATA_DIR) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / f".{dataset.slug}-v{version.number}-{secrets.token_hex(8)}.{fmt}"
    try:
        services.export_version(Warehouse.default(), version, fmt, dest, quarantine)
    except (services.DatasetError, ExportError, WarehouseError) as error:
        dest.unlink(missing_ok=True)
        messages.error(request, f"The download could not be made: {error}")
        return redirect(reverse("datasets:dataset_detail", kwargs={"slug": slug}) + "#versions")
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    suffix = "-set-aside" if quarantine else ""
    return FileResponse(
        _DeleteOnClose(dest),
        as_attachment=True,
        filename=f"{dataset.slug}-v{version.number}{suffix}.{fmt}",
        content_type=XLSX if fmt == "xlsx" else "text/csv; charset=utf-8",
    )


# --- changing ------------------------------------------------------------------------------------


@require_POST
def version_rollback(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    dataset = _managed(request, slug)
    version = get_object_or_404(dataset.versions, number=number)
    back = reverse("datasets:dataset_detail", kwargs={"slug": slug}) + "#versions"
    form = RollbackForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, f"Not rolled back: {' '.join(str(e) for e in form.errors['reason'])}"
        )
        return redirect(back)
    try:
        services.roll_back(dataset, version, _user(request), form.cleaned_data["reason"])
    except services.DatasetError as error:
        messages.error(request, f"Not rolled back: {error}")
        return redirect(back)
    messages.success(
        request,
        f"{dataset.name} now uses version {version.number} ({version.row_count:,} rows). "
        "The rollback is in the history.",
    )
    return redirect(back)


@require_http_methods(["GET", "POST"])
def agreement_edit(request: HttpRequest, slug: str) -> HttpResponse:
    dataset = _managed(request, slug)
    agreement = getattr(dataset, "agreement", None)
    initial = (
        {
            "organizations": list(agreement.organizations.all()),
            "purpose": agreement.purpose,
            "valid_until": agreement.valid_until,
        }
        if agreement is not None
        else {}
    )
    form = AgreementForm(request.POST or None, dataset=dataset, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.set_agreement(
            dataset,
            list(data["organizations"]),
            data["purpose"],
            data["valid_until"],
            _user(request),
        )
        messages.success(request, "Data-sharing agreement saved.")
        return redirect(reverse("datasets:dataset_detail", kwargs={"slug": slug}) + "#agreement")
    return render(
        request,
        "datasets/agreement_edit.html",
        {"dataset": dataset, "form": form, "nav": "data"},
    )


@require_http_methods(["GET", "POST"])
def schema_edit(request: HttpRequest, slug: str) -> HttpResponse:
    dataset = _managed(request, slug)
    forms_, descriptor = _schema_forms(request, dataset.schema, time_column=False)
    if descriptor is not None:
        active = forms_["active"]
        try:
            services.update_schema(dataset, descriptor, _user(request), "Schema edited.")
        except services.DatasetError as error:
            active.add_error(None, str(error))
        else:
            messages.success(
                request,
                "Schema saved. The next load is checked against it; versions already "
                "loaded keep the schema they were loaded with.",
            )
            return redirect(reverse("datasets:dataset_detail", kwargs={"slug": slug}) + "#schema")
    return render(
        request,
        "datasets/schema_edit.html",
        {"dataset": dataset, "nav": "data", **forms_},
    )


def _schema_forms(
    request: HttpRequest, descriptor: dict[str, Any], *, time_column: bool
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The field table and the JSON editor; the posted one is bound. Returns the forms and, if
    the posted one is valid, the new descriptor."""
    posted = request.POST.get("editor") if request.method == "POST" else None
    too_many = len(descriptor.get("fields", [])) > MAX_TABLE_FIELDS
    fields_form = (
        None
        if too_many
        else SchemaFieldsForm(
            request.POST if posted == "fields" else None,
            descriptor=descriptor,
            time_column=time_column,
        )
    )
    json_form = SchemaJsonForm(
        request.POST if posted == "json" else None,
        initial={"descriptor_json": schema_json(descriptor)},
    )
    active: Any = json_form if posted == "json" or too_many else fields_form
    result = None
    if posted in ("fields", "json") and active is not None and active.is_valid():
        result = active.descriptor
    forms_ = {
        "fields_form": fields_form,
        "json_form": json_form,
        "active": active,
        "json_open": posted == "json" or too_many,
        "too_many_fields": too_many,
    }
    return forms_, result


# --- uploads ------------------------------------------------------------------------------------


def _upload_path(upload: UploadedFile) -> Path:
    """Where the upload is on disk. With FILE_UPLOAD_MAX_MEMORY_SIZE = 0 it always is; should a
    deployment change that, small uploads are written out in chunks here."""
    temporary = getattr(upload, "temporary_file_path", None)
    if temporary is not None:
        return Path(temporary())
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115  (removed by the caller's cleanup)
        prefix="civicloop-upload-", delete=False
    )
    with handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    return Path(handle.name)


def _is_spooled_copy(upload: UploadedFile, path: Path) -> bool:
    return getattr(upload, "temporary_file_path", None) is None and path.exists()


@require_http_methods(["GET", "POST"])
def dataset_upload(request: HttpRequest, slug: str) -> HttpResponse:
    dataset = _managed(request, slug)
    form = UploadForm(request.POST or None, request.FILES or None, dataset=dataset)
    if request.method == "POST" and form.is_valid():
        upload: UploadedFile = form.cleaned_data["file"]
        assert form.source_format is not None  # set by clean_file
        path = _upload_path(upload)
        try:
            run = services.queue_load(
                dataset,
                path,
                _original_name(upload),
                _user(request),
                mode=form.cleaned_data["mode"],
                bad_rows=form.cleaned_data["bad_rows"],
                source_format=form.source_format.value,
                data_as_of=form.cleaned_data.get("data_as_of"),
                **form.read_options(),
            )
        except (services.DatasetError, staging.SourceError) as error:
            form.add_error("file", str(error))
        except OSError:
            log.exception("archiving an upload to %s failed", slug)
            form.add_error(
                "file",
                "The file could not be archived on the server (is the disk full?). Nothing "
                "was loaded; try again, or tell an administrator.",
            )
        else:
            worker.nudge()
            return redirect(run)
        finally:
            if _is_spooled_copy(upload, path):
                path.unlink(missing_ok=True)
    return render(
        request,
        "datasets/upload.html",
        {"dataset": dataset, "form": form, "nav": "data"},
    )


def _original_name(upload: UploadedFile) -> str:
    name = Path(upload.name or "upload").name
    if len(name) <= 300:
        return name
    suffix = Path(name).suffix[:20]
    return name[: 300 - len(suffix)] + suffix


def uploads_dir() -> Path:
    folder = Path(settings.DATA_DIR) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _sweep_uploads() -> None:
    """First files whose schema was never confirmed are kept for a day."""
    cutoff = time.time() - UPLOAD_MAX_AGE
    for path in uploads_dir().iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            continue


def _inference_sample(path: Path, fmt: staging.SourceFormat, encoding: str | None) -> Path:
    """A large CSV's first 32 MiB, cut at a row boundary, to infer its schema from quickly and
    in bounded memory (inference looks at the first 200,000 rows at most anyway)."""
    if fmt not in (staging.SourceFormat.CSV, staging.SourceFormat.NDJSON):
        return path
    if path.stat().st_size <= SAMPLE_BYTES:
        return path
    chosen = staging.normalise_encoding(encoding) if encoding else staging.detect_encoding(path)
    if chosen not in ("utf-8", "latin-1", "windows-1252"):
        return path  # only byte-compatible-with-ASCII encodings can be cut at a b"\n"
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    cut = _row_boundary(head, quoted=fmt == staging.SourceFormat.CSV)
    if cut <= 0:
        return path
    sample = path.with_name(path.name + ".sample")
    sample.write_bytes(head[:cut])
    return sample


def _row_boundary(head: bytes, *, quoted: bool) -> int:
    """The end of the last complete row in `head`: a newline outside any quoted field (an even
    number of double quotes before it, since a quote inside a field is written twice)."""
    end = len(head)
    while True:
        newline = head.rfind(b"\n", 0, end)
        if newline < 0:
            return -1
        if not quoted or head.count(b'"', 0, newline) % 2 == 0:
            return newline + 1
        end = newline


@require_http_methods(["GET", "POST"])
def dataset_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not may_create_datasets(user):
        raise PermissionDenied
    form = NewDatasetForm(request.POST or None, request.FILES or None, user=user)
    if request.method == "POST" and form.is_valid():
        _sweep_uploads()
        token = secrets.token_urlsafe(18)
        kept = uploads_dir() / token
        upload: UploadedFile = form.cleaned_data["file"]
        fmt = form.source_format
        assert fmt is not None  # set by clean_file
        source = _upload_path(upload)
        shutil.move(source, kept)
        options = form.read_options()
        inferred = _infer(form, kept, fmt, options)
        if inferred is None:
            kept.unlink(missing_ok=True)
        else:
            descriptor, rows = inferred
            data = form.cleaned_data
            request.session[SESSION_PREFIX + token] = {
                "file_name": _original_name(upload),
                "file_size": kept.stat().st_size,
                "format": fmt.value,
                "read_options": options,
                "name": data["name"],
                "slug": data["slug"],
                "description": data["description"],
                "owner": data["owner"].pk,
                "sensitivity": data["sensitivity"],
                "update_frequency": data["update_frequency"],
                "schema": descriptor,
                "rows_sampled": rows,
            }
            return redirect("datasets:dataset_new_confirm", token=token)
    return render(request, "datasets/dataset_new.html", {"form": form, "nav": "data"})


def _infer(
    form: NewDatasetForm, path: Path, fmt: staging.SourceFormat, options: dict[str, str | None]
) -> tuple[dict[str, Any], int] | None:
    from civicloop.datasets.engine.excel import SheetChoiceError

    sample = path
    try:
        sample = _inference_sample(path, fmt, options["encoding"])
        schema, staged = services.infer_from_file(
            sample, fmt, options["encoding"], options["delimiter"], options["sheet"]
        )
    except SheetChoiceError as error:
        listed = ", ".join(repr(s) for s in error.sheets)
        form.add_error("sheet", f"The workbook has sheets {listed}: type the one to load.")
        return None
    except staging.SourceError as error:
        form.add_error("file", str(error))
        return None
    except Exception:
        log.exception("inferring a schema from %s failed", path.name)
        form.add_error(
            "file",
            "civicloop could not read this file to work out its columns. Check that it is a "
            "file of the type its name says, or save it again as CSV.",
        )
        return None
    finally:
        if sample != path:
            sample.unlink(missing_ok=True)
    return schema.to_descriptor(), staged.rows


@require_http_methods(["GET", "POST"])
def dataset_new_confirm(request: HttpRequest, token: str) -> HttpResponse:
    user = _user(request)
    if not may_create_datasets(user):
        raise PermissionDenied
    state = request.session.get(SESSION_PREFIX + token)
    if state is None:
        raise Http404("No upload is waiting to be confirmed here.")
    kept = uploads_dir() / token
    if not kept.is_file():
        request.session.pop(SESSION_PREFIX + token, None)
        messages.error(request, "That upload is no longer kept (after a day). Upload it again.")
        return redirect("datasets:dataset_new")
    if request.method == "POST" and "cancel" in request.POST:
        kept.unlink(missing_ok=True)
        request.session.pop(SESSION_PREFIX + token, None)
        messages.success(request, "Cancelled: nothing was created, and the file was deleted.")
        return redirect("datasets:dataset_list")
    forms_, descriptor = _schema_forms(request, state["schema"], time_column=True)
    if descriptor is not None:
        active = forms_["active"]
        time_column = ""
        if forms_["fields_form"] is active:
            time_column = active.cleaned_data.get("time_column") or ""
        run = _create_and_queue(request, state, kept, descriptor, time_column, active)
        if run is not None:
            kept.unlink(missing_ok=True)
            request.session.pop(SESSION_PREFIX + token, None)
            worker.nudge()
            messages.success(request, f"Dataset {state['name']} created; its first load is queued.")
            return redirect(run)
    context = {
        "nav": "data",
        "state": state,
        "token": token,
        "owner": administered_organizations(user).filter(pk=state["owner"]).first(),
        **forms_,
    }
    return render(request, "datasets/dataset_new_confirm.html", context)


def _create_and_queue(
    request: HttpRequest,
    state: dict[str, Any],
    kept: Path,
    descriptor: dict[str, Any],
    time_column: str,
    form: Any,
) -> IngestRun | None:
    user = _user(request)
    owner = administered_organizations(user).filter(pk=state["owner"]).first()
    if owner is None:
        raise PermissionDenied
    try:
        with transaction.atomic():
            dataset = services.create_dataset(
                slug=state["slug"],
                name=state["name"],
                owner=owner,
                schema=schema_from_descriptor(descriptor),
                steward=user,
                actor=user,
                description=state["description"],
                sensitivity=state["sensitivity"],
                update_frequency=state["update_frequency"],
                time_column=time_column,
            )
            services.update_schema(
                dataset, descriptor, user, "Schema confirmed when the dataset was created."
            )
            return services.queue_load(
                dataset,
                kept,
                state["file_name"],
                user,
                source_format=state["format"],
                **state["read_options"],
            )
    except ValidationError as error:
        messages_ = getattr(error, "message_dict", None)
        text = (
            "; ".join(f"{k}: {' '.join(v)}" for k, v in messages_.items())
            if messages_
            else " ".join(error.messages)
        )
        form.add_error(None, f"The dataset was not created: {text} Start again to fix it.")
    except services.DatasetError as error:
        form.add_error(None, f"The dataset was not created: {error} Start again to fix it.")
    except OSError:
        log.exception("archiving the first file of %s failed", state["slug"])
        form.add_error(
            None,
            "The file could not be archived on the server (is the disk full?). Nothing was "
            "created; try again, or tell an administrator.",
        )
    return None
