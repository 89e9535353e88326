"""Fixtures shared by the whole suite."""

import io
import secrets

import pytest
from django.core.management import call_command

from credentials.envelope import dek_cache
from credentials.secret import Secret
from credentials.services import Actor, credential_create
from tenants.models import Tenant


def anthropic_key(marker: str = "") -> str:
    """Return a fresh, well-formed (fake) Anthropic API key; `marker` makes it easy to grep for."""
    body = (marker + secrets.token_urlsafe(72)).replace("=", "")[:93]
    return f"sk-ant-api03-{body}AA"


def openrouter_key() -> str:
    """Return a fresh, well-formed (fake) OpenRouter API key."""
    return "sk-or-v1-" + secrets.token_hex(32)


@pytest.fixture(autouse=True)
def _empty_dek_cache():
    dek_cache.clear()
    yield
    dek_cache.clear()


@pytest.fixture
def tenant(db) -> Tenant:
    return Tenant.objects.create(slug="acme", name="Acme")


@pytest.fixture
def make_tenant(db):
    def make(slug: str) -> Tenant:
        return Tenant.objects.create(slug=slug, name=slug.title())

    return make


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
