"""manage.py reports what keeps a command from working in one line on stderr, never a traceback.

Real `manage.py` processes under the project's settings: databases that are unreachable,
missing or never migrated, and Python packages the configuration needs that are not
installed (hidden from the subprocess by a PYTHONPATH entry whose module fails to import).
"""

from __future__ import annotations

import pytest

from tests.helpers import command_env, run_manage, without_packages
from tests.shared_cache import closed_port

SETTINGS = {"DJANGO_SETTINGS_MODULE": "sinatra.settings", "SINATRA_ENV_FILE": "tests/test.env"}
COMMANDS = [
    ("resolve_model", "--tenant", "acme", "--model", "opus"),
    ("create_tenant", "acme"),
    ("create_service_token", "worker", "--all-tenants"),
    ("rewrap_credentials", "--dry-run"),
    ("verify_credentials",),
    ("migrate", "--noinput"),
]


def assert_one_line(result, *expected: str) -> str:
    """Non-zero exit, nothing on stdout, exactly one line on stderr containing each of `expected`."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0]
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command[0])
def test_an_unreachable_postgresql_is_one_line_in_every_command(command):
    with closed_port() as port:
        env = command_env(**SETTINGS, DATABASE_URL=f"postgres://sinatra:s3cret-pw@127.0.0.1:{port}/sinatra")
        result = run_manage(*command, env=env)

    line = assert_one_line(result, "Database error:", "Connection refused", "Check DATABASE_URL")
    assert "s3cret-pw" not in line


def test_a_postgresql_database_that_does_not_exist_is_one_line():
    env = command_env(**SETTINGS, DATABASE_URL="postgres://postgres@127.0.0.1:5432/sinatra_no_such_database")

    result = run_manage("resolve_model", "--tenant", "acme", env=env)

    assert_one_line(result, "Database error:", "sinatra_no_such_database")


def test_a_sqlite_database_never_migrated_is_one_line_that_names_migrate(tmp_path):
    env = command_env(**SETTINGS, DATABASE_URL=f"sqlite:///{tmp_path}/empty.sqlite3")

    result = run_manage("resolve_model", "--tenant", "acme", env=env)

    assert_one_line(result, "Database error: no such table", "python manage.py migrate")


def test_a_sqlite_database_in_a_missing_directory_is_one_line(tmp_path):
    env = command_env(**SETTINGS, DATABASE_URL=f"sqlite:///{tmp_path}/missing/db.sqlite3")

    result = run_manage("create_tenant", "acme", env=env)

    assert_one_line(result, "Database error: unable to open database file")


def test_redis_configured_without_the_redis_package_is_one_line_at_start_up(tmp_path):
    env = command_env(**SETTINGS, CACHE_URL="redis://127.0.0.1:6379/4", PYTHONPATH=without_packages(tmp_path, "redis"))

    result = run_manage("check", env=env)

    assert_one_line(result, "Configuration error: CACHE_URL names Redis", "No module named 'redis'", "pip install")


def test_postgresql_configured_without_psycopg_is_one_line_at_start_up(tmp_path):
    env = command_env(
        **SETTINGS,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/sinatra",
        PYTHONPATH=without_packages(tmp_path, "psycopg", "psycopg2"),
    )

    result = run_manage("check", env=env)

    assert_one_line(result, "Configuration error:", "psycopg", "pip install -r requirements.txt")


def test_a_missing_package_the_apps_import_is_one_line(tmp_path):
    env = command_env(**SETTINGS, PYTHONPATH=without_packages(tmp_path, "yaml"))

    result = run_manage("check", env=env)

    assert_one_line(result, "A Python package this configuration needs is missing", "No module named 'yaml'")


def test_traceback_still_shows_the_traceback_for_whoever_asks():
    with closed_port() as port:
        env = command_env(**SETTINGS, DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/sinatra")
        result = run_manage("resolve_model", "--tenant", "acme", "--traceback", env=env)

    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "OperationalError" in result.stderr
