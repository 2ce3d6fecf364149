"""A CSV file published at a plain URL, streamed to disk chunk by chunk.

The bytes are saved exactly as they arrive (encoding and delimiter are the ingest's business),
so a 2 GB file never sits in memory. Rows are counted on the way, outside quoted fields, so a
quoted newline does not count as a new row.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from ._common import (
    NETWORK_ERRORS,
    AtomicFile,
    ConnectorError,
    FetchResult,
    Progress,
    TransportError,
    build_opener,
    call_progress,
    check_http_url,
    looks_like_html,
    n,
    open_url,
    plural,
    portal_message,
    preview,
    redact_url,
    scrub,
    status_of,
    transport_error,
    try_json,
    url_secrets,
)

CHUNK_BYTES = 1 << 20


def fetch_csv_url(
    url: str,
    dest: Path,
    *,
    progress: Progress | None = None,
    timeout: float = 60,
    max_bytes: int | None = None,
) -> FetchResult:
    """Download the CSV file at `url` to `dest`, streamed in chunks."""
    url = check_http_url(url, "CSV file address")
    host = urllib.parse.urlsplit(url).hostname
    return download_csv(
        url,
        dest,
        label=f"The server at {host}",
        headers={},
        secrets=url_secrets(url),
        progress=progress,
        timeout=timeout,
        max_bytes=max_bytes,
    )


class RecordCounter:
    """Counts CSV records in a byte stream: line ends outside double-quoted fields.

    Exact for UTF-8, Latin-1 and Windows-1252 files (any encoding where `"` and line feed
    are single bytes that appear nowhere else); approximate for UTF-16."""

    def __init__(self) -> None:
        self.in_quotes = False
        self.line_feeds = 0
        self.carriage_returns = 0
        self.size = 0
        self.last = b""
        self.utf16 = False

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        if not self.size:
            self.utf16 = chunk.startswith((b"\xff\xfe", b"\xfe\xff"))
        self.size += len(chunk)
        self.last = chunk[-1:]
        if not self.in_quotes and b'"' not in chunk:
            self.line_feeds += chunk.count(b"\n")
            self.carriage_returns += chunk.count(b"\r")
            return
        for i, part in enumerate(chunk.split(b'"')):
            if i:
                self.in_quotes = not self.in_quotes
            if not self.in_quotes:
                self.line_feeds += part.count(b"\n")
                self.carriage_returns += part.count(b"\r")

    @property
    def records(self) -> int:
        """Lines seen so far, the header included."""
        ends = self.line_feeds or self.carriage_returns  # old Mac files end lines with CR
        trailing = 1 if self.size and self.last not in (b"\n", b"\r") else 0
        return ends + trailing

    @property
    def rows(self) -> int:
        """Data rows so far (the header line is not a row)."""
        return max(self.records - 1, 0)


def download_csv(
    url: str,
    dest: Path,
    *,
    label: str,
    headers: Mapping[str, str],
    secrets: list[str],
    progress: Progress | None,
    timeout: float,
    max_bytes: int | None,
) -> FetchResult:
    if timeout <= 0:
        raise ConnectorError(f"timeout must be a positive number of seconds, not {timeout}.")
    if max_bytes is not None and max_bytes < 1:
        raise ConnectorError(f"max_bytes must be 1 or more, not {max_bytes}.")
    shown = redact_url(url)

    counter = RecordCounter()

    def fail(message: str, status: int | None = None, rows: int | None = None) -> ConnectorError:
        return ConnectorError(scrub(message, secrets), url=shown, status=status, rows=rows)

    try:
        response = open_url(
            build_opener(), url, {"Accept": "text/csv, */*;q=0.5", **headers}, timeout
        )
    except TransportError as exc:
        raise fail(_network_message(label, shown, exc, timeout, counter)) from None

    with response:
        status = status_of(response)
        if status != 200:
            raise fail(_status_message(label, shown, status, response), status=status)
        length_header = response.headers.get("Content-Length")
        expected = int(length_header) if length_header and length_header.isdigit() else None
        if max_bytes is not None and expected is not None and expected > max_bytes:
            raise fail(
                f"The file at {shown} is {n(expected)} bytes, more than the limit of "
                f"{n(max_bytes)} bytes. Nothing was saved. Raise the limit or filter the data "
                "before publishing it.",
                status=status,
            )
        with AtomicFile(dest) as out:
            first = True
            while True:
                try:
                    chunk = response.read(CHUNK_BYTES)
                except NETWORK_ERRORS as exc:
                    problem = transport_error(exc)
                    raise fail(
                        _network_message(label, shown, problem, timeout, counter),
                        rows=counter.rows,
                    ) from None
                if not chunk:
                    break
                if first:
                    first = False
                    if looks_like_html(chunk):
                        raise fail(
                            f"{label} returned an HTML page instead of a CSV file (HTTP "
                            f"{status}, first bytes '{preview(chunk)}') for {shown}: check the "
                            "URL. A sign-in or error page usually means a wrong address or a "
                            "file that is not public.",
                            status=status,
                        )
                if max_bytes is not None and counter.size + len(chunk) > max_bytes:
                    raise fail(
                        f"The file at {shown} is larger than the limit of {n(max_bytes)} bytes "
                        f"(stopped after {plural(counter.rows, 'row')}). Nothing was saved. "
                        "Raise the limit or filter the data before publishing it.",
                        rows=counter.rows,
                    )
                out.write(chunk)
                counter.feed(chunk)
                call_progress(progress, counter.rows, None)
            if expected is not None and counter.size < expected:
                dropped = TransportError("dropped")
                raise fail(
                    _network_message(label, shown, dropped, timeout, counter), rows=counter.rows
                )
            out.commit()

    notes = [f"{n(counter.size)} bytes downloaded"]
    if counter.size == 0:
        notes.append("the file is empty")
    if counter.utf16:
        notes.append("the file is UTF-16: the row count is approximate")
    if counter.in_quotes:
        notes.append(
            "the file ends inside a quoted field: it may be cut off or malformed; "
            "the ingest will say where"
        )
    return FetchResult(Path(dest), "csv", counter.rows, 1, shown, notes)


def _network_message(
    label: str, shown: str, exc: TransportError, timeout: float, counter: RecordCounter
) -> str:
    if counter.size:
        where = f"after {n(counter.size)} bytes ({plural(counter.rows, 'row')})"
    else:
        where = "before any data arrived"
    host = urllib.parse.urlsplit(shown).hostname or "the server"
    if exc.kind == "timeout":
        what = f"{label} stopped answering (no data within {timeout:g} s) {where}"
        advice = "Try again later."
    elif exc.kind == "dropped":
        what = f"{label} closed the connection {where}, before the file was complete"
        advice = "Try again later."
    elif exc.kind == "refused":
        what = f"The connection to {host} was refused"
        advice = "Check the address and that the server is running."
    elif exc.kind == "dns":
        what = f"No computer called '{host}' could be found"
        advice = "Check the address for typing mistakes."
    elif exc.kind == "tls":
        what = f"The secure connection to {host} failed ({exc.detail})"
        advice = "The server's certificate may have expired or not be trusted by this machine."
    else:
        what = f"Reading {shown} failed ({exc.detail or exc.kind}) {where}"
        advice = "Try again later."
    return f"{what}. Nothing was saved. {advice}"


def _status_message(
    label: str,
    shown: str,
    status: int,
    response: http.client.HTTPResponse | urllib.error.HTTPError,
) -> str:
    try:
        body = response.read(4096)
    except NETWORK_ERRORS:
        body = b""
    said_text = portal_message(try_json(body), "message", "error")
    said = f" The server said: '{said_text}'." if said_text else ""
    if status in (404, 410):
        advice = "There is no file at this address: check the URL."
    elif status in (401, 403):
        advice = "The file is not public: it needs signing in, or a link that includes access."
    elif status == 429:
        advice = "Too many requests were made: wait a few minutes and try again."
    elif status >= 500:
        advice = "The server had a problem: try again later."
    else:
        advice = "Check the URL."
    return f"{label} answered HTTP {status} for {shown}.{said} Nothing was saved. {advice}"
