"""Service tokens: created once and shown once, stored hashed, scoped to tenants, expiring, revoked by
name, checked in constant time; every creation, revocation and scope refusal leaves an event."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from routing import release, tokens, usage
from routing.models import Scope, ServiceToken, ServiceTokenEvent, TokenEventKind
from routing.tokens import (
    TOKEN_PREFIX,
    TenantOutOfScope,
    TokenError,
    TokenExpired,
    TokenRefused,
    TokenRevoked,
    TokenUnknown,
    token_authenticate,
    token_create,
    token_revoke,
    token_tenant,
)

pytestmark = pytest.mark.django_db


def _create(run_command, name: str, *scope: str) -> tuple[str, str]:
    out, _err = run_command("create_service_token", name, *(scope or ("--all-tenants",)))
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


# --- Scope: named tenants, or all of them said explicitly.


def test_a_scope_must_be_said_and_the_error_names_both_choices(run_command, tenants):
    with pytest.raises(CommandError) as refused:
        run_command("create_service_token", "worker")

    assert "--tenant SLUG" in str(refused.value)
    assert "--all-tenants" in str(refused.value)
    assert not ServiceToken.objects.exists()
    with pytest.raises(TokenError, match="--all-tenants"):
        token_create(name="worker")


def test_tenants_and_all_tenants_together_are_refused(run_command, tenants):
    with pytest.raises(CommandError):
        run_command("create_service_token", "worker", "--tenant", "acme", "--all-tenants")
    with pytest.raises(TokenError, match="not both"):
        token_create(name="worker", tenants=[tenants["acme"]], all_tenants=True)

    assert not ServiceToken.objects.exists()


def test_a_token_for_named_tenants_resolves_only_those(run_command, tenants):
    out, token = _create(run_command, "worker-eu", "--tenant", "acme", "--tenant", "globex")

    row = token_authenticate(token)
    assert row.scope == Scope.TENANTS
    assert "acme, globex" in out
    assert token_tenant(token=row, slug="acme") == tenants["acme"]
    assert token_tenant(token=row, slug="globex") == tenants["globex"]
    with pytest.raises(TenantOutOfScope, match="outside the token's scope"):
        token_tenant(token=row, slug="initech")


def test_a_scoped_token_is_refused_a_slug_no_tenant_has_as_it_is_any_other(run_command, tenants):
    """Refused alike, a token scoped to acme learns nothing about which other tenants exist."""
    _, token = _create(run_command, "worker-eu", "--tenant", "acme")
    row = token_authenticate(token)

    with pytest.raises(TenantOutOfScope) as existing:
        token_tenant(token=row, slug="globex")
    with pytest.raises(TenantOutOfScope) as missing:
        token_tenant(token=row, slug="nobody")

    assert str(existing.value).replace("globex", "X") == str(missing.value).replace("nobody", "X")


def test_an_all_tenant_token_resolves_every_tenant_even_one_created_later(run_command, tenants, make_tenant):
    _, token = _create(run_command, "worker-all", "--all-tenants")
    later = make_tenant("later")

    row = token_authenticate(token)
    assert row.scope == Scope.ALL_TENANTS
    assert token_tenant(token=row, slug="later") == later
    assert token_tenant(token=row, slug="nobody") is None  # the API says 404


def test_an_unknown_tenant_in_the_scope_is_refused_with_how_to_create_it(run_command, tenants):
    with pytest.raises(CommandError, match=r"No tenant has the slug 'nobody'.*create_tenant nobody"):
        run_command("create_service_token", "worker", "--tenant", "acme", "--tenant", "nobody")

    assert not ServiceToken.objects.exists()


def test_a_scope_follows_a_tenant_whose_slug_changes(run_command, tenants):
    _, token = _create(run_command, "worker", "--tenant", "acme")
    tenants["acme"].slug = "acme-corp"
    tenants["acme"].save()

    row = token_authenticate(token)
    assert token_tenant(token=row, slug="acme-corp") == tenants["acme"]
    with pytest.raises(TenantOutOfScope):
        token_tenant(token=row, slug="acme")


# --- Expiry.


def test_a_token_with_expires_days_stops_working_after_them(run_command, tenants, monkeypatch):
    out, token = _create(run_command, "worker", "--tenant", "acme", "--expires-days", "30")
    row = ServiceToken.objects.get(name="worker")
    assert row.expires_at - row.created_at == timedelta(days=30)
    assert f"expires {row.expires_at:%Y-%m-%d}" in out

    assert token_authenticate(token) == row
    later = row.expires_at + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    with pytest.raises(TokenExpired, match=f"expired on {row.expires_at:%Y-%m-%d %H:%M} UTC"):
        token_authenticate(token)


def test_a_token_without_expires_days_does_not_expire(run_command, tenants):
    out, _ = _create(run_command, "worker", "--tenant", "acme")

    assert ServiceToken.objects.get(name="worker").expires_at is None
    assert "does not expire" in out


@pytest.mark.parametrize("days", ["0", "-1", "3651"])
def test_expires_days_is_from_1_to_3650(run_command, tenants, days):
    with pytest.raises(CommandError, match="--expires-days is a whole number of days from 1 to 3650"):
        run_command("create_service_token", "worker", "--tenant", "acme", "--expires-days", days)

    assert not ServiceToken.objects.exists()


# --- Running create again.


def test_create_again_with_the_same_scope_says_it_exists_prints_no_token_and_succeeds(run_command, tenants):
    _, token = _create(run_command, "worker", "--tenant", "acme", "--tenant", "globex")

    out, err = run_command("create_service_token", "worker", "--tenant", "globex", "--tenant", "acme")

    assert "already exists for acme, globex" in out
    assert "nothing was created" in out
    assert TOKEN_PREFIX not in out.replace(ServiceToken.objects.get().prefix, "")  # only its prefix is named
    assert token not in out
    assert err == ""
    assert ServiceToken.objects.filter(name="worker").count() == 1
    assert ServiceTokenEvent.objects.filter(kind=TokenEventKind.CREATED).count() == 1


@pytest.mark.parametrize(
    ("first", "again"),
    [
        (("--tenant", "acme"), ("--tenant", "globex")),
        (("--tenant", "acme"), ("--tenant", "acme", "--tenant", "globex")),
        (("--tenant", "acme"), ("--all-tenants",)),
        (("--all-tenants",), ("--tenant", "acme")),
    ],
)
def test_a_live_name_with_another_scope_is_refused(run_command, tenants, first, again):
    _create(run_command, "worker", *first)

    with pytest.raises(CommandError, match=r"A live token named 'worker' exists with another scope.*revoke it first"):
        run_command("create_service_token", "worker", *again)

    assert ServiceToken.objects.filter(name="worker").count() == 1


def test_a_live_name_whose_token_expired_is_refused_with_how_to_replace_it(run_command, tenants):
    _create(run_command, "worker", "--tenant", "acme", "--expires-days", "1")
    ServiceToken.objects.update(expires_at=timezone.now() - timedelta(minutes=1))

    with pytest.raises(CommandError, match=r"expired on .*revoke_service_token worker"):
        run_command("create_service_token", "worker", "--tenant", "acme")


@pytest.mark.parametrize("name", ["", "   ", "two words", "tab\tname", "x" * 101])
def test_a_token_name_is_short_and_has_no_spaces(run_command, name):
    with pytest.raises(CommandError, match="1 to 100 characters without spaces"):
        run_command("create_service_token", name, "--all-tenants")

    assert not ServiceToken.objects.exists()


# --- Revoking.


def test_revoke_service_token_refuses_its_token_from_then_on(run_command):
    _, token = _create(run_command, "worker")

    out, _ = run_command("revoke_service_token", "worker")

    assert "Revoked service token worker" in out
    assert token not in out
    row = ServiceToken.objects.get(name="worker")
    assert row.revoked_at is not None
    with pytest.raises(TokenRevoked, match="was revoked"):
        token_authenticate(token)


def test_a_revoked_name_can_be_reused_and_only_the_new_token_works(run_command):
    _, old = _create(run_command, "worker")
    run_command("revoke_service_token", "worker")

    _, new = _create(run_command, "worker")

    assert ServiceToken.objects.filter(name="worker").count() == 2
    assert ServiceToken.objects.filter(name="worker", revoked_at__isnull=True).count() == 1
    with pytest.raises(TokenRevoked):
        token_authenticate(old)
    assert token_authenticate(new).name == "worker"


def test_revoking_a_name_that_is_revoked_already_says_so_and_succeeds(run_command):
    _create(run_command, "worker")
    run_command("revoke_service_token", "worker")
    revoked_at = ServiceToken.objects.get(name="worker").revoked_at

    out, err = run_command("revoke_service_token", "worker")

    assert "is revoked already" in out
    assert "nothing to do" in out
    assert err == ""
    assert ServiceToken.objects.get(name="worker").revoked_at == revoked_at
    assert ServiceTokenEvent.objects.filter(kind=TokenEventKind.REVOKED).count() == 1


def test_revoking_a_name_no_token_has_fails_and_names_the_live_ones(run_command):
    _create(run_command, "worker")
    _create(run_command, "builder")

    with pytest.raises(
        CommandError, match=re.escape("No service token is named 'wroker'. Live tokens: builder, worker.")
    ):
        run_command("revoke_service_token", "wroker")

    assert ServiceToken.objects.filter(revoked_at__isnull=True).count() == 2


def test_token_errors_are_token_errors():
    token_create(name="worker", all_tenants=True)
    with pytest.raises(TokenError):
        token_create(name="worker", all_tenants=False, tenants=[])
    with pytest.raises(TokenError):
        token_revoke(name="nobody")


# --- Authenticating.


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
    token_create(name="worker", all_tenants=True)

    with pytest.raises(TokenUnknown):
        token_authenticate(presented)


def test_the_stored_hash_alone_does_not_authenticate():
    row, _token = token_create(name="worker", all_tenants=True)

    with pytest.raises(TokenUnknown):
        token_authenticate(row.token_hash)
    with pytest.raises(TokenUnknown):
        token_authenticate(TOKEN_PREFIX + row.token_hash)


def test_every_refusal_is_a_token_refused():
    assert issubclass(TokenUnknown, TokenRefused)
    assert issubclass(TokenRevoked, TokenRefused)
    assert issubclass(TokenExpired, TokenRefused)
    assert issubclass(TenantOutOfScope, TokenRefused)


def test_tokens_are_compared_in_constant_time(monkeypatch):
    _row, token = token_create(name="worker", all_tenants=True)
    compared = []
    real = tokens.hmac.compare_digest
    monkeypatch.setattr(
        tokens.hmac, "compare_digest", lambda left, right: compared.append((left, right)) or real(left, right)
    )

    assert token_authenticate(token) is not None

    digest = hashlib.sha256(token.encode()).hexdigest()
    assert compared == [(digest, digest)]


def test_authenticating_notes_the_tokens_use_and_writes_nothing():
    row, token = token_create(name="worker", all_tenants=True)

    with CaptureQueriesContext(connection) as queries:
        for _ in range(10):
            token_authenticate(token)

    assert [query["sql"] for query in queries.captured_queries if not query["sql"].startswith("SELECT")] == []
    assert list(usage.pending()) == [(ServiceToken, row.pk)]
    release.flush()
    assert ServiceToken.objects.get(name="worker").last_used_at is not None


def test_a_revoked_tokens_last_use_is_not_touched():
    _row, token = token_create(name="worker", all_tenants=True)
    token_revoke(name="worker")

    with pytest.raises(TokenRevoked):
        token_authenticate(token)
    release.flush()

    assert ServiceToken.objects.get(name="worker").last_used_at is None


def test_an_expired_tokens_last_use_is_not_touched():
    _row, token = token_create(name="worker", all_tenants=True, expires_days=1)
    ServiceToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(TokenExpired):
        token_authenticate(token)
    release.flush()

    assert ServiceToken.objects.get(name="worker").last_used_at is None


# --- The audit trail.


def test_creating_and_revoking_write_events_without_the_token(run_command, tenants):
    _, token = _create(run_command, "worker", "--tenant", "acme", "--expires-days", "7")
    run_command("revoke_service_token", "worker")

    events = list(ServiceTokenEvent.objects.order_by("created_at", "id"))
    assert [(event.kind, event.actor) for event in events] == [
        (TokenEventKind.CREATED, "command:create_service_token"),
        (TokenEventKind.REVOKED, "command:revoke_service_token"),
    ]
    assert events[0].detail.startswith("scope: acme; expires ")
    assert all(event.token.name == "worker" for event in events)
    for event in events:
        for field in ServiceTokenEvent._meta.concrete_fields:
            assert token not in str(getattr(event, field.attname))
            assert token[len(TOKEN_PREFIX) :][:12] not in str(getattr(event, field.attname))


def test_a_scope_refusal_writes_an_event_naming_the_tenant_asked_for(run_command, tenants):
    _, token = _create(run_command, "worker", "--tenant", "acme")
    row = token_authenticate(token)

    with pytest.raises(TenantOutOfScope):
        token_tenant(token=row, slug="globex")
    with pytest.raises(TenantOutOfScope):
        token_tenant(token=row, slug="nobody")

    refusals = list(ServiceTokenEvent.objects.filter(kind=TokenEventKind.REFUSED_TENANT).order_by("id"))
    assert [(event.token, event.tenant, event.detail) for event in refusals] == [
        (row, tenants["globex"], "asked for tenant 'globex'"),
        (row, None, "asked for tenant 'nobody'"),
    ]
    assert all(event.actor == "token:worker" for event in refusals)


# --- list_service_tokens.


def test_list_service_tokens_shows_name_prefix_scope_dates_and_never_a_token(run_command, tenants):
    _, scoped = _create(run_command, "worker-eu", "--tenant", "acme", "--tenant", "globex", "--expires-days", "90")
    _, everything = _create(run_command, "builder", "--all-tenants")
    token_authenticate(everything)
    release.flush()  # the use is written off the request path

    out, _ = run_command("list_service_tokens")

    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "PREFIX", "STATE", "SCOPE", "CREATED", "EXPIRES", "LAST", "USED"]
    builder, worker = lines[1], lines[2]
    assert builder.startswith("builder ")
    assert f"{everything[:10]}..." in builder
    assert "all tenants" in builder
    assert "live" in builder
    assert builder.rstrip().endswith(f"{ServiceToken.objects.get(name='builder').last_used_at:%Y-%m-%d %H:%M}")
    assert worker.startswith("worker-eu ")
    assert "acme, globex" in worker
    assert f"{ServiceToken.objects.get(name='worker-eu').expires_at:%Y-%m-%d %H:%M}" in worker
    assert worker.rstrip().endswith("never")
    assert scoped not in out
    assert everything not in out


def test_list_service_tokens_leaves_revoked_ones_out_unless_all_is_given(run_command, tenants):
    _create(run_command, "old")
    run_command("revoke_service_token", "old")
    _create(run_command, "new")

    live, _ = run_command("list_service_tokens")
    everything, _ = run_command("list_service_tokens", "--all")

    assert [line.split()[0] for line in live.splitlines()[1:]] == ["new"]
    assert [line.split()[:3:2] for line in everything.splitlines()[1:]] == [["new", "live"], ["old", "revoked"]]


def test_list_service_tokens_marks_an_expired_token(run_command, tenants):
    _create(run_command, "worker", "--tenant", "acme", "--expires-days", "1")
    ServiceToken.objects.update(expires_at=timezone.now() - timedelta(hours=1))

    out, _ = run_command("list_service_tokens")

    assert out.splitlines()[1].split()[2] == "expired"


def test_list_service_tokens_with_none_says_how_to_create_one(run_command):
    out, _ = run_command("list_service_tokens")

    assert "No service tokens" in out
    assert "create_service_token NAME --tenant SLUG" in out
