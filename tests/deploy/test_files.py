"""The files of deploy/ and the docs say what the tests run.

No Docker daemon runs where these tests run, so the Dockerfile and the compose file are never
built here: instead their commands are the ones the real-server tests run (servers.py), and
these tests hold them to it. Keys never belong in a file inside the repository.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess

import pytest
import yaml

from tests.helpers import PROJECT_DIR

from .servers import COLLECTSTATIC_COMMAND, COLLECTSTATIC_ENV, GUNICORN_COMMAND, NGINX_CONF

pytestmark = [pytest.mark.deploy]

DEPLOY = PROJECT_DIR / "deploy"
DOCUMENTED_GUNICORN = ".venv/bin/gunicorn -c deploy/gunicorn.conf.py sinatra.wsgi"


def dockerfile_instructions() -> list[tuple[str, str]]:
    """Return (INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [tuple(line.split(None, 1)) for line in lines]


def test_the_dockerfile_runs_what_the_tests_run():
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert ("RUN", "pip install -r requirements.txt") in instructions
    collect = [shlex.split(args) for kind, args in instructions if kind == "RUN" and "collectstatic" in args]
    assert collect == [[*(f"{name}={value}" for name, value in COLLECTSTATIC_ENV.items()), *COLLECTSTATIC_COMMAND]]
    [cmd] = [json.loads(args) for kind, args in instructions if kind == "CMD"]
    assert cmd == GUNICORN_COMMAND


def test_the_image_runs_as_a_user_of_its_own_after_collecting_static_files():
    instructions = dockerfile_instructions()
    users = [(index, args) for index, (kind, args) in enumerate(instructions) if kind == "USER"]
    assert [user for _, user in users] == ["sinatra"]
    collect = next(index for index, (kind, args) in enumerate(instructions) if "collectstatic" in args)
    cmd = next(index for index, (kind, _) in enumerate(instructions) if kind == "CMD")
    assert collect < users[0][0] < cmd


def test_no_secret_goes_into_the_image():
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    for pattern in (".env", ".env.*", "*.key", "*-key.txt", "db.sqlite3*", ".git"):
        assert pattern in ignored


def test_the_compose_file_runs_the_image_with_env_production():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"app", "migrate", "postgres", "redis", "nginx"} <= set(services)
    assert "command" not in services["app"]  # the image's CMD: GUNICORN_COMMAND
    for name in ("app", "migrate"):
        assert services[name]["env_file"] == "../.env.production"
        assert services[name]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["app"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert list(services["nginx"]["ports"]) == ["80:80"]
    assert [name for name, service in services.items() if "ports" in service] == ["nginx"]


def test_the_compose_file_gives_nginx_deploy_nginx_conf_with_only_its_upstream_changed(tmp_path):
    nginx = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["nginx"]
    script = nginx["command"][-1]
    sed = script.split(" > ")[0].replace("/etc/sinatra/nginx.conf", str(NGINX_CONF))
    result = subprocess.run(["sh", "-c", sed], capture_output=True, text=True, timeout=30, check=True)
    original, changed = NGINX_CONF.read_text().splitlines(), result.stdout.splitlines()
    differences = [(a, b) for a, b in zip(original, changed, strict=True) if a != b]
    assert differences == [
        ("    server 127.0.0.1:8000;  # deploy: upstream", "    server app:8000;  # deploy: upstream")
    ]


def test_the_systemd_unit_starts_the_same_gunicorn():
    unit = (DEPLOY / "sinatra.service").read_text()
    [exec_start] = re.findall(r"^ExecStart=(.+)$", unit, re.MULTILINE)
    assert exec_start.split() == ["/srv/sinatra/.venv/bin/gunicorn", *GUNICORN_COMMAND[1:]]
    assert "User=sinatra" in unit
    assert "Environment=SINATRA_ENV_FILE=.env.production" in unit


def test_the_readme_documents_the_gunicorn_that_is_installed():
    readme = (PROJECT_DIR / "README.md").read_text()
    assert DOCUMENTED_GUNICORN in readme
    assert DOCUMENTED_GUNICORN.split(" ", 1)[1] == " ".join(GUNICORN_COMMAND[1:])
    assert re.search(r"(?<![/\w])gunicorn sinatra\.wsgi", readme) is None  # not on PATH: .venv/bin/gunicorn


@pytest.mark.parametrize("path", ["README.md", "docs/debugging.md", "docs/deploy.md"])
def test_the_docs_never_read_a_key_from_a_file_inside_the_repository(path):
    text = (PROJECT_DIR / path).read_text()
    for redirect in re.findall(r"seed_credential[^\n]*?<\s*(\S+)", text):
        assert redirect.startswith(("~/", "/", "$HOME")), f"{path}: reads a key from {redirect}, inside the repository?"


@pytest.mark.parametrize("name", [".env.production", "anthropic.key", "anthropic-key.txt", "openrouter-key.txt"])
def test_git_ignores_files_that_hold_secrets(name):
    result = subprocess.run(["git", "check-ignore", "-q", name], cwd=PROJECT_DIR, timeout=30, check=False)
    assert result.returncode == 0, f"git would offer to commit {name}"
