"""seed_credential --verify: the provider checks the key before anything is stored."""

import httpx
import pytest
import respx
from django.core.management.base import CommandError

from credentials.models import CredentialEvent, EventKind, TenantModelCredential
from providers import http as provider_http
from tests.fakes.providers import anthropic_key, openrouter_key

ANTHROPIC_MODELS = "https://api.anthropic.test/v1/models"
OPENROUTER_KEY = "https://openrouter.test/api/v1/key"


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch):
    monkeypatch.setattr(provider_http, "sleep", lambda seconds: None)


def seed(run_command, provider, key, *flags):
    return run_command("seed_credential", "--tenant", "acme", "--provider", provider, *flags, stdin=key)


@respx.mock
@pytest.mark.parametrize(
    ("provider", "url", "key"),
    [("anthropic", ANTHROPIC_MODELS, anthropic_key()), ("openrouter", OPENROUTER_KEY, openrouter_key())],
    ids=["anthropic", "openrouter"],
)
def test_an_accepted_key_is_stored_verified(tenant, run_command, provider, url, key):
    route = respx.get(url).mock(return_value=httpx.Response(200, json={"data": []}))
    out, _ = seed(run_command, provider, key, "--verify")
    credential = TenantModelCredential.objects.get(tenant=tenant, provider=provider)
    assert credential.validated_at is not None
    assert "verified with" in out
    assert key not in out
    kinds = set(CredentialEvent.objects.filter(credential=credential).values_list("kind", flat=True))
    assert kinds == {EventKind.CREATED, EventKind.VALIDATED}
    request = route.calls.last.request
    if provider == "anthropic":
        assert request.headers["x-api-key"] == key
        assert request.url.params["limit"] == "1"
    else:
        assert request.headers["authorization"] == f"Bearer {key}"


@respx.mock
def test_a_rejected_key_is_refused_and_nothing_is_stored(tenant, run_command):
    key = anthropic_key()
    respx.get(ANTHROPIC_MODELS).mock(
        return_value=httpx.Response(401, json={"type": "error", "error": {"type": "authentication_error"}})
    )
    with pytest.raises(CommandError) as excinfo:
        seed(run_command, "anthropic", key, "--verify")
    message = str(excinfo.value)
    assert "rejected" in message
    assert "Nothing was stored" in message
    assert key not in message
    assert "\n" not in message
    assert not TenantModelCredential.objects.exists()


@respx.mock
@pytest.mark.parametrize(
    "failure", [httpx.Response(503), httpx.Response(429), httpx.ConnectError("refused")], ids=["503", "429", "connect"]
)
def test_an_unreachable_provider_stores_nothing_unless_asked(tenant, run_command, failure):
    key = openrouter_key()
    respx.get(OPENROUTER_KEY).mock(side_effect=[failure, failure, failure, failure])
    with pytest.raises(CommandError, match="--allow-unverified") as excinfo:
        seed(run_command, "openrouter", key, "--verify")
    assert key not in str(excinfo.value)
    assert not TenantModelCredential.objects.exists()


@respx.mock
def test_allow_unverified_stores_the_key_marked_unverified(tenant, run_command):
    respx.get(OPENROUTER_KEY).mock(return_value=httpx.Response(502))
    out, _ = seed(run_command, "openrouter", openrouter_key(), "--verify", "--allow-unverified")
    credential = TenantModelCredential.objects.get(tenant=tenant)
    assert credential.validated_at is None
    assert "NOT verified" in out


@respx.mock
def test_allow_unverified_never_stores_a_rejected_key(tenant, run_command):
    respx.get(OPENROUTER_KEY).mock(return_value=httpx.Response(401))
    with pytest.raises(CommandError, match="rejected"):
        seed(run_command, "openrouter", openrouter_key(), "--verify", "--allow-unverified")
    assert not TenantModelCredential.objects.exists()


def test_allow_unverified_needs_verify(tenant, run_command):
    with pytest.raises(CommandError, match="--allow-unverified only makes sense with --verify"):
        seed(run_command, "openrouter", openrouter_key(), "--allow-unverified")


@respx.mock
def test_without_verify_the_provider_is_not_asked(tenant, run_command):
    route = respx.get(ANTHROPIC_MODELS)
    seed(run_command, "anthropic", anthropic_key())
    assert route.call_count == 0
    assert TenantModelCredential.objects.get(tenant=tenant).validated_at is None


@respx.mock
def test_an_openrouter_management_key_is_refused_and_nothing_is_stored(tenant, run_command):
    key = openrouter_key()
    respx.get(OPENROUTER_KEY).mock(return_value=httpx.Response(200, json={"data": {"is_management_key": True}}))

    with pytest.raises(CommandError) as excinfo:
        seed(run_command, "openrouter", key, "--verify", "--allow-unverified")

    assert "management (provisioning) key" in str(excinfo.value)
    assert "Nothing was stored." in str(excinfo.value)
    assert key not in str(excinfo.value)
    assert not TenantModelCredential.objects.exists()
