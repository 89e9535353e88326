"""Check an API key as a person pasted it, before anything is stored.

Surrounding white space is stripped; inner white space, control characters and anything
over 512 characters are refused. A key of the other provider, an Anthropic admin key or
an OpenAI key gets a one-line message that says what it is and where it belongs. No
message ever contains the key.
"""

from __future__ import annotations

import re
import unicodedata

from django.views.decorators.debug import sensitive_variables

from .secret import Secret

MAX_KEY_LENGTH = 512

ANTHROPIC_PREFIX = "sk-ant-api03-"
OPENROUTER_PREFIX = "sk-or-v1-"
_ANTHROPIC_KEY = re.compile(r"sk-ant-api03-[A-Za-z0-9_\-]{32,}")
_OPENROUTER_KEY = re.compile(r"sk-or-v1-[0-9a-f]{64}")

PROVIDER_LABELS = {"anthropic": "Anthropic API key", "openrouter": "OpenRouter API key"}

_OTHER_KINDS = {
    "anthropic-admin": (
        "That is an Anthropic Admin API key (sk-ant-admin01-...): it manages an organization "
        "and cannot call models. Create an API key (sk-ant-api03-...) in the Anthropic Console "
        "and paste that."
    ),
    "anthropic-other": (
        "That is an Anthropic token but not an API key (those start with sk-ant-api03-). "
        "Create an API key in the Anthropic Console and paste that."
    ),
    "openai": (
        "That looks like an OpenAI key: Sinatra does not call OpenAI directly. Create an "
        "OpenRouter key at openrouter.ai, paste it as the OpenRouter API key, and use "
        "openai/<model> in .sinatrarc."
    ),
}


class InvalidKey(ValueError):
    """A pasted key was refused; the message says why and what to do, never the key."""


def _kind(key: str) -> str:
    """Tell what kind of key this is by its prefix."""
    if key.startswith("sk-ant-admin"):
        return "anthropic-admin"
    if key.startswith(ANTHROPIC_PREFIX):
        return "anthropic"
    if key.startswith("sk-ant-"):
        return "anthropic-other"
    if key.startswith("sk-or-"):
        return "openrouter"
    if key.startswith("sk-"):
        return "openai"
    return "unknown"


@sensitive_variables("raw", "key")
def parse_api_key(raw: str, *, provider: str) -> Secret:
    """Return the pasted key as a `Secret`, or raise `InvalidKey` saying what is wrong."""
    if provider not in PROVIDER_LABELS:
        raise InvalidKey(f"Unknown provider {provider!r}: use anthropic or openrouter.")
    label = PROVIDER_LABELS[provider]
    key = raw.strip()
    if not key:
        raise InvalidKey(f"No key was given: paste the {label}.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"That is over {MAX_KEY_LENGTH} characters, too long to be an API key: paste the key alone.")
    if any(char.isspace() for char in key):
        raise InvalidKey("The key contains spaces or line breaks: paste the key alone, on one line.")
    if any(unicodedata.category(char).startswith("C") for char in key):
        raise InvalidKey("The key contains control or invisible characters: paste the key alone.")

    kind = _kind(key)
    if kind in _OTHER_KINDS:
        raise InvalidKey(_OTHER_KINDS[kind])
    if provider == "anthropic":
        if kind == "openrouter":
            raise InvalidKey("That is an OpenRouter key (sk-or-v1-...): paste it as the OpenRouter API key instead.")
        if kind != "anthropic":
            raise InvalidKey(
                "That is not an Anthropic API key: those start with sk-ant-api03-. "
                "Copy one from the Anthropic Console (Settings, API keys)."
            )
        if not _ANTHROPIC_KEY.fullmatch(key):
            raise InvalidKey(
                "That Anthropic API key looks cut short or mistyped: copy it again from the Anthropic Console."
            )
    else:
        if kind == "anthropic":
            raise InvalidKey(
                "That is an Anthropic API key (sk-ant-api03-...): paste it as the Anthropic API key instead."
            )
        if kind != "openrouter":
            raise InvalidKey(
                "That is not an OpenRouter API key: those start with sk-or-v1-. Create one at openrouter.ai/keys."
            )
        if not _OPENROUTER_KEY.fullmatch(key):
            raise InvalidKey(
                "An OpenRouter API key is sk-or-v1- followed by 64 hexadecimal characters, and "
                "this one is not: copy it again from openrouter.ai/keys."
            )
    return Secret(key)
