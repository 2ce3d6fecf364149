"""Every page has a machine-readable twin: the same data as JSON (and CSV for tables).

Views build one plain-data dict and hand it here, so the HTML page, its `.json` twin and its
`.csv` twin can never disagree about what the page shows.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from civicloop.datasets.engine.export import neutralise


class Format(StrEnum):
    HTML = "html"
    JSON = "json"
    CSV = "csv"


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")  # BOM so Excel opens UTF-8 names correctly
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        # Text a spreadsheet would run as a formula gets an apostrophe; numbers are untouched.
        writer.writerow([neutralise(value) for value in row])
    return response


def respond(
    request: HttpRequest,
    fmt: str,
    template: str,
    data: Mapping[str, Any],
    context: Mapping[str, Any] | None = None,
    table: tuple[str, Sequence[str], Iterable[Sequence[Any]]] | None = None,
) -> HttpResponse:
    """Render `data` as the page (`fmt` html), JSON, or the page's main table as CSV."""
    if fmt == Format.JSON:
        return JsonResponse(dict(data), json_dumps_params={"indent": 2})
    if fmt == Format.CSV and table is not None:
        filename, header, rows = table
        return csv_response(filename, header, rows)
    return render(request, template, {**data, **(context or {})})
