"""The shared cache (Redis) holds model lists as JSON: never unpickled, checked when read.

These tests run against the real Redis on 127.0.0.1:6379, each on a database of its own
(the `shared_cache` fixture), configured as `CACHE_URL=redis://...` configures the project.
"""

from __future__ import annotations

import json
import os
import pickle

import pytest
from django.core.cache import cache

from providers.secret import Secret
from routing import catalog
from routing.catalog import CACHE_PREFIX, newest_anthropic, newest_openrouter, openrouter_slug
from sinatra.cache import JsonSerializer
from tests.fakes.providers import ANTHROPIC_MODELS, OPENROUTER_MODELS, anthropic_key

KEY = Secret(anthropic_key())
ANTHROPIC_IDS = [model_id for model_id, _ in ANTHROPIC_MODELS]


@pytest.fixture
def catalog_seconds(settings):
    settings.SINATRA_MODEL_CATALOG_SECONDS = 3600
    return settings


class MakesADirectory:
    """A pickle that, when loaded, creates a directory: the stand-in for an attacker's code."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def redis_key(name: str) -> str:
    """The Redis key under which Django's cache stores a model list."""
    return cache.make_key(CACHE_PREFIX + name)


def resolve_alias(provider: str) -> str:
    return (newest_anthropic("opus", secret=KEY) if provider == "anthropic" else newest_openrouter("opus")).model


NEWEST = {"anthropic": "claude-opus-4-8", "openrouter": "anthropic/claude-opus-4.8"}


@pytest.mark.parametrize("provider", ["anthropic", "openrouter"])
def test_a_pickle_planted_under_a_model_list_key_is_never_unpickled(
    shared_cache, provider_api, catalog_seconds, tmp_path, provider
):
    planted = tmp_path / "code-ran"
    shared_cache.set(redis_key(provider), pickle.dumps(MakesADirectory(str(planted))))

    assert resolve_alias(provider) == NEWEST[provider]

    assert not planted.exists()
    assert provider_api.routes[f"{provider}_models"].call_count == 1  # ignored and refetched
    json.loads(shared_cache.get(redis_key(provider)))  # and replaced by JSON


def test_model_lists_are_stored_in_redis_as_plain_json(shared_cache, provider_api, catalog_seconds):
    newest_anthropic("opus", secret=KEY)
    newest_openrouter("opus")

    assert json.loads(shared_cache.get(redis_key("anthropic"))) == ANTHROPIC_IDS
    assert json.loads(shared_cache.get(redis_key("openrouter"))) == [list(pair) for pair in OPENROUTER_MODELS]


def test_a_list_another_process_stored_in_redis_is_rebuilt_without_fetching(
    shared_cache, provider_api, catalog_seconds, monkeypatch
):
    newest_anthropic("opus", secret=KEY)
    newest_openrouter("opus")
    # Another process: its own memory is empty; Redis is not.
    monkeypatch.setattr(catalog, "anthropic_models", catalog._ModelList("anthropic", catalog.parse_anthropic_ids))
    monkeypatch.setattr(catalog, "openrouter_models", catalog._ModelList("openrouter", catalog.parse_openrouter_models))

    assert newest_anthropic("sonnet", secret=KEY).model == "claude-sonnet-4-6"
    assert newest_openrouter("sonnet").model == "anthropic/claude-sonnet-4.6"
    assert openrouter_slug("anthropic/claude-opus-4-7").model == "anthropic/claude-opus-4.7"

    assert provider_api.routes["anthropic_models"].call_count == 1
    assert provider_api.routes["openrouter_models"].call_count == 1


UNREADABLE = [
    b"\x80\x04not json at all",
    b"\xff\xfe",
    b"{",
    b"42",  # an integer: stored raw, read back as an int
    b'"claude-opus-4-8"',
    b'{"data": ["claude-opus-4-8"]}',
    b"[1, 2, 3]",
    b'[["anthropic/claude-opus-4.8"]]',
    b'[["anthropic/claude-opus-4.8", "soon"]]',
    b'[["anthropic/claude-opus-4.8", 1, 2]]',
    b'[[1780000000, "anthropic/claude-opus-4.8"]]',
    b"null",
]


@pytest.mark.parametrize("provider", ["anthropic", "openrouter"])
@pytest.mark.parametrize("stored", UNREADABLE, ids=lambda value: repr(value)[:30])
def test_a_value_that_does_not_parse_or_has_the_wrong_shape_is_ignored_and_refetched(
    shared_cache, provider_api, catalog_seconds, provider, stored
):
    shared_cache.set(redis_key(provider), stored)

    assert resolve_alias(provider) == NEWEST[provider]

    assert provider_api.routes[f"{provider}_models"].call_count == 1


def test_the_json_serializer_keeps_integers_raw_so_incr_works_in_redis(shared_cache):
    cache.set("counter", 41)
    assert cache.incr("counter") == 42
    assert shared_cache.get(cache.make_key("counter")) == b"42"

    for value in ({"a": [1, "b", None, True]}, ["x", 1.5], "text", False, None):
        cache.set("value", value)
        assert cache.get("value") == value


def test_the_json_serializer_refuses_a_pickle_with_value_error(tmp_path):
    planted = tmp_path / "code-ran"

    with pytest.raises(ValueError):  # noqa: PT011 - what Django's cache raises for an unreadable value
        JsonSerializer().loads(pickle.dumps(MakesADirectory(str(planted))))

    assert not planted.exists()
