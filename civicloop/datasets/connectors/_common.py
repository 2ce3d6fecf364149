"""What every connector shares: the error, the result, atomic files, and an HTTP client.

Nothing here imports Django. The HTTP client is `urllib.request` with three additions:
- back-off on throttling (429) and on a busy or unreachable gateway (502/503/504) and on
  timeouts and dropped connections, honouring `Retry-After`, otherwise waiting 1, 2, 4 ... s;
- credentials (tokens, keys, passwords) never appear in a message or a returned URL, and
  credential headers are not forwarded when a redirect leads to another host;
- only http:// and https:// addresses are fetched (never file://, ftp:// ...).
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import json
import math
import os
import re
import socket
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

Progress = Callable[[int, int | None], None]  # (rows so far, total rows if known)
Sleep = Callable[[float], None]

USER_AGENT = "civicloop-connector/0.1"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_WAIT_SECONDS = 300.0  # never wait longer than this for one retry, whatever Retry-After says
ERROR_BODY_LIMIT = 64 * 1024
READ_CHUNK_BYTES = 1 << 20
MAX_JSON_PAGE_BYTES = 1 << 30  # a single decompressed JSON page larger than this is refused
SECRET_PARAMS = frozenset(
    {
        "token",
        "app_token",
        "$$app_token",
        "api_key",
        "apikey",
        "key",
        "access_token",
        "password",
        "passwd",
        "secret",
        "client_secret",
        "sig",
        "signature",
        "auth",
    }
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECRET_HEADERS = frozenset(
    {"authorization", "x-app-token", "x-ckan-api-key", "x-esri-authorization"}
)


class ConnectorError(Exception):
    """A fetch that did not complete. The message says what happened, where, and what to do.

    It never contains a token, key or password. `url` is the address concerned (credentials
    removed), `status` the HTTP status when there was one, `rows` how many rows had arrived.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        rows: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.status = status
        self.rows = rows

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class FetchResult:
    path: Path
    format: Literal["ndjson", "csv"]
    rows: int
    pages: int
    source_url: str  # where the rows came from, credentials removed
    notes: list[str] = field(default_factory=list)


# --- credentials ---------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """The URL with any password and secret-looking query parameter replaced by `***`."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "(an address that could not be read)"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:***@{hostport}" if has_password else f"{userinfo}@{hostport}"
    query = parts.query
    if query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        query = urllib.parse.urlencode(
            [(k, "***" if k.lower() in SECRET_PARAMS else v) for k, v in pairs],
            quote_via=urllib.parse.quote,
            safe="$:*,()'/",
        )
    if not parts.scheme:
        return urllib.parse.urlunsplit(("", netloc, parts.path, query, ""))
    # Assembled by hand: urlunsplit would turn sqlite:////abs/path into sqlite://abs/path.
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def url_secrets(url: str) -> list[str]:
    """Secret values carried inside a URL (password, token parameters), to scrub from text."""
    try:
        parts = urllib.parse.urlsplit(url)
        found = [parts.password] if parts.password else []
        for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
            if key.lower() in SECRET_PARAMS and value:
                found.append(value)
    except ValueError:
        return []
    return found


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
            quoted = urllib.parse.quote(secret, safe="")
            if quoted != secret:
                text = text.replace(quoted, "***")
    return text


# --- small text helpers --------------------------------------------------------------------


def n(value: int) -> str:
    """1234567 -> '1,234,567'."""
    return f"{value:,}"


def plural(count: int, word: str) -> str:
    return f"{n(count)} {word}" if count == 1 else f"{n(count)} {word}s"


def preview(body: bytes, length: int = 40) -> str:
    text = body.lstrip(b"\xef\xbb\xbf \t\r\n")[: length * 4].decode("utf-8", errors="replace")
    text = re.sub(r"\s+", " ", text)
    return text[:length].rstrip() + "…" if len(text) > length else text


def progress_phrase(rows: int, where: str) -> str:
    """'after 150,000 rows (page 4, offset 150,000)' or 'before any rows arrived (page 1)'."""
    if rows:
        return f"after {plural(rows, 'row')} ({where})"
    return f"before any rows arrived ({where})"


