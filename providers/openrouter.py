"""OpenRouter: list models (no auth needed) and verify a key with GET /key, spending no tokens."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from .base import KeyFacts, KeyShape, LookAlike, Provider, ProviderSpec
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
def verify_key(secret: Secret) -> KeyFacts:
    """Return what OpenRouter says of a key it accepts; raise KeyRejected or ProviderUnavailable.

    A management (provisioning) key is refused: it manages other keys and cannot call models.
    """
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
    data = json_body(PROVIDER, response).get("data")
    if not isinstance(data, dict):  # accepted, but it said nothing more of the key
        return KeyFacts()
    if data.get("is_management_key") is True or data.get("is_provisioning_key") is True:
        raise KeyRejected(
            "That is an OpenRouter management (provisioning) key: it creates and manages other keys and cannot "
            "call models. Create an API key at openrouter.ai/keys and paste that."
        )
    return KeyFacts(
        label=data["label"][:200] if isinstance(data.get("label"), str) else "",
        limit_remaining=_decimal(data.get("limit_remaining")),
        expires_at=_moment(data.get("expires_at")),
        is_free_tier=data["is_free_tier"] if isinstance(data.get("is_free_tier"), bool) else None,
    )


def _decimal(value: object) -> Decimal | None:
    """A JSON number as a Decimal (credit in dollars); anything else is unknown."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return Decimal(str(value)).quantize(Decimal("0.0001"))


def _moment(value: object) -> datetime | None:
    """An ISO 8601 time with its zone; anything else is unknown."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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
