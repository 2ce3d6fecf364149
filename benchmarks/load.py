"""A closed-loop HTTP load generator: N signed-in users, each requesting a page back to back.

Standard library only (http.client and threads), so it runs in its own small process beside
the server it measures and counts its own CPU time. Each simulated user

1. signs in like a browser: GET /accounts/login/ (the CSRF cookie and the form's hidden token),
   then POST the email, password and token with the cookie, Origin and Referer; the session
   cookie of the 302 is that user's from then on;
2. in each phase of the plan, requests the phase's path again as soon as the previous response
   has been read in full (no think time), until the phase's time is up. A request is started
   only before the deadline; every request's latency is recorded, from opening the connection
   to the last byte of the body. Any status but 200, and any connection error, is an error.

The server's sync workers close the connection after every response (gunicorn's sync worker
does not keep connections alive), so each request opens its own TCP connection, as a browser
talking to such a server does.

    python -m benchmarks.load --port 8123 --users users.json --plan plan.json --out out.json

`users.json`: {"password": "...", "emails": [...]}; `plan.json`: a list of phases
{"name": ..., "path": ..., "seconds": ...} plus an optional {"serial": path} first step (one
request per user, one user at a time: the page's time with no queueing). `--pids` lists the
server's worker processes: their CPU time is read from /proc before and after each phase.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HOST = "127.0.0.1"
TIMEOUT = 60.0
TOKEN = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
TICK = os.sysconf("SC_CLK_TCK")


class LoginFailed(Exception):
    pass


def fetch(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes | None = None,
) -> tuple[int, list[tuple[str, str]], bytes]:
    """One request on its own connection; the status, headers and the whole body."""
    conn = http.client.HTTPConnection(HOST, port, timeout=TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, response.getheaders(), data
    finally:
        conn.close()


def _cookies(headers: list[tuple[str, str]], jar: dict[str, str]) -> None:
    for name, value in headers:
        if name.lower() == "set-cookie":
            parsed: SimpleCookie = SimpleCookie()
            parsed.load(value)
            for key, morsel in parsed.items():
                jar[key] = morsel.value


def _cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def base_headers(port: int) -> dict[str, str]:
    return {
        "Host": f"{HOST}:{port}",
        "User-Agent": "civicloop-benchmark/1 (closed-loop load)",
        "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
    }


def login(port: int, email: str, password: str) -> dict[str, str]:
    """Sign in through the login form, CSRF and all; the cookies a browser would keep."""
    jar: dict[str, str] = {}
    status, headers, body = fetch(port, "GET", "/accounts/login/", base_headers(port))
    if status != 200:
        raise LoginFailed(f"GET /accounts/login/ gave {status}")
    _cookies(headers, jar)
    found = TOKEN.search(body)
    if not found or "csrftoken" not in jar:
        raise LoginFailed("the login page has no CSRF token or cookie")
    form = urlencode(
        {"username": email, "password": password, "csrfmiddlewaretoken": found.group(1).decode()}
    ).encode()
    origin = f"http://{HOST}:{port}"
    post_headers = {
        **base_headers(port),
        "Cookie": _cookie_header(jar),
        "Content-Type": "application/x-www-form-urlencoded",
        "Origin": origin,
        "Referer": f"{origin}/accounts/login/",
    }
    status, headers, body = fetch(port, "POST", "/accounts/login/", post_headers, form)
    _cookies(headers, jar)
    if status != 302 or "sessionid" not in jar:
        raise LoginFailed(f"POST /accounts/login/ for {email} gave {status}, no session")
    return jar


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (0 for one that has gone)."""
    total = 0.0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def run_phase(
    port: int, jars: list[dict[str, str]], name: str, path: str, seconds: float, pids: list[int]
) -> dict[str, Any]:
    """Every user requests `path` back to back for `seconds`; every request recorded."""
    samples: list[list[Any]] = []  # [start (s from phase start), latency ms, status, bytes]
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(jars) + 1)
    clock: dict[str, float] = {}

    def user(jar: dict[str, str]) -> None:
        headers = {**base_headers(port), "Cookie": _cookie_header(jar)}
        mine: list[list[Any]] = []
        barrier.wait()
        start, deadline = clock["start"], clock["deadline"]
        while True:
            began = time.perf_counter()
            if began >= deadline:
                break
            try:
                status, _, body = fetch(port, "GET", path, headers)
                size = len(body)
            except (OSError, http.client.HTTPException) as error:
                status, size = 0, 0
                with lock:
                    errors.append(f"{type(error).__name__}: {error}")
            ended = time.perf_counter()
            mine.append([round(began - start, 4), round((ended - began) * 1000, 3), status, size])
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=user, args=(jar,), daemon=True) for jar in jars]
    for t in threads:
        t.start()
    load = os.getloadavg()[0]
    cpu0, own0 = cpu_seconds(pids), _own_cpu()
    clock["start"] = time.perf_counter()
    clock["deadline"] = clock["start"] + seconds
    barrier.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - clock["start"]
    cpu1, own1 = cpu_seconds(pids), _own_cpu()
    samples.sort()
    bad = [s for s in samples if s[2] != 200]
    return {
        "name": name,
        "path": path,
        "users": len(jars),
        "seconds": seconds,
        "wall_s": wall,
        "load_at_start": load,
        "server_cpu_s": cpu1 - cpu0,
        "client_cpu_s": own1 - own0,
        "samples": samples,
        "statuses": {str(s): sum(1 for x in samples if x[2] == s) for s in {x[2] for x in samples}},
        "errors": errors[:20] + [f"HTTP {s[2]}" for s in bad[:20] if s[2]],
        "error_count": len(bad),
    }


