"""Django settings for civicloop, all read through civicloop.conf's typed helpers."""

from __future__ import annotations

from pathlib import Path

from civicloop.conf import (
    Env,
    check_time_zone,
    database_from_url,
    email_from_url,
    load_or_create_secret_key,
    metric_engine_url,
    parse_memory,
    warehouse_path_from_url,
)

env = Env()

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = env.path("CIVICLOOP_DATA_DIR")

DEBUG = env.bool("CIVICLOOP_DEBUG")
SECRET_KEY = env.text("SECRET_KEY") or load_or_create_secret_key(DATA_DIR)
ALLOWED_HOSTS = env.list("CIVICLOOP_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CIVICLOOP_CSRF_TRUSTED_ORIGINS")

_database_url = env.text("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'civicloop.sqlite3'}"
DATABASES = {"default": database_from_url("DATABASE_URL", _database_url)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Many readers and one writer at a time without "database is locked" for short writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_warehouse_url = env.text("CIVICLOOP_WAREHOUSE") or f"duckdb:///{DATA_DIR / 'warehouse.duckdb'}"
WAREHOUSE_PATH = warehouse_path_from_url("CIVICLOOP_WAREHOUSE", _warehouse_url)
METRIC_ENGINE = metric_engine_url("CIVICLOOP_METRIC_ENGINE", env.text("CIVICLOOP_METRIC_ENGINE"))
WAREHOUSE_MEMORY_LIMIT = parse_memory(
    "CIVICLOOP_WAREHOUSE_MEMORY", env.text("CIVICLOOP_WAREHOUSE_MEMORY")
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "civicloop.core",
    "civicloop.accounts",
    "civicloop.organizations",
    "civicloop.datasets",
    "civicloop.metrics",
    "civicloop.okrs",
    "civicloop.improvement",
    "civicloop.meetings",
    "civicloop.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "civicloop.meetings.cache.BumpOnChange",  # a change moves the kept dashboards' counter
]

ROOT_URLCONF = "civicloop.urls"
WSGI_APPLICATION = "civicloop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "organizations:my_teams"
LOGOUT_REDIRECT_URL = "accounts:login"

# argon2 first: new and re-saved passwords are hashed with argon2id.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = check_time_zone("CIVICLOOP_TIME_ZONE", env.text("CIVICLOOP_TIME_ZONE"))
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STATIC_ROOT = None  # static files are served from the package by WhiteNoise
WHITENOISE_USE_FINDERS = True  # serve straight from the package; no collectstatic step for users
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Uploads: form fields stay small, files always go to a temporary file on disk as they arrive
# (never into memory), and datasets may be as large as CIVICLOOP_MAX_UPLOAD_MB.
MAX_UPLOAD_MB = env.int("CIVICLOOP_MAX_UPLOAD_MB", minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # Django's default, for everything but files
FILE_UPLOAD_MAX_MEMORY_SIZE = 0

_email = email_from_url("CIVICLOOP_EMAIL_URL", env.text("CIVICLOOP_EMAIL_URL"))
EMAIL_BACKEND = _email.pop("EMAIL_BACKEND")
globals().update(_email)
DEFAULT_FROM_EMAIL = env.text("CIVICLOOP_FROM_EMAIL")
SITE_URL = env.text("CIVICLOOP_SITE_URL").rstrip("/")
OKR_YEAR_START = env.int("CIVICLOOP_OKR_YEAR_START", minimum=1, maximum=12)
DASHBOARD_CACHE_SECONDS = env.int("CIVICLOOP_DASHBOARD_CACHE_SECONDS", minimum=0, maximum=86400)
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24  # one day

# Cookies and transport. Always-on protections first; HTTPS-only ones when the site says so.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
HTTPS = env.bool("CIVICLOOP_HTTPS")
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_HSTS_SECONDS = env.int("CIVICLOOP_HSTS_SECONDS", minimum=0) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
