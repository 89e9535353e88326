"""Fake providers for the suite: well-formed (fake) keys, model lists, respx answers, log capture helpers."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterable
from pathlib import Path

import httpx
import respx


def anthropic_key(marker: str = "") -> str:
    """Return a fresh, well-formed (fake) Anthropic API key; `marker` makes it easy to grep for."""
    body = (marker + secrets.token_urlsafe(72)).replace("=", "")[:93]
    return f"sk-ant-api03-{body}AA"


def openrouter_key() -> str:
    """Return a fresh, well-formed (fake) OpenRouter API key."""
    return "sk-or-v1-" + secrets.token_hex(32)


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


MODEL_LISTS = Path(__file__).resolve().parent.parent / "fixtures" / "model_lists"


def real_anthropic_page(name: str) -> httpx.Response:
    """Anthropic's GET /v1/models from a saved real list, newest first as Anthropic orders it.

    The snapshots were saved sorted by id; `created_at` puts them back in Anthropic's order.
    """
    data = json.loads((MODEL_LISTS / f"{name}.json").read_text())["data"]
    ordered = sorted(data, key=lambda model: (model["created_at"], model["id"]), reverse=True)
    return anthropic_page([(model["id"], model["created_at"]) for model in ordered])


def real_openrouter_list(name: str) -> httpx.Response:
    """OpenRouter's GET /api/v1/models from a saved real list."""
    data = json.loads((MODEL_LISTS / f"{name}.json").read_text())["data"]
    return openrouter_list((model["id"], model["created"]) for model in data)
