"""Connectors against a local HTTP server that speaks each portal's real paging and errors.

No Django database is needed. Back-off waits go to an injected `sleep` that only records them.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from civicloop.datasets.connectors import (
    ConnectorError,
    FetchResult,
    fetch_arcgis,
    fetch_ckan,
    fetch_csv_url,
    fetch_socrata,
    fetch_sql,
)
from civicloop.datasets.connectors import csv_url as csv_url_module
from civicloop.datasets.connectors._common import iso_utc_from_epoch_ms, redact_url
from civicloop.datasets.connectors.csv_url import RecordCounter
from civicloop.datasets.connectors.sql import check_query

from .fake_portals import CkanResource, Failure, FakePortals, Layer

TOKEN = "s3cr3t-app-token-value"
PG_URL = os.environ.get("CIVICLOOP_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test")


# --- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback requests must not be sent to a proxy from the environment."""
    for name in (
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def portals() -> Iterator[FakePortals]:
    with FakePortals() as fake:
        yield fake


@pytest.fixture
def other_site() -> Iterator[FakePortals]:
    """A second server: another origin (same loopback address, another port)."""
    with FakePortals() as fake:
        yield fake


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Calls(list[tuple[int, int | None]]):
    def __call__(self, rows: int, total: int | None) -> None:
        self.append((rows, total))


def ndjson(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def service_requests(count: int) -> list[dict[str, Any]]:
    """Socrata-style rows: text values, omitted nulls, a nested location."""
    rows = []
    for i in range(count):
        rows.append(
            {
                "unique_key": str(1000 + i),
                "created_date": f"2024-01-{1 + i % 28:02d}T08:00:00.000",
                "complaint_type": "Illegal Dumping" if i % 2 else "Encampment",
                "borough": None if i % 5 == 0 else "BROOKLYN",
                "location": {"latitude": "40.6", "longitude": str(-73.9 - i / 1000)},
            }
        )
    return rows


def as_written(row: dict[str, Any]) -> dict[str, Any]:
    """A Socrata row as the connector writes it: nested values become JSON text."""
    return {
        k: json.dumps(v, separators=(",", ":")) if isinstance(v, dict) else v
        for k, v in row.items()
    }


def socrata(portals: FakePortals, count: int, dataset: str = "abcd-1234") -> list[dict[str, Any]]:
    rows = service_requests(count)
    portals.socrata[dataset] = rows
    return rows


def data_pages(portals: FakePortals, prefix: str) -> list[dict[str, str]]:
    """Params of the row requests (not counts, not layer descriptions) under `prefix`."""
    return [
        r.params
        for r in portals.paths(prefix)
        if "$select" not in r.params
        and r.params.get("returnCountOnly") != "true"
        and ("resultOffset" in r.params or not r.path.startswith("/arcgis/"))
    ]


# --- Socrata -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "page_size", "pages"),
    [(23, 5, 5), (20, 5, 5), (0, 5, 1), (3, 50_000, 1)],
    ids=["last-page-short", "exact-multiple-ends-with-empty-page", "empty", "one-page"],
)
def test_socrata_every_row_once_in_order(
    portals: FakePortals, tmp_path: Path, count: int, page_size: int, pages: int
) -> None:
    rows = socrata(portals, count)
    dest = tmp_path / "out.ndjson"

    result = fetch_socrata(portals.url + "/socrata", "abcd-1234", dest, page_size=page_size)

    assert result == FetchResult(
        dest, "ndjson", count, pages, f"{portals.url}/socrata/resource/abcd-1234.json", []
    )
    assert ndjson(dest) == [as_written(r) for r in rows]
    requests = data_pages(portals, "/socrata/")
    expected_pages = 1 if count == 0 else -(-count // page_size) + (count % page_size == 0)
    assert [int(p["$offset"]) for p in requests] == [page_size * i for i in range(expected_pages)]
    assert all(p["$order"] == ":id" and p["$limit"] == str(page_size) for p in requests)
    assert leftovers(tmp_path) == ["out.ndjson"]


def test_socrata_columns_follow_the_portal_and_every_line_has_them(
    portals: FakePortals, tmp_path: Path
) -> None:
    socrata(portals, 6)  # row 0 has no borough (Socrata omits nulls)
    dest = tmp_path / "out.ndjson"

    fetch_socrata(portals.url + "/socrata/", "ABCD-1234", dest, page_size=4)

    lines = dest.read_text().splitlines()
    columns = ["unique_key", "created_date", "complaint_type", "borough", "location"]
    assert [list(json.loads(line)) for line in lines] == [columns] * 6
    first = json.loads(lines[0])
    assert first["borough"] is None
    assert json.loads(first["location"]) == {"latitude": "40.6", "longitude": "-73.9"}


def test_socrata_incremental_where_is_sent_and_applied(
    portals: FakePortals, tmp_path: Path
) -> None:
    rows = socrata(portals, 30)
    where = "created_date > '2024-01-20T00:00:00.000'"
    dest = tmp_path / "new.ndjson"

    result = fetch_socrata(portals.url + "/socrata", "abcd-1234", dest, where=where, page_size=3)

    expected = [as_written(r) for r in rows if r["created_date"] > "2024-01-20T00:00:00.000"]
    assert ndjson(dest) == expected
    assert result.rows == len(expected) == 9
    assert all(p["$where"] == where for p in data_pages(portals, "/socrata/"))
    assert "$where=created_date" in result.source_url
    assert result.notes == [f"only rows where {where}"]


def test_socrata_app_token_is_sent_but_never_shown(portals: FakePortals, tmp_path: Path) -> None:
    socrata(portals, 12)
    portals.socrata_token = TOKEN

    result = fetch_socrata(
        portals.url + "/socrata", "abcd-1234", tmp_path / "a.ndjson", app_token=TOKEN, page_size=5
    )

    assert result.rows == 12
    assert {r.headers.get("x-app-token") for r in portals.requests} == {TOKEN}
    assert TOKEN not in result.source_url and TOKEN not in " ".join(result.notes)

    with pytest.raises(ConnectorError) as refused:
        fetch_socrata(
            portals.url + "/socrata", "abcd-1234", tmp_path / "b.ndjson", app_token="wrong-token"
        )
    message = str(refused.value)
    assert "HTTP 403" in message and "app token was not accepted" in message
    assert "wrong-token" not in message and "wrong-token" not in (refused.value.url or "")
    assert not (tmp_path / "b.ndjson").exists()


def test_socrata_private_dataset_without_token_says_a_token_is_needed(
    portals: FakePortals, tmp_path: Path
) -> None:
    socrata(portals, 3)
    portals.socrata_token = TOKEN

    with pytest.raises(ConnectorError, match=r"HTTP 403.*an app token or an account"):
        fetch_socrata(portals.url + "/socrata", "abcd-1234", tmp_path / "a.ndjson")


def test_socrata_throttling_honours_retry_after_then_succeeds(
    portals: FakePortals, tmp_path: Path
) -> None:
    rows = socrata(portals, 9)
    portals.throttle = 2
    portals.retry_after = "3"
    sleeps = Sleeps()

    result = fetch_socrata(
        portals.url + "/socrata", "abcd-1234", tmp_path / "a.ndjson", page_size=4, sleep=sleeps
    )

    assert sleeps == [3.0, 3.0]
    assert ndjson(tmp_path / "a.ndjson") == [as_written(r) for r in rows]
    assert result.pages == 3


def test_socrata_backs_off_exponentially_without_retry_after(
    portals: FakePortals, tmp_path: Path
) -> None:
    socrata(portals, 2)
    portals.throttle = 3
    sleeps = Sleeps()

    result = fetch_socrata(
        portals.url + "/socrata", "abcd-1234", tmp_path / "a.ndjson", sleep=sleeps
    )

    assert sleeps == [1.0, 2.0, 4.0]
    assert result.rows == 2


def test_socrata_503_is_retried_too(portals: FakePortals, tmp_path: Path) -> None:
    socrata(portals, 2)
    portals.throttle = 1
    portals.throttle_status = 503
    sleeps = Sleeps()

    assert (
        fetch_socrata(
            portals.url + "/socrata", "abcd-1234", tmp_path / "a.ndjson", sleep=sleeps
        ).rows
        == 2
    )
    assert sleeps == [1.0]


def test_socrata_gives_up_after_max_retries_with_a_clear_message(
    portals: FakePortals, tmp_path: Path
) -> None:
    socrata(portals, 12)
    portals.throttle = 1000
    sleeps = Sleeps()
    dest = tmp_path / "a.ndjson"

    with pytest.raises(ConnectorError) as error:
        fetch_socrata(portals.url + "/socrata", "abcd-1234", dest, max_retries=3, sleep=sleeps)

    assert sleeps == [1.0, 2.0, 4.0]
    assert str(error.value) == (
        f"The Socrata portal at {portals.url}/socrata kept refusing requests because too many "
        "were made (HTTP 429) before any rows arrived (page 1, offset 0); tried 4 times over "
        "7 s. Nothing was saved. Wait a few minutes and try again. An app token raises the "
        "portal's limits."
    )
    assert error.value.status == 429
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("mode", "what"),
    [
        ("drop", "closed the connection before its answer was complete"),
        ("truncate", "closed the connection before its answer was complete"),
        ("stall", "stopped answering (no reply within 0.3 s)"),
    ],
)
def test_socrata_failure_half_way_names_the_progress_and_leaves_no_file(
    portals: FakePortals, tmp_path: Path, mode: str, what: str
) -> None:
    socrata(portals, 23)
    portals.failures["socrata"] = Failure(offset=10, mode=mode)  # type: ignore[arg-type]
    sleeps = Sleeps()
    dest = tmp_path / "a.ndjson"

    with pytest.raises(ConnectorError) as error:
        fetch_socrata(
            portals.url + "/socrata",
            "abcd-1234",
            dest,
            page_size=5,
            timeout=0.3,
            max_retries=1,
            sleep=sleeps,
        )

    assert str(error.value) == (
        f"The Socrata portal at {portals.url}/socrata {what} after 10 rows (page 3, offset 10); "
        "tried 2 times over 1 s. Nothing was saved. Try again later; if it keeps happening, "
        "try a smaller page size. An app token raises the portal's limits."
    )
    assert error.value.rows == 10
    assert sleeps == [1.0]
    assert leftovers(tmp_path) == []  # neither the file nor its temporary part


def test_socrata_failure_leaves_an_earlier_file_untouched(
    portals: FakePortals, tmp_path: Path
) -> None:
    socrata(portals, 23)
    dest = tmp_path / "a.ndjson"
    dest.write_text('{"old": "version"}\n')
    portals.failures["socrata"] = Failure(offset=5, mode="drop")

    with pytest.raises(ConnectorError, match=r"after 5 rows \(page 2, offset 5\)"):
        fetch_socrata(portals.url + "/socrata", "abcd-1234", dest, page_size=5, max_retries=0)

    assert dest.read_text() == '{"old": "version"}\n'
    assert leftovers(tmp_path) == ["a.ndjson"]


def test_socrata_dropped_connection_is_retried_without_duplicating_rows(
    portals: FakePortals, tmp_path: Path
) -> None:
    rows = socrata(portals, 12)
    portals.failures["socrata"] = Failure(offset=5, mode="drop", times=1)
    sleeps = Sleeps()

    result = fetch_socrata(
        portals.url + "/socrata", "abcd-1234", tmp_path / "a.ndjson", page_size=5, sleep=sleeps
    )

    assert ndjson(tmp_path / "a.ndjson") == [as_written(r) for r in rows]
    assert (result.rows, result.pages, sleeps) == (12, 3, [1.0])


def test_socrata_html_instead_of_json(portals: FakePortals, tmp_path: Path) -> None:
    with pytest.raises(ConnectorError) as error:
        fetch_socrata(portals.url + "/html", "abcd-1234", tmp_path / "a.ndjson")

    assert str(error.value).startswith(
        f"The Socrata portal at {portals.url}/html returned an HTML page instead of JSON "
        "(HTTP 200, first bytes '<!DOCTYPE html> <html><head><title>Sign…') for page 1, "
        "offset 0: check the portal address and the dataset id."
    )
    assert leftovers(tmp_path) == []


def test_socrata_invalid_json(portals: FakePortals, tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match=r"not valid JSON for page 1, offset 0 \("):
        fetch_socrata(portals.url + "/badjson", "abcd-1234", tmp_path / "a.ndjson")
    assert leftovers(tmp_path) == []


def test_socrata_unknown_dataset(portals: FakePortals, tmp_path: Path) -> None:
    with pytest.raises(ConnectorError) as error:
        fetch_socrata(portals.url + "/socrata", "zzzz-9999", tmp_path / "a.ndjson")
    assert "has no such dataset (HTTP 404)" in str(error.value)
    assert "Check the dataset id 'zzzz-9999'" in str(error.value)
    assert error.value.status == 404


def test_socrata_malformed_dataset_id_is_refused_before_any_request(
    portals: FakePortals, tmp_path: Path
) -> None:
    with pytest.raises(ConnectorError, match="is not a Socrata dataset id"):
        fetch_socrata(portals.url + "/socrata", "311 requests", tmp_path / "a.ndjson")
    assert portals.requests == []


def test_socrata_rejected_where_shows_the_portal_message(
    portals: FakePortals, tmp_path: Path
) -> None:
    socrata(portals, 3)
    with pytest.raises(ConnectorError) as error:
        fetch_socrata(
            portals.url + "/socrata", "abcd-1234", tmp_path / "a.ndjson", where="created >>> 1"
        )
    message = str(error.value)
    assert "rejected the request (HTTP 400)" in message
    assert "The portal said: 'Could not parse SoQL query" in message
    assert "Check the where filter" in message


def test_socrata_progress_counts_increase_towards_the_total(
    portals: FakePortals, tmp_path: Path
) -> None:
    socrata(portals, 23)
    calls = Calls()

    fetch_socrata(
        portals.url + "/socrata", "abcd-1234", tmp_path / "a.ndjson", page_size=5, progress=calls
    )

    assert calls == [(5, 23), (10, 23), (15, 23), (20, 23), (23, 23)]


def test_socrata_token_is_not_forwarded_to_another_site_on_redirect(
    portals: FakePortals, other_site: FakePortals, tmp_path: Path
) -> None:
    rows = socrata(other_site, 4)
    port = other_site.url.rsplit(":", 1)[1]

    result = fetch_socrata(
        f"{portals.url}/hop/{port}/socrata", "abcd-1234", tmp_path / "a.ndjson", app_token=TOKEN
    )

    assert ndjson(tmp_path / "a.ndjson") == [as_written(r) for r in rows]
    assert result.rows == 4
    assert all(r.headers.get("x-app-token") == TOKEN for r in portals.requests)
    assert other_site.requests and all("x-app-token" not in r.headers for r in other_site.requests)


def test_only_http_addresses_are_fetched(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="must be an http:// or https:// address"):
        fetch_csv_url("file:///etc/passwd", tmp_path / "a.csv")
    with pytest.raises(ConnectorError, match="must be an http:// or https:// address"):
        fetch_socrata("ftp://data.city.gov", "abcd-1234", tmp_path / "a.ndjson")
    assert leftovers(tmp_path) == []


# --- CKAN ----------------------------------------------------------------------------------

RID = "5b5f6c26-8c4a-4d3e-9f0b-0a1b2c3d4e5f"


def ckan_rows(count: int) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    rows = [
        {"case_id": f"C{i:04d}", "opened": f"2024-02-{1 + i % 28:02d}", "tonnage": i * 1.5}
        for i in range(count)
    ]
    fields = [
        {"id": "case_id", "type": "text"},
        {"id": "opened", "type": "date"},
        {"id": "tonnage", "type": "numeric"},
    ]
    return rows, fields


def test_ckan_pages_until_the_total_and_drops_id(portals: FakePortals, tmp_path: Path) -> None:
    rows, fields = ckan_rows(25)
    portals.ckan[RID] = CkanResource(rows=rows, fields=fields)
    calls = Calls()
    dest = tmp_path / "c.ndjson"

    result = fetch_ckan(portals.url + "/ckan", RID, dest, page_size=10, progress=calls)

    assert ndjson(dest) == rows  # no `_id`, every row once, in order
    assert (result.rows, result.pages, result.format) == (25, 3, "ndjson")
    assert calls == [(10, 25), (20, 25), (25, 25)]
    searches = data_pages(portals, "/ckan/api/3/action/datastore_search")
    assert [(p["offset"], p["limit"], p["sort"]) for p in searches] == [
        ("0", "10", "_id"),
        ("10", "10", "_id"),
        ("20", "10", "_id"),
    ]
    assert result.source_url == (
        f"{portals.url}/ckan/api/3/action/datastore_search?resource_id={RID}"
    )


def test_ckan_short_pages_from_a_rows_max_limit_are_not_the_end(
    portals: FakePortals, tmp_path: Path
) -> None:
    rows, fields = ckan_rows(10)
    portals.ckan[RID] = CkanResource(rows=rows, fields=fields)
    portals.ckan_rows_max = 4  # the portal serves at most 4 rows a page, whatever is asked

    result = fetch_ckan(
        portals.url + "/ckan/api/3/action", RID, tmp_path / "c.ndjson", page_size=10
    )

    assert ndjson(tmp_path / "c.ndjson") == rows
    assert (result.rows, result.pages) == (10, 3)


def test_ckan_success_false_gives_the_portal_message(portals: FakePortals, tmp_path: Path) -> None:
    rows, fields = ckan_rows(3)
    portals.ckan[RID] = CkanResource(rows=rows, fields=fields)
    portals.ckan_error = (
        409,
        {"__type": "Validation Error", "sort": ['field "_id" not in fields']},
    )

    with pytest.raises(ConnectorError) as error:
        fetch_ckan(portals.url + "/ckan", RID, tmp_path / "c.ndjson")

    assert str(error.value) == (
        f"The CKAN portal at {portals.url}/ckan refused to read resource {RID} (page 1, "
        "offset 0): 'sort: field \"_id\" not in fields' (Validation Error). Nothing was saved. "
        "Check the resource id and the options."
    )
    assert leftovers(tmp_path) == []


def test_ckan_resource_not_in_the_datastore_falls_back_to_its_csv(
    portals: FakePortals, tmp_path: Path
) -> None:
    csv = b'case_id,note\nC1,"two\nlines"\nC2,plain\nC3,last\n'
    portals.ckan[RID] = CkanResource(rows=None, download=csv, format="CSV")
    portals.ckan_api_key = TOKEN
    dest = tmp_path / "c.csv"

    result = fetch_ckan(portals.url + "/ckan", RID, dest, api_key=TOKEN)

    assert dest.read_bytes() == csv
    assert (result.format, result.rows, result.pages) == ("csv", 3, 1)
    assert result.source_url == f"{portals.url}/ckan/download/{RID}"
    assert "not in the portal's DataStore" in result.notes[0]
    download = portals.paths("/ckan/download/")
    assert [r.headers.get("authorization") for r in download] == [TOKEN]  # same site: key sent


def test_ckan_fallback_never_sends_the_key_to_another_site(
    portals: FakePortals, other_site: FakePortals, tmp_path: Path
) -> None:
    other_site.files["cases.csv"] = b"a,b\n1,2\n"
    portals.ckan[RID] = CkanResource(rows=None, url=f"{other_site.url}/files/cases.csv")

    result = fetch_ckan(portals.url + "/ckan", RID, tmp_path / "c.csv", api_key=TOKEN)

    assert result.rows == 1
    assert [r.headers.get("authorization") for r in other_site.requests] == [None]


def test_ckan_fallback_refuses_a_file_that_is_not_csv(portals: FakePortals, tmp_path: Path) -> None:
    portals.ckan[RID] = CkanResource(rows=None, format="XLSX", url=f"{portals.url}/files/a.xlsx")

    with pytest.raises(ConnectorError, match=r"its file is XLSX, not CSV\. Download it"):
        fetch_ckan(portals.url + "/ckan", RID, tmp_path / "c.csv")


def test_ckan_unknown_resource(portals: FakePortals, tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="has no resource 'nope', neither in its DataStore"):
        fetch_ckan(portals.url + "/ckan", "nope", tmp_path / "c.ndjson")


def test_ckan_private_resource_needs_a_key_and_never_shows_it(
    portals: FakePortals, tmp_path: Path
) -> None:
    rows, fields = ckan_rows(3)
    portals.ckan[RID] = CkanResource(rows=rows, fields=fields)
    portals.ckan_api_key = TOKEN

    with pytest.raises(ConnectorError, match=r"refused access \(HTTP 403\).*API key"):
        fetch_ckan(portals.url + "/ckan", RID, tmp_path / "c.ndjson")
    with pytest.raises(ConnectorError) as wrong:
        fetch_ckan(portals.url + "/ckan", RID, tmp_path / "c.ndjson", api_key="wrong-key-123")
    assert "key was not accepted" in str(wrong.value)
    assert "wrong-key-123" not in str(wrong.value)
    assert fetch_ckan(portals.url + "/ckan", RID, tmp_path / "c.ndjson", api_key=TOKEN).rows == 3


def test_ckan_failure_half_way(portals: FakePortals, tmp_path: Path) -> None:
    rows, fields = ckan_rows(25)
    portals.ckan[RID] = CkanResource(rows=rows, fields=fields)
    portals.failures["ckan"] = Failure(offset=10, mode="truncate")

    with pytest.raises(ConnectorError) as error:
        fetch_ckan(portals.url + "/ckan", RID, tmp_path / "c.ndjson", page_size=10, max_retries=0)

    assert "closed the connection before its answer was complete after 10 rows (page 2, " in str(
        error.value
    )
    assert leftovers(tmp_path) == []


# --- ArcGIS --------------------------------------------------------------------------------

MARCH_1 = 1_709_296_200_000  # 2024-03-01T12:30:00Z in epoch milliseconds


def layer(count: int, **options: Any) -> Layer:
    fields = [
        {"name": "OBJECTID", "type": "esriFieldTypeOID", "alias": "OBJECTID"},
        {"name": "STATUS", "type": "esriFieldTypeString", "alias": "Status"},
        {"name": "REPORTED", "type": "esriFieldTypeDate", "alias": "Reported"},
        {"name": "TONS", "type": "esriFieldTypeDouble", "alias": "Tons"},
    ]
    rows = [
        {
            "OBJECTID": i + 1,
            "STATUS": "Open" if i % 3 else "Closed",
            "REPORTED": MARCH_1 + i * 86_400_000,
            "TONS": i / 4,
        }
        for i in range(count)
    ]
    return Layer(fields=fields, rows=rows, **options)


def layer_url(portals: FakePortals, name: str = "Dumping") -> str:
    return f"{portals.url}/arcgis/rest/services/{name}/FeatureServer/0"


def test_arcgis_pages_by_max_record_count_while_transfer_limit_exceeded(
    portals: FakePortals, tmp_path: Path
) -> None:
    portals.arcgis["Dumping"] = layer(23, max_record_count=10)
    calls = Calls()
    dest = tmp_path / "g.ndjson"

    result = fetch_arcgis(layer_url(portals), dest, progress=calls)

    written = ndjson(dest)
    assert [r["OBJECTID"] for r in written] == list(range(1, 24))
    assert (result.rows, result.pages) == (23, 3)
    assert calls == [(10, 23), (20, 23), (23, 23)]
    queries = data_pages(portals, "/arcgis/")
    assert [(q["resultOffset"], q["resultRecordCount"]) for q in queries] == [
        ("0", "10"),
        ("10", "10"),
        ("20", "10"),
    ]
    assert all(
        q["orderByFields"] == "OBJECTID" and q["outFields"] == "*" and q["where"] == "1=1"
        for q in queries
    )


def test_arcgis_page_size_and_where(portals: FakePortals, tmp_path: Path) -> None:
    portals.arcgis["Dumping"] = layer(30, max_record_count=1000)
    dest = tmp_path / "g.ndjson"

    result = fetch_arcgis(layer_url(portals), dest, where="STATUS = 'Open'", page_size=4)

    written = ndjson(dest)
    assert len(written) == result.rows == 20
    assert all(r["STATUS"] == "Open" for r in written)
    assert result.pages == 5
    assert all(q["where"] == "STATUS = 'Open'" for q in data_pages(portals, "/arcgis/"))
    assert result.source_url == f"{layer_url(portals)}?where=STATUS%20%3D%20'Open'"


def test_arcgis_dates_become_iso_utc(portals: FakePortals, tmp_path: Path) -> None:
    portals.arcgis["Dumping"] = layer(2)
    portals.arcgis["Dumping"].rows.extend(
        [
            {"OBJECTID": 3, "STATUS": "Open", "REPORTED": None, "TONS": 1.0},
            {"OBJECTID": 4, "STATUS": "Open", "REPORTED": -86_400_000, "TONS": 1.0},
            {"OBJECTID": 5, "STATUS": "Open", "REPORTED": MARCH_1 + 250, "TONS": 1.0},
        ]
    )
    dest = tmp_path / "g.ndjson"

    result = fetch_arcgis(layer_url(portals), dest)

    assert [r["REPORTED"] for r in ndjson(dest)] == [
        "2024-03-01T12:30:00Z",
        "2024-03-02T12:30:00Z",
        None,
        "1969-12-31T00:00:00Z",
        "2024-03-01T12:30:00.250Z",
    ]
    assert [r["TONS"] for r in ndjson(dest)][:2] == [0.0, 0.25]  # numbers stay numbers
    assert any("REPORTED" in note and "ISO 8601 UTC" in note for note in result.notes)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            {"code": 400, "message": "Unable to complete operation.", "details": ["Bad where"]},
            "reported an error for the layer description: 'Unable to complete operation. "
            "(Bad where)' (code 400). Nothing was saved. Check the where filter",
        ),
        (
            {"code": 499, "message": "Token Required", "details": []},
            "'Token Required' (code 499). Nothing was saved. The layer is not public",
        ),
    ],
    ids=["invalid-query", "token-required"],
)
def test_arcgis_error_inside_http_200(
    portals: FakePortals, tmp_path: Path, error: dict[str, Any], expected: str
) -> None:
    portals.arcgis["Dumping"] = layer(3, error=error)

    with pytest.raises(ConnectorError) as raised:
        fetch_arcgis(layer_url(portals), tmp_path / "g.ndjson")

    assert expected in str(raised.value)
    assert raised.value.status == 200
    assert leftovers(tmp_path) == []


