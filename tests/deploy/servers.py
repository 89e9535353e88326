"""Real servers for the production-like tests: gunicorn with deploy/gunicorn.conf.py, Debian's nginx
with deploy/nginx.conf, a database of their own, and `manage.py` run as an operator would.

Everything listens on 127.0.0.1 only. Every wait is a bounded loop with a deadline, and every
process started here is stopped by its own id.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
from django.db import connection

from tests.helpers import PROJECT_DIR

NGINX = Path("/usr/sbin/nginx")
NGINX_MIME_TYPES = Path("/etc/nginx/mime.types")
VENV_BIN = Path(sys.executable).parent
# What deploy/Dockerfile runs (CMD, and the collectstatic RUN line); the tests run the same.
GUNICORN_COMMAND = ["gunicorn", "-c", "deploy/gunicorn.conf.py", "sinatra.wsgi"]
COLLECTSTATIC_COMMAND = ["python", "manage.py", "collectstatic", "--noinput"]
# ... and the environment the Dockerfile gives collectstatic (no env file, no production secrets).
COLLECTSTATIC_ENV = {"DEBUG": "true", "SECRET_KEY": "collectstatic-only"}
START_DEADLINE = 30  # seconds; a hang guard, not a speed requirement


def missing_servers() -> str | None:
    """Return why the real-server tests cannot run here, or None."""
    if not (VENV_BIN / "gunicorn").exists():
        return f"gunicorn is not installed beside {sys.executable} (pip install -r requirements.txt)"
    if not NGINX.exists():
        return f"Debian's nginx is not installed ({NGINX}): apt-get install nginx (.ci/run does)"
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check: Callable[[], bool], *, what: str, deadline: float = START_DEADLINE) -> None:
    """Poll `check` until it is true; fail naming `what` after `deadline` seconds."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"gave up after {deadline} s waiting for {what}")


