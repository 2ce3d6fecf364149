"""CKAN portals: the DataStore API, or the resource's own file when it is not in the DataStore.

GET {base}/api/3/action/datastore_search?resource_id=...&limit=N&offset=K&sort=_id, until the
`total` the portal reports has arrived. CKAN answers {"success": true, "result": {"records":
[...], "fields": [...], "total": N}}, and {"success": false, "error": {...}} (with a 4xx
status) when something is wrong. The DataStore's own row number `_id` is dropped.

A resource that was never loaded into the DataStore (a plain uploaded or linked file) is
fetched instead from its download address (resource_show -> url), as CSV.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from dataclasses import replace
from pathlib import Path
from typing import Any

from ._common import (
    AtomicFile,
    ConnectorError,
    FetchResult,
    HttpClient,
    HttpResponse,
    NdjsonWriter,
    Progress,
    Sleep,
    call_progress,
    check_http_url,
    check_positive,
    http_status_error,
    n,
    parse_json,
    portal_message,
    redact_url,
    same_origin,
    strip_query,
    try_json,
    url_secrets,
    with_params,
)
from .csv_url import download_csv

CSV_FORMATS = frozenset({"", "csv", "text/csv", ".csv", "tsv", "text/tab-separated-values"})
NOT_FOUND = "Not Found Error"
INTERNAL_FIELDS = frozenset({"_id", "_full_text"})  # the DataStore's own columns


class _NotInDatastore(Exception):
    pass


def fetch_ckan(
    base_url: str,
    resource_id: str,
    dest: Path,
    *,
    page_size: int = 32_000,
    api_key: str | None = None,
    progress: Progress | None = None,
    timeout: float = 60,
    max_retries: int = 5,
    sleep: Sleep = time.sleep,
) -> FetchResult:
    """Download a CKAN resource to `dest`: NDJSON from the DataStore, or the resource's CSV."""
    check_positive("page_size", page_size)
    base = strip_query(check_http_url(base_url, "CKAN portal address"))[0].rstrip("/")
    base = re.sub(r"/api(/\d+)?(/action)?(/.*)?$", "", base)
    resource = (resource_id or "").strip()
    if not resource:
        raise ConnectorError(
            "No CKAN resource id was given. It is the code after /resource/ in the address of "
            "the resource's page on the portal."
        )
    label = f"The CKAN portal at {redact_url(base)}"
    client = HttpClient(
        label=label,
        headers={"Authorization": api_key} if api_key else {},
        secrets=[api_key, *url_secrets(base_url)],
        timeout=timeout,
        max_retries=max_retries,
        sleep=sleep,
    )
    action = f"{base}/api/3/action"
    search = with_params(f"{action}/datastore_search", {"resource_id": resource})

    def page_at(offset: int, page: int) -> dict[str, Any]:
        params = {"limit": page_size, "offset": offset, "sort": "_id"}
        context = f"page {page}, offset {n(offset)}"
        response = client.get(with_params(search, params), where=context, rows=offset)
        return _result(client, response, resource, context, offset, bool(api_key))

    try:
        first = page_at(0, 1)
    except _NotInDatastore:
        return _download_resource(client, base, action, resource, dest, api_key, progress, timeout)

    rows = 0
    page = 1
    total: int | None = None
    last_id: int | None = None
    result = first
    with AtomicFile(dest) as out:
        writer = NdjsonWriter(out)
        writer.declare(
            f["id"]
            for f in result.get("fields") or []
            if isinstance(f, dict)
            and isinstance(f.get("id"), str)
            and f["id"] not in INTERNAL_FIELDS
        )
        while True:
            raw_total = result.get("total")
            total = raw_total if isinstance(raw_total, int) else None
            records = result.get("records")
            if not isinstance(records, list):
                raise client.error(
                    f"{label} sent a page without records (page {page}). Check the resource id.",
                    url=search,
                    rows=rows,
                )
            for record in records:
                if not isinstance(record, dict):
                    raise client.error(
                        f"{label} sent something other than records (page {page}).",
                        url=search,
                        rows=rows,
                    )
                row_id = record.get("_id")
                if isinstance(row_id, int):
                    if last_id is not None and row_id <= last_id:
                        raise client.error(
                            f"{label} sent row {row_id} again (page {page}, after {n(rows)} "
                            "rows): it seems to ignore the offset, so the resource cannot be "
                            "read page by page. Nothing was saved.",
                            url=search,
                            rows=rows,
                        )
                    last_id = row_id
                for internal in INTERNAL_FIELDS:
                    record.pop(internal, None)
                writer.write(record)
            rows += len(records)
            call_progress(progress, rows, total)
            # The portal may serve fewer rows than asked (its rows_max setting), so a short
            # page is not the end: the total is. Without a total, an empty page is.
            if not records or (total is not None and rows >= total):
                break
            page += 1
            try:
                result = page_at(rows, page)
            except _NotInDatastore:
                raise client.error(
                    f"{label} stopped finding resource {resource} in its DataStore "
                    f"after {n(rows)} rows (page {page}): it may have been reloaded or removed "
                    "while it was read. Nothing was saved. Try again.",
                    url=search,
                    rows=rows,
                ) from None
        out.commit()

    notes: list[str] = []
    if total is not None and rows != total:
        notes.append(
            f"the portal reported {n(total)} rows and {n(rows)} arrived: the resource may have "
            "changed while it was being read"
        )
    return FetchResult(Path(dest), "ndjson", rows, page, redact_url(search), notes)


