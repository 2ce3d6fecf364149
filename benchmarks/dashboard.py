"""Team dashboard and meeting pack benchmark (issue 8).

Issue 8's goal: the team dashboard (`/teams/<slug>/dashboard/`) answers in **at most 300 ms at
the 95th percentile for a team with 40 metrics, under 20 concurrent users**, measured against
the production server setup, beside the same server returning a static file (the floor); and
the time to generate a 20-metric meeting pack as HTML and as PDF.

The benchmark

1. builds the demo city once (`civicloop demo --no-serve --as-of DAY`, cached in
   `benchmarks/out/dashboard/demo-DAY/`) and copies it to a scratch folder for this run;
2. sets up, in-process and not timed (`--child setup`): a team "Bench team" whose 40 metrics are
   40 of the demo's 41 definitions saved again under new slugs (`bench-...`) for this team
   (owner: Police, which may read every demo dataset; steward: the team's lead), refreshed with
   `civicloop.metrics.services.refresh`; 20 people on the team (a lead, 14 members, 5 viewers)
   with one known password; a meeting held two weeks ago with actions raised at it (some
   overdue, one done), a fortnightly cadence whose next meeting has 20 metric items on its
   agenda with commentary asked for (two written), an objective with key results that follow
   three of the metrics, and an open A3. It checks with the ORM that the team has 40 metrics,
   each with a computed total series, and renders the dashboard once in-process to check it
   shows 40 cards and to measure its size; the static file for the floor is the one served
   under /static/ whose size is closest to that;
3. starts gunicorn, the production WSGI server: `gunicorn civicloop.wsgi:application --workers 2
   --bind 127.0.0.1:PORT` (workers = CPUs), with `CIVICLOOP_DATA_DIR` set, and waits until it
   answers;
4. runs `benchmarks/load.py` in its own process: 20 users sign in through `/accounts/login/`
   (CSRF, like a browser), each keeps its own session; one request per user one at a time
   (the page with nothing queued, and the workers' first, cold requests); a warm-up; then, in
   alternating rounds, every user requests the dashboard back to back (closed loop, no think
   time) and then the static file, for a fixed time each. Every request's latency is kept:
   p50, p95, p99, max, requests per second, errors (any status but 200), and the server's CPU
   time per request (the workers' CPU from /proc, divided by the requests);
5. stops the server, then times the packs in-process (`--child packs`, a fresh process for HTML
   and one for PDF): `pack.build_snapshot` + `pack.render_html`, and `build_snapshot` +
   `render_pdf`, for the meeting with 20 metric items: the first pack in a fresh process
   (charts drawn, the chart renderer and WeasyPrint started), with the chart caches cleared (a
   warm process drawing new charts, as after a refresh), and warm (charts cached), plus
   `issue()` and rendering an issued pack from its stored snapshot; PDF pages and sizes;
6. profiles one dashboard request in-process (`--child profile`: Django's test client, cProfile,
   the SQL queries counted), and rewrites the "## Team dashboard and packs (issue 8)" section of
   docs/performance.md (only that section).

    python -m benchmarks dashboard                # about 2 minutes on 2 CPUs
    python -m benchmarks dashboard --quick        # short phases, docs untouched
    python -m benchmarks.dashboard --help         # the same module, run directly
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

from benchmarks.doc import replace_section
from benchmarks.ingest import DEFAULT_OUT, DOC, ROOT, civicloop_command, machine, measure

SECTION = "## Team dashboard and packs (issue 8)"
GOAL_P95_MS = 300.0
METRICS = 40
USERS = 20
PACK_ITEMS = 20
TEAM_SLUG = "bench-team"
TEAM_NAME = "Bench team"
PASSWORD = "bench-password-2026"  # every bench user's; a scratch data folder only
EMAIL = "bench.user{:02d}@bench.example"  # 01 is the lead
OWNER_ORG = "police"  # a department that may read every demo dataset (shootings is restricted)
DROPPED = "requests-per-fiscal-quarter"  # the one demo metric of 41 left out
TEXT_TYPES = (".css", ".js", ".html", ".svg", ".txt", ".json")


# --- children: Django in-process --------------------------------------------------------------


def _django(data_dir: Path) -> None:
    os.environ["CIVICLOOP_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "civicloop.settings"
    os.environ.setdefault("CIVICLOOP_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
    import django

    django.setup()
    from django.conf import settings

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def child_setup(data_dir: Path, out_file: Path) -> None:
    """The Bench team, its 40 metrics, people, meetings, actions, OKRs and an A3."""
    _django(data_dir)
    from civicloop.cli import migrate_quietly

    migrate_quietly()  # the cached demo may predate the app's latest migrations
    from datetime import time as clock
    from datetime import timedelta

    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from civicloop.accounts.models import User
    from civicloop.demo.metrics import demo_metric_definitions
    from civicloop.improvement import services as a3_services
    from civicloop.meetings import services
    from civicloop.meetings.models import Action, Meeting
    from civicloop.metrics.definition import Direction
    from civicloop.metrics.models import Metric, Series
    from civicloop.metrics.services import latest_run, refresh, save_definition
    from civicloop.okrs import services as okr_services
    from civicloop.okrs.models import Mission
    from civicloop.okrs.quarters import Quarter
    from civicloop.organizations.models import Membership, Organization, Role, Team

    t0 = time.perf_counter()
    today = timezone.localdate()
    org = Organization.objects.get(slug=OWNER_ORG)
    hashed = make_password(PASSWORD)  # one argon2 hash for all: setup need not hash 20 times
    roles = [Role.LEAD] + [Role.MEMBER] * 14 + [Role.VIEWER] * 5
    with transaction.atomic():
        team = Team.objects.create(
            name=TEAM_NAME,
            slug=TEAM_SLUG,
            purpose="Forty shared measures, to time the team dashboard and its meeting packs.",
        )
        people = []
        for n, role in enumerate(roles, start=1):
            user = User(
                email=EMAIL.format(n),
                full_name=f"Bench User {n:02d}",
                organization=org,
                password=hashed,
            )
            user.save()
            Membership.objects.create(team=team, person=user, role=role)
            people.append(user)
    lead = people[0]

    definitions = [d for d in demo_metric_definitions() if d["id"] != DROPPED][:METRICS]
    for data in definitions:
        copy = {
            **data,
            "id": f"bench-{data['id']}",
            "team": TEAM_SLUG,
            "owner": OWNER_ORG,
            "steward": lead.email,
        }
        copy.pop("agreed_by", None)
        save_definition(copy, None, "The dashboard benchmark's team.")
    t_define = time.perf_counter()
    report = refresh(Metric.objects.filter(team=team))
    t_refresh = time.perf_counter()

    # What the ORM says the team has: 40 metrics, each with a computed total series.
    metrics = list(Metric.objects.filter(team=team).select_related("current_version"))
    with_series = 0
    points = 0
    for m in metrics:
        run = latest_run(m)
        total = run.series.filter(breakdown="", value="").first() if run else None
        if total is not None and total.values:
            with_series += 1
            points += len(total.values)
    series_count = Series.objects.filter(run__metric__team=team).count()

    # A meeting held two weeks ago, with actions raised at it.
    held = services.schedule(team, lead, on=today - timedelta(days=14), title="Fortnightly review")
    services.start(held, lead)
    services.end(held, lead, people[:8])
    by_slug = {m.slug: m for m in metrics}
    ordered = [by_slug[f"bench-{d['id']}"] for d in definitions]
    for n in range(8):
        due = today + timedelta(days=(-20 if n < 2 else -3 if n < 4 else 10 + n))
        services.add_action(
            team,
            lead,
            text=f"Look into the latest change in {ordered[n].name.lower()}",
            owner=people[1 + n % 10],
            due_on=due,
            meeting=held,
            metric=ordered[n],
        )
    done = services.add_action(
        team,
        lead,
        text="Share the data definitions with partners",
        owner=people[2],
        due_on=today - timedelta(days=5),
        meeting=held,
    )
    services.close_action(done, lead, done=True, note="Sent on the list.")

    # The cadence: fortnightly from five days ahead; its first meeting carries the pack.
    first_on = today + timedelta(days=5)
    while first_on.weekday() > 4:  # Monday to Friday: a weekend cadence breaks the pages (bug)
        first_on += timedelta(days=1)
    services.set_cadence(
        team,
        lead,
        every_weeks=2,
        weekday=first_on.weekday(),
        starts_at=clock(10, 0),
        minutes=60,
        first_on=first_on,
    )
    meeting = services.next_meeting(team, today)
    assert meeting is not None
    for m in ordered[:PACK_ITEMS]:
        services.add_item(meeting, lead, title=m.name, metric=m, reason="On the bench agenda.")
    services.request_commentary(meeting, lead)
    for m in ordered[:2]:
        services.write_commentary(
            meeting, m, lead, f"{m.name}: the latest period is within the usual range."
        )

    # OKRs: one objective, key results following three metrics whose direction is known.
    quarter = Quarter.containing(today)
    mission = Mission.objects.filter(is_active=True).order_by("position").first()
    kr_made, kr_failed = 0, []
    if mission is not None:
        objective = okr_services.create_objective(
            lead,
            team,
            {"title": "Resolve requests faster", "mission": mission, "year": quarter.year},
        )
        for m in ordered:
            if kr_made == 3:
                break
            direction = m.definition().direction
            if direction == Direction.NEUTRAL:
                continue
            start = okr_services.metric_value_before(m, quarter.start)
            if not start:
                continue
            target = start * (1.1 if direction == Direction.HIGHER_IS_BETTER else 0.9)
            try:
                okr_services.create_key_result(
                    lead,
                    objective,
                    team,
                    {
                        "title": f"Move {m.name.lower()} to {target:.1f}",
                        "quarter": quarter,
                        "metric": m,
                        "start_value": start,
                        "target_value": round(target, 1),
                    },
                )
                kr_made += 1
            except Exception as error:  # a refused key result is reported, not fatal
                kr_failed.append(f"{m.slug}: {error}")
    a3_services.create_a3(
        lead, team, {"title": "Dumping waits in the bench district", "problem": "Slow clean-ups"}
    )

    # The dashboard once, in-process: it shows 40 cards; its size picks the floor's file.
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(lead)
    url = f"/teams/{TEAM_SLUG}/dashboard/"
    response = client.get(url)
    html = response.content
    cards = html.count(b'<li class="dash-card')
    static = _closest_static(len(html))
    out = {
        "team": TEAM_SLUG,
        "team_id": team.pk,
        "metrics": len(metrics),
        "metrics_with_total_series": with_series,
        "series": series_count,
        "total_points": points,
        "refresh": {
            "computed": len(report.computed),
            "failed": [str(f) for f in report.failed],
            "seconds": report.seconds,
        },
        "users": [p.email for p in people],
        "password": PASSWORD,
        "lead": lead.email,
        "meeting_id": meeting.pk,
        "meeting_on": meeting.on.isoformat(),
        "meeting_items": meeting.items.count(),
        "held_meeting_id": held.pk,
        "meetings": Meeting.objects.filter(team=team).count(),
        "actions_open": Action.objects.open().filter(team=team).count(),
        "key_results": kr_made,
        "key_results_refused": kr_failed,
        "dashboard_url": url,
        "dashboard_status": response.status_code,
        "dashboard_bytes": len(html),
        "dashboard_cards": cards,
        "static": static,
        "setup_s": {
            "define": t_define - t0,
            "refresh": t_refresh - t_define,
            "total": time.perf_counter() - t0,
        },
    }
    out_file.write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(json.dumps({k: v for k, v in out.items() if k != "users"}))


def _closest_static(size: int) -> dict[str, Any]:
    """The static file served under /static/ whose size is closest to `size` (text files)."""
    from django.conf import settings
    from django.contrib.staticfiles import finders

    best: tuple[int, str, int] | None = None
    for finder in finders.get_finders():
        for path, storage in finder.list([]):
            if not path.endswith(TEXT_TYPES):
                continue
            prefix = getattr(storage, "prefix", None)
            name = f"{prefix}/{path}" if prefix else path
            bytes_ = storage.size(path)
            key = (abs(bytes_ - size), name, bytes_)
            if best is None or key < best:
                best = key
    assert best is not None
    return {"url": f"/{settings.STATIC_URL.strip('/')}/{best[1]}", "bytes": best[2]}


def _timed(call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


def pdf_pages(data: bytes) -> int:
    """Pages of a PDF without a PDF library: the /Count of its root /Pages object, else the
    /Type /Page objects; looks inside compressed object streams when the plain file has none."""
    import re
    import zlib

    def count(blob: bytes) -> int:
        counts = [int(c) for c in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", blob)]
        counts += [int(c) for c in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", blob)]
        if counts:
            return max(counts)
        return len(re.findall(rb"/Type\s*/Page(?![s\w])", blob))

    found = count(data)
    if found:
        return found
    inflated = b""
    for match in re.finditer(rb"stream\r?\n", data):
        start = match.end()
        try:
            inflated += zlib.decompressobj().decompress(data[start : start + 2_000_000])
        except zlib.error:
            continue
    return count(inflated)


def child_packs(data_dir: Path, setup_file: Path, mode: str, repeat: int, out_file: Path) -> None:
    """The meeting's pack as HTML or PDF: first in this process, charts redrawn, warm."""
    started_process = time.perf_counter()
    _django(data_dir)
    setup = json.loads(setup_file.read_text("utf-8"))
    from civicloop.accounts.models import User
    from civicloop.meetings import pack
    from civicloop.meetings.models import Meeting
    from civicloop.metrics import spc as metric_spc

    meeting = Meeting.objects.select_related("team", "chair").get(pk=setup["meeting_id"])
    user = User.objects.get(email=setup["lead"])
    django_s = time.perf_counter() - started_process

    def render(snapshot: dict[str, Any]) -> bytes:
        if mode == "pdf":
            return pack.render_pdf(snapshot, reader=user)
        return pack.render_html(snapshot, reader=user).encode()

    def one(case: str) -> dict[str, Any]:
        build_s, (snapshot, _) = _timed(lambda: pack.build_snapshot(meeting, user))
        render_s, body = _timed(lambda: render(snapshot))
        row = {
            "case": case,
            "build_s": build_s,
            "render_s": render_s,
            "total_s": build_s + render_s,
            "bytes": len(body),
            "metrics": len(snapshot["metrics"]),
            "charts": sum(1 for m in snapshot["metrics"] if m.get("chart")),
        }
        if mode == "pdf":
            row["pages"] = pdf_pages(body)
        return row

    def clear() -> None:
        metric_spc.chart_svg.cache_clear()
        metric_spc.chart_png.cache_clear()

    rows = [one("first")]
    for _ in range(repeat):
        clear()
        rows.append(one("redrawn"))
    for _ in range(repeat):
        rows.append(one("warm"))
    extra: dict[str, Any] = {}
    if mode == "html":
        issue_s, issued = _timed(lambda: pack.issue(meeting, user))
        extra["issue_s"] = issue_s
        extra["snapshot_bytes"] = len(json.dumps(issued.snapshot))
        stored = type(issued).objects.get(pk=issued.pk).snapshot
        extra["render_issued_html_s"] = _timed(lambda: pack.render_html(stored, reader=user))[0]
        extra["issued_pack_id"] = issued.pk
    else:
        from civicloop.meetings.models import Pack

        issued_pack = Pack.objects.filter(meeting=meeting).order_by("-number").first()
        if issued_pack is not None:
            snapshot = issued_pack.snapshot
            extra["render_issued_pdf_s"] = _timed(lambda: pack.render_pdf(snapshot, reader=user))[0]
    out = {"mode": mode, "django_s": django_s, "rows": rows, **extra}
    out_file.write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(json.dumps(out))


