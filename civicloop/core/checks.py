"""civicloop's own system checks, with ids, for problems that span several settings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


@register()
def data_dir_writable(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    data_dir = Path(settings.DATA_DIR)
    if data_dir.exists() and not os.access(data_dir, os.W_OK):
        return [
            Error(
                f"The data folder {data_dir} is not writable by this user.",
                hint="Fix its permissions or set CIVICLOOP_DATA_DIR to a folder you own.",
                id="civicloop.E001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def production_settings(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    problems: list[Warning] = []
    if not settings.HTTPS:
        problems.append(
            Warning(
                "CIVICLOOP_HTTPS is off: cookies can travel over plain HTTP.",
                hint="Serve behind HTTPS and set CIVICLOOP_HTTPS=true.",
                id="civicloop.W001",
            )
        )
    if set(settings.ALLOWED_HOSTS) <= LOCAL_HOSTS:
        problems.append(
            Warning(
                "CIVICLOOP_ALLOWED_HOSTS names only this machine, so nobody else can reach "
                "the site by its public name.",
                hint="Set CIVICLOOP_ALLOWED_HOSTS=performance.example.gov (your host name).",
                id="civicloop.W002",
            )
        )
    if settings.EMAIL_BACKEND.endswith("console.EmailBackend"):
        problems.append(
            Warning(
                "Emails (password resets) are printed to the console, not sent.",
                hint="Set CIVICLOOP_EMAIL_URL=smtp+tls://USER:PASSWORD@HOST:587.",
                id="civicloop.W003",
            )
        )
    return problems