def kms_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def shared_temp_dir(prefix: str) -> Path:
    """Return a new directory that nginx's workers (`nobody` when nginx runs as root) can read."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return path


def base_env(**variables: str) -> dict[str, str]:
    """Return an environment built from scratch: PATH, HOME, LANG and `variables` (nothing of this shell's)."""
    return {
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        **variables,
    }


def write_env_file(path: Path, settings: Mapping[str, str]) -> Path:
    """Write a .env.production as an operator would; mode 0600."""
    path.write_text("".join(f"{name}={value}\n" for name, value in settings.items()))
    path.chmod(0o600)
    return path


def manage(*args: str, env: Mapping[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    """Run `python manage.py ARGS` in the project; fail the test, with its output, on a non-zero exit."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,  # a hang guard
        check=False,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}: {result.stdout}{result.stderr}"
    return result


# --- Databases: a SQLite file, or a PostgreSQL database of the test's own


@dataclass
class Database:
    url: str
    drop: Callable[[], None] = lambda: None


def postgres_server(settings_dict: Mapping) -> dict[str, str]:
    """Return the connection parameters (but the database name) of the suite's PostgreSQL server."""
    return {
        "host": settings_dict.get("HOST") or "127.0.0.1",
        "port": str(settings_dict.get("PORT") or "5432"),
        "user": settings_dict.get("USER") or "postgres",
        "password": settings_dict.get("PASSWORD") or "",
    }


@contextlib.contextmanager
def own_database(vendor: str, settings_dict: Mapping, directory: Path) -> Iterator[Database]:
    """Yield a fresh, empty database: sinatra_deploy_<random> on the suite's PostgreSQL, else a SQLite file."""
    if vendor != "postgresql":
        yield Database(f"sqlite:///{directory / 'db.sqlite3'}")
        return
    server = postgres_server(settings_dict)
    name = f"sinatra_deploy_{secrets.token_hex(6)}"
    admin = {**server, "dbname": "postgres"}
    with psycopg.connect(**admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    auth = quote(server["user"], safe="") + (f":{quote(server['password'], safe='')}" if server["password"] else "")
    try:
        yield Database(f"postgres://{auth}@{server['host']}:{server['port']}/{name}")
    finally:
        with psycopg.connect(**admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- Processes


@dataclass
class Process:
    """A server started by a test, its output in files (never a pipe that could fill up)."""

    name: str
    popen: subprocess.Popen
    stdout: Path
    stderr: Path
    extra: dict = field(default_factory=dict)

    def output(self) -> str:
        return self.stdout.read_text(errors="replace")

    def errors(self) -> str:
        return self.stderr.read_text(errors="replace")

    def stop(self, *, timeout: float = 20) -> None:
        """SIGTERM (a graceful stop for both gunicorn and nginx), then SIGKILL if it does not end."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=timeout)


def start(
    name: str, command: list[str], *, env: Mapping[str, str], directory: Path, cwd: Path = PROJECT_DIR
) -> Process:
    stdout, stderr = directory / f"{name}.out", directory / f"{name}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        popen = subprocess.Popen(command, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=err)
    return Process(name, popen, stdout, stderr)


def answers(url: str, *, status: int = 200) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code == status
        except httpx.HTTPError:
            return False

    return check


def start_gunicorn(name: str, *, env: Mapping[str, str], port: int, directory: Path, **gunicorn: str) -> Process:
    """Start gunicorn exactly as deploy/Dockerfile does; return once /healthz answers."""
    command = [str(VENV_BIN / GUNICORN_COMMAND[0]), *GUNICORN_COMMAND[1:]]
    variables = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", **gunicorn}
    process = start(name, command, env=variables, directory=directory)
    try:
        wait_until(
            lambda: process.popen.poll() is None and answers(f"http://127.0.0.1:{port}/healthz")(),
            what=f"{name} on port {port}",
        )
    except AssertionError:
        process.stop()
        raise AssertionError(f"{name} did not start:\n{process.errors()[-3000:]}") from None
    process.extra["url"] = f"http://127.0.0.1:{port}"
    return process


# --- nginx with deploy/nginx.conf

NGINX_CONF = PROJECT_DIR / "deploy" / "nginx.conf"
_MARKED = re.compile(r"^(?P<indent>\s*)(?P<directive>[^#\n]+?;)\s*# deploy: (?P<name>[a-z ]+)$", re.MULTILINE)


def render_nginx_conf(replacements: Mapping[str, str]) -> str:
    """Return deploy/nginx.conf with its `# deploy: NAME` directives replaced; each must exist once."""
    text = NGINX_CONF.read_text()
    found = [match["name"] for match in _MARKED.finditer(text)]
    assert sorted(found) == sorted(replacements), f"deploy/nginx.conf marks {found}"
    return _MARKED.sub(lambda m: f"{m['indent']}{replacements[m['name']]}  # deploy: {m['name']}", text)


def start_nginx(*, port: int, upstream: str, static_root: Path, directory: Path) -> Process:
    """Run Debian's nginx in the foreground with deploy/nginx.conf, everything under `directory`."""
    prefix = directory / "nginx"
    prefix.mkdir()
    site = prefix / "sinatra.conf"
    site.write_text(
        render_nginx_conf(
            {
                "listen": f"listen 127.0.0.1:{port};",
                "upstream": f"server {upstream};",
                "static root": f"alias {static_root}/;",
                "access log": f"access_log {prefix / 'access.log'} sinatra;",
            }
        )
    )
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # The main file a distribution ships; deploy/nginx.conf goes into its http block.
    (prefix / "nginx.conf").write_text(
        "worker_processes 1;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"    include {NGINX_MIME_TYPES};\n"
        "    default_type application/octet-stream;\n"
        f"{temp}\n"
        f"    include {site};\n"
        "}\n"
    )
    command = [
        str(NGINX),
        "-p",
        f"{prefix}/",
        "-c",
        str(prefix / "nginx.conf"),
        "-e",
        str(prefix / "error.log"),
        "-g",
        f"daemon off; master_process on; pid {prefix / 'nginx.pid'};",
    ]
    tested = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30, check=False)
    assert tested.returncode == 0, f"nginx -t refused deploy/nginx.conf:\n{tested.stderr}"
    process = start("nginx", command, env=base_env(), directory=directory)
    process.extra.update(
        url=f"http://127.0.0.1:{port}", access_log=prefix / "access.log", error_log=prefix / "error.log"
    )
    try:
        wait_until(answers(f"http://127.0.0.1:{port}/healthz"), what=f"nginx on port {port}")
    except AssertionError:
        process.stop()
        log = (prefix / "error.log").read_text() if (prefix / "error.log").exists() else ""
        raise AssertionError(f"nginx did not start:\n{process.errors()}\n{log}") from None
    return process


@contextlib.contextmanager
def work_area(prefix: str) -> Iterator[tuple[Path, Database]]:
    """Yield a directory nginx can read and a database of the tests' own; remove both afterwards.

    The database is a SQLite file in the directory, or sinatra_deploy_<random> on the suite's
    PostgreSQL when the suite runs on PostgreSQL (DATABASE_URL), dropped afterwards.
    """
    directory = shared_temp_dir(prefix)
    try:
        with own_database(connection.vendor, connection.settings_dict, directory) as database:
            yield directory, database
    finally:
        shutil.rmtree(directory, ignore_errors=True)
