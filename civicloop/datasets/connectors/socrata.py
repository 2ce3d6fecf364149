"""Socrata (Tyler Data & Insights) portals, through the SODA 2 resource API.

GET {base}/resource/{id}.json?$limit=N&$offset=K&$order=:id[&$where=...], one page after the
other, until a page comes back shorter than $limit. Ordering by the system field `:id` keeps
paging stable. Rows are JSON objects; they are written as NDJSON with the columns in the order
the portal lists them (the X-SODA2-Fields header), so every line has the same keys.
"""

from __future__ import annotations

import json
import re
import time
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
    strip_query,
    try_json,
    url_secrets,
    with_params,
)

DATASET_ID = re.compile(r"^[a-z0-9]{4}-[a-z0-9]{4}$")
COUNT_TIMEOUT = 15.0  # the optional row count must not hold up the download for long


def fetch_socrata(
    base_url: str,
    dataset_id: str,
    dest: Path,
    *,
    app_token: str | None = None,
    where: str | None = None,
    page_size: int = 50_000,
    progress: Progress | None = None,
    timeout: float = 60,
    max_retries: int = 5,
    sleep: Sleep = time.sleep,
) -> FetchResult:
    """Download a Socrata dataset (all rows, or those matching `where`) to `dest` as NDJSON."""
    check_positive("page_size", page_size)
    base, extra = strip_query(check_http_url(base_url, "Socrata portal address"))
    base = re.sub(r"/(resource|api/views|api/id)(/.*)?$", "", base.rstrip("/"))
    dataset = (dataset_id or "").strip().lower()
    if dataset.endswith(".json"):
        dataset = dataset[: -len(".json")]
    if not DATASET_ID.match(dataset):
        raise ConnectorError(
            f"'{dataset_id}' is not a Socrata dataset id. The id is the code of four letters or "
            "digits, a dash, and four more (like 'erm2-nwe9') at the end of the dataset's "
            "address on the portal."
        )
    resource = f"{base}/resource/{dataset}.json"
    label = f"The Socrata portal at {redact_url(base)}"
    headers = {"X-App-Token": app_token} if app_token else {}
    client = HttpClient(
        label=label,
        headers=headers,
        secrets=[app_token, *url_secrets(base_url)],
        timeout=timeout,
        max_retries=max_retries,
        sleep=sleep,
        retry_advice="" if app_token else "An app token raises the portal's limits.",
    )
    # Parameters already in the address (a $$app_token, say) go with every request.
    filters = {**dict(extra), **({"$where": where} if where else {})}
    total = _count(client, resource, filters, timeout)
    notes: list[str] = []
    if where:
        notes.append(f"only rows where {where}")

    rows = 0
    page = 0
    previous_first: Any = None
    with AtomicFile(dest) as out:
        writer = NdjsonWriter(out)
        while True:
            page += 1
            params = {"$limit": page_size, "$offset": rows, "$order": ":id", **filters}
            url = with_params(resource, params)
            context = f"page {page}, offset {n(rows)}"
            response = client.get(url, where=context, rows=rows)
            data = _page_json(client, response, dataset, context, rows, bool(app_token))
            if page == 1:
                writer.declare(_fields(response))
            elif data and data[0] == previous_first:
                raise client.error(
                    f"{label} sent the same rows again for {context}: it seems to ignore "
                    "$offset, so the dataset cannot be read page by page. Nothing was saved. "
                    "Try a page size larger than the dataset, or export it as CSV.",
                    url=url,
                    rows=rows,
                )
            previous_first = data[0] if data else None
            for row in data:
                if not isinstance(row, dict):
                    raise client.error(
                        f"{label} sent something other than rows for {context} "
                        f"(an item of type {type(row).__name__}). Check the dataset id.",
                        url=url,
                        rows=rows,
                    )
                writer.write(row)
            rows += len(data)
            call_progress(progress, rows, total)
            if len(data) < page_size:
                break
        out.commit()

    if total is not None and total != rows:
        notes.append(
            f"the portal counted {n(total)} rows before the download and {n(rows)} arrived: "
            "the dataset may have changed while it was being read"
        )
    source = redact_url(with_params(resource, {"$where": where} if where else {}))
    return FetchResult(dest, "ndjson", rows, page, source, notes)


def _page_json(
    client: HttpClient,
    response: HttpResponse,
    dataset: str,
    context: str,
    rows: int,
    has_token: bool,
) -> list[Any]:
    if response.status != 200:
        body = try_json(response.body)
        denied = (
            "The app token was not accepted or has no access to this dataset: check it "
            "(it is not shown here) on the portal's developer settings page."
            if has_token
            else "The dataset may be private: an app token or an account with access to it "
            "is needed."
        )
        raise http_status_error(
            client,
            response,
            where=context,
            rows=rows,
            not_found=(
                f"Check the dataset id '{dataset}' (the code like 'erm2-nwe9' at the end of the "
                "dataset's address) and the portal address."
            ),
            denied=denied,
            bad_request="Check the where filter: column names and quoting follow SoQL "
            "(for example: created_date > '2024-01-01T00:00:00').",
            portal_message=portal_message(body, "message", "errorMessage", "error"),
        )
    data = parse_json(
        client,
        response,
        where=context,
        advice="Check the portal address and the dataset id.",
    )
    if isinstance(data, dict):
        said = portal_message(data, "message", "errorMessage")
        raise client.error(
            f"{client.label} sent an error instead of rows for {context}"
            + (f": '{said}'." if said else ".")
            + " Check the dataset id and the where filter.",
            url=response.url,
            rows=rows,
        )
    if not isinstance(data, list):
        raise client.error(
            f"{client.label} sent something other than a list of rows for {context}. "
            "Check the portal address and the dataset id.",
            url=response.url,
            rows=rows,
        )
    return data


def _fields(response: HttpResponse) -> list[str]:
    """The dataset's columns in order, from the X-SODA2-Fields header (absent on some
    portals, or when the list is too long for a header)."""
    raw = response.headers.get("X-SODA2-Fields") if response.headers else None
    if not raw:
        return []
    try:
        fields = json.loads(raw)
    except ValueError:
        return []
    if isinstance(fields, list) and all(isinstance(f, str) for f in fields):
        return [f for f in fields if not f.startswith(":")]
    return []


def _count(
    client: HttpClient, resource: str, filters: dict[str, str], timeout: float
) -> int | None:
    """How many rows the download will bring, for the progress bar. Best effort: one try,
    no back-off; any problem just means the total is unknown."""
    url = with_params(resource, {"$select": "count(*) AS row_count", **filters})
    try:
        response = client.get(
            url, where="row count", max_retries=0, timeout=min(timeout, COUNT_TIMEOUT)
        )
    except ConnectorError:
        return None
    if response.status != 200:
        return None
    data = try_json(response.body)
    if isinstance(data, list) and data and isinstance(data[0], dict):
        value = data[0].get("row_count")
        try:
            return int(str(value))
        except ValueError:
            return None
    return None
