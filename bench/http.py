"""`make bench-http`: POST /api/v1/resolve under load, against a bare Django JSON view.

gunicorn runs with deploy/gunicorn.conf.py as production runs it (gthread, GUNICORN_WORKERS=2,
its default threads), on 127.0.0.1 only, with the settings of bench/settings.py: production's,
plus /bench/bare, a Django view that answers a small JSON object through the same middleware.
Both endpoints are served by the same server, so the comparison is like for like. The database
is a scratch database on the PostgreSQL server DATABASE_URL names (dropped at the end), else a
temporary SQLite file. It holds 10,000 tenants with one key each and a service token; the
provider's model list comes from a fake server on 127.0.0.1 (no network).

Debian's wrk drives it: 8 connections, DURATION seconds a run, POSTs built by a small Lua
script, the tenant's slug round-robin over 1 tenant or over 10,000. Each of ROUNDS rounds, after
a warm-up that reaches every tenant, runs the bare view and the API at 1 tenant, then the API
and the bare view at 10,000: each API run next to its bare view, and the API's two runs next to
each other. Goals: the API's requests per second at least 0.7x the bare view's, and within 10%
of each other at 1 and at 10,000 tenants, run after run. Everything started here is stopped here.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a file: put the project, not bench/, first on the path (bench/common.py)
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import base64
import contextlib
import io
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.common import ROOT, scratch_database, seed_tenants, setup_django, spread, verdict

WRK = "/usr/bin/wrk"
WORKERS = 2
CONNECTIONS = 8
DURATION = 3  # seconds a run: short, so that neighbouring runs see the machine alike
ROUNDS = 8
TENANT_COUNTS = (1, 10_000)
WARM_UP = {1: 3, 10_000: 20}  # seconds, enough for every worker to meet every tenant
GOAL_RATIO = 0.7
GOAL_SPREAD = 0.10
START_DEADLINE = 60  # seconds; a hang guard
# The .sinatrarc as written in the Lua source: a Lua string holding JSON's escape for a line break.
SINATRARC = "agent:\\\\n  model: opus\\\\n"

LUA = """
-- POST {path} with a tenant's slug round-robin over {tenants} tenants ({prefix}-0000, ...).
local tenants, counter = {tenants}, 0
local threads = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
function setup(thread)
  thread:set("first", threads * 4999)
  threads = threads + 1
end
function init(args)
  counter = first or 0
end
function request()
  counter = counter + 1
  local body = string.format('{{"tenant": "{prefix}-%0{width}d", "sinatrarc": "{sinatrarc}"}}', counter % tenants)
  return wrk.format(nil, "{path}", nil, body)
end
"""


@dataclass(frozen=True)
class Run:
    """What one wrk run measured."""

    requests_per_second: float
    p50_ms: float


def main() -> int:
    if not os.access(WRK, os.X_OK):
        print(f"bench-http needs Debian's wrk at {WRK}: apt-get install wrk (make bench-http does)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="sinatra-bench-http-") as directory, scratch_database("bench_http") as url:
        work = Path(directory)
        with fake_models_server() as models_url:
            port = free_port()
            env = server_env(url, work, port, models_url)
            os.environ.update(env)
            setup_django(url, "bench.settings")
            from django.db import connection, connections

            vendor = connection.vendor
            seed_tenants(max(TENANT_COUNTS))
            token = service_token()
            connections.close_all()
            with gunicorn(env, work) as base_url:
                check_answers(base_url, token)
                results = measure(base_url, token, work)
    report(vendor, results)
    return 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(database_url: str, work: Path, port: int, models_url: str) -> dict[str, str]:
    """A production environment built from scratch (no .env of this checkout), on loopback only."""
    empty = work / "empty.env"
    empty.write_text("")
    return {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108 - only if HOME is unset
        "LANG": "C.UTF-8",
        "SINATRA_ENV_FILE": str(empty),
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "SINATRA_LOCAL_DEV_KMS_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "SINATRA_BASE_URL": f"http://127.0.0.1:{port}",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback, as behind the proxy
        "SINATRA_ANTHROPIC_BASE_URL": models_url,
        "SINATRA_OPENROUTER_BASE_URL": f"{models_url}/api/v1",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(WORKERS),
    }


class ModelsHandler(BaseHTTPRequestHandler):
    """Anthropic's GET /v1/models (and OpenRouter's /api/v1/models), one short page."""

    def do_GET(self) -> None:
        if self.path.startswith("/v1/models"):
            body = {"data": [{"id": "claude-opus-4-8"}, {"id": "claude-sonnet-4-6"}], "has_more": False}
        else:
            body = {"data": [{"id": "anthropic/claude-opus-4.8", "created": 1780000000}]}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def fake_models_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ModelsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def service_token() -> str:
    """Create a token through create_service_token, scoped to every tenant in whichever form it takes."""
    from django.core.management import call_command, load_command_class

    parser = load_command_class("routing", "create_service_token").create_parser("manage.py", "create_service_token")
    options = {option for action in parser._actions for option in action.option_strings}
    args = ["bench-http"]
    if "--all-tenants" in options:
        args.append("--all-tenants")
    elif "--tenant" in options:
        from tenants.models import Tenant

        for slug in Tenant.objects.values_list("slug", flat=True):
            args += ["--tenant", slug]
    out = io.StringIO()
    call_command("create_service_token", *args, stdout=out)
    return out.getvalue().split()[-1]


@contextlib.contextmanager
def gunicorn(env: dict[str, str], work: Path) -> Iterator[str]:
    """Run gunicorn as deploy/Dockerfile does; yield its URL once /healthz answers; stop it."""
    command = [str(Path(sys.executable).parent / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "sinatra.wsgi"]
    with (work / "gunicorn.out").open("wb") as out, (work / "gunicorn.err").open("wb") as err:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    base_url = f"http://{env['GUNICORN_BIND']}"
    try:
        deadline = time.monotonic() + START_DEADLINE
        while not answers(f"{base_url}/healthz"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not start:\n{(work / 'gunicorn.err').read_text()[-3000:]}")
            time.sleep(0.1)
        yield base_url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def check_answers(base_url: str, token: str) -> None:
    """One request of each kind, checked, before any is timed (nothing of the answer is printed)."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    body = {"tenant": f"bench-{max(TENANT_COUNTS) - 1:04d}", "sinatrarc": "agent:\n  model: opus\n"}
    answer = httpx.post(f"{base_url}/api/v1/resolve", json=body, headers=headers, timeout=30)
    assert answer.status_code == 200, (
        f"POST /api/v1/resolve answered {answer.status_code}: {answer.json().get('error')}"
    )
    assert (answer.json()["provider"], answer.json()["model"]) == ("anthropic", "claude-opus-4-8")
    bare = httpx.post(f"{base_url}/bench/bare", json=body, timeout=30)
    assert bare.status_code == 200, f"POST /bench/bare answered {bare.status_code}"