def test_arcgis_error_in_a_query_after_some_pages(portals: FakePortals, tmp_path: Path) -> None:
    portals.arcgis["Dumping"] = layer(3)

    with pytest.raises(ConnectorError) as raised:
        fetch_arcgis(layer_url(portals), tmp_path / "g.ndjson", where="no such thing")

    assert "reported an error for page 1, offset 0: 'Unable to complete operation." in str(
        raised.value
    )


def test_arcgis_token_in_the_address_is_used_and_hidden(
    portals: FakePortals, tmp_path: Path
) -> None:
    portals.arcgis["Dumping"] = layer(5, max_record_count=2)

    result = fetch_arcgis(f"{layer_url(portals)}?token={TOKEN}", tmp_path / "g.ndjson")

    assert result.rows == 5
    assert {r.params.get("token") for r in portals.requests} == {TOKEN}
    assert TOKEN not in result.source_url

    portals.arcgis["Dumping"].error = {"code": 498, "message": "Invalid token.", "details": []}
    with pytest.raises(ConnectorError) as raised:
        fetch_arcgis(f"{layer_url(portals)}?token={TOKEN}", tmp_path / "g.ndjson")
    assert TOKEN not in str(raised.value) and TOKEN not in (raised.value.url or "")
    assert "token=***" in (raised.value.url or "")


