"""A real HTTP server on 127.0.0.1 that speaks the open-data APIs the connectors use.

    with FakePortals() as portals:
        portals.socrata["abcd-1234"] = [{"name": "a"}, ...]
        fetch_socrata(portals.url + "/socrata", "abcd-1234", dest)

Paths served (all under http://127.0.0.1:<port>):
- /socrata/resource/<id>.json      SODA 2: $limit, $offset, $order (:id; without it the rows
                                   come back in an unstable order, as on the real thing),
                                   $where (one comparison), $select=count(*) AS x,
                                   X-App-Token check, X-SODA2-Fields header, null fields
                                   omitted, gzip when asked, 429 throttling with Retry-After.
- /ckan/api/3/action/datastore_search, /ckan/api/3/action/resource_show, /ckan/download/<id>
                                   CKAN: limit (capped at rows_max), offset, sort=_id, total,
                                   `_id` in records, success:false errors with a 4xx status,
                                   Authorization check, resources not in the DataStore.
- /arcgis/rest/services/<name>/FeatureServer/0[/query]
                                   ArcGIS: layer description, where (one comparison),
                                   orderByFields, resultOffset, resultRecordCount capped at
                                   maxRecordCount, exceededTransferLimit, returnCountOnly,
                                   errors as HTTP 200 {"error": ...}, dates as epoch ms.
- /files/<name>                    a plain file, sent in 64 KiB writes.
- /html/...                        a sign-in page (HTML, HTTP 200) whatever the path.
- /badjson/...                     JSON cut off in the middle, HTTP 200.
- /hop/<port>/<path>               a 302 to http://127.0.0.1:<port>/<path> with the same query
                                   (another FakePortals: a redirect to another origin).

Failures are configured per API with `Failure(offset, mode, times)`: on the data request that
starts at `offset`, `drop` closes the connection without an answer, `truncate` sends half the
answer and closes, `stall` waits (past the client's timeout) before closing.
Every request is recorded in `requests` (path, params, headers) for assertions.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

LOOPBACK = "127.0.0.1"


@dataclass
class Failure:
    offset: int
    mode: Literal["drop", "truncate", "stall"]
    times: int | None = None  # None: every time


@dataclass
class Recorded:
    path: str
    params: dict[str, str]
    headers: dict[str, str]  # lower-case names


@dataclass
class Layer:
    fields: list[dict[str, str]]
    rows: list[dict[str, Any]]
    max_record_count: int = 1000
    object_id_field: str = "OBJECTID"
    error: dict[str, Any] | None = None  # returned with HTTP 200 by every query
    ignore_offset: bool = False  # an old server: resultOffset has no effect
    supports_pagination: bool = True


@dataclass
class CkanResource:
    rows: list[dict[str, Any]] | None = None  # None: not in the DataStore
    fields: list[dict[str, str]] = field(default_factory=list)
    download: bytes | None = None  # the resource's file, when not in the DataStore
    format: str = "CSV"
    url: str | None = None  # resource_show url; default: this server's /ckan/download/<id>


_COMPARISON = re.compile(r"^\s*(:?\w+)\s*(>=|<=|!=|=|>|<)\s*('(?:[^']|'')*'|-?\d+(?:\.\d+)?)\s*$")


def _compare(where: str | None, row: dict[str, Any]) -> bool:
    """Evaluate '1=1' or one comparison like `created > '2024-01-01'` or `ID >= 3`."""
    if not where or where.strip() == "1=1":
        return True
    match = _COMPARISON.match(where)
    if not match:
        raise ValueError(where)
    name, op, literal = match.groups()
    value = row.get(name)
    target: Any = literal[1:-1].replace("''", "'") if literal.startswith("'") else float(literal)
    if value is None:
        return False
    value = float(value) if isinstance(target, float) else str(value)
    return {
        "=": value == target,
        "!=": value != target,
        ">": value > target,
        ">=": value >= target,
        "<": value < target,
        "<=": value <= target,
    }[op]


class FakePortals:
    def __init__(self) -> None:
        self.socrata: dict[str, list[dict[str, Any]]] = {}
        self.socrata_token: str | None = None  # when set, requests must carry this token
        self.ckan: dict[str, CkanResource] = {}
        self.ckan_rows_max = 32_000
        self.ckan_api_key: str | None = None
        self.ckan_error: tuple[int, dict[str, Any]] | None = None  # (status, error) for searches
        self.arcgis: dict[str, Layer] = {}
        self.files: dict[str, bytes] = {}
        self.throttle = 0  # this many data requests get 429 first
        self.throttle_status = 429
        self.retry_after: str | None = None
        self.failures: dict[str, Failure] = {}  # api name ("socrata", "ckan", ...) -> failure
        self.stall_seconds = 2.0
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle ---

    def __enter__(self) -> FakePortals:
        handler = type("Handler", (_Handler,), {"portals": self})
        self._server = ThreadingHTTPServer((LOOPBACK, 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._released.set()  # let stalled handlers finish at once
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    # --- helpers for the handler ---

    def take_throttle(self) -> bool:
        with self._lock:
            if self.throttle > 0:
                self.throttle -= 1
                return True
            return False

    def take_failure(self, api: str, offset: int) -> str | None:
        with self._lock:
            failure = self.failures.get(api)
            if failure is None or failure.offset != offset:
                return None
            if failure.times is not None:
                if failure.times <= 0:
                    return None
                failure.times -= 1
            return failure.mode

    def stall(self) -> None:
        self._released.wait(self.stall_seconds)

    def paths(self, prefix: str) -> list[Recorded]:
        """The recorded requests whose path starts with `prefix`."""
        return [r for r in self.requests if r.path.startswith(prefix)]


class _Handler(BaseHTTPRequestHandler):
    portals: FakePortals
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- plumbing ---

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        params = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.portals.requests.append(Recorded(parts.path, params, headers))
        path = parts.path
        try:
            if path.startswith("/socrata/"):
                self.socrata(path, params, headers)
            elif path.startswith("/ckan/"):
                self.ckan(path, params, headers)
            elif path.startswith("/arcgis/"):
                self.arcgis(path, params)
            elif path.startswith("/files/"):
                self.file(path[len("/files/") :])
            elif path.startswith("/html/"):
                page = (
                    b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>"
                    b"<body><form>Sign in to the open data portal</form></body></html>"
                )
                self.send(200, page, "text/html; charset=utf-8")
            elif path.startswith("/badjson/"):
                self.send(200, b'[{"id": "1", "name": "a"}, {"id": "2", "na', "application/json")
            elif path.startswith("/hop/"):
                port, _, rest = path[len("/hop/") :].partition("/")
                target = f"http://{LOOPBACK}:{int(port)}/{rest}"
                self.send_response(302)
                self.send_header("Location", target + (f"?{parts.query}" if parts.query else ""))
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self.send(404, b"not here", "text/plain")
        except _Closed:
            self.close_connection = True

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        failure: str | None = None,
    ) -> None:
        if failure == "drop":
            raise _Closed
        if failure == "stall":
            self.portals.stall()
            raise _Closed
        if "gzip" in self.headers.get("Accept-Encoding", "") and len(body) > 200:
            body = gzip.compress(body)
            headers = {**(headers or {}), "Content-Encoding": "gzip"}
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if failure == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            raise _Closed
        self.wfile.write(body)

    def send_json(
        self,
        status: int,
        data: Any,
        headers: dict[str, str] | None = None,
        failure: str | None = None,
    ) -> None:
        self.send(status, json.dumps(data).encode(), "application/json", headers, failure)

    def throttled(self) -> bool:
        if not self.portals.take_throttle():
            return False
        headers = {"Retry-After": self.portals.retry_after} if self.portals.retry_after else {}
        status = self.portals.throttle_status
        self.send_json(status, {"message": "Too many requests, slow down"}, headers)
        return True

    # --- Socrata ---

    def socrata(self, path: str, params: dict[str, str], headers: dict[str, str]) -> None:
        match = re.fullmatch(r"/socrata/resource/([a-z0-9]{4}-[a-z0-9]{4})\.json", path)
        rows = self.portals.socrata.get(match.group(1)) if match else None
        if rows is None:
            self.send_json(404, {"code": "not_found", "error": True, "message": "Not found"})
            return
        token = self.portals.socrata_token
        if token is not None and headers.get("x-app-token") != token:
            message = "Invalid app_token specified" if "x-app-token" in headers else "Forbidden"
            self.send_json(403, {"code": "forbidden", "error": True, "message": message})
            return
        try:
            selected = [r for r in rows if _compare(params.get("$where"), r)]
        except (ValueError, KeyError) as exc:
            message = f"Could not parse SoQL query: {exc}"
            self.send_json(400, {"code": "query.soql.invalid", "error": True, "message": message})
            return
        select = params.get("$select")
        if select:
            alias = re.fullmatch(r"count\(\*\)(?:\s+as\s+(\w+))?", select.strip(), re.I)
            key = alias.group(1) if alias and alias.group(1) else "count"
            self.send_json(200, [{key: str(len(selected))}])
            return
        if self.throttled():
            return
        limit = int(params.get("$limit", "1000"))
        offset = int(params.get("$offset", "0"))
        if params.get("$order") != ":id":
            selected = selected[::2] + selected[1::2]  # no stable order without $order
        page = [{k: v for k, v in r.items() if v is not None} for r in selected][
            offset : offset + limit
        ]
        columns = list(dict.fromkeys(k for r in rows for k in r))
        headers_out = {
            "X-SODA2-Fields": json.dumps(columns),
            "X-SODA2-Types": json.dumps(["text"] * len(columns)),
        }
        failure = self.portals.take_failure("socrata", offset)
        self.send_json(200, page, headers_out, failure)

    # --- CKAN ---

    def ckan(self, path: str, params: dict[str, str], headers: dict[str, str]) -> None:
        key = self.portals.ckan_api_key
        authorised = key is None or headers.get("authorization") == key
        if path.startswith("/ckan/download/"):
            resource = self.portals.ckan.get(path[len("/ckan/download/") :])
            if resource is None or resource.download is None:
                self.send(404, b"Not found", "text/plain")
            elif not authorised:
                self.send(403, b"Forbidden", "text/plain")
            else:
                self.send(200, resource.download, "text/csv")
            return
        action = path.rsplit("/", 1)[-1]
        help_url = f"{self.portals.url}/ckan/api/3/action/help_show?name={action}"

        def error(status: int, kind: str, message: str) -> None:
            body = {
                "help": help_url,
                "success": False,
                "error": {"__type": kind, "message": message},
            }
            self.send_json(status, body)

        if not authorised:
            error(403, "Authorization Error", f"Access denied: not authorized to read {action}")
            return
        if action == "resource_show":
            rid = params.get("id", "")
            resource = self.portals.ckan.get(rid)
            if resource is None:
                error(404, "Not Found Error", "Resource was not found.")
                return
            url = resource.url or f"{self.portals.url}/ckan/download/{rid}"
            result = {
                "id": rid,
                "url": url,
                "format": resource.format,
                "datastore_active": resource.rows is not None,
            }
            self.send_json(200, {"help": help_url, "success": True, "result": result})
            return
        if action != "datastore_search":
            error(400, "Bad Request", f"Action name not known: {action}")
            return
        rid = params.get("resource_id", "")
        resource = self.portals.ckan.get(rid)
        if resource is None or resource.rows is None:
            error(404, "Not Found Error", f'Not found: Resource "{rid}" was not found.')
            return
        if self.portals.ckan_error is not None:
            status, err = self.portals.ckan_error
            self.send_json(status, {"help": help_url, "success": False, "error": err})
            return
        if self.throttled():
            return
        limit = min(int(params.get("limit", "100")), self.portals.ckan_rows_max)
        offset = int(params.get("offset", "0"))
        records = [{"_id": i + 1, **r} for i, r in enumerate(resource.rows)]
        if params.get("sort") != "_id":
            records = records[::-1]  # CKAN promises no order without sort
        result = {
            "include_total": True,
            "resource_id": rid,
            "fields": [{"id": "_id", "type": "int"}, *resource.fields],
            "records_format": "objects",
            "records": records[offset : offset + limit],
            "limit": limit,
            "offset": offset,
            "_links": {"start": "...", "next": "..."},
            "total": len(records),
        }
        failure = self.portals.take_failure("ckan", offset)
        self.send_json(200, {"help": help_url, "success": True, "result": result}, None, failure)

    # --- ArcGIS ---

    def arcgis(self, path: str, params: dict[str, str]) -> None:
        match = re.fullmatch(r"/arcgis/rest/services/(\w+)/FeatureServer(?:/(\d+))?(/query)?", path)
        layer = self.portals.arcgis.get(match.group(1)) if match else None
        if match is None or layer is None:
            error = {"code": 404, "message": "Service not found", "details": []}
            self.send_json(200, {"error": error})
            return
        if match.group(2) is None:  # the service, not a layer
            self.send_json(200, {"layers": [{"id": 0, "name": match.group(1)}], "tables": []})
            return
        if layer.error is not None:
            self.send_json(200, {"error": layer.error})
            return
        if not match.group(3):
            info = {
                "id": 0,
                "name": match.group(1),
                "type": "Feature Layer",
                "objectIdField": layer.object_id_field,
                "maxRecordCount": layer.max_record_count,
                "fields": layer.fields,
                "advancedQueryCapabilities": {
                    "supportsPagination": layer.supports_pagination,
                    "supportsOrderBy": True,
                },
            }
            self.send_json(200, info)
            return
        try:
            selected = [r for r in layer.rows if _compare(params.get("where"), r)]
        except (ValueError, KeyError):
            error = {
                "code": 400,
                "message": "Unable to complete operation.",
                "details": ["'where' parameter is invalid"],
            }
            self.send_json(200, {"error": error})
            return
        if params.get("returnCountOnly") == "true":
            self.send_json(200, {"count": len(selected)})
            return
        if self.throttled():
            return
        order = params.get("orderByFields")
        if order:
            selected = sorted(selected, key=lambda r: r[order])
        offset = 0 if layer.ignore_offset else int(params.get("resultOffset", "0"))
        count = min(
            int(params.get("resultRecordCount", layer.max_record_count)), layer.max_record_count
        )
        page = selected[offset : offset + count]
        body: dict[str, Any] = {
            "objectIdFieldName": layer.object_id_field,
            "fields": layer.fields,
            "features": [{"attributes": dict(r)} for r in page],
        }
        if offset + count < len(selected):
            body["exceededTransferLimit"] = True
        failure = self.portals.take_failure("arcgis", offset)
        self.send_json(200, body, None, failure)

    # --- plain files ---

    def file(self, name: str) -> None:
        body = self.portals.files.get(name)
        if body is None:
            self.send(404, b"<html><body>Not Found</body></html>", "text/html")
            return
        failure = self.portals.take_failure("files", 0)
        if failure in ("drop", "stall"):
            self.send(200, body, "text/csv", None, failure)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        end = len(body) // 2 if failure == "truncate" else len(body)
        for start in range(0, end, 64 * 1024):
            self.wfile.write(body[start : min(start + 64 * 1024, end)])
        if failure == "truncate":
            self.wfile.flush()
            raise _Closed


class _Closed(Exception):
    """Close the connection now, without (the rest of) an answer."""