def run_serial(port: int, jars: list[dict[str, str]], path: str, pids: list[int]) -> dict[str, Any]:
    """One request per user, one after another: the page's own time, nothing queued. The
    first requests also meet each worker's empty per-process caches."""
    samples = []
    bodies: list[bytes] = []
    load = os.getloadavg()[0]
    cpu0, own0 = cpu_seconds(pids), _own_cpu()
    started = time.perf_counter()
    for jar in jars:
        headers = {**base_headers(port), "Cookie": _cookie_header(jar)}
        began = time.perf_counter()
        status, _, body = fetch(port, "GET", path, headers)
        ended = time.perf_counter()
        samples.append(
            [round(began - started, 4), round((ended - began) * 1000, 3), status, len(body)]
        )
        bodies.append(body)
    return {
        "name": "serial",
        "path": path,
        "users": 1,
        "samples": samples,
        "server_cpu_s": cpu_seconds(pids) - cpu0,
        "client_cpu_s": _own_cpu() - own0,
        "load_at_start": load,
        "wall_s": time.perf_counter() - started,
        "error_count": sum(1 for s in samples if s[2] != 200),
        "first_body": bodies[0].decode("utf-8", errors="replace") if bodies else "",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--users", type=Path, required=True, help="JSON: password and emails")
    parser.add_argument("--plan", type=Path, required=True, help="JSON: the phases")
    parser.add_argument("--out", type=Path, required=True, help="where the results go (JSON)")
    parser.add_argument("--pids", default="", help="server worker pids, comma-separated")
    args = parser.parse_args(argv)
    users = json.loads(args.users.read_text("utf-8"))
    plan = json.loads(args.plan.read_text("utf-8"))
    pids = [int(p) for p in args.pids.split(",") if p]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:  # argon2 checks: the server's CPU work
        jars = list(pool.map(lambda e: login(args.port, e, users["password"]), users["emails"]))
    logins_s = time.perf_counter() - started
    print(f"{len(jars)} users signed in ({logins_s:.1f} s)", flush=True)
    result: dict[str, Any] = {"logins_s": logins_s, "phases": [], "serial": None}
    for step in plan:
        if "serial" in step:
            result["serial"] = run_serial(args.port, jars, step["serial"], pids)
            s = result["serial"]
            print(f"serial: {len(s['samples'])} requests, {s['error_count']} errors", flush=True)
            continue
        phase = run_phase(args.port, jars, step["name"], step["path"], step["seconds"], pids)
        result["phases"].append(phase)
        n = len(phase["samples"])
        print(
            f"{phase['name']}: {n} requests in {phase['wall_s']:.1f} s, "
            f"{phase['error_count']} errors",
            flush=True,
        )
    result["worker_rss_mb"] = {str(p): rss_mb(p) for p in pids}
    args.out.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
