"""Forms for the data pages: uploads, the schema, the agreement, rollback.

Uploaded files are checked here (empty, too large, a type civicloop cannot read) so that a
refused upload is a message beside the file input, before anything is archived or queued.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from civicloop.datasets.engine import stage as staging
from civicloop.datasets.engine.schema import (
    DEFAULT_FORMATS,
    FieldType,
    SchemaError,
    format_in_words,
    schema_from_descriptor,
)
from civicloop.datasets.models import (
    BadRowPolicy,
    Frequency,
    LoadMode,
    Sensitivity,
    slug_validator,
)
from civicloop.organizations.models import Organization

if TYPE_CHECKING:
    from civicloop.accounts.models import User
    from civicloop.datasets.models import Dataset

ACCEPT = ".csv,.tsv,.txt,.xlsx,.parquet,.json,.ndjson,.jsonl"
# Path segments under /data/ that are pages, not datasets.
RESERVED_SLUGS = {"new"}
# Above this many fields the per-field table would exceed Django's limit on form fields
# (DATA_UPLOAD_MAX_NUMBER_FIELDS); such schemas are edited as JSON.
MAX_TABLE_FIELDS = 200

ENCODINGS = [
    ("", "Detect automatically"),
    ("utf-8", "UTF-8 (with or without a byte-order mark)"),
    ("windows-1252", "Windows-1252 (Western European; Excel on Windows)"),
    ("latin-1", "Latin-1 (ISO-8859-1)"),
    ("utf-16", "UTF-16"),
]
DELIMITERS = [
    ("", "Detect automatically"),
    ("comma", "Comma ( , )"),
    ("semicolon", "Semicolon ( ; )"),
    ("tab", "Tab"),
    ("pipe", "Vertical bar ( | )"),
]
DELIMITER_CHARS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}
TEMPORAL = {"date", "datetime", "yearmonth", "year"}
TYPE_LABELS = {
    FieldType.STRING: "Text",
    FieldType.INTEGER: "Whole number",
    FieldType.NUMBER: "Number",
    FieldType.BOOLEAN: "Yes / no",
    FieldType.DATE: "Date",
    FieldType.DATETIME: "Date and time",
    FieldType.YEARMONTH: "Month (year and month)",
    FieldType.YEAR: "Year",
}


def human_size(size: int) -> str:
    """1536 -> '1.5 KB'; 2147483648 -> '2 GB' (binary multiples, as file managers show)."""
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            if unit == "bytes":
                return f"{size:,} byte{'s' if size != 1 else ''}"
            text = f"{value:.1f}".removesuffix(".0")
            return f"{text} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def upload_limit() -> int:
    return int(settings.MAX_UPLOAD_MB) * 1024 * 1024


def check_upload(upload: UploadedFile) -> staging.SourceFormat:
    """The upload's format, or a ValidationError a person can act on."""
    size = upload.size or 0
    if size == 0:
        raise forms.ValidationError(
            "The file is empty (0 bytes). Choose the file again: it needs a header row and "
            "at least one row of data.",
            code="empty",
        )
    limit = upload_limit()
    if size > limit:
        shown, limit_shown = human_size(size), human_size(limit)
        if shown == limit_shown:
            shown, limit_shown = f"{size:,} bytes", f"{limit:,} bytes ({limit_shown})"
        raise forms.ValidationError(
            f"The file is {shown}; the limit is {limit_shown} (CIVICLOOP_MAX_UPLOAD_MB). "
            "Split the file, or ask an administrator to raise the limit.",
            code="too_large",
        )
    try:
        return staging.format_from_name(upload.name or "")
    except staging.SourceError as error:
        raise forms.ValidationError(str(error), code="file_type") from None


def _file_field(label: str) -> forms.FileField:
    return forms.FileField(
        label=label,
        help_text="CSV (any common encoding and delimiter), Excel .xlsx, Parquet, JSON or "
        "NDJSON. The file is archived exactly as uploaded.",
        max_length=300,
        error_messages={
            "empty": "The file is empty (0 bytes). Choose the file again: it needs a header row "
            "and at least one row of data.",
            "required": "Choose a file to upload.",
            "invalid": "No file was received. Choose the file again.",
        },
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
    )


