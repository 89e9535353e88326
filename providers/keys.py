"""Check an API key as a person pasted it, before anything is stored.

Surrounding white space is stripped; inner white space, control characters and anything
over 512 characters are refused. A key of another provider, or a look-alike token (an
Anthropic admin key, an OpenAI key, ...) gets a one-line message that says what it is and
where it belongs; the words come from each provider's registry entry. No message ever
contains the key.
"""

from __future__ import annotations

import unicodedata

from django.views.decorators.debug import sensitive_variables

from . import all_specs, spec
from .base import Provider
from .secret import Secret

MAX_KEY_LENGTH = 512


class InvalidKey(ValueError):
    """A pasted key was refused; the message says why and what to do, never the key."""


def _recognise(key: str) -> tuple[Provider | None, str]:
    """Return (the provider whose key this is, or None; the message for a look-alike, or "").

    The longest matching prefix wins, so sk-ant-admin01- is an admin key, not "some sk- key".
    """
    candidates: list[tuple[str, Provider | None, str]] = []
    for entry in all_specs():
        candidates.append((entry.key.family_prefix, entry.name, ""))
        candidates.extend((look_alike.prefix, None, look_alike.message) for look_alike in entry.look_alikes)
    matching = [candidate for candidate in candidates if key.startswith(candidate[0])]
    if not matching:
        return None, ""
    _, provider, message = max(matching, key=lambda candidate: len(candidate[0]))
    return provider, message


@sensitive_variables("raw", "key")
def parse_api_key(raw: str, *, provider: str) -> Secret:
    """Return the pasted key as a `Secret`, or raise `InvalidKey` saying what is wrong."""
    if provider not in Provider.values:
        raise InvalidKey(f"Unknown provider {provider!r}: use {' or '.join(Provider.values)}.")
    target = spec(provider)
    key = raw.strip()
    if not key:
        raise InvalidKey(f"No key was given: paste the {target.key_label}.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"That is over {MAX_KEY_LENGTH} characters, too long to be an API key: paste the key alone.")
    if any(char.isspace() for char in key):
        raise InvalidKey("The key contains spaces or line breaks: paste the key alone, on one line.")
    if any(unicodedata.category(char).startswith("C") for char in key):
        raise InvalidKey("The key contains control or invisible characters: paste the key alone.")

    owner, look_alike = _recognise(key)
    if look_alike:
        raise InvalidKey(look_alike)
    if owner is None:
        raise InvalidKey(target.key.not_this_kind)
    if owner != target.name:
        other = spec(owner)
        raise InvalidKey(
            f"That is {other.key.called} ({other.key.prefix}...): paste it as the {other.key_label} instead."
        )
    if not target.key.pattern.fullmatch(key):
        raise InvalidKey(target.key.malformed)
    return Secret(key)
