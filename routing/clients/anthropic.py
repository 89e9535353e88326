"""Anthropic: list models (paginated, newest first) and verify a key, spending no tokens."""

from __future__ import annotations

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from credentials.secret import Secret

from . import KeyRejected, ProviderUnavailable, json_body, request, unavailable

PROVIDER = "Anthropic"
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
    """Return every model id the key can see, in Anthropic's order (most recent first)."""
    ids: list[str] = []
    params: dict = {"limit": PAGE_SIZE}
    for _page in range(MAX_PAGES):
        response = request(PROVIDER, "GET", _models_url(), headers=_headers(secret), params=params)
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


def verify_key(secret: Secret) -> None:
    """Return if Anthropic accepts the key; raise KeyRejected or ProviderUnavailable."""
    response = request(
        PROVIDER, "GET", _models_url(), headers=_headers(secret), params={"limit": 1}, attempts=2, max_wait=2.0
    )
    if response.status_code in (401, 403):
        raise _rejected(response.status_code)
    if response.status_code != 200:
        raise unavailable(PROVIDER, response, "the key check")