class ReadOptionsMixin(forms.Form):
    """How to read the file, for the rare file whose encoding or delimiter is not detected."""

    encoding = forms.ChoiceField(
        choices=ENCODINGS,
        required=False,
        help_text="CSV only. Leave on detect unless the accents in your file come out wrong.",
    )
    delimiter = forms.ChoiceField(
        choices=DELIMITERS,
        required=False,
        label="Delimiter",
        help_text="CSV only: the character between columns.",
    )
    sheet = forms.CharField(
        max_length=100,
        required=False,
        label="Sheet",
        help_text="Excel only: the name of the sheet to load, when the workbook has several.",
    )

    READ_OPTIONS = ("encoding", "delimiter", "sheet")

    def main_fields(self) -> list[Any]:
        return [f for f in self if f.name not in self.READ_OPTIONS]

    def read_fields(self) -> list[Any]:
        return [self[n] for n in self.READ_OPTIONS]

    def read_options_open(self) -> bool:
        """Show the reading options when one is set or has an error."""
        return any(
            self[n].errors or (self.is_bound and self.data.get(n)) for n in self.READ_OPTIONS
        )

    def read_options(self) -> dict[str, str | None]:
        data = self.cleaned_data
        return {
            "encoding": data.get("encoding") or None,
            "delimiter": DELIMITER_CHARS.get(data.get("delimiter") or "") or None,
            "sheet": (data.get("sheet") or "").strip() or None,
        }

    def check_sheet(self, upload: UploadedFile, fmt: staging.SourceFormat) -> None:
        """A workbook with several sheets needs one chosen; say which there are, here."""
        if fmt != staging.SourceFormat.XLSX or (self.cleaned_data.get("sheet") or "").strip():
            return
        from civicloop.datasets.engine.excel import list_sheets

        path = getattr(upload, "temporary_file_path", None)
        if path is None:
            return  # checked again, with the same message, when the file is read
        try:
            sheets = list_sheets(Path(path()))
        except staging.SourceError as error:
            self.add_error("file", str(error))
            return
        if len(sheets) > 1:
            listed = ", ".join(repr(s) for s in sheets)
            self.add_error("sheet", f"The workbook has sheets {listed}: type the one to load.")


class UploadForm(ReadOptionsMixin, forms.Form):
    file = _file_field("File to load")
    mode = forms.ChoiceField(
        choices=LoadMode.choices,
        label="How the rows combine with the current version",
        widget=forms.RadioSelect,
    )
    bad_rows = forms.ChoiceField(
        choices=BadRowPolicy.choices,
        label="Rows with problems",
        widget=forms.RadioSelect,
    )
    data_as_of = forms.DateField(
        label="Data complete through (optional)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The last day this file's data is complete for, e.g. the day an extract was "
        "taken mid-month. Metrics count a period only once it is covered. Empty: the latest "
        "day in the data, before today.",
    )
    field_order = ["file", "mode", "bad_rows", "data_as_of", "encoding", "delimiter", "sheet"]

    def __init__(self, *args: Any, dataset: Dataset, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"mode": dataset.load_mode, "bad_rows": dataset.bad_rows})
        super().__init__(*args, **kwargs)
        self.dataset = dataset
        self.source_format: staging.SourceFormat | None = None

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        self.source_format = check_upload(upload)
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.source_format is not None and "file" in data:
            self.check_sheet(data["file"], self.source_format)
        return data


class NewDatasetForm(ReadOptionsMixin, forms.Form):
    file = _file_field("First file")
    name = forms.CharField(max_length=200, help_text="As people will see it, e.g. Litter reports.")
    slug = forms.CharField(
        label="Short name",
        max_length=51,
        validators=[slug_validator],
        help_text="Lower-case letters, digits and underscores, e.g. litter_reports. It names "
        "the dataset's table in the warehouse and cannot be changed later.",
    )
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What one row is, where the data comes from, and anything a reader should know.",
    )
    owner = forms.ModelChoiceField(
        queryset=Organization.objects.none(),
        empty_label=None,
        label="Owning organization",
        help_text="Organizations you administer.",
    )
    sensitivity = forms.ChoiceField(
        choices=Sensitivity.choices, initial=Sensitivity.INTERNAL, widget=forms.RadioSelect
    )
    update_frequency = forms.ChoiceField(
        choices=Frequency.choices,
        initial=Frequency.MONTHLY,
        label="Expected update frequency",
        help_text="The data is shown as stale when the last load is older than this.",
    )
    field_order = [
        "file",
        "name",
        "slug",
        "description",
        "owner",
        "sensitivity",
        "update_frequency",
        "encoding",
        "delimiter",
        "sheet",
    ]

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = administered_organizations(user)  # type: ignore[attr-defined]
        self.source_format: staging.SourceFormat | None = None

    def clean_slug(self) -> str:
        from civicloop.datasets.models import Dataset

        slug: str = self.cleaned_data["slug"].strip()
        if slug in RESERVED_SLUGS:
            raise forms.ValidationError(f"{slug!r} is reserved for a page; choose another name.")
        if Dataset.objects.filter(slug=slug).exists():
            raise forms.ValidationError(f"A dataset called {slug!r} exists already.")
        return slug

    def clean_file(self) -> UploadedFile:
        upload: UploadedFile = self.cleaned_data["file"]
        self.source_format = check_upload(upload)
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.source_format is not None and "file" in data:
            self.check_sheet(data["file"], self.source_format)
        return data