def test_arcgis_service_address_instead_of_layer(portals: FakePortals, tmp_path: Path) -> None:
    portals.arcgis["Dumping"] = layer(1)

    with pytest.raises(ConnectorError, match=r"is a service, not one layer.*/FeatureServer/0"):
        fetch_arcgis(f"{portals.url}/arcgis/rest/services/Dumping/FeatureServer", tmp_path / "g")


def test_arcgis_server_ignoring_result_offset_is_caught(
    portals: FakePortals, tmp_path: Path
) -> None:
    portals.arcgis["Dumping"] = layer(10, max_record_count=4, ignore_offset=True)

    with pytest.raises(ConnectorError, match=r"sent object 1 again .*ignore resultOffset"):
        fetch_arcgis(layer_url(portals), tmp_path / "g.ndjson")
    assert leftovers(tmp_path) == []


def test_arcgis_failure_half_way_and_html(portals: FakePortals, tmp_path: Path) -> None:
    portals.arcgis["Dumping"] = layer(10, max_record_count=4)
    portals.failures["arcgis"] = Failure(offset=8, mode="drop")

    with pytest.raises(ConnectorError, match=r"after 8 rows \(page 3, offset 8\)"):
        fetch_arcgis(layer_url(portals), tmp_path / "g.ndjson", max_retries=0)
    with pytest.raises(ConnectorError, match=r"returned an HTML page instead of JSON \(HTTP 200"):
        fetch_arcgis(f"{portals.url}/html/FeatureServer/0", tmp_path / "g.ndjson")
    assert leftovers(tmp_path) == []


