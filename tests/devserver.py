"""Django's development server (what `make run` serves with) in a subprocess, for tests that read what it shows.

Two ways: `runserver()` starts `manage.py runserver` for a test to talk to over HTTP, with
its output (the log) in a file; `python -m tests.devserver PATH [NAME=VALUE ...]` (run with
`one_request()`) serves one GET of PATH, with those request headers, through the same server
classes runserver uses (so `request.META` holds the process environment, as it does under
runserver), without runserver's start-up checks (which need the database), and prints the
status, a blank line and the body.
"""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer, get_internal_wsgi_application

from tests.helpers import PROJECT_DIR, run_manage

# A hang guard for the server's start-up, not a speed requirement.
START_ATTEMPTS = 600
_CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def csrf_token(html: str) -> str:
    """Return the CSRF token of the first form of a page."""
    match = _CSRF_FIELD.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


@contextlib.contextmanager
def runserver(env: Mapping[str, str], *, port: int, log: Path) -> Iterator[subprocess.Popen]:
    """Run `manage.py runserver --noreload` on 127.0.0.1:port until the block ends; its output goes to `log`."""
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=PROJECT_DIR,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_serving(server, port, log)
            yield server
        finally:
            server.terminate()
            server.wait(timeout=60)


def _wait_until_serving(server: subprocess.Popen, port: int, log: Path) -> None:
    for _ in range(START_ATTEMPTS):
        if server.poll() is not None:
            raise AssertionError(f"runserver exited with {server.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise AssertionError(f"runserver did not listen on {port}:\n{log.read_text()}")


def one_request(path: str, *, headers: Mapping[str, str], env: Mapping[str, str]) -> tuple[int, str, str]:
    """Serve one GET of `path` in a subprocess (see the module's docstring); return (status, body, log)."""
    result = run_manage(
        "shell", "-v", "0", "-c", f"from tests.devserver import main; main({path!r}, {dict(headers)!r})", env=env
    )
    assert result.returncode == 0, result.stderr
    status, _, body = result.stdout.partition("\n\n")
    return int(status), body, result.stderr


def main(path: str, headers: dict[str, str]) -> None:
    """Serve one GET of `path` with the development server's classes; print the status and the body."""
    server = WSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(get_internal_wsgi_application())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=120)
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read().decode()
    finally:
        server.shutdown()
    sys.stdout.write(f"{response.status}\n\n{body}")
