"""ArcGIS feature layers (FeatureServer or MapServer), through the REST `query` operation.

First the layer's description ({layer}?f=json) gives the object id field, the field types and
the server's maxRecordCount. Then GET {layer}/query?where=...&outFields=*&orderByFields=<object
id>&resultOffset=K&resultRecordCount=N&f=json, page after page while the answer says
`exceededTransferLimit: true`. Each feature's attributes become one NDJSON row; geometry is not
fetched. Esri dates (milliseconds since 1970, UTC) become ISO 8601 text in UTC.

ArcGIS reports most errors with HTTP 200 and a body {"error": {"code": ..., "message": ...}}.
"""

from __future__ import annotations

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
    iso_utc_from_epoch_ms,
    n,
    parse_json,
    redact_url,
    strip_query,
    try_json,
    url_secrets,
    with_params,
)

DATE_TYPE = "esriFieldTypeDate"
OID_TYPE = "esriFieldTypeOID"
DEFAULT_MAX_RECORDS = 1000
COUNT_TIMEOUT = 15.0


def fetch_arcgis(
    layer_url: str,
    dest: Path,
    *,
    where: str = "1=1",
    page_size: int | None = None,
    progress: Progress | None = None,
    timeout: float = 60,
    max_retries: int = 5,
    sleep: Sleep = time.sleep,
) -> FetchResult:
    """Download the features of an ArcGIS layer matching `where` to `dest` as NDJSON."""
    if page_size is not None:
        check_positive("page_size", page_size)
    checked = check_http_url(layer_url, "ArcGIS layer address")
    layer, extra = strip_query(checked)
    layer = re.sub(r"/query/?$", "", layer.rstrip("/"))
    # Parameters already in the address (a token, for instance) are sent with every request.
    extra = [(k, v) for k, v in extra if k.lower() not in ("f", "where", "outfields")]
    where = (where or "").strip() or "1=1"
    label = f"The ArcGIS layer at {redact_url(layer)}"
    client = HttpClient(
        label=label,
        secrets=url_secrets(checked),
        timeout=timeout,
        max_retries=max_retries,
        sleep=sleep,
    )

    info = _layer_info(client, layer, extra)
    fields = [f for f in info.get("fields") or [] if isinstance(f, dict) and f.get("name")]
    oid_field = info.get("objectIdField") or next(
        (f["name"] for f in fields if f.get("type") == OID_TYPE), None
    )
    if not oid_field:
        raise client.error(
            f"{label} has no object id field, so its rows cannot be read page by page in a "
            "stable order. Ask the layer's owner to publish it with an object id.",
            url=layer,
        )
    capabilities = info.get("advancedQueryCapabilities") or {}
    if isinstance(capabilities, dict) and capabilities.get("supportsPagination") is False:
        raise client.error(
            f"{label} is on an ArcGIS Server too old to read page by page (it does not "
            "support resultOffset). Export the layer to CSV on the portal and load the file "
            "instead.",
            url=layer,
        )
    max_records = _int(info.get("maxRecordCount")) or DEFAULT_MAX_RECORDS
    size = page_size or max_records
    dates = {f["name"] for f in fields if f.get("type") == DATE_TYPE}
    query_url = f"{layer}/query"
    base_params: dict[str, Any] = {**dict(extra), "where": where}
    total = _count(client, query_url, base_params, timeout)

    rows = 0
    page = 0
    last_oid: Any = None
    notes: list[str] = []
    if where != "1=1":
        notes.append(f"only features where {where}")
    with AtomicFile(dest) as out:
        writer = NdjsonWriter(out)
        writer.declare(f["name"] for f in fields)
        while True:
            page += 1
            params = {
                **base_params,
                "outFields": "*",
                "returnGeometry": "false",
                "orderByFields": oid_field,
                "resultOffset": rows,
                "resultRecordCount": size,
                "f": "json",
            }
            url = with_params(query_url, params)
            context = f"page {page}, offset {n(rows)}"
            data = _json(client, client.get(url, where=context, rows=rows), context, rows)
            features = data.get("features")
            if not isinstance(features, list):
                raise client.error(
                    f"{label} sent an answer without features ({context}). "
                    "Check the layer address: it should end in /FeatureServer/<number>.",
                    url=url,
                    rows=rows,
                )
            # The answer lists its own fields; their types are the ones that apply.
            answer_fields = [f for f in data.get("fields") or [] if isinstance(f, dict)]
            if answer_fields:
                dates = {f["name"] for f in answer_fields if f.get("type") == DATE_TYPE}
            for feature in features:
                attributes = feature.get("attributes") if isinstance(feature, dict) else None
                if not isinstance(attributes, dict):
                    raise client.error(
                        f"{label} sent a feature without attributes ({context}).",
                        url=url,
                        rows=rows,
                    )
                oid = attributes.get(oid_field)
                if last_oid is not None and oid is not None and _not_after(oid, last_oid):
                    raise client.error(
                        f"{label} sent object {oid} again ({context}, after {n(rows)} rows): "
                        "the server seems to ignore resultOffset, so the layer cannot be read "
                        "page by page. Nothing was saved. Export the layer to CSV on the "
                        "portal and load the file instead.",
                        url=url,
                        rows=rows,
                    )
                last_oid = oid if oid is not None else last_oid
                for name in dates & attributes.keys():
                    value = attributes[name]
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        attributes[name] = iso_utc_from_epoch_ms(value)
                writer.write(attributes)
            rows += len(features)
            call_progress(progress, rows, total)
            if not data.get("exceededTransferLimit"):
                break
            if not features:
                notes.append(
                    "the server said more features exist but sent none: the download stopped there"
                )
                break
        out.commit()

    if dates:
        notes.append(
            "date fields (" + ", ".join(sorted(dates)) + ") are written as ISO 8601 UTC text, "
            "like 2024-03-01T12:30:00Z"
        )
    if total is not None and total != rows:
        notes.append(
            f"the layer counted {n(total)} features and {n(rows)} arrived: it may have changed "
            "while it was being read"
        )
    source = redact_url(with_params(layer, {"where": where}) if where != "1=1" else layer)
    return FetchResult(Path(dest), "ndjson", rows, page, source, notes)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _not_after(oid: Any, last: Any) -> bool:
    try:
        return bool(oid <= last)
    except TypeError:
        return False