def check_http_url(url: str, what: str) -> str:
    """A usable http(s) address, or a ConnectorError saying why not. Adds https:// if missing."""
    url = (url or "").strip()
    if not url:
        raise ConnectorError(f"No {what} was given.")
    if "://" not in url:
        url = "https://" + url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ConnectorError(
            f"The {what} must be an http:// or https:// address; '{redact_url(url)}' is not. "
            "Copy the address from the portal's page in a browser."
        )
    if not parts.hostname:
        raise ConnectorError(f"The {what} '{redact_url(url)}' has no host name.")
    return url


def same_origin(a: str, b: str) -> bool:
    pa, pb = urllib.parse.urlsplit(a), urllib.parse.urlsplit(b)
    return (pa.scheme.lower(), pa.hostname, pa.port) == (pb.scheme.lower(), pb.hostname, pb.port)


def with_params(url: str, params: Mapping[str, object]) -> str:
    """Append query parameters to a URL (keeping any it already has). `$` and `:` stay readable."""
    query = urllib.parse.urlencode(
        [(k, str(v)) for k, v in params.items()], quote_via=urllib.parse.quote, safe="$:*,"
    )
    if not query:
        return url
    return f"{url}{'&' if '?' in url else '?'}{query}"


# --- values --------------------------------------------------------------------------------


def plain_value(value: Any) -> Any:
    """A value as written to NDJSON: nested objects and lists become JSON text, so that every
    column is a scalar; numbers that JSON cannot hold (NaN, infinity) become text."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=True)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def iso_utc_from_epoch_ms(ms: float) -> str:
    """Esri date (milliseconds since 1970-01-01 UTC) -> '2024-03-01T12:30:00Z'.

    Whole seconds are written without a fraction; a value with milliseconds keeps them
    ('2024-03-01T12:30:00.250Z') so nothing is lost."""
    whole, frac = divmod(int(ms), 1000)
    moment = EPOCH + timedelta(seconds=whole)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{frac:03d}Z" if frac else f"{text}Z"


class NdjsonWriter:
    """Writes rows as one JSON object per line, always with the same keys in the same order.

    The columns come from the portal's field list when it gives one; a key first seen later is
    added at the end. A missing key is written as null."""

    def __init__(self, out: AtomicFile) -> None:
        self.out = out
        self.columns: list[str] = []
        self._known: set[str] = set()

    def declare(self, columns: Iterable[str]) -> None:
        for column in columns:
            if column not in self._known:
                self._known.add(column)
                self.columns.append(column)

    def write(self, row: Mapping[str, Any]) -> None:
        for key in row:
            if key not in self._known:
                self._known.add(key)
                self.columns.append(key)
        record = {column: plain_value(row.get(column)) for column in self.columns}
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=True)
        self.out.write(line.encode("utf-8", errors="replace") + b"\n")


# --- atomic files --------------------------------------------------------------------------


class AtomicFile:
    """A file written beside `dest` under a temporary name and renamed onto `dest` only by
    `commit()`. Leaving the `with` block without committing deletes it, so a failed fetch never
    leaves a partial file where a loader could pick it up, and an older `dest` stays intact."""

    def __init__(self, dest: Path) -> None:
        self.dest = Path(dest)
        self.bytes_written = 0
        self._tmp: Path | None = None
        self._file: IO[bytes] | None = None
        self._committed = False

    def __enter__(self) -> AtomicFile:
        parent = self.dest.parent
        try:
            if self.dest.is_dir():
                raise ConnectorError(
                    f"The destination {self.dest} is a folder; give a file name instead."
                )
            parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=parent, prefix=f".{self.dest.name}.", suffix=".part")
        except OSError as exc:
            raise ConnectorError(
                f"Cannot write to {parent}: {exc.strerror or exc}. "
                "Check the folder exists and is writable."
            ) from None
        self._tmp = Path(name)
        self._file = os.fdopen(fd, "wb", buffering=1 << 20)
        return self

    def write(self, data: bytes) -> None:
        assert self._file is not None
        try:
            self._file.write(data)
        except OSError as exc:
            raise ConnectorError(
                f"Could not write {self.dest} after {n(self.bytes_written)} bytes: "
                f"{exc.strerror or exc}. Check there is enough free disk space."
            ) from None
        self.bytes_written += len(data)

    def commit(self) -> None:
        assert self._file is not None and self._tmp is not None
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._tmp, self.dest)
        except OSError as exc:
            raise ConnectorError(
                f"Could not save {self.dest}: {exc.strerror or exc}. "
                "Check the folder is writable and there is enough free disk space."
            ) from None
        self._committed = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._committed:
            return
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)


# --- HTTP ----------------------------------------------------------------------------------


class _SafeRedirect(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http(s) only, dropping credential headers when the host changes."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
            return None  # the 3xx is then reported as it is
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and not same_origin(req.full_url, new.full_url):
            for name in list(new.headers):
                if name.lower() in SECRET_HEADERS:
                    new.remove_header(name)
        return new


def build_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_SafeRedirect())


@dataclass
class HttpResponse:
    status: int
    headers: Message
    body: bytes
    url: str

    @property
    def content_type(self) -> str:
        return self.headers.get_content_type() if self.headers else ""


class TransportError(Exception):
    """The network failed. `kind`: timeout, dropped, refused, dns, tls, other."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(kind)
        self.kind = kind
        self.detail = detail

    @property
    def transient(self) -> bool:
        return self.kind in ("timeout", "dropped")