STEPS = (
    ("civicloop.meetings.views", "_visible_team", "views._visible_team (the team, by visibility)"),
    ("civicloop.meetings.attention", "team_metrics", "attention.team_metrics (40 metrics query)"),
    ("civicloop.meetings.attention", "breakdown_choices", "attention.breakdown_choices"),
    ("civicloop.meetings.services", "next_meeting", "services.next_meeting"),
    ("civicloop.meetings.services", "commentary_states", "services.commentary_states"),
    ("civicloop.meetings.attention", "cards", "attention.cards (series, SPC readings)"),
    ("civicloop.meetings.attention", "card_data", "attention.card_data (x40)"),
    ("civicloop.meetings.services", "rhythm", "services.rhythm"),
    ("civicloop.meetings.api", "okr_summary", "api.okr_summary"),
    (
        "civicloop.meetings.api",
        "dashboard_data",
        "api.dashboard_data (all of the above but the team)",
    ),
    ("civicloop.meetings.views", "respond", "twins.respond (the template)"),
)


def _step_times(call: Any, repeat: int) -> list[dict[str, Any]]:
    """Median wall time per request of the dashboard's steps, timed by wrapping (not changing)
    the functions the view calls, without a profiler; the rest is the request's own."""
    import importlib
    import statistics

    spent: dict[str, float] = {}
    calls: dict[str, int] = {}
    originals = []
    for module_name, attr, label in STEPS:
        module = importlib.import_module(module_name)
        original = getattr(module, attr)

        def wrapper(*a: Any, __f: Any = original, __l: str = label, **k: Any) -> Any:
            started = time.perf_counter()
            try:
                return __f(*a, **k)
            finally:
                spent[__l] = spent.get(__l, 0.0) + time.perf_counter() - started
                calls[__l] = calls.get(__l, 0) + 1

        originals.append((module, attr, original))
        setattr(module, attr, wrapper)
    per: dict[str, list[float]] = {label: [] for _, _, label in STEPS}
    totals = []
    try:
        for _ in range(repeat):
            spent.clear()
            calls.clear()
            started = time.perf_counter()
            call()
            totals.append(time.perf_counter() - started)
            for label in per:
                per[label].append(spent.get(label, 0.0))
    finally:
        for module, attr, original in originals:
            setattr(module, attr, original)
    rows = [
        {"step": label, "s": statistics.median(v), "calls": calls.get(label, 0)}
        for label, v in per.items()
        if calls.get(label)  # a step the view no longer calls is left out
    ]
    rows.append({"step": "the whole request (test client)", "s": statistics.median(totals)})
    return rows


