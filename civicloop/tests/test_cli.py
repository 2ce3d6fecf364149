"""The `civicloop` command as a user runs it: a real process, real files, real exit codes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
COMMANDS = ("demo", "serve", "createuser", "check", "manage")


def run(
    args: list[str], data_dir: Path, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CIVICLOOP_", "DATABASE_URL", "DJANGO_SETTINGS"))
    }
    environ.update({"CIVICLOOP_DATA_DIR": str(data_dir), "COLUMNS": "120"})
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "civicloop.cli", *args],
        capture_output=True,
        text=True,
        env=environ,
        input=stdin,
        timeout=300,
        check=False,
    )


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run(["--help"], tmp_path)
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


def test_bad_setting_is_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    result = run(["check"], tmp_path, {"CIVICLOOP_DEBUG": "maybe"})
    assert result.returncode != 0
    assert "Configuration problem: CIVICLOOP_DEBUG='maybe' is not a yes/no value" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_check_reports_unmigrated_database_then_passes(tmp_path: Path) -> None:
    first = run(["check"], tmp_path)
    assert first.returncode == 1
    assert "migrations are not applied" in first.stdout
    assert run(["manage", "migrate", "-v", "0"], tmp_path).returncode == 0
    second = run(["check"], tmp_path)
    assert second.returncode == 0, second.stdout
    assert "All checks passed." in second.stdout


def test_check_reports_unreachable_postgres(tmp_path: Path) -> None:
    result = run(["check"], tmp_path, {"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"})
    assert result.returncode == 1
    assert "cannot connect to the postgresql database" in result.stdout
    assert "Check DATABASE_URL" in result.stdout


PRODUCTION = {
    "CIVICLOOP_HTTPS": "true",
    "CIVICLOOP_ALLOWED_HOSTS": "performance.alderport.example",
    "CIVICLOOP_EMAIL_URL": "smtp+tls://civicloop:secret@mail.alderport.example:587",
    "SECRET_KEY": "k" * 10 + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP",
}


def test_deploy_check_fails_on_laptop_settings_and_passes_on_production(tmp_path: Path) -> None:
    assert run(["manage", "migrate", "-v", "0"], tmp_path).returncode == 0
    laptop = run(["check", "--deploy"], tmp_path)
    assert laptop.returncode == 1
    assert "civicloop.W001" in laptop.stdout and "CIVICLOOP_HTTPS=true" in laptop.stdout
    production = run(["check", "--deploy"], tmp_path, PRODUCTION)
    assert production.returncode == 0, production.stdout
    assert "All checks passed." in production.stdout


def test_createuser_then_refusals(tmp_path: Path) -> None:
    args = [
        "createuser",
        "--email",
        "ann@alderport.example",
        "--name",
        "Ann Analyst",
        "--password-stdin",
    ]
    created = run(args, tmp_path, stdin="a long enough password 9\n")
    assert created.returncode == 0, created.stderr
    assert "Created person Ann Analyst <ann@alderport.example>" in created.stdout
    again = run(args, tmp_path, stdin="a long enough password 9\n")
    assert again.returncode == 1
    assert "someone already signs in as ann@alderport.example" in again.stderr
    weak = run(
        ["createuser", "--email", "bo@alderport.example", "--name", "Bo", "--password-stdin"],
        tmp_path,
        stdin="short\n",
    )
    assert weak.returncode == 1 and "password: This password is too short" in weak.stderr
    unknown_org = run(
        [
            "createuser",
            "--email",
            "cy@alderport.example",
            "--name",
            "Cy",
            "--organization",
            "parks",
            "--password-stdin",
        ],
        tmp_path,
        stdin="a long enough password 9\n",
    )
    assert unknown_org.returncode == 1 and "no organization 'parks'" in unknown_org.stderr
    assert "Traceback" not in weak.stderr + unknown_org.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_answers_http_and_requires_sign_in(tmp_path: Path) -> None:
    port = _free_port()
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CIVICLOOP_", "DATABASE_URL", "DJANGO_SETTINGS"))
    }
    environ["CIVICLOOP_DATA_DIR"] = str(tmp_path)
    server = subprocess.Popen(
        [sys.executable, "-m", "civicloop.cli", "serve", "--port", str(port)],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                    assert response.status == 200
                    break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("civicloop serve did not answer within 60 s")
                time.sleep(0.3)

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
                return None

        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as answer:
            opener.open(base + "/teams/", timeout=5)
        assert answer.value.code == 302
        assert answer.value.headers["Location"].startswith("/accounts/login/")
        with urllib.request.urlopen(base + "/static/civicloop/site.css", timeout=5) as css:
            assert b"skip-link" in css.read()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run(["serve", "--port", str(port)], tmp_path)
    assert result.returncode == 1
    assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_reference_documents_every_command_and_option(tmp_path: Path) -> None:
    """docs/cli.md must name every command and every option that --help shows."""
    import click

    from civicloop.cli import main

    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = []
    commands = list(main.commands.items())
    for name, group in list(commands):
        if isinstance(group, click.Group):
            commands += [(f"{name} {sub}", cmd) for sub, cmd in group.commands.items()]
    for name, command in commands:
        if f"civicloop {name}" not in page:
            missing.append(f"civicloop {name}")
        for param in command.params:
            if isinstance(param, click.Option):
                for opt in param.opts:
                    if opt.startswith("--") and f"`{opt}" not in page:
                        missing.append(f"civicloop {name} {opt}")
    assert not missing, f"document in docs/cli.md: {missing}"