# --- CSV at a URL --------------------------------------------------------------------------


def big_csv(rows: int) -> bytes:
    lines = ["id,address,note"]
    for i in range(rows):
        note = '"line one\nline two, with ""quotes"""' if i % 7 == 0 else f"plain {i}"
        lines.append(f"{i},{100 + i} Main Street Apartment {i % 50},{note}")
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def test_csv_url_is_streamed_to_disk_in_chunks(
    portals: FakePortals, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = big_csv(40_000)  # about 2 MB
    portals.files["requests.csv"] = body
    monkeypatch.setattr(csv_url_module, "CHUNK_BYTES", 128 * 1024)
    calls = Calls()
    dest = tmp_path / "r.csv"

    result = fetch_csv_url(f"{portals.url}/files/requests.csv", dest, progress=calls)

    assert dest.read_bytes() == body
    assert (result.format, result.rows, result.pages) == ("csv", 40_000, 1)
    assert len(calls) == -(-len(body) // (128 * 1024))  # one call per chunk
    counts = [rows for rows, _ in calls]
    assert counts == sorted(counts) and counts[-1] == 40_000
    assert {total for _, total in calls} == {None}
    assert result.notes == [f"{len(body):,} bytes downloaded"]


def test_csv_url_over_the_size_limit(portals: FakePortals, tmp_path: Path) -> None:
    portals.files["big.csv"] = big_csv(1000)

    with pytest.raises(ConnectorError, match=r"more than the limit of 1,000 bytes"):
        fetch_csv_url(f"{portals.url}/files/big.csv", tmp_path / "r.csv", max_bytes=1000)
    assert leftovers(tmp_path) == []


def test_csv_url_cut_off_half_way(portals: FakePortals, tmp_path: Path) -> None:
    portals.files["big.csv"] = big_csv(20_000)
    portals.failures["files"] = Failure(offset=0, mode="truncate")

    with pytest.raises(ConnectorError) as error:
        fetch_csv_url(f"{portals.url}/files/big.csv", tmp_path / "r.csv")

    assert "closed the connection after " in str(error.value)
    assert "before the file was complete. Nothing was saved." in str(error.value)
    assert (error.value.rows or 0) > 0
    assert leftovers(tmp_path) == []


def test_csv_url_html_and_missing_file(portals: FakePortals, tmp_path: Path) -> None:
    with pytest.raises(ConnectorError) as html:
        fetch_csv_url(f"{portals.url}/html/data.csv", tmp_path / "r.csv")
    assert "returned an HTML page instead of a CSV file (HTTP 200, first bytes '<!DOCTYPE" in str(
        html.value
    )
    with pytest.raises(ConnectorError, match=r"answered HTTP 404 .*There is no file at this"):
        fetch_csv_url(f"{portals.url}/files/missing.csv", tmp_path / "r.csv")
    assert leftovers(tmp_path) == []


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_csv_url_connection_refused(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match=r"The connection to 127\.0\.0\.1 was refused"):
        fetch_csv_url(f"http://127.0.0.1:{closed_port()}/x.csv", tmp_path / "r.csv", timeout=2)


@pytest.mark.parametrize(
    ("chunks", "rows"),
    [
        ([b"a,b\n1,2\n3,4\n"], 2),
        ([b"a,b\r\n1,2\r\n3,4"], 2),  # no final line end
        ([b'a,b\n1,"x\n', b'y"\n2,"say ""hi""\n"\n'], 2),  # quoted newlines across chunks
        ([b'a,b\n1,"', b'"', b'""\n2,3\n'], 2),  # "" inside quotes, split across chunks
        ([b"a,b\r1,2\r"], 1),  # old Mac line ends
        ([b""], 0),
        ([b"a,b\n"], 0),
    ],
)
def test_record_counter(chunks: list[bytes], rows: int) -> None:
    counter = RecordCounter()
    for chunk in chunks:
        counter.feed(chunk)
    assert counter.rows == rows


# --- SQL -----------------------------------------------------------------------------------


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Path:
    path = tmp_path / "dept.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE cases (id INTEGER PRIMARY KEY, opened TEXT, tons REAL, b BLOB)")
        conn.executemany(
            "INSERT INTO cases VALUES (?, ?, ?, ?)",
            [
                (i, f"2024-03-{i:02d}", i * 0.5 if i != 4 else None, b"\x00\x01")
                for i in range(1, 8)
            ],
        )
    conn.close()
    return path


def test_sql_sqlite_in_batches(sqlite_db: Path, tmp_path: Path) -> None:
    calls = Calls()
    dest = tmp_path / "out" / "cases.ndjson"

    result = fetch_sql(
        f"sqlite:///{sqlite_db}",
        "SELECT id, opened, tons, b FROM cases ORDER BY id;",
        dest,
        batch_size=3,
        progress=calls,
    )

    rows = ndjson(dest)
    assert (result.rows, result.pages, result.format) == (7, 3, "ndjson")
    assert rows[0] == {"id": 1, "opened": "2024-03-01", "tons": 0.5, "b": "AAE="}
    assert rows[3]["tons"] is None
    assert [r["id"] for r in rows] == list(range(1, 8))
    assert calls == [(3, None), (6, None), (7, None)]
    assert result.source_url == f"sqlite:///{sqlite_db}"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("DELETE FROM cases", "this query starts with 'DELETE'"),
        ("  -- tidy up\n DROP TABLE cases", "this query starts with 'DROP'"),
        ("/* c */ update cases set tons = 0", "this query starts with 'UPDATE'"),
        ("SELECT 1; DELETE FROM cases", "more than one statement"),
        ("", "The query is empty"),
        ("-- nothing", "The query is empty"),
    ],
)
def test_sql_refuses_anything_but_one_select(
    sqlite_db: Path, tmp_path: Path, query: str, message: str
) -> None:
    with pytest.raises(ConnectorError, match=message):
        fetch_sql(f"sqlite:///{sqlite_db}", query, tmp_path / "x.ndjson")
    with sqlite3.connect(sqlite_db) as conn:
        assert conn.execute("SELECT count(*) FROM cases").fetchone() == (7,)
    conn.close()
    assert not (tmp_path / "x.ndjson").exists()


