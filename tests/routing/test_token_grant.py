"""token_grant: the HTTP API's one statement answers what token_authenticate and token_tenant answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from credentials.services import Actor, credential_revoke
from routing.models import ServiceToken, ServiceTokenEvent, TokenEventKind
from routing.tokens import (
    TenantOutOfScope,
    TokenRefused,
    TokenUnknown,
    token_authenticate,
    token_grant,
    token_revoke,
    token_tenant,
)
from tests.fakes.providers import openrouter_key

pytestmark = pytest.mark.django_db


def two_steps(presented: str, slug: str):
    """What the API did before: authenticate, then find the tenant in the scope."""
    token = token_authenticate(presented)
    return token.name, token_tenant(token=token, slug=slug)


def outcome(function, presented: str, slug: str):
    try:
        caller, tenant = function(presented, slug)[:2]
    except TokenRefused as refused:
        return type(refused), str(refused)
    return caller, tenant


@pytest.mark.parametrize("scoped", [False, True], ids=["all-tenants", "scoped-to-acme"])
@pytest.mark.parametrize("slug", ["acme", "globex", "nobody", ""])
@pytest.mark.parametrize("state", ["live", "revoked", "expired"])
def test_one_statement_answers_what_the_two_steps_answer(tenants, issue_token, scoped, slug, state):
    token = issue_token("worker", tenants["acme"]) if scoped else issue_token("worker")
    if state == "revoked":
        token_revoke(name="worker")
    if state == "expired":
        ServiceToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert outcome(token_grant, token, slug) == outcome(two_steps, token, slug)


@pytest.mark.parametrize("presented", ["", "nope", "sin_" + "x" * 43, "sin_" + "x" * 300])
def test_an_unknown_token_is_unknown(tenants, issue_token, presented):
    issue_token("worker")

    with pytest.raises(TokenUnknown):
        token_grant(presented, "acme")


def test_a_refusal_for_scope_is_recorded_once_as_before(tenants, issue_token):
    token = issue_token("worker", tenants["acme"])

    with pytest.raises(TenantOutOfScope):
        token_grant(token, "globex")

    [event] = ServiceTokenEvent.objects.filter(kind=TokenEventKind.REFUSED_TENANT)
    assert event.tenant == tenants["globex"]
    assert event.detail == "asked for tenant 'globex'"


def test_the_grant_carries_the_tenants_active_keys_and_no_others(tenants, issue_token, store_key):
    token = issue_token("worker")
    anthropic = store_key(tenants["acme"], "anthropic")
    openrouter = store_key(tenants["acme"], "openrouter", openrouter_key())
    store_key(tenants["globex"], "anthropic")
    credential_revoke(credential=openrouter, actor=Actor.command("test"))

    grant = token_grant(token, "acme")

    assert grant.caller == "worker"
    assert grant.tenant == tenants["acme"]
    assert grant.tenant.updated_at == tenants["acme"].updated_at  # a whole tenant, as the ORM reads it
    assert set(grant.keys) == {"anthropic"}
    key = grant.keys["anthropic"]
    assert (key.id, key.tenant_id, key.key_hint) == (anthropic.id, tenants["acme"].id, anthropic.key_hint)
    assert bytes(key.ciphertext) == bytes(anthropic.ciphertext)


def test_a_tenant_outside_the_scope_has_none_of_its_keys_read(tenants, issue_token, store_key, monkeypatch):
    from routing import selectors

    token = issue_token("worker", tenants["acme"])
    store_key(tenants["globex"], "anthropic")
    seen = []
    real = selectors.token_request

    def spy(**kwargs):
        found = real(**kwargs)
        seen.append(found)
        return found

    monkeypatch.setattr("routing.tokens.token_request", spy)
    with pytest.raises(TenantOutOfScope):
        token_grant(token, "globex")

    assert seen[0].keys == {}


def test_it_is_one_statement(tenants, issue_token, store_key):
    token = issue_token("worker")
    store_key(tenants["acme"], "anthropic")
    store_key(tenants["acme"], "openrouter", openrouter_key())

    with CaptureQueriesContext(connection) as queries:
        grant = token_grant(token, "acme")

    assert len(queries) == 1
    assert set(grant.keys) == {"anthropic", "openrouter"}


def test_a_tenant_without_a_policy_of_its_own_gets_the_default_from_the_same_statement(tenants, issue_token):
    from routing.policy import tenant_policy_save
    from routing.policy_rules import DEFAULT

    token = issue_token("worker")
    assert token_grant(token, "acme").policy is DEFAULT

    tenant_policy_save(
        tenant=tenants["acme"], policy=DEFAULT.changed(providers={"anthropic"}), actor=Actor.command("test")
    )

    assert token_grant(token, "acme").policy is None  # it has one: resolve() reads it (policy_for)
    assert token_grant(token, "globex").policy is DEFAULT
