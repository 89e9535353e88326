"""What Sinatra knows about each LLM provider, in one registry.

Each provider describes itself once, in its own module, with a `ProviderSpec`: its name and
label, the shape of its API keys and the look-alike tokens people paste instead, the setting
that holds its base URL, and the httpx client that lists its models and checks a key. Every
other package asks this registry; none lists providers of its own. This package uses no other
package of the project and has no models.

    from providers import Provider, spec
    spec(Provider.ANTHROPIC).key_label    # "Anthropic API key"
"""

from __future__ import annotations

from . import anthropic, openrouter
from .base import KeyFacts, KeyShape, LookAlike, Provider, ProviderSpec

__all__ = ["KeyFacts", "KeyShape", "LookAlike", "Provider", "ProviderSpec", "all_specs", "spec"]

_REGISTRY: dict[Provider, ProviderSpec] = {entry.name: entry for entry in (anthropic.SPEC, openrouter.SPEC)}
assert set(_REGISTRY) == set(Provider), "every Provider needs exactly one ProviderSpec"


def spec(name: str) -> ProviderSpec:
    """Return the entry of a provider by its name; ValueError for a name that is not one."""
    return _REGISTRY[Provider(name)]


def all_specs() -> tuple[ProviderSpec, ...]:
    """Return every provider's entry, in the order of `Provider`."""
    return tuple(_REGISTRY[name] for name in Provider)