@pytest.mark.parametrize(
    "query",
    [
        "select 1;",
        "SELECT ';' AS semi;  -- trailing comment",
        "/* leading */ WITH a AS (SELECT 1 AS x) SELECT x FROM a",
        "(SELECT 1) UNION (SELECT 2)",
        "SELECT $$;$$ AS dollar",
        'SELECT 1 AS "a;b"',
    ],
)
def test_sql_accepts_single_selects(query: str) -> None:
    assert (
        check_query(query)
        .rstrip()
        .endswith(("1", "x FROM a", "(SELECT 2)", "dollar", '"a;b"', "semi"))
    )


def test_sql_sqlite_write_hidden_in_a_with_is_refused(sqlite_db: Path, tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="tries to change data"):
        fetch_sql(
            f"sqlite:///{sqlite_db}",
            "WITH old AS (SELECT id FROM cases) DELETE FROM cases WHERE id IN old",
            tmp_path / "x.ndjson",
        )
    with sqlite3.connect(sqlite_db) as conn:
        assert conn.execute("SELECT count(*) FROM cases").fetchone() == (7,)
    conn.close()


def test_sql_sqlite_problems(sqlite_db: Path, tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="There is no SQLite database file at"):
        fetch_sql(f"sqlite:///{tmp_path}/missing.db", "SELECT 1", tmp_path / "x.ndjson")
    with pytest.raises(ConnectorError, match=r"more than one column named 'id'"):
        fetch_sql(
            f"sqlite:///{sqlite_db}", "SELECT a.id, b.id FROM cases a, cases b", tmp_path / "x"
        )
    with pytest.raises(ConnectorError, match=r"refused the query: no such table: nope"):
        fetch_sql(f"sqlite:///{sqlite_db}", "SELECT * FROM nope", tmp_path / "x")
    with pytest.raises(ConnectorError, match="not a database address this connector reads"):
        fetch_sql("mysql://u:pw@h/db", "SELECT 1", tmp_path / "x")
    assert leftovers(tmp_path) == ["dept.sqlite3"]


