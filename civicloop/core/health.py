"""What `civicloop check` reports: settings, connections and Django's system checks."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core import checks as django_checks
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# Django's own security warnings name Django settings; say which civicloop setting fixes each.
CIVICLOOP_FIXES = {
    "security.W004": "set CIVICLOOP_HTTPS=true (HSTS follows).",
    "security.W008": "set CIVICLOOP_HTTPS=true (plain HTTP is then redirected).",
    "security.W012": "set CIVICLOOP_HTTPS=true (cookies are then Secure).",
    "security.W016": "set CIVICLOOP_HTTPS=true (cookies are then Secure).",
    "security.W018": "set CIVICLOOP_DEBUG=false.",
    "security.W020": "set CIVICLOOP_ALLOWED_HOSTS to your host name.",
    "security.W009": "set SECRET_KEY to a long random value, or unset it to use a generated one.",
}


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    message: str


def run_checks(deploy: bool = False) -> list[CheckResult]:
    results = [
        check_data_dir(),
        check_app_database(),
        check_warehouse(),
        check_email(),
    ]
    results.extend(check_system(deploy))
    return results


def check_data_dir() -> CheckResult:
    data_dir = Path(settings.DATA_DIR)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return CheckResult("data folder", False, f"cannot create {data_dir}: {error.strerror}")
    if not os.access(data_dir, os.W_OK):
        return CheckResult("data folder", False, f"{data_dir} is not writable by this user")
    return CheckResult("data folder", True, str(data_dir))


def check_app_database() -> CheckResult:
    engine = connection.vendor
    try:
        connection.ensure_connection()
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as error:  # any driver error: report it in one line
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        return CheckResult(
            "app database",
            False,
            f"cannot connect to the {engine} database: {first_line}. Check DATABASE_URL.",
        )
    if pending:
        return CheckResult(
            "app database",
            False,
            f"{engine} is reachable but {len(pending)} migrations are not applied; run "
            "`civicloop manage migrate` (or `civicloop serve`, which applies them).",
        )
    return CheckResult("app database", True, f"{engine}, up to date")


def check_warehouse() -> CheckResult:
    from civicloop.warehouse import Warehouse, WarehouseError

    try:
        warehouse = Warehouse.default()
        tables = warehouse.tables()
    except WarehouseError as error:
        return CheckResult("warehouse", False, str(error))
    return CheckResult(
        "warehouse", True, f"DuckDB at {settings.WAREHOUSE_PATH}, {len(tables)} tables"
    )


def check_email() -> CheckResult:
    backend = settings.EMAIL_BACKEND.rsplit(".", 2)[-2]
    if backend == "console":
        return CheckResult("email", True, "printed to the console (CIVICLOOP_EMAIL_URL=console:)")
    return CheckResult("email", True, f"SMTP via {settings.EMAIL_HOST}:{settings.EMAIL_PORT}")


def check_system(deploy: bool) -> list[CheckResult]:
    messages = django_checks.run_checks(include_deployment_checks=deploy)
    results = []
    for message in messages:
        if message.level < django_checks.WARNING:
            continue
        # In a deploy check a warning is a failure: each one is a real exposure in production.
        ok = message.level < django_checks.ERROR and not deploy
        fix = CIVICLOOP_FIXES.get(message.id or "") or message.hint
        hint = f" Fix: {fix}" if fix else ""
        results.append(CheckResult(message.id or "system", ok, f"{message.msg}{hint}"))
    if not results:
        label = "deployment checks" if deploy else "system checks"
        results.append(CheckResult(label, True, "no problems found"))
    return results
