"""The `civicloop` command line.

Django is set up inside each command, after options such as --data-dir have been applied to
the environment, because settings read the environment once at import.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def setup_django(data_dir: Path | None = None) -> None:
    """Apply --data-dir and load settings; bad settings become a one-line error, not a trace."""
    if data_dir is not None:
        os.environ["CIVICLOOP_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civicloop.settings")
    from civicloop.conf import SettingError

    try:
        import django

        django.setup()
    except SettingError as error:
        raise click.ClickException(f"Configuration problem: {error}") from None


def data_dir_option(func: F) -> F:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Data folder (SQLite app database, DuckDB warehouse). "
        "Default: $CIVICLOOP_DATA_DIR or ./civicloop-data.",
    )(func)


def migrate_quietly() -> int:
    """Apply pending migrations; returns how many were applied."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        call_command("migrate", interactive=False, verbosity=0)
    return len(plan)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="civicloop")
def main() -> None:
    """civicloop: performance management and continuous improvement for public services."""


@main.command()
@data_dir_option
@click.option("--no-serve", is_flag=True, help="Load the demo city and stop; do not serve.")
@click.option(
    "--scale",
    type=click.FloatRange(min=0.01, max=1000),
    default=1.0,
    show_default=True,
    help="Multiply data volumes (e.g. 10 for benchmarks).",
)
@click.option("--seed", type=int, default=2026, show_default=True, help="Random seed.")
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Last day of the demo data (YYYY-MM-DD). Default: today.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
def demo(
    data_dir: Path | None,
    no_serve: bool,
    scale: float,
    seed: int,
    as_of: Any,
    host: str,
    port: int,
) -> None:
    """Create the demo city of Alderport, print its logins, and serve the web app."""
    setup_django(data_dir)
    from django.conf import settings

    from civicloop.demo.city import SHOWCASE_LOGINS, email_for
    from civicloop.demo.services import load_demo
    from civicloop.warehouse import Warehouse, WarehouseError

    console.print(f"Data folder: [bold]{settings.DATA_DIR}[/]")
    applied = migrate_quietly()
    if applied:
        console.print(f"Prepared the app database ({applied} migrations).")
    try:
        warehouse = Warehouse.default()
    except WarehouseError as error:
        raise click.ClickException(str(error)) from None
    day: date | None = as_of.date() if as_of else None
    with _table_progress() as progress:
        task = progress.add_task("Generating the demo city's data", total=None)

        def report(table: str, done: int, total: int) -> None:
            label = f"Loading {table}" if table else "Loaded"
            progress.update(task, description=label, completed=done, total=total)

        result = load_demo(
            Path(settings.DATA_DIR), warehouse, seed=seed, scale=scale, as_of=day, progress=report
        )
    rows = Table(title="Warehouse tables", show_edge=False)
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for name, count in result.table_rows.items():
        rows.add_row(name, f"{count:,}")
    console.print(rows)
    c = result.city
    console.print(
        f"Alderport: {c.organizations} organizations, {c.people} people, {c.teams} teams, "
        f"{c.memberships} memberships; {result.metrics} shared metrics, computed."
    )
    logins = Table(title="Demo logins (password for all: " + result.password + ")")
    logins.add_column("email")
    logins.add_column("who")
    for key, who in SHOWCASE_LOGINS:
        logins.add_row(email_for(key), who)
    console.print(logins)
    if not no_serve:
        _serve(host, port)


def _table_progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} tables"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@main.command()
@data_dir_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--threads", type=click.IntRange(1, 64), default=8, show_default=True)
def serve(data_dir: Path | None, host: str, port: int, threads: int) -> None:
    """Serve the web app (applies pending database migrations first)."""
    setup_django(data_dir)
    applied = migrate_quietly()
    if applied:
        console.print(f"Applied {applied} database migrations.")
    _serve(host, port, threads)


