"""/healthz and /readyz: what they answer, whatever the Host header, and that they never name a secret."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_answers_ok_and_touches_nothing(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_a_load_balancer_probing_by_ip_over_http(client, settings, path):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get(path, HTTP_HOST="10.128.0.7:8000")
    assert response.status_code == 200  # not 400 for the Host, not 301 to https


def test_probes_are_in_the_urlconf_too():
    from django.urls import reverse

    assert [reverse(name) for name in ("healthz", "readyz", "metrics")] == ["/healthz", "/readyz", "/metrics"]


def test_readyz_is_ready_with_a_database_and_a_kms(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "kms": "ok", "cache": "ok"}}


def test_readyz_is_not_ready_without_a_kms(client, settings):
    settings.SINATRA_KMS_BACKENDS = []
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["not_ready"] == ["kms"]
    assert body["checks"]["kms"] == "not configured"


def test_readyz_with_only_old_keys_is_not_ready(client, settings):
    settings.SINATRA_KMS_BACKENDS = [
        {
            "BACKEND": "credentials.kms.local.LocalKmsBackend",
            "OPTIONS": {"key": None, "old_keys": [settings.TEST_KMS_KEY]},
        }
    ]
    assert client.get("/readyz").json()["not_ready"] == ["kms"]


def test_a_cache_that_does_not_answer_is_reported_but_not_required(client, settings):
    # Nothing listens on port 1: the real redis client is refused at once.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "kms": "ok", "cache": "unavailable"}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


READYZ = """
from django.test import Client
response = Client().get("/readyz")
print(response.status_code)
print(response.content.decode())
"""


def test_readyz_without_a_database_is_503_and_names_no_secret(production_shell):
    # A real PostgreSQL client, refused on a port where nothing listens.
    result = production_shell(READYZ, DATABASE_URL="postgres://sinatra:PasswordCanary99@127.0.0.1:1/sinatra")
    assert result.returncode == 0, result.stderr
    status, body = result.stdout.strip().splitlines()[-2:]
    assert status == "503"
    assert json.loads(body) == {
        "status": "not ready",
        "checks": {"database": "unavailable", "kms": "ok", "cache": "ok"},
        "not_ready": ["database"],
    }
    assert "PasswordCanary99" not in result.stdout + result.stderr
    assert "readyz: the database did not answer: OperationalError" in result.stderr
