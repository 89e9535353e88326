"""`PORT=9000 make run` serves on that port and builds links on it, from any terminal.

`make run` is run for real (devenv, migrate, runserver) with its env file and database in a
temporary directory; then `create_tenant`, run from "another terminal" (an environment without
PORT), prints an install link that leads to that server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sinatra import devenv
from tests.helpers import PROJECT_DIR

from .servers import answers, base_env, free_port, manage, wait_until

pytestmark = [pytest.mark.deploy]

VENV_PYTHON = PROJECT_DIR / ".venv" / "bin" / "python"


@pytest.fixture
def make_run(tmp_path):
    """Start `make run` with PORT and an env file of its own; stop its whole process group afterwards."""
    if Path(sys.executable) != VENV_PYTHON:
        pytest.skip(f"make run uses {VENV_PYTHON}; these tests run on {sys.executable}")
    started: list[subprocess.Popen] = []
    env_file = tmp_path / ".env"
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"

    def run(port: int) -> dict[str, str]:
        env = base_env(SINATRA_ENV_FILE=str(env_file), DATABASE_URL=database, PORT=str(port))
        log = (tmp_path / f"make-run-{port}.log").open("wb")
        # -o: never reinstall the virtualenv here (that is make test's business, and it needs the network).
        process = subprocess.Popen(
            ["make", "-o", ".venv/.runtime-installed", "run"],
            cwd=PROJECT_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # runserver's reloader forks: stop the group
        )
        started.append(process)
        wait_until(answers(f"http://127.0.0.1:{port}/healthz"), what=f"make run on port {port}")
        return {name: value for name, value in env.items() if name != "PORT"}  # another terminal

    yield run
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)


def install_link(env: dict[str, str], slug: str) -> str:
    return manage("create_tenant", slug, "--owner-email", f"owner@{slug}.example", env=env).stdout.splitlines()[-1]


def test_port_make_run_builds_links_on_that_port(make_run, tmp_path):
    port = free_port()
    terminal = make_run(port)
    link = install_link(terminal, "acme")
    assert link.startswith(f"http://127.0.0.1:{port}/install/")
    assert httpx.get(link).status_code == 200  # the link leads to the install page of that server
    assert f"SINATRA_BASE_URL=http://127.0.0.1:{port}\n" in (tmp_path / ".env").read_text()


def test_make_run_on_another_port_moves_the_links_along(make_run, tmp_path):
    first = free_port()
    make_run(first)
    second = free_port()
    terminal = make_run(second)
    assert install_link(terminal, "globex").startswith(f"http://127.0.0.1:{second}/install/")
    assert (tmp_path / ".env").read_text().count("SINATRA_BASE_URL=") == 1


@pytest.mark.parametrize(
    ("configured", "environment", "port", "written"),
    [
        ({}, {}, "9000", "http://127.0.0.1:9000"),
        ({"SINATRA_BASE_URL": "http://127.0.0.1:8000"}, {}, "9000", "http://127.0.0.1:9000"),
        ({"SINATRA_BASE_URL": "http://127.0.0.1:9000"}, {}, "9000", None),
        ({"SINATRA_BASE_URL": "https://sinatra.example.com"}, {}, "9000", None),
        ({}, {"SINATRA_BASE_URL": "https://sinatra.example.com"}, "9000", None),
        ({}, {}, "", None),
    ],
    ids=["unset", "make-runs-own-other-port", "same-port", "a-real-host", "set-in-the-environment", "no-port"],
)
def test_devenv_points_the_base_url_at_port_unless_someone_chose_it(
    monkeypatch, configured, environment, port, written
):
    monkeypatch.delenv("SINATRA_BASE_URL", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert devenv.base_url_for_port(configured, port) == written