def test_sql_password_never_shown(tmp_path: Path) -> None:
    port = closed_port()
    with pytest.raises(ConnectorError) as error:
        fetch_sql(f"postgres://civic:Pa55word@127.0.0.1:{port}/city", "SELECT 1", tmp_path / "x")
    shown = f"postgres://civic:***@127.0.0.1:{port}/city"
    assert f"Could not connect to the database at {shown}" in str(error.value)
    assert "Pa55word" not in str(error.value)


@pytest.fixture
def pg_table() -> Iterator[str]:
    import psycopg

    try:
        conn = psycopg.connect(PG_URL, connect_timeout=3, autocommit=True)
    except psycopg.Error as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {redact_url(PG_URL)} (set CI to fail instead)")
    table = f"connector_test_{uuid.uuid4().hex[:12]}"
    conn.execute(
        f"CREATE TABLE {table} (id int PRIMARY KEY, opened date, closed_at timestamptz, "
        "tons numeric(8,2), ok boolean, tags jsonb, note text)"
    )
    conn.execute(f"CREATE SEQUENCE {table}_seq")
    conn.execute(
        f"INSERT INTO {table} SELECT i, DATE '2024-01-01' + i, "
        "TIMESTAMPTZ '2024-01-01 12:00:00+00' + i * INTERVAL '1 hour', i * 1.25, i % 2 = 0, "
        "jsonb_build_object('n', i), CASE WHEN i = 3 THEN NULL ELSE 'case ' || i END "
        "FROM generate_series(1, 11) AS i"
    )
    try:
        yield table
    finally:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"DROP SEQUENCE IF EXISTS {table}_seq")
        conn.close()