def child_profile(data_dir: Path, setup_file: Path, out_file: Path, prof: Path | None) -> None:
    """One dashboard request in-process: times cold and warm, SQL queries, cProfile."""
    import cProfile
    import pstats
    import re
    from collections import Counter

    _django(data_dir)
    setup = json.loads(setup_file.read_text("utf-8"))
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from civicloop.accounts.models import User

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(email=setup["lead"]))
    url = setup["dashboard_url"]

    def get() -> tuple[float, int, float, list[str]]:
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.status_code
        sql_s = sum(float(q["time"]) for q in ctx.captured_queries)
        return elapsed, len(ctx.captured_queries), sql_s, [q["sql"] for q in ctx.captured_queries]

    cold_s, cold_q, cold_sql, _ = get()
    warm = [get() for _ in range(5)]
    steps = _step_times(lambda: client.get(url), 5)
    best = min(warm, key=lambda w: w[0])
    shapes = Counter(re.sub(r"\b\d+\b", "N", re.sub(r"'[^']*'", "'?'", s))[:160] for s in best[3])
    profiler = cProfile.Profile()
    profiler.enable()
    client.get(url)
    profiler.disable()
    if prof:
        profiler.dump_stats(str(prof))
    stats = pstats.Stats(profiler)
    total = max((v[3] for v in stats.stats.values()), default=0.0)  # type: ignore[attr-defined]
    rows = []
    for (file, line, name), (_, calls, tt, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
        if "/civicloop/" not in file or "/benchmarks/" in file:
            continue
        short = file.split("/civicloop/", 1)[1]
        rows.append(
            {
                "function": f"civicloop/{short}:{line} {name}",
                "calls": calls,
                "cum_s": ct,
                "own_s": tt,
            }
        )
    rows.sort(key=lambda r: -r["cum_s"])

    def cum(file_end: str, name: str, own: bool = False) -> tuple[float, int]:
        found = [
            (tt if own else ct, calls)
            for (file, _, fn), (_, calls, tt, ct, _) in stats.stats.items()  # type: ignore[attr-defined]
            if file.endswith(file_end) and fn == name
        ]
        return (max(found)[0], max(found)[1]) if found else (0.0, 0)

    parts = {
        "orm": cum("django/db/models/query.py", "_fetch_all"),
        "sqlite": cum("django/db/backends/utils.py", "_execute"),
        "compile": cum("django/db/models/sql/compiler.py", "as_sql"),
        "objects": cum("django/db/models/base.py", "from_db"),
        "json": cum("json/decoder.py", "raw_decode", own=True),
        "template": cum("django/template/loader.py", "render_to_string"),
        "dashboard_data": cum("civicloop/meetings/api.py", "dashboard_data"),
        "view": cum("civicloop/meetings/views.py", "dashboard"),
    }
    others = {k: {"s": v[0], "calls": v[1]} for k, v in parts.items()}
    out = {
        "cold_s": cold_s,
        "cold_queries": cold_q,
        "cold_sql_s": cold_sql,
        "warm_s": [w[0] for w in warm],
        "warm_queries": best[1],
        "warm_sql_s": best[2],
        "query_shapes": shapes.most_common(8),
        "steps": steps,
        "profiled_s": total,
        "top": rows[:18],
        "parts": others,
    }
    out_file.write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(json.dumps({k: v for k, v in out.items() if k not in ("top", "parts", "query_shapes")}))


# --- the parent: small; Django and the server run in children ---------------------------------


def _child(role: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "benchmarks.dashboard", "--child", role, *args]


def _run(cmd: list[str], log: Path, what: str) -> tuple[float, float, float]:
    wall, cpu, peak, code = measure(cmd, log)
    if code != 0:
        tail = "\n".join(log.read_text("utf-8", errors="replace").splitlines()[-25:])
        raise SystemExit(f"{what} failed (exit {code}); see {log}\n{tail}")
    return wall, cpu, peak


def cached_demo(out: Path, as_of: str) -> Path:
    """The demo city as of `as_of`, built once (about 15 s) and kept."""
    folder = out / f"demo-{as_of}"
    marker = folder / ".ok"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    cmd = [*civicloop_command(), "demo", "--no-serve", "--as-of", as_of, "--data-dir", str(folder)]
    print(f"Building the demo city as of {as_of} (cached for later runs) ...", flush=True)
    wall, _, _ = _run(cmd, out / f"demo-{as_of}.log", "civicloop demo")
    print(f"  {wall:.1f} s", flush=True)
    marker.write_text(f"{datetime.now():%Y-%m-%d %H:%M}\n", encoding="utf-8")
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker_pids(master: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == master:
            pids.append(int(entry.name))
    return sorted(pids)


def gunicorn_command(port: int, workers: int, log: Path) -> list[str]:
    exe = Path(sys.executable).with_name("gunicorn")
    help_text = subprocess.run([str(exe), "--help"], capture_output=True, text=True).stdout
    # gunicorn 25+ opens a control socket in ~/.gunicorn by default; the benchmark needs none.
    quiet = ["--no-control-socket"] if "--no-control-socket" in help_text else []
    return [
        str(exe),
        "civicloop.wsgi:application",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--error-logfile",
        str(log),
        *quiet,
    ]


def start_server(
    data_dir: Path,
    port: int,
    workers: int,
    log: Path,
    output: Path,
    extra_env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], float]:
    """gunicorn in the background; its own log in `log`, the workers' stderr (where Django
    logs a 500's traceback) in `output`."""
    import http.client

    env = {
        **os.environ,
        "CIVICLOOP_DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)  # civicloop.wsgi sets civicloop.settings
    started = time.perf_counter()
    with output.open("wb") as sink:
        server = subprocess.Popen(
            gunicorn_command(port, workers, log), cwd=ROOT, env=env, stdout=sink, stderr=sink
        )
    deadline = started + 60
    while time.perf_counter() < deadline:
        if server.poll() is not None:
            tail = log.read_text("utf-8", errors="replace")[-3000:] if log.exists() else ""
            raise SystemExit(f"gunicorn exited ({server.returncode}) before answering:\n{tail}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/accounts/login/")
            status = conn.getresponse().status
            conn.close()
            if status == 200 and len(worker_pids(server.pid)) >= workers:
                return server, time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise SystemExit(f"gunicorn did not answer within 60 s; see {log}")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)  # gunicorn's graceful stop; only our own process
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- figures ----------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def summarise(phases: list[dict[str, Any]]) -> dict[str, Any]:
    """One page's phases together: every request of every round."""
    lat = sorted(s[1] for p in phases for s in p["samples"])
    ok = [s for p in phases for s in p["samples"] if s[2] == 200]
    wall = sum(p["wall_s"] for p in phases)
    n = len(lat)
    cpu = sum(p["server_cpu_s"] for p in phases)
    return {
        "requests": n,
        "errors": sum(p["error_count"] for p in phases),
        "statuses": _merge(p.get("statuses", {}) for p in phases),
        "error_samples": [e for p in phases for e in p.get("errors", [])][:10],
        "rps": n / wall if wall else math.nan,
        "p50": percentile(lat, 0.50),
        "p95": percentile(lat, 0.95),
        "p99": percentile(lat, 0.99),
        "max": lat[-1] if lat else math.nan,
        "mean": sum(lat) / n if n else math.nan,
        "seconds": wall,
        "server_cpu_s": cpu,
        "server_cpu_ms_per_request": cpu * 1000 / n if n else math.nan,
        "client_cpu_s": sum(p.get("client_cpu_s", 0.0) for p in phases),
        "bytes": ok[0][3] if ok else 0,
        "rounds": [
            {
                "p50": percentile(sorted(s[1] for s in p["samples"]), 0.5),
                "p95": percentile(sorted(s[1] for s in p["samples"]), 0.95),
                "rps": len(p["samples"]) / p["wall_s"] if p["wall_s"] else math.nan,
                "load": p["load_at_start"],
            }
            for p in phases
        ],
    }


def _merge(dicts: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def _ms(v: float) -> str:
    return (
        "—"
        if v is None or (isinstance(v, float) and math.isnan(v))
        else f"{v:,.0f} ms"
        if v >= 10
        else f"{v:.1f} ms"
    )


def _s(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f} s"


def _kb(n: int) -> str:
    return f"{n / 1024:,.0f} KB"


def render(r: dict[str, Any]) -> str:
    info, setup, load = r["info"], r["setup"], r["load"]
    dash, floor, serial = load["dashboard"], load["static"], load["serial"]
    warm = load["warmup"]
    p95 = dash["p95"]
    met = p95 <= GOAL_P95_MS
    lines = [
        SECTION,
        "",
        f"_Generated by `{r['command']}` on {r['started_at']} "
        f"(whole run {r['run_s'] / 60:.1f} min). Machine: {info['nproc']} CPUs ({info['cpu']}), "
        f"{info['ram_gb']} GB RAM, shared with other "
        f"work (load average {info['load']:.1f} at start); Python {info['python']}, "
        f"gunicorn {info['gunicorn']}, WeasyPrint {info['weasyprint']}, SQLite app database. "
        f"Demo city as of {r['as_of']}, seed 2026._",
        "",
        f"Issue 8's goal: the team dashboard in **at most {GOAL_P95_MS:.0f} ms at the 95th "
        f"percentile for a team with {METRICS} metrics, under {USERS} concurrent users**, against "
        "the production server, beside the same server returning a static file (the floor); and "
        f"the time to make a {PACK_ITEMS}-metric meeting pack in HTML and in PDF.",
        "",
        "How to reproduce: `python -m benchmarks dashboard` (about 2 minutes on 2 CPUs; see "
        "[benchmarks/README.md](../benchmarks/README.md)).",
        "",
        "What is measured:",
        "",
        f'- **The team.** "{TEAM_NAME}": {setup["metrics"]} metrics (40 of the demo\'s 41 '
        "definitions saved again for this team, all refreshed: "
        f"{setup['metrics_with_total_series']} "
        f"with a total series, {setup['series']:,} series in all), {len(setup['users'])} people "
        "(a lead, 14 members, 5 viewers), a meeting held two weeks ago with "
        f"{setup['actions_open']} open actions raised at it (some overdue), a fortnightly cadence "
        f"({setup['meetings']} meetings), the next meeting with {setup['meeting_items']} metric "
        f"items and commentary asked for, an objective with {setup['key_results']} key results "
        f"following metrics, and an open A3. The dashboard page is {_kb(setup['dashboard_bytes'])} "
        f"of HTML with {setup['dashboard_cards']} metric cards.",
        f"- **The server.** `{r['server']['command']}` with `CIVICLOOP_DATA_DIR` set: the "
        "project's WSGI application in gunicorn's sync workers, one per CPU, the default "
        "settings otherwise (DEBUG off, HTTP on the loopback, no proxy, SQLite app database, no "
        "access log); exactly, from the repository root: "
        f"`{r['server'].get('exact', r['server']['command'])}`. Ready "
        f"{r['server']['startup_s']:.1f} s after start.",
        f"- **The load.** `benchmarks/load.py`, a separate process (standard library: one thread "
        f"per user, one TCP connection per request, as gunicorn's sync workers close each "
        f"connection): {USERS} users, each signed in through `/accounts/login/` with its own "
        f"session, request the page back to back with no think time (closed loop). After a "
        f"{r['warmup_s']:g} s warm-up, {len(dash['rounds'])} rounds of the dashboard "
        f"({r['dashboard_s'] / len(dash['rounds']):g} s each) alternate with rounds of the floor "
        f"({r['static_s'] / len(floor['rounds']):g} s each) against the same server in the same "
        "run. Every request is timed from opening the connection to the last byte; any status "
        "but 200 is an error. The floor is the existing static file closest in size to the "
        f"dashboard, `{setup['static']['url']}` ({_kb(setup['static']['bytes'])}), served by "
        "WhiteNoise inside the same Django application (no session or database work).",
        "- **Server CPU per request**: the workers' CPU time (from /proc) over the phase, divided "
        "by its requests: what one request costs the server, whatever the queueing.",
        "",
        "| page | users | requests | requests/s | p50 | p95 | p99 | max | errors "
        "| server CPU / request | size |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for label, s, users in (
        (f"team dashboard, {METRICS} metrics (kept data, the usual case)", dash, USERS),
        (
            f"team dashboard, {METRICS} metrics, rebuilt on every view (cache off)",
            load["uncached"],
            USERS,
        ),
        (f"static file (floor), `{setup['static']['url'].rsplit('/', 1)[-1]}`", floor, USERS),
        ("team dashboard, one request at a time (no queueing)", serial, 1),
    ):
        lines.append(
            f"| {label} | {users} | {s['requests']:,} | {s['rps']:,.0f} | {_ms(s['p50'])} | "
            f"{_ms(s['p95'])} | {_ms(s['p99'])} | {_ms(s['max'])} | {s['errors']} | "
            f"{s['server_cpu_ms_per_request']:.1f} ms | {_kb(s['bytes'])} |"
        )
    rounds = "; ".join(
        f"{n + 1}: p50 {_ms(x['p50'])}, p95 {_ms(x['p95'])}, {x['rps']:.1f}/s "
        f"(load {x['load']:.1f})"
        for n, x in enumerate(dash["rounds"])
    )
    frounds = "; ".join(
        f"{n + 1}: p95 {_ms(x['p95'])}, {x['rps']:.0f}/s" for n, x in enumerate(floor["rounds"])
    )
    lines += [
        "",
        f"_Rounds of the dashboard: {rounds}. Of the floor: {frounds}. The load generator used "
        f"{dash['client_cpu_s'] / dash['seconds'] * 100:.0f}% of a CPU during the dashboard "
        f"rounds and {floor['client_cpu_s'] / floor['seconds'] * 100:.0f}% during the floor's, "
        "on the same 2 CPUs as the server. One request at a time: each of the 20 users once, "
        "in turn, before the warm-up; the first two, which meet the workers' empty SPC caches, "
        f"took {' and '.join(_ms(v) for v in serial.get('first', []))}. The warm-up (not "
        f"counted) reached {warm['rps']:.1f} requests/s with a p95 of {_ms(warm['p95'])} "
        f"(load average {warm['rounds'][0]['load']:.1f} at its start). Worker memory after the "
        f"run: {r['server']['rss']}. Percentiles are nearest-rank over every request of every "
        "round._",
        "",
    ]
    packs = r["packs"]
    lines += [
        f"Meeting packs, in-process (not through the server), for the next meeting with "
        f"{PACK_ITEMS} metric items of the Bench team (each with its SPC chart), as the lead: "
        "`pack.build_snapshot` then `pack.render_html`, or `build_snapshot` then `pack.render_pdf` "
        "(the charts as PNG, then WeasyPrint). *First*: the first pack in a fresh process (charts "
        "drawn, the chart renderer and WeasyPrint starting); *charts redrawn*: the chart caches "
        "cleared first, as for a pack after a refresh in a running server; *warm*: charts cached. "
        f"Best of {r['pack_repeat']} for the last two (the slowest in brackets).",
        "",
        "| pack | case | build_snapshot | render | total | size | pages |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for mode in ("html", "pdf"):
        rows = packs[mode]["rows"]
        for case, label in (
            ("first", "first in a fresh process"),
            ("redrawn", "charts redrawn"),
            ("warm", "warm"),
        ):
            chosen = [x for x in rows if x["case"] == case]
            if not chosen:
                continue
            best = min(chosen, key=lambda x: x["total_s"])
            worst = max(x["total_s"] for x in chosen)
            slow = f" ({worst:.2f} s)" if len(chosen) > 1 else ""
            lines.append(
                f"| {mode.upper()} | {label} | {_s(best['build_s'])} | {_s(best['render_s'])} | "
                f"{_s(best['total_s'])}{slow} | {_kb(best['bytes'])} | {best.get('pages', '—')} |"
            )
    html_extra, pdf_extra = packs["html"], packs["pdf"]
    lines += [
        "",
        "_Issuing the pack (`pack.issue`: the snapshot built and saved, "
        f"{_kb(html_extra.get('snapshot_bytes', 0))} "
        f"of JSON) took {_s(html_extra.get('issue_s'))}; an issued pack renders from its stored "
        f"snapshot in {_s(html_extra.get('render_issued_html_s'))} as HTML and "
        f"{_s(pdf_extra.get('render_issued_pdf_s'))} as PDF (charts cached)._",
        "",
    ]
    prof = r["profile"]
    lines += ["### Goal (issue 8)", ""]
    ceiling = r["workers"] * 1000 / max(dash["server_cpu_ms_per_request"], 1e-9)
    if met:
        lines.append(
            f"- Dashboard p95 under {USERS} concurrent users: {_ms(p95)} against a goal of "
            f"{GOAL_P95_MS:.0f} ms: **met**."
        )
    else:
        lines.append(
            f"- Dashboard p95 under {USERS} concurrent users: {_ms(p95)} against a goal of "
            f"{GOAL_P95_MS:.0f} ms: **missed** ({p95 / GOAL_P95_MS:.1f}x the goal). The floor's "
            f"p95 on the same server, with the same users, is {_ms(floor['p95'])}: the server, "
            "the loopback and the load generator cost little, the time is the page's own. Each "
            f"dashboard costs the server about {dash['server_cpu_ms_per_request']:.0f} ms of CPU "
            f"(p50 {_ms(serial['p50'])} one request at a time). With {USERS} users always "
            f"waiting on {r['workers']} sync workers, requests queue: by Little's law the mean "
            f"latency is users / throughput = {USERS} / {dash['rps']:.1f} per s = "
            f"{USERS * 1000 / dash['rps']:,.0f} ms. Even with both CPUs to itself the server "
            f"would pass at most {r['workers']} / {dash['server_cpu_ms_per_request']:.0f} ms = "
            f"{ceiling:.0f} pages/s (a mean of {USERS * 1000 / ceiling:,.0f} ms); during this "
            "run the machine's other work took part of the CPUs (see the load averages). A p95 of "
            f"{GOAL_P95_MS:.0f} ms under {USERS} closed-loop users on {r['workers']} workers needs "
            f"a page to cost about {GOAL_P95_MS * r['workers'] / USERS / 1.2:.0f} ms of server "
            "CPU or less (mean about users x cost / workers, the p95 about 1.2x the mean)."
        )
    u = load.get("uncached")
    if u:
        verdict = "also within the goal" if u["p95"] <= GOAL_P95_MS else "over the goal"
        lines.append(
            f"- The goal is met with the dashboard's data kept between changes "
            "(`civicloop/meetings/cache.py`): twenty people watching one team mostly read what "
            "was built for them since the last change. Rebuilt on every view (cache off, as for "
            f"the first view after each change), the same load gives p50 {_ms(u['p50'])} and "
            f"p95 {_ms(u['p95'])}, {verdict}: each rebuild costs about "
            f"{u['server_cpu_ms_per_request']:.0f} ms of server CPU, against "
            f"{dash['server_cpu_ms_per_request']:.0f} ms for a kept page."
        )
    if dash["errors"] or floor["errors"] or serial["errors"]:
        lines.append(
            f"- Errors: {dash['errors']} on the dashboard ({dash['statuses']}), "
            f"{floor['errors']} on the floor, {serial['errors']} one at a time."
        )
    else:
        lines.append("- No errors: every one of the requests answered 200.")
    lines += [
        "",
        "### Where a dashboard request spends its time",
        "",
        f"One request in-process (Django's test client, signed in as the lead; `python -m "
        f"benchmarks.dashboard --child profile`): {_s(prof['cold_s'])} for the process's first "
        f"({prof['cold_queries']} SQL queries, SPC computed), then best "
        f"{_s(min(prof['warm_s']))} warm with {prof['warm_queries']} SQL queries taking "
        f"{_s(prof['warm_sql_s'])} in SQLite. Under cProfile (which slows it: "
        f"{_s(prof['profiled_s'])} for the request) the time splits as: "
        + _parts(prof.get("parts", {}))
        + " The civicloop functions with the most cumulative time:",
        "",
        "| function | calls | cumulative |",
        "|---|--:|--:|",
    ]
    for row in prof["top"][:12]:
        lines.append(f"| `{row['function']}` | {row['calls']:,} | {row['cum_s']:.3f} s |")
    if prof.get("steps"):
        lines += [
            "",
            "Without the profiler: the view's steps, timed by wrapping the functions it calls "
            "(median of 5 warm requests; indented steps are inside `api.dashboard_data`):",
            "",
            "| step | time |",
            "|---|--:|",
        ]
        inside = {
            "team_metrics",
            "breakdown_choices",
            "next_meeting",
            "commentary_states",
            "cards",
            "card_data",
            "rhythm",
            "okr_summary",
        }
        for row in prof["steps"]:
            name = row["step"].split(" ")[0].split(".")[-1]
            pad = "&nbsp;&nbsp;" if name in inside else ""
            lines.append(f"| {pad}{row['step']} | {row['s'] * 1000:.1f} ms |")
    lines += ["", "Most repeated SQL statements (warm request):", ""]
    for sql, n in prof["query_shapes"][:5]:
        sql = sql.replace("|", "\\|")
        lines.append(f"- {n} x `{sql}`")
    lines.append("")
    return "\n".join(lines)


def _parts(parts: dict[str, Any]) -> str:
    if not parts:
        return ""

    def p(key: str) -> str:
        v = parts.get(key, {})
        return f"{v.get('s', 0.0) * 1000:.0f} ms"

    return (
        f"the view {p('view')}, of which `api.dashboard_data` {p('dashboard_data')} and the "
        f"template {p('template')}; across the request, the ORM (`QuerySet._fetch_all`: "
        f"building SQL, running it, making objects) {p('orm')}, of which compiling SQL "
        f"{p('compile')}, SQLite running it {p('sqlite')}, rows to model objects "
        f"{p('objects')} ({parts.get('objects', {}).get('calls', 0)} objects) and JSON fields "
        f"decoded {p('json')} ({parts.get('json', {}).get('calls', 0)} values)."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks dashboard",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--seconds", type=float, default=20, help="dashboard time in all (%(default)s s)"
    )
    parser.add_argument(
        "--static-seconds", type=float, default=10, help="floor time in all (%(default)s s)"
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (%(default)s)")
    parser.add_argument("--warmup", type=float, default=3, help="warm-up seconds (%(default)s)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 2, help="gunicorn workers (CPUs)"
    )
    parser.add_argument("--pack-repeat", type=int, default=2, help="repeats of each pack case")
    parser.add_argument("--as-of", default=date.today().isoformat(), help="the demo's last day")
    parser.add_argument(
        "--quick", action="store_true", help="short phases, 1 pack repeat, docs untouched"
    )
    parser.add_argument("--skip-packs", action="store_true", help="leave out the packs")
    parser.add_argument("--cprofile", action="store_true", help="also save the profile as .prof")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where files go")
    parser.add_argument("--no-doc", action="store_true", help="do not touch docs/performance.md")
    parser.add_argument("--from-json", type=Path, help="run nothing: render a saved result")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _dispatch_child(args.child, args.rest)
        return
    if args.from_json:
        saved = json.loads(args.from_json.read_text("utf-8"))
        block = render(saved)
        print(block)
        if not args.no_doc:
            replace_section(SECTION, block, DOC)
        return
    if args.quick:
        args.seconds, args.static_seconds, args.warmup, args.pack_repeat = 4, 2, 1, 1
        args.no_doc = True

    started, started_at = time.perf_counter(), datetime.now()
    from importlib.metadata import version

    info = machine() | {
        "load": os.getloadavg()[0],
        "gunicorn": version("gunicorn"),
        "weasyprint": version("weasyprint"),
    }
    print(
        f"Machine: {info['nproc']} CPUs ({info['cpu']}), load average {info['load']:.1f}",
        flush=True,
    )
    out = args.out / "dashboard"
    out.mkdir(parents=True, exist_ok=True)
    demo = cached_demo(out, args.as_of)
    data_dir = out / "run"
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.copytree(demo, data_dir)

    print("Setting up the Bench team (not timed) ...", flush=True)
    setup_file = out / "setup.json"
    wall, _, _ = _run(_child("setup", str(data_dir), str(setup_file)), out / "setup.log", "setup")
    setup = json.loads(setup_file.read_text("utf-8"))
    print(
        f"  {wall:.1f} s: {setup['metrics']} metrics, {setup['metrics_with_total_series']} with a "
        f"total series; dashboard {setup['dashboard_status']}, {setup['dashboard_cards']} cards, "
        f"{setup['dashboard_bytes']:,} bytes; floor {setup['static']['url']} "
        f"({setup['static']['bytes']:,} bytes)",
        flush=True,
    )
    problems = []
    if setup["metrics"] != METRICS or setup["metrics_with_total_series"] != METRICS:
        problems.append(
            f"the team has {setup['metrics']} metrics, "
            f"{setup['metrics_with_total_series']} with series"
        )
    if setup["dashboard_status"] != 200 or setup["dashboard_cards"] != METRICS:
        problems.append(
            f"the dashboard gave {setup['dashboard_status']} with {setup['dashboard_cards']} cards"
        )
    if problems:
        raise SystemExit("Setup is not what the benchmark needs: " + "; ".join(problems))

    users_file, plan_file, load_file = out / "users.json", out / "plan.json", out / "load.json"
    users_file.write_text(
        json.dumps({"password": setup["password"], "emails": setup["users"]}), "utf-8"
    )
    dash_url, static_url = setup["dashboard_url"], setup["static"]["url"]
    plan: list[dict[str, Any]] = [
        {"serial": dash_url},
        {"name": "warmup-dashboard", "path": dash_url, "seconds": args.warmup},
        {"name": "warmup-static", "path": static_url, "seconds": max(1.0, args.warmup / 3)},
    ]
    for n in range(args.rounds):
        plan.append(
            {"name": f"dashboard-{n + 1}", "path": dash_url, "seconds": args.seconds / args.rounds}
        )
        plan.append(
            {
                "name": f"static-{n + 1}",
                "path": static_url,
                "seconds": args.static_seconds / args.rounds,
            }
        )
    plan_file.write_text(json.dumps(plan), "utf-8")

    port = free_port()
    server_log = out / "gunicorn.log"
    server_log.unlink(missing_ok=True)
    command = gunicorn_command(port, args.workers, server_log)
    shown = f"gunicorn civicloop.wsgi:application --workers {args.workers} --bind 127.0.0.1:PORT"
    exact = f"CIVICLOOP_DATA_DIR={data_dir.relative_to(ROOT)} " + " ".join(
        str(Path(c).relative_to(ROOT)) if c.startswith(str(ROOT)) else c for c in command
    )
    print(f"Starting `{shown}` on port {port} ...", flush=True)
    server_out = out / "gunicorn-output.log"
    server, startup_s = start_server(data_dir, port, args.workers, server_log, server_out)
    try:
        pids = worker_pids(server.pid)
        print(f"  ready in {startup_s:.1f} s; workers {pids}", flush=True)
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.load",
            "--port",
            str(port),
            "--users",
            str(users_file),
        ]
        cmd += [
            "--plan",
            str(plan_file),
            "--out",
            str(load_file),
            "--pids",
            ",".join(map(str, pids)),
        ]
        print("Load: 20 users ...", flush=True)
        _run(cmd, out / "load.log", "the load generator")
        print((out / "load.log").read_text("utf-8").rstrip(), flush=True)
        still = worker_pids(server.pid)
    finally:
        stop_server(server)
    raw = json.loads(load_file.read_text("utf-8"))
    log_text = "\n\n".join(
        f.read_text("utf-8", errors="replace") for f in (server_log, server_out) if f.exists()
    )
    tracebacks = [b for b in log_text.split("\n\n") if "Traceback" in b][:3]
    phases = raw["phases"]
    serial = raw["serial"]
    serial_summary = summarise([{**serial, "statuses": {}, "errors": []}])
    serial_summary["first"] = [s[1] for s in serial["samples"][:2]]
    first_body = serial.pop("first_body", "")
    load = {
        "dashboard": summarise([p for p in phases if p["name"].startswith("dashboard-")]),
        "static": summarise([p for p in phases if p["name"].startswith("static-")]),
        "warmup": summarise([p for p in phases if p["name"].startswith("warmup-dashboard")]),
        "serial": serial_summary,
        "logins_s": raw["logins_s"],
        "served_cards": first_body.count('<li class="dash-card'),
    }
    rss = ", ".join(f"{v:.0f} MB" for v in raw.get("worker_rss_mb", {}).values() if v)
    server_info = {
        "command": shown,
        "exact": exact,
        "startup_s": startup_s,
        "workers": pids,
        "workers_after": still,
        "restarted": sorted(set(still) - set(pids)),
        "rss": rss or "unknown",
        "tracebacks": tracebacks,
    }
    d = load["dashboard"]
    print(
        f"dashboard: {d['requests']} requests, p50 {d['p50']:.0f} ms, p95 {d['p95']:.0f} ms, "
        f"p99 {d['p99']:.0f} ms, {d['rps']:.1f}/s, {d['errors']} errors; floor p95 "
        f"{load['static']['p95']:.1f} ms, {load['static']['rps']:.0f}/s",
        flush=True,
    )

    # The same load with the dashboard's kept data switched off: every view rebuilt, as for
    # the first view after each change (CIVICLOOP_DASHBOARD_CACHE_SECONDS=0).
    print("Load again with the dashboard cache off (every view rebuilt) ...", flush=True)
    uncached_plan = out / "plan-uncached.json"
    uncached_file = out / "load-uncached.json"
    uncached_plan.write_text(
        json.dumps(
            [
                {"name": "warmup-dashboard", "path": dash_url, "seconds": args.warmup},
                {"name": "uncached-1", "path": dash_url, "seconds": args.seconds / 2},
            ]
        ),
        "utf-8",
    )
    port2 = free_port()
    server2, _ = start_server(
        data_dir,
        port2,
        args.workers,
        out / "gunicorn-uncached.log",
        out / "gunicorn-uncached-output.log",
        {"CIVICLOOP_DASHBOARD_CACHE_SECONDS": "0"},
    )
    try:
        pids2 = worker_pids(server2.pid)
        _run(
            [
                sys.executable,
                "-m",
                "benchmarks.load",
                "--port",
                str(port2),
                "--users",
                str(users_file),
                "--plan",
                str(uncached_plan),
                "--out",
                str(uncached_file),
                "--pids",
                ",".join(map(str, pids2)),
            ],
            out / "load-uncached.log",
            "the load generator (cache off)",
        )
    finally:
        stop_server(server2)
    raw2 = json.loads(uncached_file.read_text("utf-8"))
    load["uncached"] = summarise([p for p in raw2["phases"] if p["name"].startswith("uncached-")])
    u = load["uncached"]
    print(
        f"dashboard, cache off: {u['requests']} requests, p50 {u['p50']:.0f} ms, p95 "
        f"{u['p95']:.0f} ms, {u['rps']:.1f}/s, {u['errors']} errors",
        flush=True,
    )

    packs: dict[str, Any] = {}
    if not args.skip_packs:
        for mode in ("html", "pdf"):
            print(f"Packs ({mode}) ...", flush=True)
            pack_file = out / f"packs-{mode}.json"
            cmd = _child(
                "packs", str(data_dir), str(setup_file), mode, str(args.pack_repeat), str(pack_file)
            )
            _run(cmd, out / f"packs-{mode}.log", f"packs ({mode})")
            packs[mode] = json.loads(pack_file.read_text("utf-8"))
            for row in packs[mode]["rows"]:
                print(
                    f"  {row['case']}: {row['total_s']:.2f} s "
                    f"({row['build_s']:.2f} + {row['render_s']:.2f})",
                    flush=True,
                )
    print("Profiling one dashboard request ...", flush=True)
    prof_file = out / "profile.json"
    prof_cmd = _child("profile", str(data_dir), str(setup_file), str(prof_file))
    if args.cprofile:
        prof_cmd.append(str(out / "dashboard.prof"))
    _run(prof_cmd, out / "profile.log", "profile")
    profile = json.loads(prof_file.read_text("utf-8"))

    results = {
        "command": "python -m benchmarks dashboard" + (" " + " ".join(argv) if argv else ""),
        "started_at": f"{started_at:%Y-%m-%d %H:%M}",
        "as_of": args.as_of,
        "info": info,
        "setup": setup,
        "server": server_info,
        "workers": args.workers,
        "load": load,
        "warmup_s": args.warmup,
        "dashboard_s": args.seconds,
        "static_s": args.static_seconds,
        "pack_repeat": args.pack_repeat,
        "packs": packs,
        "profile": profile,
        "run_s": time.perf_counter() - started,
    }
    saved = out / f"results-{started_at:%Y%m%d-%H%M%S}.json"
    saved.write_text(json.dumps(results, indent=1), encoding="utf-8")
    if tracebacks:
        print("\nThe server logged tracebacks:\n" + "\n\n".join(tracebacks), flush=True)
    if packs:
        block = render(results)
        print("\n" + block)
        if not args.no_doc:
            replace_section(SECTION, block, DOC)
            print(f"Wrote {DOC.relative_to(ROOT)} ({SECTION[3:]}); results in {saved}")
    print(f"Whole run {results['run_s']:.0f} s; results in {saved}")
    if d["errors"] or load["static"]["errors"]:
        sys.exit(1)


def _dispatch_child(role: str, rest: list[str]) -> None:
    if role == "setup":
        child_setup(Path(rest[0]), Path(rest[1]))
    elif role == "packs":
        child_packs(Path(rest[0]), Path(rest[1]), rest[2], int(rest[3]), Path(rest[4]))
    elif role == "profile":
        child_profile(
            Path(rest[0]), Path(rest[1]), Path(rest[2]), Path(rest[3]) if len(rest) > 3 else None
        )
    else:
        raise SystemExit(f"unknown child {role!r}")


if __name__ == "__main__":
    main()
