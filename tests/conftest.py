"""Fixtures shared by the whole suite."""

import io
import logging

import httpx
import pytest
import respx
from django.core.cache import cache
from django.core.management import call_command

from credentials.envelope import dek_cache
from credentials.services import Actor, credential_create
from providers import http as provider_http
from providers.secret import Secret
from routing import aliases, catalog, policy_rules, release
from routing.tokens import token_create
from tenants.models import Tenant
from tests.fakes.providers import ANTHROPIC_MODELS as ROUTING_ANTHROPIC_MODELS
from tests.fakes.providers import (
    ANTHROPIC_MODELS_URL,
    OPENROUTER_KEY_URL,
    OPENROUTER_MODELS_URL,
    anthropic_key,
    anthropic_page,
    openrouter_key,
    openrouter_list,
)
from tests.fakes.providers import OPENROUTER_MODELS as ROUTING_OPENROUTER_MODELS
from tests.shared_cache import cache_url, caches_for, claimed_redis_database, redis_client
from tests.web import key_checks, people  # noqa: F401 - fixtures for the whole suite


@pytest.fixture(autouse=True)
def _empty_caches():
    """Every test starts with no unwrapped DEK, nothing cached (model lists and policies included) and
    no key release counted in memory; what a test counted is never written after it (nor at exit)."""
    dek_cache.clear()
    catalog.clear_caches()
    cache.clear()
    release.discard()
    policy_rules.clear_cache()
    aliases.forget()
    yield
    dek_cache.clear()
    catalog.clear_caches()
    cache.clear()
    release.discard()
    policy_rules.clear_cache()


@pytest.fixture
def shared_cache(settings):
    """Django's cache on a real Redis database of this test's own, set up as CACHE_URL=redis://...
    would set it up; yields a plain Redis client on that database (what anyone with access sees).
    """
    with claimed_redis_database() as number:
        settings.CACHES = caches_for(cache_url(number))
        client = redis_client(number)
        yield client
        client.close()


@pytest.fixture
def tenant(db) -> Tenant:
    return Tenant.objects.create(slug="acme", name="Acme")


@pytest.fixture
def make_tenant(db):
    def make(slug: str) -> Tenant:
        return Tenant.objects.create(slug=slug, name=slug.title())

    return make


@pytest.fixture
def tenants(tenant, make_tenant) -> dict[str, Tenant]:
    """acme (the `tenant` fixture), globex and initech, by slug."""
    return {"acme": tenant, "globex": make_tenant("globex"), "initech": make_tenant("initech")}


@pytest.fixture
def store_key(db):
    """Store a key for a tenant through the service, as the seed command would."""

    def store(tenant: Tenant, provider: str = "anthropic", key: str | None = None):
        key = key or (anthropic_key() if provider == "anthropic" else openrouter_key())
        return credential_create(
            tenant=tenant, provider=provider, secret=Secret(key), actor=Actor.command("test")
        ).credential

    return store


@pytest.fixture
def run_command():
    """Run a management command; return (stdout, stderr). `stdin` feeds it standard input."""

    def run(*args, stdin: str | None = None, **options):
        out, err = io.StringIO(), io.StringIO()
        if stdin is not None:
            options["stdin"] = io.StringIO(stdin)
        call_command(*args, stdout=out, stderr=err, **options)
        return out.getvalue(), err.getvalue()

    return run


ANTHROPIC_MODELS = [  # Anthropic lists the most recent first; created_at is not trusted
    "claude-opus-4-8",
    "claude-sonnet-4-6",
    "claude-opus-4-7",
    "claude-haiku-4-5-20251001",
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-1-20250805",
]
OPENROUTER_MODELS = [
    ("anthropic/claude-opus-4.8", 1780000000),
    ("anthropic/claude-opus-4.8-fast", 1780000500),
    ("~anthropic/claude-opus-latest", 1790000000),
    ("anthropic/claude-opus-4.7", 1770000000),
    ("anthropic/claude-sonnet-4.6", 1760000000),
    ("anthropic/claude-sonnet-4.5", 1750000000),
    ("anthropic/claude-3.7-sonnet:beta", 1795000000),
    ("anthropic/claude-haiku-4.5", 1740000000),
    ("openai/gpt-5", 1754000000),
    ("meta-llama/llama-3.1-405b-instruct", 1721000000),
]


@pytest.fixture
def providers():
    """Fake both providers' model lists (respx); clear the catalog's caches around each test."""
    catalog.clear_caches()
    with respx.mock(assert_all_called=False) as mock:
        mock.get("https://api.anthropic.test/v1/models").mock(
            return_value=httpx.Response(
                200,
                json={
                    "data": [{"id": model_id, "created_at": "1970-01-01T00:00:00Z"} for model_id in ANTHROPIC_MODELS],
                    "has_more": False,
                    "last_id": ANTHROPIC_MODELS[-1],
                },
            )
        )
        mock.get("https://openrouter.test/api/v1/models").mock(
            return_value=httpx.Response(
                200, json={"data": [{"id": slug, "created": created} for slug, created in OPENROUTER_MODELS]}
            )
        )
        yield mock
    catalog.clear_caches()


@pytest.fixture(autouse=True)
def waits(monkeypatch) -> list[float]:
    """Record the waits the clients ask for instead of sleeping (no test ever waits)."""
    recorded: list[float] = []
    monkeypatch.setattr(provider_http, "sleep", recorded.append)
    return recorded


@pytest.fixture
def provider_api():
    """Fake both providers: their model lists answer; unmocked requests fail the test."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.get(ANTHROPIC_MODELS_URL, name="anthropic_models").mock(
            return_value=anthropic_page(ROUTING_ANTHROPIC_MODELS)
        )
        router.get(OPENROUTER_MODELS_URL, name="openrouter_models").mock(
            return_value=openrouter_list(ROUTING_OPENROUTER_MODELS)
        )
        router.get(OPENROUTER_KEY_URL, name="openrouter_key").mock(
            return_value=httpx.Response(200, json={"data": {"label": "sk-or-v1-...", "usage": 0}})
        )
        yield router


@pytest.fixture
def service_token(db) -> str:
    """Return a live service token for the HTTP API, for all tenants."""
    _row, token = token_create(name="worker-test", all_tenants=True)
    return token


@pytest.fixture
def issue_token(db):
    """Create a service token through the service; return the token itself.

    `issue_token("worker-eu", acme, globex)` scopes it to those tenants; with none it covers all tenants.
    """

    def issue(name: str, *tenants: Tenant, expires_days: int | None = None) -> str:
        issued = token_create(name=name, tenants=tenants, all_tenants=not tenants, expires_days=expires_days)
        assert issued.token is not None
        return issued.token

    return issue


@pytest.fixture
def all_logs(caplog, monkeypatch):
    """Capture every log record at DEBUG, httpx's and httpcore's included, as the code wrote it.

    The console handler's RedactKeysFilter rewrites records in place, before caplog sees them:
    it is taken off here so that a test proves the code logs no key, not that the filter works.
    """
    for handler in logging.getLogger().handlers:
        monkeypatch.setattr(handler, "filters", [])
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "providers", "routing", "credentials", "django"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog
