"""Fixtures for routing's tests: fake providers (respx), no real waits, fresh caches, tokens."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import httpx
import pytest
import respx

from routing import clients as provider_clients
from routing.tokens import token_create

ANTHROPIC_MODELS_URL = "https://api.anthropic.test/v1/models"
OPENROUTER_MODELS_URL = "https://openrouter.test/api/v1/models"
OPENROUTER_KEY_URL = "https://openrouter.test/api/v1/key"

# Anthropic's list, most recent first, as /v1/models gives it. Its created_at is a placeholder
# for the newest models, so only the order says which is newest.
ANTHROPIC_MODELS = [
    ("claude-opus-4-8", "1970-01-01T00:00:00Z"),
    ("claude-sonnet-4-6", "1970-01-01T00:00:00Z"),
    ("claude-opus-4-7", "2026-02-01T00:00:00Z"),
    ("claude-haiku-4-5-20251001", "2025-10-01T00:00:00Z"),
    ("claude-sonnet-4-5-20250929", "2025-09-29T00:00:00Z"),
    ("claude-opus-4-1-20250805", "2025-08-05T00:00:00Z"),
]
# OpenRouter's list: dotted names, in no useful order; `created` says which is newest.
OPENROUTER_MODELS = [
    ("anthropic/claude-opus-4.7", 1_770_000_000),
    ("openai/gpt-5", 1_760_000_000),
    ("anthropic/claude-opus-4.8-fast", 1_790_000_000),
    ("anthropic/claude-opus-4.8", 1_780_000_000),
    ("anthropic/claude-opus-4.8:beta", 1_785_000_000),
    ("~anthropic/claude-opus-latest", 1_795_000_000),
    ("anthropic/claude-sonnet-4.5", 1_750_000_000),
    ("anthropic/claude-sonnet-4.6", 1_775_000_000),
    ("~anthropic/claude-sonnet-latest", 1_795_000_000),
    ("anthropic/claude-haiku-4.5", 1_755_000_000),
    ("anthropic/claude-3.5-haiku", 1_730_000_000),
    ("meta-llama/llama-3.1-405b-instruct", 1_720_000_000),
]


def anthropic_page(ids: Iterable[str | tuple[str, str]], *, has_more: bool = False, last_id: str | None = None):
    """Return one page of Anthropic's GET /v1/models."""
    data = []
    for item in ids:
        model_id, created_at = item if isinstance(item, tuple) else (item, "1970-01-01T00:00:00Z")
        data.append({"type": "model", "id": model_id, "display_name": model_id, "created_at": created_at})
    first_id = data[0]["id"] if data else None
    if last_id is None and data:
        last_id = data[-1]["id"]
    return httpx.Response(200, json={"data": data, "has_more": has_more, "first_id": first_id, "last_id": last_id})


def openrouter_list(models: Iterable[tuple[str, int]]):
    """Return OpenRouter's GET /api/v1/models."""
    return httpx.Response(200, json={"data": [{"id": slug, "created": created} for slug, created in models]})


def answer_with(route: respx.Route, answer: httpx.Response | Exception) -> respx.Route:
    """Make a faked endpoint answer with a response, or fail with a transport error."""
    if isinstance(answer, Exception):
        return route.mock(side_effect=answer)
    return route.mock(return_value=answer)


@pytest.fixture(autouse=True)
def waits(monkeypatch) -> list[float]:
    """Record the waits the clients ask for instead of sleeping (no test ever waits)."""
    recorded: list[float] = []
    monkeypatch.setattr(provider_clients, "sleep", recorded.append)
    return recorded


@pytest.fixture
def provider_api():
    """Fake both providers: their model lists answer; unmocked requests fail the test."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        router.get(ANTHROPIC_MODELS_URL, name="anthropic_models").mock(return_value=anthropic_page(ANTHROPIC_MODELS))
        router.get(OPENROUTER_MODELS_URL, name="openrouter_models").mock(
            return_value=openrouter_list(OPENROUTER_MODELS)
        )
        router.get(OPENROUTER_KEY_URL, name="openrouter_key").mock(
            return_value=httpx.Response(200, json={"data": {"label": "sk-or-v1-...", "usage": 0}})
        )
        yield router


@pytest.fixture
def service_token(db) -> str:
    """Return a live service token for the HTTP API."""
    _row, token = token_create(name="worker-test")
    return token


@pytest.fixture
def all_logs(caplog, monkeypatch):
    """Capture every log record at DEBUG, httpx's and httpcore's included, as the code wrote it.

    The console handler's RedactKeysFilter rewrites records in place, before caplog sees them:
    it is taken off here so that a test proves the code logs no key, not that the filter works.
    """
    for handler in logging.getLogger().handlers:
        monkeypatch.setattr(handler, "filters", [])
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "routing", "credentials", "django"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def log_text(caplog) -> str:
    """Return everything the captured records say: messages, arguments and tracebacks."""
    formatter = logging.Formatter()
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        if record.exc_info:
            parts.append(formatter.formatException(record.exc_info))
        if record.exc_text:
            parts.append(record.exc_text)
    return "\n".join(parts)
