"""OpenRouter: list models (no auth needed) and verify a key with GET /key, spending no tokens."""

from __future__ import annotations

import re

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from .base import KeyShape, LookAlike, Provider, ProviderSpec
from .errors import KeyRejected, ProviderUnavailable
from .http import call_deadline, json_body, request, unavailable
from .secret import Secret

PROVIDER = Provider.OPENROUTER.label


def list_models() -> list[tuple[str, int]]:
    """Return (slug, created unix seconds) for every model OpenRouter lists."""
    url = f"{settings.SINATRA_OPENROUTER_BASE_URL}/models"
    response = request(PROVIDER, "GET", url, deadline=call_deadline())
    if response.status_code != 200:
        raise unavailable(PROVIDER, response, "the model list")
    data = json_body(PROVIDER, response).get("data")
    if not isinstance(data, list):
        raise ProviderUnavailable("OpenRouter's model list has no data array.")
    models = []
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            created = item.get("created")
            models.append((item["id"], created if isinstance(created, int) else 0))
    return models


@sensitive_variables("secret")
def verify_key(secret: Secret) -> None:
    """Return if OpenRouter accepts the key; raise KeyRejected or ProviderUnavailable."""
    response = request(
        PROVIDER,
        "GET",
        f"{settings.SINATRA_OPENROUTER_BASE_URL}/key",
        headers={"Authorization": f"Bearer {secret.reveal()}"},
        attempts=2,
        max_wait=2.0,
        deadline=call_deadline(),
    )
    if response.status_code == 401:
        raise KeyRejected("OpenRouter rejected the key (401): check that it was copied whole and is not disabled.")
    if response.status_code != 200:
        raise unavailable(PROVIDER, response, "the key check")


SPEC = ProviderSpec(
    name=Provider.OPENROUTER,
    key=KeyShape(
        called="an OpenRouter key",
        prefix="sk-or-v1-",
        family_prefix="sk-or-",
        pattern=re.compile(r"sk-or-v1-[0-9a-f]{64}"),
        malformed=(
            "An OpenRouter API key is sk-or-v1- followed by 64 hexadecimal characters, and "
            "this one is not: copy it again from openrouter.ai/keys."
        ),
        not_this_kind=(
            "That is not an OpenRouter API key: those start with sk-or-v1-. Create one at openrouter.ai/keys."
        ),
        help_text="Starts with sk-or-v1-. From openrouter.ai/keys.",
    ),
    look_alikes=(
        # OpenAI's models are reached through OpenRouter, so its keys are this entry's look-alike.
        LookAlike(
            "sk-",
            "That looks like an OpenAI key: Sinatra does not call OpenAI directly. Create an "
            "OpenRouter key at openrouter.ai, paste it as the OpenRouter API key, and use "
            "openai/<model> in .sinatrarc.",
        ),
    ),
    base_url_setting="SINATRA_OPENROUTER_BASE_URL",
    environment_key_setting="OPENROUTER_API_KEY",
    verify_key=verify_key,
)
