"""Anthropic: list models (paginated, newest first) and verify a key, spending no tokens."""

from __future__ import annotations

import re

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from .base import KeyFacts, KeyShape, LookAlike, Provider, ProviderSpec
from .errors import KeyRejected, ProviderUnavailable
from .http import call_deadline, json_body, request, unavailable
from .secret import Secret

PROVIDER = Provider.ANTHROPIC.label
API_VERSION = "2023-06-01"
PAGE_SIZE = 1000
MAX_PAGES = 20


@sensitive_variables("secret")
def _headers(secret: Secret) -> dict[str, str]:
    return {"x-api-key": secret.reveal(), "anthropic-version": API_VERSION}


def _models_url() -> str:
    return f"{settings.SINATRA_ANTHROPIC_BASE_URL}/v1/models"


def _rejected(status: int) -> KeyRejected:
    if status == 403:
        return KeyRejected("Anthropic accepted the key but refuses it access (permission_error): check its workspace.")
    return KeyRejected(
        "Anthropic rejected the key (authentication_error): check that it was copied whole and is not disabled."
    )


def list_models(secret: Secret) -> list[str]:
    """Return every model id the key can see, in Anthropic's order (most recent first).

    All pages together get one deadline (SINATRA_MODEL_FETCH_DEADLINE_SECONDS).
    """
    ids: list[str] = []
    params: dict = {"limit": PAGE_SIZE}
    deadline = call_deadline()
    for _page in range(MAX_PAGES):
        response = request(PROVIDER, "GET", _models_url(), headers=_headers(secret), params=params, deadline=deadline)
        if response.status_code in (401, 403):
            raise _rejected(response.status_code)
        if response.status_code != 200:
            raise unavailable(PROVIDER, response, "the model list")
        body = json_body(PROVIDER, response)
        data = body.get("data")
        if not isinstance(data, list):
            raise ProviderUnavailable("Anthropic's model list has no data array.")
        page_ids = [item["id"] for item in data if isinstance(item, dict) and isinstance(item.get("id"), str)]
        ids.extend(page_ids)
        last_id = body.get("last_id") or (page_ids[-1] if page_ids else None)
        if not body.get("has_more") or not last_id:
            break
        params = {"limit": PAGE_SIZE, "after_id": last_id}
    return ids


def verify_key(secret: Secret) -> KeyFacts:
    """Return what Anthropic says of a key it accepts; raise KeyRejected or ProviderUnavailable."""
    response = request(
        PROVIDER,
        "GET",
        _models_url(),
        headers=_headers(secret),
        params={"limit": 1},
        attempts=2,
        max_wait=2.0,
        deadline=call_deadline(),
    )
    if response.status_code in (401, 403):
        raise _rejected(response.status_code)
    if response.status_code != 200:
        raise unavailable(PROVIDER, response, "the key check")
    organization = response.headers.get("anthropic-organization-id", "")
    return KeyFacts(organization_id=organization[:100] if ORGANIZATION_ID.fullmatch(organization) else "")


# What an organization id looks like: anything else in that header is not shown to anyone.
ORGANIZATION_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")


CLAUDE_SUBSCRIPTION_TOKEN = (
    "That is a Claude subscription token, not an API key (sk-ant-oat01-... or sk-ant-ort01-..., "
    "from `claude setup-token` or `claude login`): it belongs to Claude Code and may not be used by "
    "other products. Create an API key (sk-ant-api03-...) in the Anthropic Console "
    "(console.anthropic.com, Settings, API keys) and paste that."
)

SPEC = ProviderSpec(
    name=Provider.ANTHROPIC,
    key=KeyShape(
        called="an Anthropic API key",
        prefix="sk-ant-api03-",
        family_prefix="sk-ant-api03-",
        pattern=re.compile(r"sk-ant-api03-[A-Za-z0-9_\-]{32,}"),
        malformed="That Anthropic API key looks cut short or mistyped: copy it again from the Anthropic Console.",
        not_this_kind=(
            "That is not an Anthropic API key: those start with sk-ant-api03-. "
            "Copy one from the Anthropic Console (Settings, API keys)."
        ),
        help_text="Starts with sk-ant-api03-. From the Anthropic Console.",
    ),
    look_alikes=(
        LookAlike(
            "sk-ant-admin",
            "That is an Anthropic Admin API key (sk-ant-admin01-...): it manages an organization "
            "and cannot call models. Create an API key (sk-ant-api03-...) in the Anthropic Console "
            "and paste that.",
        ),
        LookAlike(
            "sk-ant-oat01-",
            CLAUDE_SUBSCRIPTION_TOKEN,
        ),
        LookAlike(
            "sk-ant-ort01-",
            CLAUDE_SUBSCRIPTION_TOKEN,
        ),
        LookAlike(
            "sk-ant-",
            "That is an Anthropic token but not an API key (those start with sk-ant-api03-). "
            "Create an API key in the Anthropic Console and paste that.",
        ),
    ),
    base_url_setting="SINATRA_ANTHROPIC_BASE_URL",
    environment_key_setting="ANTHROPIC_API_KEY",
    verify_key=verify_key,
)