def lua_script(work: Path, path: str, tenants: int, token: str) -> Path:
    width = len(str(max(TENANT_COUNTS) - 1))
    script = work / f"{path.strip('/').replace('/', '-')}-{tenants}.lua"
    script.write_text(
        LUA.format(path=path, tenants=tenants, token=token, prefix="bench", width=width, sinatrarc=SINATRARC)
    )
    return script


def wrk(base_url: str, script: Path, seconds: int) -> Run:
    """Run wrk; return its requests per second and median latency. Every answer must be a 2xx."""
    result = subprocess.run(
        [WRK, "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s", "--latency", "-s", str(script), base_url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    output = result.stdout
    if result.returncode != 0 or "Non-2xx" in output or "Socket errors" in output:
        raise SystemExit(f"wrk failed ({script.name}):\n{output}{result.stderr}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if rate is None or p50 is None:
        raise SystemExit(f"wrk printed no rate or median latency:\n{output}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p50.group(2)]
    return Run(float(rate.group(1)), float(p50.group(1)) * scale)


def measure(base_url: str, token: str, work: Path) -> dict[tuple[str, int], list[Run]]:
    scripts = {
        (name, tenants): lua_script(work, path, tenants, token)
        for name, path in (("bare", "/bench/bare"), ("resolve", "/api/v1/resolve"))
        for tenants in TENANT_COUNTS
    }
    for tenants in TENANT_COUNTS:  # warm-up: data keys unwrapped and last_used_at written, in every worker
        wrk(base_url, scripts[("resolve", tenants)], WARM_UP[tenants])
        wrk(base_url, scripts[("bare", tenants)], 2)
    results: dict[tuple[str, int], list[Run]] = {key: [] for key in scripts}
    few, many = TENANT_COUNTS
    # Each API run next to its bare view, and the API's two runs next to each other: the machine's
    # speed drifts between runs, less between neighbours.
    order = [("bare", few), ("resolve", few), ("resolve", many), ("bare", many)]
    for _ in range(ROUNDS):
        for key in order:
            results[key].append(wrk(base_url, scripts[key], DURATION))
    return results


def report(vendor: str, results: dict[tuple[str, int], list[Run]]) -> None:
    rate = "{:,.0f}".format
    ms = "{:.2f} ms".format
    print(
        f"HTTP on {vendor}: gunicorn (deploy/gunicorn.conf.py, {WORKERS} workers, gthread) on 127.0.0.1, "
        f"wrk {CONNECTIONS} connections, {DURATION} s a run"
    )
    print(f"  (min / median / max of {ROUNDS} rounds; in each round the bare view, then the API)")
    medians = {}
    for tenants in TENANT_COUNTS:
        bare, api = results[("bare", tenants)], results[("resolve", tenants)]
        ratios = [one.requests_per_second / other.requests_per_second for one, other in zip(api, bare, strict=True)]
        medians[tenants] = statistics.median(run.requests_per_second for run in api)
        label = f"{tenants:,} tenant{'s' if tenants > 1 else ''}"
        print(f"  {label}:")
        print(
            f"    bare JSON view       {spread([r.requests_per_second for r in bare], rate)} req/s   "
            f"p50 {spread([r.p50_ms for r in bare], ms)}"
        )
        print(
            f"    POST /api/v1/resolve {spread([r.requests_per_second for r in api], rate)} req/s   "
            f"p50 {spread([r.p50_ms for r in api], ms)}"
        )
        print(
            f"    ratio                {spread(ratios)}   goal >= {GOAL_RATIO}x: "
            f"{verdict(statistics.median(ratios) >= GOAL_RATIO)} (on the median)"
        )
    few, many = (results[("resolve", tenants)] for tenants in TENANT_COUNTS)
    changes = [b.requests_per_second / a.requests_per_second - 1 for a, b in zip(few, many, strict=True)]
    change = statistics.median(changes)
    across = medians[TENANT_COUNTS[1]] / medians[TENANT_COUNTS[0]] - 1
    print(
        f"  {TENANT_COUNTS[1]:,} against {TENANT_COUNTS[0]} tenant, POST /api/v1/resolve req/s, run after run: "
        f"{spread(changes, '{:+.1%}'.format)}   goal within {GOAL_SPREAD:.0%}: "
        f"{verdict(abs(change) <= GOAL_SPREAD)} (on the median; the medians of all rounds: {across:+.1%})"
    )


if __name__ == "__main__":
    sys.exit(main())
