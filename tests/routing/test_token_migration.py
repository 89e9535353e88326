"""Tokens created before scopes existed keep working, as all-tenant tokens that say so.

Real `manage.py` processes against their own SQLite file: migrated to routing 0001 (before
scopes), a token made there, then migrated to the end.
"""

import hashlib
import sqlite3

from tests.helpers import command_env, run_manage

OLD_TOKEN = "sin_" + "o" * 43


def test_a_token_from_before_scopes_becomes_an_all_tenant_token_that_says_so(tmp_path):
    database = tmp_path / "db.sqlite3"
    env = command_env(DJANGO_SETTINGS_MODULE="tests.settings", DATABASE_URL=f"sqlite:///{database}")
    before = run_manage("migrate", "routing", "0001", "--noinput", env=env)
    assert before.returncode == 0, before.stderr
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO routing_servicetoken (name, token_hash, prefix, created_at) VALUES (?, ?, ?, ?)",
            ("legacy-worker", hashlib.sha256(OLD_TOKEN.encode()).hexdigest(), OLD_TOKEN[:10], "2026-01-02 03:04:05"),
        )

    migrated = run_manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    listed = run_manage("list_service_tokens", env=env)
    check = run_manage(
        "shell",
        "-c",
        "from routing.tokens import token_authenticate, token_tenant\n"
        "from tenants.models import Tenant\n"
        "Tenant.objects.create(slug='acme', name='Acme')\n"
        "row = token_authenticate(open(0).read().strip())\n"
        "print('RESOLVES', token_tenant(token=row, slug='acme').slug, row.scope)\n",
        env=env,
        stdin=OLD_TOKEN,
    )

    assert listed.returncode == 0, listed.stderr
    line = listed.stdout.splitlines()[1]
    assert line.startswith("legacy-worker ")
    assert "all tenants (from before scopes)" in line
    assert "never" in line  # no expiry, and no use yet
    assert OLD_TOKEN not in listed.stdout
    assert check.returncode == 0, check.stderr
    assert "RESOLVES acme all-before-scopes" in check.stdout
