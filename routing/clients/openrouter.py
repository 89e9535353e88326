"""OpenRouter: list models (no auth needed) and verify a key with GET /key, spending no tokens."""

from __future__ import annotations

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from credentials.secret import Secret

from . import KeyRejected, ProviderUnavailable, json_body, request, unavailable

PROVIDER = "OpenRouter"


def list_models() -> list[tuple[str, int]]:
    """Return (slug, created unix seconds) for every model OpenRouter lists."""
    response = request(PROVIDER, "GET", f"{settings.SINATRA_OPENROUTER_BASE_URL}/models")
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
    )
    if response.status_code == 401:
        raise KeyRejected("OpenRouter rejected the key (401): check that it was copied whole and is not disabled.")
    if response.status_code != 200:
        raise unavailable(PROVIDER, response, "the key check")