def test_sql_postgres_read_only_server_side_cursor(pg_table: str, tmp_path: Path) -> None:
    dest = tmp_path / "pg.ndjson"
    calls = Calls()

    result = fetch_sql(
        PG_URL, f"SELECT * FROM {pg_table} ORDER BY id", dest, batch_size=4, progress=calls
    )

    rows = ndjson(dest)
    assert (result.rows, result.pages) == (11, 3)
    assert calls == [(4, None), (8, None), (11, None)]
    assert rows[0] == {
        "id": 1,
        "opened": "2024-01-02",
        "closed_at": "2024-01-01T13:00:00+00:00",
        "tons": "1.25",
        "ok": False,
        "tags": '{"n":1}',
        "note": "case 1",
    }
    assert rows[2]["note"] is None

    with pytest.raises(ConnectorError, match="tries to change data, and this connector only reads"):
        fetch_sql(
            PG_URL,
            f"WITH gone AS (DELETE FROM {pg_table} RETURNING *) SELECT * FROM gone",
            tmp_path / "x.ndjson",
        )
    with pytest.raises(ConnectorError, match="tries to change data, and this connector only reads"):
        fetch_sql(PG_URL, f"SELECT nextval('{pg_table}_seq')", tmp_path / "x.ndjson")
    with pytest.raises(ConnectorError, match="this query starts with 'TRUNCATE'"):
        fetch_sql(PG_URL, f"TRUNCATE {pg_table}", tmp_path / "x.ndjson")
    assert fetch_sql(PG_URL, f"SELECT id FROM {pg_table}", tmp_path / "y.ndjson").rows == 11
    assert not (tmp_path / "x.ndjson").exists()


