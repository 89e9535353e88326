"""Two gunicorn servers, one PostgreSQL database, one Redis: what one changes, the other serves at once.

Scale-out is more of the same processes (DESIGN, "Running it for real"), so nothing a process
keeps for itself may outlive a change made through another: a revoked token, a replaced key, a
deactivated tenant. And the shared cache must save the second process the providers' model lists
the first one fetched. The providers are fakes on 127.0.0.1 that count what they are asked.
Operators' changes go through `manage.py`, as they would.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import redis
from django.db import connection

from tests.e2e.fake_providers import ANTHROPIC_MODELS, FakeAnthropic, FakeOpenRouter, fake_providers
from tests.fakes.providers import anthropic_key, openrouter_key

from .servers import base_env, free_port, kms_key, manage, start_gunicorn, work_area, write_env_file

pytestmark = [
    pytest.mark.deploy,
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: two servers share one database (set DATABASE_URL=postgres://...)",
    ),
]

REDIS_DATABASES = range(8, 12)  # the only Redis databases these tests may use
CLAIM = "sinatra-deploy-tests:claim"


@pytest.fixture(scope="session")
def redis_database() -> Iterator[int]:
    """Claim an unused Redis database among 8 to 11 (SET NX, so two runs never share one); empty it after.

    A run killed before it could empty its database leaves keys that expire within the hour.
    """
    claim = str(uuid.uuid4())
    for number in REDIS_DATABASES:
        client = redis.Redis(host="127.0.0.1", port=6379, db=number, socket_connect_timeout=2)
        try:
            claimed = client.dbsize() == 0 and client.set(CLAIM, claim, nx=True, ex=3600)
        except redis.ConnectionError:
            pytest.skip("Redis is not answering on 127.0.0.1:6379")
        if claimed:
            break
    else:
        pytest.fail(f"Redis databases {REDIS_DATABASES.start}-{REDIS_DATABASES.stop - 1} are all in use")
    yield number
    client.flushdb()
    client.close()


@dataclass
class Pair:
    """Two app servers sharing everything, the fakes, and how an operator reaches the shared database."""

    servers: tuple[str, str]
    env: dict[str, str]
    token: str
    anthropic: FakeAnthropic
    openrouter: FakeOpenRouter
    redis: redis.Redis

    def resolve(self, server: str, tenant: str, token: str | None = None, **request: str) -> httpx.Response:
        return httpx.post(
            f"{server}/api/v1/resolve",
            json={"tenant": tenant, **request},
            headers={"Authorization": f"Bearer {token or self.token}"},
            timeout=15,
        )

    def tenant_with_keys(self, slug: str) -> dict[str, str]:
        """Create a tenant and seed both its keys from standard input, as an operator does."""
        manage("create_tenant", slug, env=self.env)
        keys = {"anthropic": self.anthropic.accept(anthropic_key("CANARY")), "openrouter": openrouter_key()}
        for provider, key in keys.items():
            manage("seed_credential", "--tenant", slug, "--provider", provider, env=self.env, stdin=key + "\n")
        return keys

    def new_token(self, name: str) -> str:
        return manage("create_service_token", name, "--all-tenants", env=self.env).stdout.split()[-1]


@pytest.fixture(scope="session")
def pair(servers_available, redis_database) -> Iterator[Pair]:
    with work_area("sinatra-pair-") as (workdir, database), fake_providers() as (anthropic, openrouter):
        env_file = write_env_file(
            workdir / ".env.production",
            {
                "SECRET_KEY": secrets.token_urlsafe(50),
                "SINATRA_BASE_URL": "http://127.0.0.1",
                "ALLOWED_HOSTS": "127.0.0.1",
                "DATABASE_URL": database.url,
                "CACHE_URL": f"redis://127.0.0.1:6379/{redis_database}",
                "SINATRA_LOCAL_DEV_KMS_KEY": kms_key(),
                "SECURE_SSL_REDIRECT": "false",
                "SINATRA_ANTHROPIC_BASE_URL": anthropic.base_url,
                "SINATRA_OPENROUTER_BASE_URL": openrouter.base_url,
                "SINATRA_MODEL_CATALOG_SECONDS": "3600",
                "STATIC_ROOT": str(workdir),
            },
        )
        env = base_env(SINATRA_ENV_FILE=str(env_file))
        manage("migrate", "--noinput", env=env)
        token = manage("create_service_token", "worker-both", "--all-tenants", env=env).stdout.split()[-1]
        first = start_gunicorn("first", env=env, port=free_port(), directory=workdir, GUNICORN_WORKERS="1")
        try:
            second = start_gunicorn("second", env=env, port=free_port(), directory=workdir, GUNICORN_WORKERS="1")
        except BaseException:
            first.stop()
            raise
        client = redis.Redis(host="127.0.0.1", port=6379, db=redis_database)
        try:
            yield Pair((first.extra["url"], second.extra["url"]), env, token, anthropic, openrouter, client)
        finally:
            client.close()
            second.stop()
            first.stop()


def shell(pair: Pair, code: str) -> None:
    manage("shell", "-v", "0", "-c", code, env=pair.env)


def test_a_revoked_token_is_refused_by_both_at_once(pair):
    pair.tenant_with_keys("revoked-token")
    token = pair.new_token("worker-to-revoke")
    for server in pair.servers:
        assert pair.resolve(server, "revoked-token", token, model="opus").status_code == 200
    manage("revoke_service_token", "worker-to-revoke", env=pair.env)
    for server in pair.servers:
        refused = pair.resolve(server, "revoked-token", token, model="opus")
        assert refused.status_code == 401
        assert refused.json()["error"] == "unauthorized"
    # The other token still works: only the revoked one is refused.
    assert pair.resolve(pair.servers[0], "revoked-token", model="opus").status_code == 200


def test_a_replaced_key_is_served_by_both_on_the_next_request(pair):
    old = pair.tenant_with_keys("replaced-key")["anthropic"]
    for server in pair.servers:
        assert pair.resolve(server, "replaced-key", model="opus").json()["api_key"] == old
    new = pair.anthropic.accept(anthropic_key("CANARYnew"))
    manage("seed_credential", "--tenant", "replaced-key", "--provider", "anthropic", env=pair.env, stdin=new + "\n")
    for server in pair.servers:
        served = pair.resolve(server, "replaced-key", model="opus").json()
        assert served["api_key"] == new
        assert served["credential_source"] == "tenant"


def test_a_deactivated_tenant_is_refused_by_both(pair):
    pair.tenant_with_keys("deactivated")
    for server in pair.servers:
        assert pair.resolve(server, "deactivated", model="opus").status_code == 200
    shell(pair, "from tenants.models import Tenant; Tenant.objects.filter(slug='deactivated').update(is_active=False)")
    for server in pair.servers:
        refused = pair.resolve(server, "deactivated", model="opus")
        assert refused.status_code == 403
        assert refused.json()["error"] == "tenant_inactive"
        assert "api_key" not in refused.json()


def test_each_model_list_is_fetched_once_across_both_processes(pair):
    pair.tenant_with_keys("model-lists")
    for _ in range(3):
        for server in pair.servers:
            anthropic = pair.resolve(server, "model-lists", model="opus").json()
            assert (anthropic["provider"], anthropic["model"]) == ("anthropic", ANTHROPIC_MODELS[0])
            openrouter = pair.resolve(server, "model-lists", model="opus", model_provider="openrouter").json()
            assert (openrouter["provider"], openrouter["model"]) == ("openrouter", "anthropic/claude-opus-4.9")
    assert pair.anthropic.requests.count(("GET", "/v1/models")) == 1
    assert pair.openrouter.requests.count(("GET", "/api/v1/models")) == 1


def test_model_lists_in_the_shared_cache_are_json_not_pickles(pair):
    pair.tenant_with_keys("cached-lists")
    pair.resolve(pair.servers[0], "cached-lists", model="opus")
    pair.resolve(pair.servers[0], "cached-lists", model="opus", model_provider="openrouter")
    keys = [key for key in pair.redis.keys("*model-list*")]
    assert len(keys) == 2
    for key in keys:
        value = pair.redis.get(key)
        assert not value.startswith(b"\x80")  # pickle's protocol marker
        assert isinstance(json.loads(value), list)
