"""The procedures docs/operations.md gives operators, run as written.

- Unlock a person: `axes_reset_username` lifts a sign-in lockout at once.
- Back up and restore: a `pg_dump` restored elsewhere opens with the same key-encryption key,
  and with another KEK every key is named as lost, while the rest of the data survives.
"""

from __future__ import annotations

import secrets
import subprocess
import uuid

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from credentials.kms.local import generate_key
from tests.fakes.providers import anthropic_key, openrouter_key
from tests.helpers import command_env, database_url, run_manage
from tests.web import PASSWORD, make_person

LOGIN = reverse("login")


def test_axes_reset_username_unlocks_a_person_at_once(client, db):
    make_person("sam@example.com")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "sam@example.com", "password": "wrong passphrase"})
    assert client.post(LOGIN, {"username": "sam@example.com", "password": PASSWORD}).status_code == 429

    call_command("axes_reset_username", "sam@example.com", stdout=open("/dev/null", "w"))  # noqa: SIM115

    response = client.post(LOGIN, {"username": "sam@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).wsgi_request.user.email == "sam@example.com"


@pytest.fixture
def restored_database():
    """A fresh database name on the same server, dropped afterwards."""
    name = f"sinatra_restore_{uuid.uuid4().hex[:12]}"
    settings_dict = dict(connection.settings_dict, NAME=name)
    url = database_url(settings_dict)
    subprocess.run(["createdb", f"--maintenance-db={database_url(connection.settings_dict)}", name], check=True)
    yield url
    subprocess.run(
        ["dropdb", "--force", "--if-exists", f"--maintenance-db={database_url(connection.settings_dict)}", name],
        check=False,
    )


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_dump and pg_restore need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_dump_restores_with_its_kek_and_without_it_every_key_is_named_lost(tmp_path, restored_database):
    kek, other_kek = generate_key(), generate_key()
    source = database_url(connection.settings_dict)
    env = command_env(DJANGO_SETTINGS_MODULE="tests.settings", DATABASE_URL=source, SINATRA_LOCAL_DEV_KMS_KEY=kek)
    keys = [anthropic_key(), openrouter_key()]
    assert run_manage("create_tenant", "acme", env=env).returncode == 0
    for provider, key in zip(("anthropic", "openrouter"), keys, strict=True):
        seeded = run_manage("seed_credential", "--tenant", "acme", "--provider", provider, env=env, stdin=key)
        assert seeded.returncode == 0, seeded.stderr

    dump = tmp_path / f"sinatra-{secrets.token_hex(4)}.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", f"--dbname={source}", f"--file={dump}"], check=True, timeout=120
    )
    subprocess.run(["pg_restore", "--no-owner", f"--dbname={restored_database}", str(dump)], check=True, timeout=120)
    assert all(key.encode() not in dump.read_bytes() for key in keys)

    restored = dict(env, DATABASE_URL=restored_database)
    with_kek = run_manage("verify_credentials", env=restored)
    assert with_kek.returncode == 0, with_kek.stderr
    assert "All 2 active credentials decrypt." in with_kek.stdout

    without_kek = run_manage("verify_credentials", env=dict(restored, SINATRA_LOCAL_DEV_KMS_KEY=other_kek))
    assert without_kek.returncode != 0
    assert "2 of 2 active credentials failed to decrypt: acme/anthropic, acme/openrouter." in without_kek.stderr
    still_there = run_manage("resolve_model", "--tenant", "acme", "--model", "openai/gpt-5", env=restored)
    assert "acme: openai/gpt-5 -> OpenRouter" in still_there.stdout  # tenants and rows survive with the KEK
    for output in (with_kek, without_kek, still_there):
        assert not any(key in output.stdout + output.stderr for key in keys)