def _layer_info(client: HttpClient, layer: str, extra: list[tuple[str, str]]) -> dict[str, Any]:
    url = with_params(layer, {**dict(extra), "f": "json"})
    context = "the layer description"
    info = _json(client, client.get(url, where=context), context, 0)
    if "fields" not in info and isinstance(info.get("layers"), list):
        layers = [
            f"{item.get('id')} ({item.get('name')})"
            for item in info["layers"]
            if isinstance(item, dict)
        ]
        raise client.error(
            f"{client.label} is a service, not one layer. Add the layer number to the address, "
            f"like {redact_url(layer)}/0. Its layers: {', '.join(layers[:20]) or 'none'}.",
            url=layer,
        )
    if not isinstance(info.get("fields"), list):
        raise client.error(
            f"{client.label} did not describe its fields: check that the address is a feature "
            "layer and ends in /FeatureServer/<number> or /MapServer/<number>.",
            url=layer,
        )
    return info


def _json(client: HttpClient, response: HttpResponse, context: str, rows: int) -> dict[str, Any]:
    if response.status != 200:
        body = try_json(response.body)
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            raise _arcgis_error(client, response, error, context, rows)
        raise http_status_error(
            client,
            response,
            where=context,
            rows=rows,
            not_found="Check the layer address: it should end in /FeatureServer/<number>.",
            denied="The layer is not public: it needs a token (add ?token=... to the address).",
            bad_request="Check the where filter (SQL such as STATUS = 'Open').",
        )
    data = parse_json(
        client, response, where=context, advice="Check the layer address (…/FeatureServer/0)."
    )
    if not isinstance(data, dict):
        raise client.error(
            f"{client.label} sent an unexpected answer ({context}). Check the layer address.",
            url=response.url,
            rows=rows,
        )
    error = data.get("error")
    if isinstance(error, dict):
        raise _arcgis_error(client, response, error, context, rows)
    return data


def _arcgis_error(
    client: HttpClient, response: HttpResponse, error: dict[str, Any], context: str, rows: int
) -> ConnectorError:
    code = error.get("code")
    message = str(error.get("message") or "no message").strip()
    details = [str(d) for d in error.get("details") or [] if str(d).strip()]
    said = message + (f" ({'; '.join(details)})" if details else "")
    if code in (498, 499) or code in (401, 403):
        advice = (
            "The layer is not public: it needs a valid token. Add ?token=... to the layer "
            "address (it will not be shown in messages)."
        )
    elif code == 404:
        advice = "Check the layer address: it should end in /FeatureServer/<number>."
    elif code == 400:
        advice = "Check the where filter (SQL such as STATUS = 'Open') and the field names."
    else:
        advice = "Try again later; if it keeps happening, check the layer address."
    progress = f", after {n(rows)} rows" if rows else ""
    return client.error(
        f"{client.label} reported an error for {context}{progress}: '{said}' (code {code}). "
        f"Nothing was saved. {advice}",
        url=response.url,
        status=response.status,
        rows=rows,
    )


def _count(
    client: HttpClient, query_url: str, params: dict[str, Any], timeout: float
) -> int | None:
    """How many features the query matches, for the progress bar. Best effort, one try."""
    url = with_params(query_url, {**params, "returnCountOnly": "true", "f": "json"})
    try:
        response = client.get(
            url, where="feature count", max_retries=0, timeout=min(timeout, COUNT_TIMEOUT)
        )
    except ConnectorError:
        return None
    data = try_json(response.body) if response.status == 200 else None
    if isinstance(data, dict) and isinstance(data.get("count"), int):
        return int(data["count"])
    return None
