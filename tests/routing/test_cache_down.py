"""The shared cache is an optimisation: with Redis down or slow, resolution goes on, with a warning.

Redis is "down" as a closed port on 127.0.0.1 (connections refused) and "slow" as a port that
accepts connections and never answers; either way CACHES is what CACHE_URL=redis://... builds.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from django.core.cache import caches
from django.urls import reverse

from routing.catalog import BUILTIN_ANTHROPIC, shared_cache_status
from routing.service import resolve
from tests.e2e.fake_providers import fake_providers
from tests.fakes.providers import anthropic_key
from tests.helpers import command_env, run_manage
from tests.shared_cache import caches_for, closed_port
from tests.web import signed_in

SHARED_CACHE_WARNING = "Sinatra's shared cache did not answer"
OPUS = "agent:\n  model: opus\n"


@pytest.fixture
def catalog_seconds(settings):
    settings.SINATRA_MODEL_CATALOG_SECONDS = 3600
    return settings


@pytest.fixture
def redis_down(settings) -> Iterator[str]:
    """Django's cache configured for a Redis on a port that refuses connections."""
    with closed_port() as port:
        url = f"redis://127.0.0.1:{port}/4"
        settings.CACHES = caches_for(url)
        yield url


@pytest.fixture
def redis_silent(settings) -> Iterator[str]:
    """Django's cache configured for a Redis that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    url = f"redis://127.0.0.1:{listener.getsockname()[1]}/4"
    settings.CACHES = caches_for(url)
    yield url
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def shared_cache_warnings(warnings) -> list[str]:
    return [warning for warning in warnings if warning.startswith(SHARED_CACHE_WARNING)]


@pytest.mark.parametrize(
    ("sinatrarc", "model"),
    [
        (OPUS, "claude-opus-4-8"),
        ("agent:\n  model: claude-opus-4-7\n", "claude-opus-4-7"),
        ("agent:\n  model: opus\n  model_provider: openrouter\n", "anthropic/claude-opus-4.8"),
        ("agent:\n  model: openai/gpt-5\n", "openai/gpt-5"),
    ],
)
def test_with_redis_down_resolution_goes_on_with_a_warning(
    redis_down, provider_api, catalog_seconds, tenant, store_key, sinatrarc, model
):
    store_key(tenant, "anthropic")
    store_key(tenant, "openrouter")

    resolution = resolve(tenant, sinatrarc)

    assert resolution.model == model
    assert len(shared_cache_warnings(resolution.warnings)) == 1
    assert "ConnectionError" in resolution.warnings[0]


def test_with_redis_down_process_memory_serves_without_refetching(
    redis_down, provider_api, catalog_seconds, tenant, store_key
):
    store_key(tenant, "anthropic")

    first = resolve(tenant, OPUS)
    second = resolve(tenant, OPUS)

    assert first.model == second.model == "claude-opus-4-8"
    assert second.warnings == ()  # the process's own copy is fresh: the shared cache is not needed
    assert provider_api.routes["anthropic_models"].call_count == 1


def test_with_redis_down_and_the_provider_down_the_builtin_table_serves_with_both_warnings(
    redis_down, provider_api, catalog_seconds, tenant, store_key
):
    store_key(tenant, "anthropic")
    provider_api.routes["anthropic_models"].mock(side_effect=httpx.ConnectError("refused"))

    resolution = resolve(tenant, OPUS)

    assert resolution.model == BUILTIN_ANTHROPIC["opus"]
    assert len(shared_cache_warnings(resolution.warnings)) == 1
    assert any("built-in" in warning for warning in resolution.warnings)


def test_with_redis_down_it_is_tried_again_only_after_a_while(
    redis_down, provider_api, catalog_seconds, tenant, store_key, monkeypatch
):
    store_key(tenant, "anthropic")
    attempts = []
    backend = caches["default"]
    real_get = backend.get

    def counting_get(*args, **kwargs):
        attempts.append(args[0])
        return real_get(*args, **kwargs)

    monkeypatch.setattr(backend, "get", counting_get)

    resolutions = [resolve(tenant, "agent:\n  model: claude-opus-9-9\n") for _ in range(5)]

    assert shared_cache_warnings(resolutions[0].warnings)  # the list then came from Anthropic, kept in memory
    assert all(r.model == "claude-opus-9-9" for r in resolutions)
    assert len(attempts) == 1  # then left alone for SHARED_CACHE_RETRY_SECONDS


def test_with_redis_silent_resolution_goes_on_within_a_wide_deadline(
    redis_silent, provider_api, catalog_seconds, tenant, store_key
):
    store_key(tenant, "anthropic")
    started = time.monotonic()

    resolution = resolve(tenant, OPUS)

    assert time.monotonic() - started < 10  # the socket timeout is 0.5 s; never Redis's default 5 s a call
    assert resolution.model == "claude-opus-4-8"
    assert shared_cache_warnings(resolution.warnings)
    assert "TimeoutError" in resolution.warnings[0]


# --- Where people and workers meet it: the API, the console, resolve_model.


@pytest.mark.parametrize("body", [{"tenant": "acme", "model": "opus"}, {"tenant": "acme", "model": "claude-opus-4-7"}])
def test_with_redis_down_the_api_answers_200_json_with_a_warning(
    redis_down, provider_api, catalog_seconds, client, tenant, store_key, service_token, body
):
    store_key(tenant, "anthropic")

    response = client.post(
        "/api/v1/resolve",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {service_token}"},
    )

    assert response.status_code == 200, response.content
    assert shared_cache_warnings(response.json()["warnings"])


@pytest.mark.parametrize("page", ["console", "setup-model"])
def test_with_redis_down_the_console_pages_that_preview_models_answer(
    redis_down, provider_api, catalog_seconds, client, tenant, store_key, people, page
):
    store_key(tenant, "anthropic")

    response = signed_in(client, people["owner"]).get(reverse(page, args=["acme"]))

    assert response.status_code == 200
    assert b"claude-opus-4-8" in response.content or b"claude-sonnet-4-6" in response.content


def test_resolve_model_with_redis_down_prints_the_resolution_and_a_warning_not_a_traceback(tmp_path):
    key = anthropic_key()
    with closed_port() as port, fake_providers() as (anthropic, openrouter):
        anthropic.accept(key)
        env = command_env(
            DJANGO_SETTINGS_MODULE="sinatra.settings",
            SINATRA_ENV_FILE="tests/test.env",
            DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3",
            CACHE_URL=f"redis://127.0.0.1:{port}/4",
            SINATRA_ANTHROPIC_BASE_URL=anthropic.base_url,
            SINATRA_OPENROUTER_BASE_URL=openrouter.base_url,
        )
        assert run_manage("migrate", "--noinput", env=env).returncode == 0
        assert run_manage("create_tenant", "acme", env=env).returncode == 0
        seeded = run_manage("seed_credential", "--tenant", "acme", "--provider", "anthropic", env=env, stdin=key)
        assert seeded.returncode == 0, seeded.stderr

        result = run_manage("resolve_model", "--tenant", "acme", "--model", "opus", env=env)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "acme: opus -> Anthropic claude-opus-4-9" in result.stdout
    assert SHARED_CACHE_WARNING in result.stdout


# --- Reporting it (for /readyz).


def test_shared_cache_status_reports_a_redis_that_answers(shared_cache):
    assert shared_cache_status() == (True, "the shared cache answers")


def test_shared_cache_status_reports_a_redis_that_is_down(redis_down):
    answers, detail = shared_cache_status()

    assert answers is False
    assert "ConnectionError" in detail
    assert redis_down not in detail


def test_shared_cache_status_reports_the_process_cache_as_answering():
    assert shared_cache_status()[0] is True