def administered_organizations(user: User) -> Any:
    """Organizations this person may create datasets for."""
    if user.is_superuser:
        return Organization.objects.order_by("name")
    if user.is_org_admin and user.organization_id:
        return Organization.objects.filter(pk=user.organization_id)
    return Organization.objects.none()


def may_create_datasets(user: User) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or administered_organizations(user)))


# --- the schema ---------------------------------------------------------------------------------


class SchemaFieldsForm(forms.Form):
    """One row per field (type, format, required), the primary key and missing-value markers.

    Everything the table does not show (allowed values, bounds, titles, cross-field rules) is
    kept from the descriptor it was built from; edit those as JSON.
    """

    def __init__(
        self,
        *args: Any,
        descriptor: dict[str, Any],
        time_column: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.base = descriptor
        self.names: list[str] = [f["name"] for f in descriptor.get("fields", [])]
        type_choices = [(t.value, TYPE_LABELS[t]) for t in FieldType]
        for index, raw in enumerate(descriptor.get("fields", [])):
            name = raw["name"]
            self.fields[f"f{index}_type"] = forms.ChoiceField(
                label=f"Type of {name}", choices=type_choices, initial=raw.get("type", "string")
            )
            self.fields[f"f{index}_format"] = forms.CharField(
                label=f"Format of {name}",
                required=False,
                max_length=60,
                initial=raw.get("format", ""),
                widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
            )
            self.fields[f"f{index}_required"] = forms.BooleanField(
                label=f"{name} is required",
                required=False,
                initial=bool((raw.get("constraints") or {}).get("required")),
            )
        key = descriptor.get("primaryKey") or []
        self.fields["primary_key"] = forms.MultipleChoiceField(
            label="Primary key",
            choices=[(n, n) for n in self.names],
            required=False,
            initial=[key] if isinstance(key, str) else list(key),
            widget=forms.CheckboxSelectMultiple,
            help_text="The field or fields that identify a row. Needed to upsert; duplicate keys "
            "are reported as problems.",
        )
        missing = [v for v in descriptor.get("missingValues", [""]) if v != ""]
        self.fields["missing_values"] = forms.CharField(
            label="Values that mean “missing”",
            required=False,
            initial=", ".join(missing),
            help_text="Besides empty cells. Separate with commas, e.g. NA, N/A, -",
        )
        if time_column:
            guess = next((f["name"] for f in descriptor["fields"] if f.get("type") in TEMPORAL), "")
            self.fields["time_column"] = forms.ChoiceField(
                initial=guess,
                label="Time column",
                required=False,
                choices=[("", "None")] + [(n, n) for n in self.names],
                help_text="The date or time each row is about; measures are counted by it.",
            )

    def rows(self) -> Iterator[dict[str, Any]]:
        """The table's rows for the template: each field's name and its three inputs."""
        for index, name in enumerate(self.names):
            raw = self.base["fields"][index]
            yield {
                "name": name,
                "type": self[f"f{index}_type"],
                "format": self[f"f{index}_format"],
                "required": self[f"f{index}_required"],
                "kept": _kept_constraints(raw),
                "hint": format_hint(
                    str(self[f"f{index}_type"].value() or ""),
                    str(self[f"f{index}_format"].value() or "").strip(),
                ),
            }

    @property
    def other_fields(self) -> list[Any]:
        names = ("primary_key", "missing_values", "time_column")
        return [self[n] for n in names if n in self.fields]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        fields = []
        for index, raw in enumerate(self.base.get("fields", [])):
            field_type = data.get(f"f{index}_type") or raw.get("type", "string")
            entry = {"name": raw["name"], "type": field_type}
            entry.update(
                (k, v) for k, v in raw.items() if k not in ("name", "type", "format", "constraints")
            )
            fmt = (data.get(f"f{index}_format") or "").strip()
            if fmt and field_type in (FieldType.STRING, FieldType.INTEGER, FieldType.BOOLEAN):
                fmt = ""  # a format means nothing for these types; do not keep a stale one
            if fmt:
                entry["format"] = fmt
            constraints = dict(raw.get("constraints") or {})
            if data.get(f"f{index}_required"):
                constraints["required"] = True
            else:
                constraints.pop("required", None)
            if constraints:
                entry["constraints"] = constraints
            try:
                schema_from_descriptor({"fields": [entry]})
            except SchemaError as error:
                self.add_error(f"f{index}_format", _without_field_prefix(str(error)))
            fields.append(entry)
        descriptor = {k: v for k, v in self.base.items() if k not in ("fields", "primaryKey")}
        descriptor["fields"] = fields
        if data.get("primary_key"):
            descriptor["primaryKey"] = [n for n in self.names if n in data["primary_key"]]
        extra = [v.strip() for v in (data.get("missing_values") or "").split(",") if v.strip()]
        descriptor["missingValues"] = ["", *dict.fromkeys(extra)]
        if not self.errors:
            try:
                schema_from_descriptor(descriptor)
            except SchemaError as error:
                raise forms.ValidationError(str(error)) from None
        self.descriptor = descriptor
        return data


def _without_field_prefix(message: str) -> str:
    """'Field 'x': format ... ' -> 'format ...' (the label already names the field)."""
    if message.startswith("Field ") and ": " in message:
        rest = message.split(": ", 1)[1]
        return rest[:1].upper() + rest[1:]
    return message


def _kept_constraints(raw: dict[str, Any]) -> str:
    constraints = raw.get("constraints") or {}
    parts = []
    if constraints.get("enum"):
        parts.append("one of " + ", ".join(str(v) for v in constraints["enum"]))
    if constraints.get("minimum") is not None:
        parts.append(f"at least {constraints['minimum']}")
    if constraints.get("maximum") is not None:
        parts.append(f"at most {constraints['maximum']}")
    return "; ".join(parts)


def format_hint(field_type: str, fmt: str) -> str:
    """A date field's format in words (MM/DD/YYYY); empty for other types."""
    if field_type not in TEMPORAL:
        return ""
    pattern = fmt or DEFAULT_FORMATS.get(FieldType(field_type), "")
    return format_in_words(pattern) if pattern else ""


class SchemaJsonForm(forms.Form):
    descriptor_json = forms.CharField(
        label="Table Schema (JSON)",
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "false", "class": "code"}),
        help_text="A Frictionless Table Schema: fields (name, type, format, constraints), "
        "primaryKey, missingValues; civicloop:rules for cross-field rules such as "
        "closed_at >= opened_at.",
    )

    def clean_descriptor_json(self) -> dict[str, Any]:
        text = self.cleaned_data["descriptor_json"]
        try:
            descriptor = json.loads(text)
        except json.JSONDecodeError as error:
            raise forms.ValidationError(
                f"This is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
            ) from None
        try:
            schema_from_descriptor(descriptor)
        except SchemaError as error:
            raise forms.ValidationError(str(error)) from None
        self.descriptor: dict[str, Any] = descriptor
        return descriptor


def schema_json(descriptor: dict[str, Any]) -> str:
    return json.dumps(descriptor, indent=2, ensure_ascii=False)


# --- agreement and rollback -----------------------------------------------------------------------


class AgreementForm(forms.Form):
    organizations = forms.ModelMultipleChoiceField(
        queryset=Organization.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Organizations that may use this data",
        help_text="Besides the owner. For restricted data these are the only others who see it.",
    )
    purpose = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the data may be used for, e.g. the shared measures of Team Clean.",
    )
    valid_until = forms.DateField(
        required=False,
        label="Valid until",
        help_text="After this day only the owner may use the data. Leave empty for no end date.",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, dataset: Dataset, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organizations"].queryset = Organization.objects.exclude(  # type: ignore[attr-defined]
            pk=dataset.owner_id
        ).order_by("kind", "name")


class RollbackForm(forms.Form):
    reason = forms.CharField(
        max_length=1000,
        error_messages={
            "required": "Say why you are rolling back; it goes in the dataset's history."
        },
    )
