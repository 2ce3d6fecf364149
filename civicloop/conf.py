"""Typed settings read from the environment.

Every setting civicloop reads is declared once here, with its type, default and help text.
Bad values fail loudly with the setting's name, the value given and what would be accepted,
because a city's IT team deploying this should never have to read a traceback to find a typo.
`docs/configuration.md` documents each one; a test fails when one is missing there.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit


class SettingError(ValueError):
    """A setting has a value civicloop cannot use. The message says which and how to fix it."""


TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def parse_bool(name: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise SettingError(
        f"{name}={raw!r} is not a yes/no value. Use one of: true, false, 1, 0, yes, no, on, off."
    )


def parse_int(name: str, raw: str, minimum: int | None = None, maximum: int | None = None) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise SettingError(f"{name}={raw!r} is not a whole number.") from None
    if minimum is not None and value < minimum:
        raise SettingError(f"{name}={value} is too small; the smallest allowed is {minimum}.")
    if maximum is not None and value > maximum:
        raise SettingError(f"{name}={value} is too large; the largest allowed is {maximum}.")
    return value


def parse_list(name: str, raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


@dataclass(frozen=True)
class Setting:
    """One environment variable civicloop reads."""

    name: str
    help: str
    default: str  # as the user would write it; "" means unset
    example: str = ""
    kind: str = "text"  # text, bool, int, list, url, path: shown in the docs


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "CIVICLOOP_DATA_DIR",
        "Folder holding the SQLite app database, the DuckDB warehouse, the generated secret key "
        "and archived uploads. Created on first use.",
        "./civicloop-data",
        "/var/lib/civicloop",
        "path",
    ),
    Setting(
        "DATABASE_URL",
        "The app database (people, teams, definitions). `sqlite:///PATH` or "
        "`postgres://USER:PASSWORD@HOST:PORT/NAME`. Default: an SQLite file in the data folder.",
        "",
        "postgres://civicloop@db.example.org:5432/civicloop",
        "url",
    ),
    Setting(
        "CIVICLOOP_WAREHOUSE",
        "Where departments' data lands: every load is validated and versioned in this DuckDB "
        "file. `duckdb:///PATH` (default: a DuckDB file in the data folder). To compute metrics "
        "on another engine, see CIVICLOOP_METRIC_ENGINE.",
        "",
        "duckdb:///var/lib/civicloop/warehouse.duckdb",
        "url",
    ),
    Setting(
        "CIVICLOOP_METRIC_ENGINE",
        "The engine metrics are computed on, through Ibis: `duckdb` (default: the warehouse "
        "itself), `postgres://USER@HOST:PORT/DB`, or `spark://local[N]` (PySpark in local mode, "
        "needs Java 17+). Each dataset version table is copied to another engine the first time "
        "a metric reads it. The same definitions give the same numbers on each.",
        "duckdb",
        "postgres://civicloop@warehouse.example.org:5432/metrics",
        "url",
    ),
    Setting(
        "CIVICLOOP_WAREHOUSE_MEMORY",
        "Most memory the warehouse (DuckDB) may use, e.g. 512MB or 4GB. Beyond it, big loads "
        "and queries spill to DATA_DIR/warehouse-tmp on disk instead of growing.",
        "600MB",
        "4GB",
    ),
    Setting(
        "SECRET_KEY",
        "Signs sessions and password-reset links. When unset, a random key is generated once "
        "and kept in `DATA_DIR/secret_key` (readable by the owner only).",
        "",
        "a long random string",
    ),
    Setting(
        "CIVICLOOP_DEBUG",
        "Django debug mode: detailed error pages. Never on in production.",
        "false",
        "true",
        "bool",
    ),
    Setting(
        "CIVICLOOP_ALLOWED_HOSTS",
        "Comma-separated host names the site answers to.",
        "127.0.0.1,localhost",
        "performance.example.gov",
        "list",
    ),
    Setting(
        "CIVICLOOP_HTTPS",
        "The site is served over HTTPS: cookies are marked Secure, plain HTTP is redirected, "
        "and HSTS is sent. Turn on in production.",
        "false",
        "true",
        "bool",
    ),
    Setting(
        "CIVICLOOP_HSTS_SECONDS",
        "Strict-Transport-Security max-age when CIVICLOOP_HTTPS is on.",
        "31536000",
        "63072000",
        "int",
    ),
    Setting(
        "CIVICLOOP_CSRF_TRUSTED_ORIGINS",
        "Comma-separated origins (scheme and host) trusted for form posts, needed behind a "
        "proxy that changes the host.",
        "",
        "https://performance.example.gov",
        "list",
    ),
    Setting(
        "CIVICLOOP_EMAIL_URL",
        "How email is sent. `console:` prints emails (password resets) to the server's "
        "terminal; `smtp://USER:PASSWORD@HOST:PORT` or `smtp+tls://...` sends them.",
        "console:",
        "smtp+tls://civicloop:secret@mail.example.gov:587",
        "url",
    ),
    Setting(
        "CIVICLOOP_FROM_EMAIL",
        "The sender address of emails civicloop sends.",
        "civicloop@localhost",
        "performance@example.gov",
    ),
    Setting(
        "CIVICLOOP_MAX_UPLOAD_MB",
        "The largest file, in megabytes (MiB), that may be uploaded as a dataset version in the "
        "browser. Uploads are written to disk as they arrive, never held in memory. A proxy in "
        "front of civicloop needs a body limit at least this large.",
        "2048",
        "10240",
        "int",
    ),
    Setting(
        "CIVICLOOP_SITE_URL",
        "The address people use to reach civicloop. Links in emails it sends on its own "
        "(check-in reminders) start with it. When unset, `civicloop serve` uses the address it "
        "listens on.",
        "http://127.0.0.1:8000",
        "https://performance.example.gov",
        "url",
    ),
    Setting(
        "CIVICLOOP_OKR_YEAR_START",
        "The month (1-12) the OKR year starts: objectives are written for a year from this "
        "month, and its quarters follow (4 gives April-March years, labelled 2026/27).",
        "1",
        "4",
        "int",
    ),
    Setting(
        "CIVICLOOP_DASHBOARD_CACHE_SECONDS",
        "How long a team dashboard's data may be kept in memory between changes (any change "
        "through the app, or to the data behind it, rebuilds it at once; this bounds anything "
        "else, such as data going stale with time). 0 rebuilds it on every view.",
        "300",
        "60",
        "int",
    ),
    Setting(
        "CIVICLOOP_TIME_ZONE",
        "The city's time zone (IANA name): periods, due dates and meeting times use it.",
        "America/Los_Angeles",
        "Europe/London",
    ),
)

SETTINGS_BY_NAME: Mapping[str, Setting] = {s.name: s for s in SETTINGS}


class Env:
    """Reads declared settings from an environment mapping, refusing undeclared names."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def raw(self, name: str) -> str:
        setting = SETTINGS_BY_NAME[name]  # KeyError here means a setting was not declared
        return self.environ.get(name, setting.default)

    def text(self, name: str) -> str:
        return self.raw(name).strip()

    def bool(self, name: str) -> bool:
        return parse_bool(name, self.raw(name))

    def int(self, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
        return parse_int(name, self.raw(name), minimum, maximum)

    def list(self, name: str) -> list[str]:
        return parse_list(name, self.raw(name))

    def path(self, name: str) -> Path:
        return Path(self.text(name)).expanduser().resolve()


# --- URLs ------------------------------------------------------------------------------------


def _path_after_scheme(url: str) -> str:
    """File URLs follow SQLAlchemy's rule: three slashes then a relative path, four for an
    absolute one (sqlite:///data/c.db is ./data/c.db; sqlite:////var/lib/c.db is absolute)."""
    rest = unquote(url.split("://", 1)[1])
    return rest[1:] if rest.startswith("/") else rest


def database_from_url(name: str, url: str) -> dict[str, Any]:
    """Turn DATABASE_URL into a Django DATABASES entry."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        path = _path_after_scheme(url)
        if not path:
            raise SettingError(
                f"{name}={url!r} has no file path. Write sqlite:///path/to/civicloop.sqlite3."
            )
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path}
    if scheme in {"postgres", "postgresql", "pgsql"}:
        db_name = parts.path.lstrip("/")
        if not db_name:
            raise SettingError(
                f"{name}={url!r} names no database. Write postgres://USER@HOST:PORT/DATABASE."
            )
        try:
            port = parts.port
        except ValueError:
            raise SettingError(f"{name}={url!r} has a port that is not a number.") from None
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(db_name),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(port or ""),
            "CONN_MAX_AGE": 60,
        }
    raise SettingError(
        f"{name}={url!r} uses an unsupported scheme {scheme or '(none)'!r}. "
        "Use sqlite:///PATH or postgres://USER@HOST:PORT/DATABASE."
    )


def metric_engine_url(name: str, url: str) -> str:
    """The engine metrics are computed on: checked at start-up, not at the first refresh."""
    value = url.strip() or "duckdb"
    scheme, sep, rest = value.partition("://")
    scheme = scheme.lower()
    if not sep and scheme == "duckdb":
        return "duckdb"
    if sep and scheme in ("postgres", "postgresql") and rest:
        return value
    if sep and scheme == "spark" and re.fullmatch(r"local(\[(\d+|\*)\])?", rest):
        return value
    raise SettingError(
        f"{name}={url!r} is not an engine civicloop knows. Write duckdb (the default), "
        "postgres://USER@HOST:PORT/DATABASE, or spark://local[2] (Spark in local mode)."
    )


def warehouse_path_from_url(name: str, url: str) -> Path:
    """The DuckDB file a CIVICLOOP_WAREHOUSE URL points at."""
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() != "duckdb":
        raise SettingError(
            f"{name}={url!r} is not a DuckDB URL. This version's warehouse runs on DuckDB: "
            "write duckdb:///path/to/warehouse.duckdb (other engines come with the metric engine)."
        )
    path = _path_after_scheme(url)
    if not path:
        raise SettingError(f"{name}={url!r} has no file path. Write duckdb:///path/to/file.duckdb.")
    return Path(path).expanduser().resolve()


def email_from_url(name: str, url: str) -> dict[str, Any]:
    """Turn CIVICLOOP_EMAIL_URL into Django EMAIL_* settings."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if scheme in {"smtp", "smtp+tls", "smtp+ssl"}:
        if not parts.hostname:
            raise SettingError(f"{name}={url!r} names no mail server host.")
        try:
            port = parts.port
        except ValueError:
            raise SettingError(f"{name}={url!r} has a port that is not a number.") from None
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": parts.hostname,
            "EMAIL_PORT": port or (465 if scheme == "smtp+ssl" else 587 if "tls" in scheme else 25),
            "EMAIL_HOST_USER": unquote(parts.username or ""),
            "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
            "EMAIL_USE_TLS": scheme == "smtp+tls",
            "EMAIL_USE_SSL": scheme == "smtp+ssl",
        }
    raise SettingError(
        f"{name}={url!r} uses an unsupported scheme. Use console: or smtp://HOST:PORT "
        "(smtp+tls:// for STARTTLS, smtp+ssl:// for implicit TLS)."
    )


def load_or_create_secret_key(data_dir: Path) -> str:
    """A per-installation key kept beside the data, so a demo is never run on a shared key."""
    key_file = data_dir / "secret_key"
    if key_file.exists():
        key = key_file.read_text(encoding="utf-8").strip()
        if key:
            return key
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key)
    return key


def parse_memory(name: str, value: str) -> str:
    """A DuckDB memory size such as 600MB or 4GB."""
    cleaned = value.strip().upper().replace(" ", "")
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?(KB|MB|GB|TB|KIB|MIB|GIB|TIB)", cleaned):
        raise SettingError(f"{name}={value!r} is not a memory size. Write e.g. 600MB or 4GB.")
    return cleaned


def check_time_zone(name: str, value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingError(
            f"{name}={value!r} is not a known time zone. Use an IANA name like Europe/London."
        ) from None
    return value