def transport_error(exc: BaseException) -> TransportError:
    """Classify a network exception raised by urllib / http.client / socket."""
    reason: object = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError | socket.timeout):
        return TransportError("timeout")
    if isinstance(reason, ConnectionRefusedError):
        return TransportError("refused")
    if isinstance(reason, socket.gaierror):
        return TransportError("dns")
    if isinstance(reason, ssl.SSLError | ssl.CertificateError):
        return TransportError("tls", str(reason))
    if isinstance(reason, http.client.IncompleteRead | ConnectionError | http.client.HTTPException):
        return TransportError("dropped")
    if isinstance(reason, OSError) and reason.strerror:
        return TransportError("other", reason.strerror)
    return TransportError("other", str(reason))


NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, OSError)


def open_url(
    opener: urllib.request.OpenerDirector,
    url: str,
    headers: Mapping[str, str],
    timeout: float,
) -> http.client.HTTPResponse | urllib.error.HTTPError:
    """Open a URL; an HTTP error status is returned (not raised), network failures raise
    TransportError."""
    # Only http(s) reaches here: check_http_url() vets every address, _SafeRedirect redirects.
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **headers})  # noqa: S310
    try:
        response: http.client.HTTPResponse = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        return exc
    except NETWORK_ERRORS as exc:
        raise transport_error(exc) from None
    return response


def status_of(response: http.client.HTTPResponse | urllib.error.HTTPError) -> int:
    return int(response.status or 0)


