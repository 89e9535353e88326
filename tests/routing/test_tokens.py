"""Service tokens: created once and shown once, stored hashed, revoked by name, checked in constant time."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from routing import tokens
from routing.models import ServiceToken
from routing.tokens import TOKEN_PREFIX, TokenError, token_authenticate, token_create, token_revoke

pytestmark = pytest.mark.django_db


def _create(run_command, name: str) -> tuple[str, str]:
    out, _err = run_command("create_service_token", name)
    return out, out.split()[-1]


def _stored_values(row: ServiceToken) -> list[str]:
    return [str(getattr(row, field.attname)) for field in ServiceToken._meta.concrete_fields]


def test_create_service_token_prints_the_token_as_the_last_word_and_stores_only_its_sha256(run_command):
    out, token = _create(run_command, "worker-eu-1")

    assert token.startswith(TOKEN_PREFIX)
    assert len(token) >= 40
    assert "worker-eu-1" in out
    row = ServiceToken.objects.get(name="worker-eu-1")
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in value for value in _stored_values(row))
    assert row.prefix == token[:10]  # enough to recognise it, far too little to use it
    assert row.revoked_at is None
    assert row.last_used_at is None


def test_each_token_is_new(run_command):
    _, first = _create(run_command, "one")
    _, second = _create(run_command, "two")

    assert first != second
    assert first[len(TOKEN_PREFIX) :] != second[len(TOKEN_PREFIX) :]


def test_a_created_token_authenticates(run_command):
    _, token = _create(run_command, "worker")

    assert token_authenticate(token) == ServiceToken.objects.get(name="worker")


def test_a_duplicate_live_name_is_refused(run_command):
    _create(run_command, "worker")

    with pytest.raises(CommandError, match="A live token named 'worker' exists: revoke it first"):
        run_command("create_service_token", "worker")

    assert ServiceToken.objects.filter(name="worker").count() == 1


@pytest.mark.parametrize("name", ["", "   ", "two words", "tab\tname", "x" * 101])
def test_a_token_name_is_short_and_has_no_spaces(run_command, name):
    with pytest.raises(CommandError, match="1 to 100 characters without spaces"):
        run_command("create_service_token", name)

    assert not ServiceToken.objects.exists()


def test_revoke_service_token_refuses_its_token_from_then_on(run_command):
    _, token = _create(run_command, "worker")

    out, _ = run_command("revoke_service_token", "worker")

    assert "Revoked service token worker" in out
    assert token not in out
    row = ServiceToken.objects.get(name="worker")
    assert row.revoked_at is not None
    assert token_authenticate(token) is None


def test_a_revoked_name_can_be_reused_and_only_the_new_token_works(run_command):
    _, old = _create(run_command, "worker")
    run_command("revoke_service_token", "worker")

    _, new = _create(run_command, "worker")

    assert ServiceToken.objects.filter(name="worker").count() == 2
    assert ServiceToken.objects.filter(name="worker", revoked_at__isnull=True).count() == 1
    assert token_authenticate(old) is None
    assert token_authenticate(new).name == "worker"


@pytest.mark.parametrize("name", ["nobody", "worker"])
def test_revoking_a_name_with_no_live_token_fails(run_command, name):
    _create(run_command, "worker")
    run_command("revoke_service_token", "worker")

    with pytest.raises(CommandError, match=f"No live token is named '{name}'"):
        run_command("revoke_service_token", name)


def test_token_errors_are_token_errors():
    token_create(name="worker")
    with pytest.raises(TokenError):
        token_create(name="worker")
    with pytest.raises(TokenError):
        token_revoke(name="nobody")


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "sin_",
        "not-a-token",
        "sin_" + "A" * 43,
        "Bearer sin_x",
        "sin_" + "x" * 500,
    ],
)
def test_anything_but_a_live_token_does_not_authenticate(presented):
    token_create(name="worker")

    assert token_authenticate(presented) is None


def test_the_stored_hash_alone_does_not_authenticate():
    row, _token = token_create(name="worker")

    assert token_authenticate(row.token_hash) is None
    assert token_authenticate(TOKEN_PREFIX + row.token_hash) is None


def test_tokens_are_compared_in_constant_time(monkeypatch):
    _row, token = token_create(name="worker")
    compared = []
    real = tokens.hmac.compare_digest
    monkeypatch.setattr(
        tokens.hmac, "compare_digest", lambda left, right: compared.append((left, right)) or real(left, right)
    )

    assert token_authenticate(token) is not None

    digest = hashlib.sha256(token.encode()).hexdigest()
    assert compared == [(digest, digest)]


def _token_updates(queries) -> int:
    return sum(
        1 for query in queries if query["sql"].startswith("UPDATE") and ServiceToken._meta.db_table in query["sql"]
    )


def test_last_used_at_is_written_at_most_once_a_minute(monkeypatch):
    _row, token = token_create(name="worker")
    start = timezone.now()
    now = [start]
    monkeypatch.setattr(timezone, "now", lambda: now[0])

    with CaptureQueriesContext(connection) as first:
        token_authenticate(token)
    with CaptureQueriesContext(connection) as again:
        for _ in range(10):
            now[0] += timedelta(seconds=5)
            token_authenticate(token)

    assert _token_updates(first.captured_queries) == 1
    assert _token_updates(again.captured_queries) == 0
    assert ServiceToken.objects.get(name="worker").last_used_at == start

    now[0] = start + timedelta(seconds=61)
    with CaptureQueriesContext(connection) as later:
        token_authenticate(token)
    assert _token_updates(later.captured_queries) == 1
    assert ServiceToken.objects.get(name="worker").last_used_at == start + timedelta(seconds=61)


def test_a_revoked_tokens_last_use_is_not_touched():
    _row, token = token_create(name="worker")
    token_revoke(name="worker")

    token_authenticate(token)

    assert ServiceToken.objects.get(name="worker").last_used_at is None