def _error_text(error: Any) -> tuple[str, str]:
    """(type, message) from CKAN's {"__type": ..., "message": ...} or field errors."""
    if not isinstance(error, dict):
        return "", str(error or "")
    kind = str(error.get("__type") or "")
    message = portal_message(error, "message", "info") or ""
    if not message:
        parts = [
            f"{key}: {'; '.join(map(str, value)) if isinstance(value, list) else value}"
            for key, value in error.items()
            if key != "__type"
        ]
        message = ", ".join(parts)
    return kind, message[:300]


def _result(
    client: HttpClient,
    response: HttpResponse,
    resource: str,
    context: str,
    rows: int,
    has_key: bool,
) -> dict[str, Any]:
    data = try_json(response.body) if response.status != 200 else None
    if data is None:
        if response.status != 200:
            raise _status(client, response, resource, context, rows, has_key, None)
        data = parse_json(
            client, response, where=context, advice="Check the portal address and resource id."
        )
    if not isinstance(data, dict) or "success" not in data:
        if response.status != 200:
            raise _status(client, response, resource, context, rows, has_key, None)
        raise client.error(
            f"{client.label} did not answer like a CKAN portal ({context}): check that the "
            "address is the portal's home page (like https://data.city.gov).",
            url=response.url,
            rows=rows,
        )
    if data.get("success") is not True:
        kind, message = _error_text(data.get("error"))
        if kind == NOT_FOUND:
            raise _NotInDatastore
        if kind == "Authorization Error" or response.status in (401, 403):
            raise _status(client, response, resource, context, rows, has_key, message)
        raise client.error(
            f"{client.label} refused to read resource {resource} ({context}): "
            f"'{message or 'no reason given'}'"
            + (f" ({kind})" if kind else "")
            + ". Nothing was saved. Check the resource id and the options.",
            url=response.url,
            status=response.status,
            rows=rows,
        )
    result = data.get("result")
    if not isinstance(result, dict):
        raise client.error(
            f"{client.label} sent an answer without a result ({context}).",
            url=response.url,
            rows=rows,
        )
    return result


def _status(
    client: HttpClient,
    response: HttpResponse,
    resource: str,
    context: str,
    rows: int,
    has_key: bool,
    message: str | None,
) -> ConnectorError:
    return http_status_error(
        client,
        response,
        where=context,
        rows=rows,
        not_found=f"Check the resource id '{resource}' and the portal address.",
        denied=(
            "The API key was not accepted or has no access to this resource: check it "
            "(it is not shown here)."
            if has_key
            else "The resource is private: an API key (or API token) from an account with "
            "access to it is needed."
        ),
        bad_request="Check the resource id and the page size.",
        portal_message=message,
    )


def _download_resource(
    client: HttpClient,
    base: str,
    action: str,
    resource: str,
    dest: Path,
    api_key: str | None,
    progress: Progress | None,
    timeout: float,
) -> FetchResult:
    """The resource is not in the DataStore: fetch its file (resource_show -> url)."""
    context = "resource details"
    url = with_params(f"{action}/resource_show", {"id": resource})
    response = client.get(url, where=context)
    data = try_json(response.body)
    if (
        isinstance(data, dict)
        and data.get("success") is False
        and _error_text(data.get("error"))[0] == NOT_FOUND
    ):
        raise client.error(
            f"{client.label} has no resource '{resource}', neither in its DataStore nor in its "
            "catalogue. Check the resource id: it is the code after /resource/ in the address "
            "of the resource's page.",
            url=url,
            status=response.status,
        )
    info = _result(client, response, resource, context, 0, bool(api_key))
    link = info.get("url")
    if not isinstance(link, str) or not link.strip():
        raise client.error(
            f"Resource {resource} on {client.name} is not in the DataStore and has no "
            "download address. Ask the portal's administrators to load it into the DataStore.",
            url=url,
        )
    fmt = str(info.get("format") or "").strip().lower()
    download = urllib.parse.urljoin(base + "/", link.strip())
    if fmt not in CSV_FORMATS and not download.lower().split("?")[0].endswith(".csv"):
        raise client.error(
            f"Resource {resource} on {client.name} is not in the DataStore, and its file "
            f"is {fmt.upper()}, not CSV. Download it from the portal and upload it as a file, "
            "or ask the portal's administrators to load it into the DataStore.",
            url=url,
        )
    # The key goes only to the portal itself, never to another site the resource links to.
    headers = {"Authorization": api_key} if api_key and same_origin(download, base) else {}
    result = download_csv(
        check_http_url(download, "resource download address"),
        dest,
        label=f"The server at {urllib.parse.urlsplit(download).hostname}",
        headers=headers,
        secrets=[*client.secrets, *url_secrets(download)],
        progress=progress,
        timeout=timeout,
        max_bytes=None,
    )
    note = (
        f"resource {resource} is not in the portal's DataStore: its file was downloaded "
        "instead, as CSV"
    )
    return replace(result, notes=[note, *result.notes])