def read_body(response: http.client.HTTPResponse | urllib.error.HTTPError, limit: int) -> bytes:
    """Read a whole body, checking it is complete and not larger than `limit` (after gzip)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read(READ_CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            raise TransportError("too-large")
        chunks.append(chunk)
    raw = b"".join(chunks)
    expected = response.headers.get("Content-Length") if response.headers else None
    if expected and expected.isdigit() and len(raw) < int(expected):
        raise TransportError("dropped")
    encoding = (response.headers.get("Content-Encoding") or "").lower() if response.headers else ""
    if encoding in ("gzip", "x-gzip", "deflate"):
        wbits = 16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS
        try:
            inflater = zlib.decompressobj(wbits)
            raw = inflater.decompress(raw, MAX_JSON_PAGE_BYTES + 1)
        except zlib.error:
            raise TransportError("dropped") from None
        if len(raw) > MAX_JSON_PAGE_BYTES or inflater.unconsumed_tail:
            raise TransportError("too-large")
    return raw


class HttpClient:
    """GETs JSON pages from one portal, retrying what is worth retrying.

    `label` names the portal in messages ("The Socrata portal at https://data.city.gov")."""

    def __init__(
        self,
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str | None] = (),
        timeout: float = 60,
        max_retries: int = 5,
        sleep: Sleep,
        retry_advice: str = "",
    ) -> None:
        if timeout <= 0:
            raise ConnectorError(f"timeout must be a positive number of seconds, not {timeout}.")
        if max_retries < 0:
            raise ConnectorError(f"max_retries must be 0 or more, not {max_retries}.")
        self.label = label
        self.headers = dict(headers or {})
        self.secrets = [s for s in secrets if s]
        self.timeout = timeout
        self.max_retries = max_retries
        self.sleep = sleep
        self.retry_advice = retry_advice
        self.opener = build_opener()
        self.waited = 0.0  # seconds spent backing off, over the whole fetch
        self.retries = 0

    @property
    def name(self) -> str:
        """The label for the middle of a sentence: 'the Socrata portal at ...'."""
        return self.label[:1].lower() + self.label[1:]

    def scrub(self, text: str) -> str:
        return scrub(text, self.secrets)

    def error(self, message: str, **kwargs: Any) -> ConnectorError:
        url = kwargs.pop("url", None)
        return ConnectorError(self.scrub(message), url=redact_url(url) if url else None, **kwargs)

    def get(
        self,
        url: str,
        *,
        where: str,
        rows: int = 0,
        max_retries: int | None = None,
        timeout: float | None = None,
    ) -> HttpResponse:
        """One GET, with back-off. Returns any HTTP status except the retried ones, which
        raise ConnectorError once the retries are spent, as do network failures."""
        retries = self.max_retries if max_retries is None else max_retries
        headers = {"Accept": "application/json", "Accept-Encoding": "gzip", **self.headers}
        attempt = 0
        waited = 0.0
        while True:
            problem: TransportError | HttpResponse
            retry_after: float | None = None
            try:
                response = self._once(url, headers, timeout or self.timeout)
            except TransportError as exc:
                if not exc.transient:
                    raise self._fatal(exc, url, where, rows) from None
                problem = exc
            else:
                if response.status not in RETRY_STATUSES:
                    return response
                problem = response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt >= retries:
                raise self._give_up(problem, url, where, rows, attempt, waited)
            delay = retry_after if retry_after is not None else float(2**attempt)
            delay = max(0.0, min(delay, MAX_WAIT_SECONDS))
            self.sleep(delay)
            waited += delay
            self.waited += delay
            self.retries += 1
            attempt += 1

    def _once(self, url: str, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        response = open_url(self.opener, url, headers, timeout)
        try:
            status = status_of(response)
            limit = ERROR_BODY_LIMIT if status >= 400 else MAX_JSON_PAGE_BYTES
            try:
                body = read_body(response, limit)
            except NETWORK_ERRORS as exc:
                raise transport_error(exc) from None
            except TransportError as exc:
                if exc.kind == "too-large" and status >= 400:
                    body = b""
                else:
                    raise
            return HttpResponse(status, response.headers, body, url)
        finally:
            response.close()

    def _fatal(self, exc: TransportError, url: str, where: str, rows: int) -> ConnectorError:
        host = urllib.parse.urlsplit(url).hostname or "the server"
        reasons = {
            "refused": (
                f"the connection to {host} was refused",
                "Check the address and port, and that the server is running.",
            ),
            "dns": (
                f"no computer called '{host}' could be found",
                "Check the address for typing mistakes, and that this machine can reach "
                "the internet (or the network the portal is on).",
            ),
            "tls": (
                f"the secure connection to {host} failed ({exc.detail})",
                "The portal's certificate may have expired or not be trusted by this machine.",
            ),
            "too-large": (
                f"one page of the answer was larger than {n(MAX_JSON_PAGE_BYTES)} bytes",
                "Use a smaller page size.",
            ),
        }
        what, advice = reasons.get(
            exc.kind, (f"the request failed ({exc.detail or exc.kind})", "Try again later.")
        )
        return self.error(
            f"Could not read from {self.label}: {what}, {progress_phrase(rows, where)}. "
            f"Nothing was saved. {advice}",
            url=url,
            rows=rows,
        )

    def _give_up(
        self,
        problem: TransportError | HttpResponse,
        url: str,
        where: str,
        rows: int,
        attempts: int,
        waited: float,
    ) -> ConnectorError:
        status: int | None = None
        if isinstance(problem, TransportError):
            if problem.kind == "timeout":
                what = f"stopped answering (no reply within {self.timeout:g} s)"
            else:
                what = "closed the connection before its answer was complete"
            advice = "Try again later; if it keeps happening, try a smaller page size."
        else:
            status = problem.status
            if status == 429:
                what = "kept refusing requests because too many were made (HTTP 429)"
                advice = "Wait a few minutes and try again."
            elif status == 503:
                what = "was unavailable (HTTP 503)"
                advice = "The portal may be down for maintenance; try again later."
            else:
                what = f"could not be reached through its gateway (HTTP {status})"
                advice = "Try again later; if it keeps happening, try a smaller page size."
        tries = ""
        if attempts:
            tries = f"; tried {plural(attempts + 1, 'time')} over {waited:g} s"
        extra = f" {self.retry_advice}" if self.retry_advice else ""
        return self.error(
            f"{self.label} {what} {progress_phrase(rows, where)}{tries}. "
            f"Nothing was saved. {advice}{extra}",
            url=url,
            status=status,
            rows=rows,
        )


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def looks_like_html(body: bytes, content_type: str = "") -> bool:
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:64].lower()
    return content_type in ("text/html", "application/xhtml+xml") or head.startswith(
        (b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<title", b"<meta")
    )


def parse_json(client: HttpClient, response: HttpResponse, *, where: str, advice: str) -> Any:
    """The JSON body of a response, or a ConnectorError that says what came instead."""
    body = response.body
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if looks_like_html(stripped, response.content_type):
        raise client.error(
            f"{client.label} returned an HTML page instead of JSON (HTTP {response.status}, "
            f"first bytes '{preview(stripped)}') for {where}: {advice[0].lower() + advice[1:]} "
            "A sign-in or error page "
            "usually means a wrong address or a dataset that is not public.",
            url=response.url,
            status=response.status,
        )
    if not stripped:
        raise client.error(
            f"{client.label} sent an empty answer (HTTP {response.status}) for {where}. "
            "Try again later; if it keeps happening, check the address.",
            url=response.url,
            status=response.status,
        )
    try:
        return json.loads(body, parse_constant=str)
    except UnicodeDecodeError:
        problem = "it is not UTF-8 text"
    except json.JSONDecodeError as exc:
        problem = f"{exc.msg.lower()}: position {n(exc.pos)} of {n(len(body))}"
    raise client.error(
        f"{client.label} sent an answer that is not valid JSON for {where} ({problem}; "
        f"first bytes '{preview(stripped)}'). The answer may have been cut off: try again; "
        f"if it keeps happening, {advice[0].lower() + advice[1:]}",
        url=response.url,
        status=response.status,
    )


def http_status_error(
    client: HttpClient,
    response: HttpResponse,
    *,
    where: str,
    rows: int,
    not_found: str,
    denied: str,
    bad_request: str,
    portal_message: str | None = None,
) -> ConnectorError:
    """A plain-language error for an HTTP status that is not success and was not retried."""
    status = response.status
    said = f" The portal said: '{portal_message}'." if portal_message else ""
    if status in (404, 410):
        text = f"{client.label} has no such dataset (HTTP {status}).{said} {not_found}"
    elif status in (401, 403):
        text = f"{client.label} refused access (HTTP {status}).{said} {denied}"
    elif status in (400, 409, 422):
        text = f"{client.label} rejected the request (HTTP {status}).{said} {bad_request}"
    elif status in (414, 431):
        text = f"{client.label} found the request too long (HTTP {status}). Shorten the filter."
    elif 300 <= status < 400:
        text = (
            f"{client.label} redirected to an address that cannot be followed (HTTP {status}, "
            f"to '{redact_url(response.headers.get('Location') or '?')}'). Use the final address."
        )
    elif status >= 500:
        text = (
            f"{client.label} had an internal error (HTTP {status}).{said} "
            "The portal may be having problems; try again later."
        )
    else:
        text = f"{client.label} answered with HTTP {status}.{said} Check the address."
    return client.error(
        f"{text} ({where}, {plural(rows, 'row')} received so far; nothing was saved.)"
        if rows
        else f"{text} Nothing was saved.",
        url=response.url,
        status=status,
        rows=rows,
    )


def portal_message(data: Any, *keys: str) -> str | None:
    """The first non-empty text among `keys` in a JSON error body, shortened."""
    if not isinstance(data, dict):
        return None
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            text = re.sub(r"\s+", " ", value.strip())
            return text[:300] + ("…" if len(text) > 300 else "")
    return None


def try_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def call_progress(progress: Progress | None, rows: int, total: int | None) -> None:
    if progress is not None:
        progress(rows, total)


def check_positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConnectorError(f"{name} must be a whole number of 1 or more, not {value!r}.")


def strip_query(url: str) -> tuple[str, list[tuple[str, str]]]:
    """'https://h/p?token=x&a=1' -> ('https://h/p', [('token', 'x'), ('a', '1')])."""
    parts = urllib.parse.urlsplit(url)
    base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return base, urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
