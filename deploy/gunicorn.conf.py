"""gunicorn configuration for Sinatra's control plane.

    .venv/bin/gunicorn -c deploy/gunicorn.conf.py sinatra.wsgi

Threaded workers (gthread) behind a buffering reverse proxy (deploy/nginx.conf), which
absorbs slow clients so that a worker thread only ever waits on the database and the KMS.
Read from the environment, or else from the env file the app reads (SINATRA_ENV_FILE,
`.env` by default), so that .env.production can hold these too; all optional:

    GUNICORN_BIND              address to listen on; default 127.0.0.1:$PORT (PORT default 8000).
                               Keep it on loopback (or a private network) behind the proxy:
                               the app trusts the X-Forwarded-Proto the proxy sets.
    GUNICORN_WORKERS           worker processes; default one per CPU core, at least 2 (docs/deploy.md, Sizing)
    GUNICORN_THREADS           threads per worker; default 4
    GUNICORN_TIMEOUT           seconds a worker may be silent before it is killed and replaced; default 30
    GUNICORN_GRACEFUL_TIMEOUT  seconds a worker gets to finish its requests on SIGTERM/restart; default 30
    GUNICORN_KEEPALIVE         seconds an idle keep-alive connection stays open; default 5
    PROMETHEUS_MULTIPROC_DIR   where workers write their metrics for /metrics; default a fresh
                               temporary directory, removed when gunicorn exits
    LOG_FORMAT                 `json` makes gunicorn's own lines JSON too, like the app's

Access log: one line per request on standard output, "METHOD /path STATUS DURATIONms": the path
never has its query string, and one-time tokens in paths are masked (sinatra/logs.py).
SIGTERM stops gracefully (running requests finish, up to the graceful timeout); SIGHUP reloads
the code with new workers.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Runnable from any directory: the project is importable, and the app runs from it.
sys.path.insert(0, str(PROJECT_DIR))
chdir = str(PROJECT_DIR)

from sinatra.devenv import read_env_file  # noqa: E402 - needs the path above; imports no Django

_env_file = Path(os.environ.get("SINATRA_ENV_FILE") or ".env")
_from_file = read_env_file(_env_file if _env_file.is_absolute() else PROJECT_DIR / _env_file)


def _setting(name: str) -> str:
    """Return a variable from the environment, else from the env file, else ""."""
    return (os.environ.get(name) or _from_file.get(name) or "").strip()


# Every worker must see the directory before it imports prometheus_client, so it is set here,
# in the arbiter, before any worker is forked (and only once: a reload keeps it).
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    if _setting("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = _setting("PROMETHEUS_MULTIPROC_DIR")
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="sinatra-metrics-")
        os.environ["_SINATRA_METRICS_DIR_IS_TEMPORARY"] = "1"  # ours to remove at exit

from gunicorn import glogging  # noqa: E402
from prometheus_client import multiprocess  # noqa: E402

from sinatra.logs import JsonFormatter, loggable_path  # noqa: E402


def _int(name: str, default: int) -> int:
    value = _setting(name)
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SystemExit(f"{name} must be a whole number, at least 1 (it is {value!r}).")
    return int(value)


bind = _setting("GUNICORN_BIND") or f"127.0.0.1:{_int('PORT', 8000)}"
worker_class = "gthread"
# A resolution is mostly Python (CPU), and threads cover the waits on the database and the KMS:
# a worker per core served the most on a 2-core machine (docs/deploy.md, "Sizing").
workers = _int("GUNICORN_WORKERS", max(2, os.cpu_count() or 1))
threads = _int("GUNICORN_THREADS", 4)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# The heartbeat file on a memory file system: a slow disk must not get workers killed.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - gunicorn makes its files with mkstemp
# gunicorn's control socket lives at one path per user ($HOME/.gunicorn/gunicorn.ctl), which two
# servers on one machine would fight over; signals do the same job (TERM, HUP, TTIN, TTOU).
control_socket_disable = True

# The proxy on this machine (loopback) is trusted to say the scheme, with X-Forwarded-Proto only
# (deploy/nginx.conf sets it and strips the other two headers gunicorn would read by default).
forwarded_allow_ips = "127.0.0.1,::1"
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

accesslog = "-"
access_log_format = "%(m)s %(U)s %(s)s %(M)sms"
errorlog = "-"
loglevel = "info"


class Logger(glogging.Logger):
    """gunicorn's logger, with paths made safe to log and, under LOG_FORMAT=json, JSON lines."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        if _setting("LOG_FORMAT").lower() == "json":
            for handler in (*self.error_log.handlers, *self.access_log.handlers):
                handler.setFormatter(JsonFormatter())

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = loggable_path(atoms["U"] or "")
        # The request line and the query string would carry whatever the client put in the URL.
        atoms["r"] = f"{atoms['m']} {atoms['U']} {atoms['H']}"
        atoms["q"] = "-"
        return atoms


logger_class = Logger


def on_starting(server) -> None:
    """Start with no metrics left over from an earlier run in the same directory."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.glob("*.db"):
        leftover.unlink()


def worker_exit(server, worker) -> None:
    """Write this worker's key-release counts before it goes (routing.release; at most a minute's worth)."""
    if worker.pid == os.getpid():  # gunicorn also calls this hook in the arbiter, for a worker already gone
        from routing.release import flush  # the arbiter never loads Django: only a worker gets here

        flush()


def child_exit(server, worker) -> None:
    """Let /metrics forget the live values (gauges) of a worker that has gone."""
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    if os.environ.get("_SINATRA_METRICS_DIR_IS_TEMPORARY"):
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