def _serve(host: str, port: int, threads: int = 8) -> None:
    import waitress
    from django.conf import settings

    from civicloop.core.worker import start_worker
    from civicloop.wsgi import application

    if not os.environ.get("CIVICLOOP_SITE_URL"):
        # Links in the emails the worker sends point at this server unless told otherwise.
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
        settings.SITE_URL = f"http://{shown}:{port}"
    _warm_charts()
    # Bind first: a busy port must stop us before the worker starts on the warehouse.
    try:
        server = waitress.create_server(
            application,
            host=host,
            port=port,
            threads=threads,
            ident="civicloop",
            # Waitress stops bodies at 1 GiB by default; uploads may be as large as the setting.
            max_request_body_size=settings.MAX_UPLOAD_MB * 1024 * 1024 + (1 << 20),
        )
    except OSError as error:
        raise click.ClickException(
            f"Cannot listen on {host}:{port}: {error.strerror}. "
            "Is something else using that port? Try --port 8001."
        ) from None
    start_worker()  # loads queued from the browser, and metric refreshes, run here
    console.print(f"civicloop is running at [bold]http://{host}:{port}/[/] — Ctrl+C stops it.")
    server.run()


def _warm_charts() -> None:
    """Build the browser's chart script (kept in the data folder) and start the chart
    renderer now, before serving: vl-convert holds Python's interpreter lock while it works,
    which would otherwise stall every request behind the first metric page."""
    from django.conf import settings

    from civicloop.spc import chart

    chart.vega_bundle(settings.DATA_DIR / "cache")
    chart.render_svg({"mark": "point", "data": {"values": [{"x": 1}]}})


@main.command()
@data_dir_option
@click.option("--email", prompt=True, help="Sign-in email address.")
@click.option("--name", "full_name", prompt="Full name", help="The person's full name.")
@click.option(
    "--organization",
    default="",
    help="Slug of the person's organization (see /organizations/).",
)
@click.option("--job-title", default="", help="Job title shown on team pages.")
@click.option("--superuser", is_flag=True, help="Make an administrator who sees every team.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of prompting.",
)
def createuser(
    data_dir: Path | None,
    email: str,
    full_name: str,
    organization: str,
    job_title: str,
    superuser: bool,
    password_stdin: bool,
) -> None:
    """Create a person who can sign in."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    setup_django(data_dir)
    migrate_quietly()
    from civicloop.accounts.services import AccountError, create_person

    try:
        person = create_person(
            email=email,
            full_name=full_name,
            password=password,
            organization_slug=organization,
            job_title=job_title,
            superuser=superuser,
        )
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    kind = "administrator" if person.is_superuser else "person"
    console.print(f"Created {kind} {person.full_name} <{person.email}>.")


@main.command()
@data_dir_option
@click.option("--deploy", is_flag=True, help="Also check the settings a public server needs.")
def check(data_dir: Path | None, deploy: bool) -> None:
    """Validate settings and connections, with a clear message for each problem."""
    setup_django(data_dir)
    from civicloop.core.health import run_checks

    results = run_checks(deploy=deploy)
    failed = 0
    for result in results:
        mark = "[green]ok[/]  " if result.ok else "[red]FAIL[/]"
        console.print(f"{mark} {result.name}: {result.message}", highlight=False)
        failed += not result.ok
    if failed:
        err_console.print(f"{failed} problem{'s' if failed != 1 else ''} found.")
        sys.exit(1)
    console.print("All checks passed.")


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@data_dir_option
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def manage(data_dir: Path | None, args: tuple[str, ...]) -> None:
    """Run a Django management command (e.g. `civicloop manage migrate`)."""
    setup_django(data_dir)
    from django.core.management import execute_from_command_line

    execute_from_command_line(["civicloop manage", *args])


def _register_app_commands() -> None:
    """Apps add their own commands to the group (imported here to avoid an import cycle)."""
    import civicloop.datasets.cli
    import civicloop.meetings.cli
    import civicloop.metrics.cli
    import civicloop.okrs.cli  # noqa: F401
    from civicloop.spc.cli import spc

    main.add_command(spc)


_register_app_commands()

if __name__ == "__main__":  # pragma: no cover
    # Run as a script this file is `__main__`, a second copy whose group lacks the commands
    # apps registered on `civicloop.cli.main`: hand over to the real one.
    from civicloop.cli import main as registered_main

    registered_main()
