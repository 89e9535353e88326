"""resolve(): keys and where they come from, the Resolution it returns, and what it costs."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from credentials.envelope import dek_cache
from credentials.models import TenantModelCredential
from routing import release, usage
from routing.catalog import BUILTIN_ANTHROPIC
from routing.errors import ConfigError, CredentialUnavailable, MissingCredential, TenantInactive
from routing.rules import ANTHROPIC, OPENROUTER
from routing.service import Resolution, resolve
from tests.fakes.providers import anthropic_key, log_text, openrouter_key
from tests.helpers import sinatrarc

SINGLE_TENANT_ANTHROPIC = anthropic_key("ENVKEY")
SINGLE_TENANT_OPENROUTER = openrouter_key()


@pytest.fixture
def single_tenant(settings):
    settings.SINATRA_SINGLE_TENANT = True
    settings.ANTHROPIC_API_KEY = SINGLE_TENANT_ANTHROPIC
    settings.OPENROUTER_API_KEY = SINGLE_TENANT_OPENROUTER
    return settings


def test_resolution_carries_the_tenants_own_key(providers, tenant, store_key):
    key = anthropic_key()
    store_key(tenant, ANTHROPIC, key)
    resolution = resolve(tenant, sinatrarc("opus"))
    assert resolution.api_key.reveal() == key
    assert resolution.credential_source == "tenant"


def test_repr_and_str_of_a_resolution_show_the_hint_only(providers, tenant, store_key):
    key = anthropic_key("REPRCANARY")
    store_key(tenant, ANTHROPIC, key)
    resolution = resolve(tenant)
    for text in (repr(resolution), str(resolution), f"{resolution}", repr(resolution.as_dict())):
        assert key not in text
        assert "REPRCANARY" not in text
    assert resolution.key_hint in repr(resolution)


def test_as_dict_has_every_field_and_the_key_only_when_asked(providers, tenant, store_key):
    key = anthropic_key()
    store_key(tenant, ANTHROPIC, key)
    resolution = resolve(tenant)
    public = resolution.as_dict()
    assert set(public) == {
        "provider",
        "model",
        "requested",
        "base_url",
        "credential_source",
        "key_hint",
        "reason",
        "warnings",
    }
    assert key not in repr(public)
    assert resolution.as_dict(include_key=True)["api_key"] == key


def test_resolution_is_frozen(providers, tenant, store_key):
    store_key(tenant, ANTHROPIC)
    resolution = resolve(tenant)
    with pytest.raises(AttributeError):
        resolution.model = "claude-other"  # type: ignore[misc]
    assert isinstance(resolution, Resolution)


def test_config_mapping_resolves_like_the_same_sinatrarc(providers, tenant, store_key):
    store_key(tenant, OPENROUTER)
    from_text = resolve(tenant, "agent:\n  model: opus\n  model_provider: openrouter\n")
    from_config = resolve(tenant, config={"agent": {"model": "opus", "model_provider": "openrouter"}})
    assert from_text.as_dict() == from_config.as_dict()


def test_giving_both_text_and_config_is_an_error(providers, tenant, store_key):
    store_key(tenant, ANTHROPIC)
    with pytest.raises(ConfigError, match="not both"):
        resolve(tenant, "agent: {}\n", config={"agent": {}})


def test_a_deactivated_tenant_is_served_nothing(providers, tenant, store_key):
    store_key(tenant, ANTHROPIC)
    tenant.is_active = False
    tenant.save()
    with pytest.raises(TenantInactive, match="deactivated"):
        resolve(tenant)


def test_one_tenants_key_never_serves_another(providers, tenant, make_tenant, store_key):
    store_key(tenant, ANTHROPIC)
    other = make_tenant("globex")
    with pytest.raises(MissingCredential, match="globex"):
        resolve(other)


def test_revoked_keys_are_not_used(providers, tenant, store_key):
    from credentials.services import Actor, credential_revoke

    credential_revoke(credential=store_key(tenant, ANTHROPIC), actor=Actor.command("test"))
    with pytest.raises(MissingCredential):
        resolve(tenant)


# Rule 7: single-tenant evaluation.


def test_single_tenant_environment_keys_serve_a_tenant_without_rows(providers, single_tenant, tenant):
    anthropic = resolve(tenant, sinatrarc("opus"))
    assert anthropic.credential_source == "environment"
    assert anthropic.api_key.reveal() == SINGLE_TENANT_ANTHROPIC
    assert "environment" in anthropic.reason
    openrouter = resolve(tenant, sinatrarc("openai/gpt-5"))
    assert openrouter.api_key.reveal() == SINGLE_TENANT_OPENROUTER


def test_single_tenant_rows_win_over_environment_keys(providers, single_tenant, tenant, store_key):
    key = anthropic_key()
    store_key(tenant, ANTHROPIC, key)
    resolution = resolve(tenant)
    assert resolution.credential_source == "tenant"
    assert resolution.api_key.reveal() == key


def test_environment_keys_are_never_used_in_multi_tenant_mode(providers, settings, tenant):
    settings.SINATRA_SINGLE_TENANT = False
    settings.ANTHROPIC_API_KEY = SINGLE_TENANT_ANTHROPIC
    settings.OPENROUTER_API_KEY = SINGLE_TENANT_OPENROUTER
    settings.SANDBOX_PROVIDER = "docker"
    for text in (None, sinatrarc("openai/gpt-5")):
        with pytest.raises(MissingCredential):
            resolve(tenant, text)


def test_single_tenant_docker_uses_host_credentials_for_anthropic(providers, settings, tenant):
    settings.SINATRA_SINGLE_TENANT = True
    settings.SANDBOX_PROVIDER = "docker"
    resolution = resolve(tenant, sinatrarc("opus"))
    assert resolution.provider == ANTHROPIC
    assert resolution.credential_source == "host"
    assert resolution.api_key is None
    assert resolution.key_hint == ""
    assert "claude login" in resolution.reason
    # No key to list Anthropic's models with: the built-in table, said so.
    assert resolution.model == BUILTIN_ANTHROPIC["opus"]
    assert any("built-in" in warning for warning in resolution.warnings)
    assert resolution.as_dict(include_key=True)["api_key"] is None


def test_host_credentials_never_serve_openrouter(providers, settings, tenant):
    settings.SINATRA_SINGLE_TENANT = True
    settings.SANDBOX_PROVIDER = "docker"
    with pytest.raises(MissingCredential, match="OpenRouter"):
        resolve(tenant, sinatrarc("openai/gpt-5"))


def test_host_credentials_need_the_docker_sandbox(providers, settings, tenant):
    settings.SINATRA_SINGLE_TENANT = True
    settings.SANDBOX_PROVIDER = "daytona"
    with pytest.raises(MissingCredential):
        resolve(tenant)


# Failures of the key itself.


def test_a_key_that_no_longer_decrypts_is_a_clear_unavailable_error(providers, tenant, store_key):
    key = anthropic_key("BROKEN")
    credential = store_key(tenant, ANTHROPIC, key)
    damaged = bytearray(credential.ciphertext)
    damaged[-1] ^= 1
    TenantModelCredential.objects.filter(pk=credential.pk).update(ciphertext=bytes(damaged))
    dek_cache.clear()
    with pytest.raises(CredentialUnavailable) as excinfo:
        resolve(tenant)
    assert "enter it again" in str(excinfo.value)
    assert key not in str(excinfo.value)
    assert excinfo.value.status == 503


def test_no_key_reaches_a_log_line_while_resolving(providers, tenant, store_key, all_logs):
    key = anthropic_key("LOGCANARY")
    store_key(tenant, ANTHROPIC, key)
    resolve(tenant, sinatrarc("opus"))
    with pytest.raises(MissingCredential):
        resolve(tenant, sinatrarc("openai/gpt-5"))
    assert all_logs.records  # the provider calls were logged, with the redaction filter off
    text = log_text(all_logs)
    assert key not in text
    assert "LOGCANARY" not in text


# What a warm resolve costs, counted (not timed).


def test_a_warm_resolve_is_one_query_and_no_kms_or_provider_call(providers, tenant, store_key, monkeypatch):
    store_key(tenant, ANTHROPIC)
    resolve(tenant, sinatrarc("opus"))  # warms the DEK cache and the catalog
    calls_before = providers.calls.call_count

    from credentials.kms.local import LocalKmsBackend

    def no_kms(*args, **kwargs):
        raise AssertionError("a warm resolve must not unwrap a DEK")

    monkeypatch.setattr(LocalKmsBackend, "unwrap", no_kms)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(20):
            resolve(tenant, sinatrarc("opus"))
    assert len(queries) == 20
    assert all(query["sql"].lstrip().upper().startswith("SELECT") for query in queries.captured_queries)
    assert providers.calls.call_count == calls_before


def test_last_used_at_is_noted_in_memory_and_written_with_the_release_counts(providers, tenant, store_key):
    credential = store_key(tenant, ANTHROPIC)
    resolve(tenant, record_use=False)  # the model list fetched, its alias history written

    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            resolve(tenant)
    assert [query["sql"] for query in queries.captured_queries if not query["sql"].startswith("SELECT")] == []
    assert TenantModelCredential.objects.get(pk=credential.pk).last_used_at is None
    assert list(usage.pending()) == [(TenantModelCredential, credential.pk)]

    before = timezone.now()
    release.flush()

    assert TenantModelCredential.objects.get(pk=credential.pk).last_used_at >= before - timedelta(seconds=5)
    assert usage.pending() == {}


def test_previews_leave_last_used_at_alone(providers, tenant, store_key):
    store_key(tenant, ANTHROPIC)

    resolve(tenant, record_use=False)

    assert usage.pending() == {}


def test_the_reason_names_the_tenant_only_where_a_pin_or_a_fallback_does(make_tenant, store_key, provider_api):
    from routing import service

    tenants = [make_tenant(f"reason-{number}") for number in range(3)]
    for tenant in tenants:
        store_key(tenant, "anthropic")
    resolve(tenants[0], sinatrarc(model="opus"))
    before = service._reason.cache_info().currsize

    reasons = {resolve(tenant, sinatrarc(model="opus")).reason for tenant in tenants}

    assert len(reasons) == 1  # the same sentence for every tenant: it names none of them
    assert not any(tenant.slug in reason for tenant in tenants for reason in reasons)
    assert service._reason.cache_info().currsize == before  # one sentence remembered, not one per tenant

    fallback = make_tenant("reason-fallback")
    store_key(fallback, "openrouter")
    assert "reason-fallback" in resolve(fallback, sinatrarc(model="opus")).reason