def test_sql_postgres_reads_through_a_server_side_cursor(pg_table: str, tmp_path: Path) -> None:
    """While the rows arrive, the connector's session is idle in a transaction, between two
    FETCHes from its named cursor: the result set stays on the server."""
    import psycopg

    seen: list[tuple[str, str]] = []
    with psycopg.connect(PG_URL, autocommit=True) as watcher:

        def progress(rows: int, total: int | None) -> None:
            seen.extend(
                watcher.execute(
                    "SELECT state, query FROM pg_stat_activity "
                    "WHERE query LIKE 'FETCH FORWARD%civicloop_fetch%' AND pid <> pg_backend_pid()"
                ).fetchall()
            )

        fetch_sql(
            PG_URL,
            f"SELECT * FROM {pg_table}",
            tmp_path / "x.ndjson",
            batch_size=5,
            progress=progress,
        )

    assert len(seen) == 3
    assert all(state == "idle in transaction" for state, _ in seen)


def test_sql_postgres_errors_half_way_and_bad_queries(pg_table: str, tmp_path: Path) -> None:
    dest = tmp_path / "x.ndjson"
    calls = Calls()
    with pytest.raises(ConnectorError, match=r"refused the query: division by zero"):
        fetch_sql(
            PG_URL,
            f"SELECT 10 / (id - 6) AS x FROM {pg_table} ORDER BY id",
            dest,
            batch_size=4,
            progress=calls,
        )
    assert calls == [(4, None)]  # the first batch had arrived
    assert leftovers(tmp_path) == []
    with pytest.raises(ConnectorError, match=r"refused the query: column \"nope\" does not exist"):
        fetch_sql(PG_URL, f"SELECT nope FROM {pg_table}", dest)


# --- shared pieces -------------------------------------------------------------------------


def test_redact_url_and_dates() -> None:
    assert redact_url("https://u:pw@h.gov/a?token=abc&where=1%3D1") == (
        "https://u:***@h.gov/a?token=***&where=1%3D1"
    )
    assert redact_url("https://h.gov/resource/x.json?$$app_token=t&$limit=5") == (
        "https://h.gov/resource/x.json?$$app_token=***&$limit=5"
    )
    assert iso_utc_from_epoch_ms(0) == "1970-01-01T00:00:00Z"
    assert iso_utc_from_epoch_ms(MARCH_1 + 5) == "2024-03-01T12:30:00.005Z"
