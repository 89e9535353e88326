"""Helpers for tests of the sinatra package: `manage.py` in a process configured from scratch."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest

from tests.deploy.servers import COLLECTSTATIC_ENV, base_env, kms_key
from tests.helpers import run_manage


@pytest.fixture(scope="session")
def static_root(tmp_path_factory) -> Path:
    """Static files collected as in production (hashed names and a manifest): pages need them."""
    root = tmp_path_factory.mktemp("static")
    env_file = root.parent / "build.env"
    env_file.write_text("")
    env = base_env(**COLLECTSTATIC_ENV, STATIC_ROOT=str(root), SINATRA_ENV_FILE=str(env_file))
    result = run_manage("collectstatic", "--noinput", env=env)
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def production_shell(tmp_path, static_root):
    """Run Python in `manage.py shell` with a production configuration (DEBUG off) and `variables`."""

    def run(code: str, **variables: str) -> subprocess.CompletedProcess:
        env_file = tmp_path / "empty.env"
        env_file.write_text("")
        settings = {
            "SINATRA_ENV_FILE": str(env_file),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SINATRA_LOCAL_DEV_KMS_KEY": kms_key(),
            "SINATRA_BASE_URL": "https://sinatra.example.com",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "STATIC_ROOT": str(static_root),
        }
        env = base_env(**{**settings, **variables})
        return run_manage("shell", "-v", "0", "-c", code, env=env)

    return run
