"""A tenant's policy as a value: which providers and models its requests may use, and alias pins.

- allowed providers: empty means every provider the tenant has a key for;
- allowed models: glob patterns over the concrete model sent (`claude-*`, `openai/*`); empty
  means any;
- pins: `opus = claude-opus-4-8` keeps an alias on one model until it is unpinned.

`resolve()` reads a tenant's policy through `policy_for()`, which keeps it in process memory
by (tenant id, tenant.updated_at): the policy service touches the tenant's `updated_at` in the
same transaction as the change, so a warm resolve reads no policy row, and a tenant read
after a change (the HTTP API reads it per request) sees the change at once.
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from providers import Provider
from providers.claude_names import NotAClaudeName, family_of, to_anthropic
from tenants.models import Tenant

from .catalog import ALIASES
from .models import TenantPolicy

MAX_PATTERNS = 50
MAX_PATTERN_LENGTH = 200
_PATTERN = re.compile(r"[A-Za-z0-9._:/@~+\-*?\[\]!]+")
_CLAUDE_ID = re.compile(r"claude-[a-z0-9][a-z0-9.\-]*")


class PolicyError(ValueError):
    """A policy value cannot be taken; `field` says which (providers, models, pins) and the message why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Policy:
    """What a tenant's requests may use. `Policy()` is the default: no restriction, no pin."""

    providers: frozenset[str] = frozenset()
    models: tuple[str, ...] = ()
    pins: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_default(self) -> bool:
        return not self.providers and not self.models and not self.pins

    def allows_provider(self, provider: str) -> bool:
        return not self.providers or provider in self.providers

    def allows_model(self, model: str) -> bool:
        return not self.models or any(fnmatch.fnmatchcase(model, pattern) for pattern in self.models)

    def pin(self, alias: str) -> str | None:
        return self.pins.get(alias)

    def provider_labels(self) -> str:
        """E.g. "Anthropic, OpenRouter", in the registry's order."""
        return ", ".join(provider.label for provider in Provider if provider in self.providers)

    def describe(self) -> dict[str, str]:
        """The policy in words, one line per part: providers, models, pins."""
        return {
            "providers": self.provider_labels() or "any provider the tenant has a key for",
            "models": ", ".join(self.models) or "any model",
            "pins": ", ".join(f"{alias} = {model}" for alias, model in sorted(self.pins.items())) or "none",
        }

    def summary(self) -> str:
        """One line for an audit event, e.g. "providers: Anthropic; models: claude-*; pins: none"."""
        return "; ".join(f"{part}: {words}" for part, words in self.describe().items())

    def changed(
        self,
        *,
        providers: Iterable[str] | None = None,
        models: Iterable[str] | None = None,
        pin: Mapping[str, str] | None = None,
        unpin: Iterable[str] = (),
    ) -> Policy:
        """Return this policy with some parts replaced (providers, models), pins added or removed."""
        result = self
        if providers is not None:
            result = replace(result, providers=parse_providers(providers))
        if models is not None:
            result = replace(result, models=parse_models(models))
        pins = dict(result.pins)
        for alias in unpin:
            pins.pop(_alias(alias), None)
        pins.update(parse_pins(pin or {}))
        return replace(result, pins=pins)


DEFAULT = Policy()


def split_list(text: str) -> list[str]:
    """Split "a, b,c" into ["a", "b", "c"]; an empty text is an empty list."""
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_providers(names: Iterable[str]) -> frozenset[str]:
    chosen = set()
    for name in names:
        name = name.strip().lower()
        if name not in Provider.values:
            known = ", ".join(Provider.values)
            raise PolicyError("providers", f"{name!r} is not a provider Sinatra knows: choose from {known}.")
        chosen.add(name)
    return frozenset(chosen)


def parse_models(patterns: Iterable[str]) -> tuple[str, ...]:
    result: list[str] = []
    for pattern in patterns:
        pattern = pattern.strip()
        if not pattern:
            continue
        if len(pattern) > MAX_PATTERN_LENGTH or not _PATTERN.fullmatch(pattern):
            raise PolicyError(
                "models",
                f"{pattern[:60]!r} is not a model pattern: write a model id or slug, with * for any characters "
                "(claude-*, openai/*), separated by commas.",
            )
        if pattern not in result:
            result.append(pattern)
    if len(result) > MAX_PATTERNS:
        raise PolicyError("models", f"At most {MAX_PATTERNS} model patterns.")
    return tuple(result)


def _alias(name: str) -> str:
    alias = name.strip().lower()
    if alias not in ALIASES:
        raise PolicyError("pins", f"{name!r} is not an alias: the aliases are {', '.join(ALIASES)}.")
    return alias


def parse_pins(pins: Mapping[str, str]) -> dict[str, str]:
    """Check alias pins; a pin written as an OpenRouter slug is kept as the Anthropic id."""
    result = {}
    for name, model in pins.items():
        alias = _alias(name)
        model = model.strip()
        if model.lower().startswith("anthropic/"):
            with contextlib.suppress(NotAClaudeName):  # refused just below, in the words every bad pin gets
                model = to_anthropic(model)
        if not _CLAUDE_ID.fullmatch(model) or family_of(model) != alias or len(model) > 200:
            raise PolicyError(
                "pins",
                f"{alias} can be pinned only to a Claude {alias.title()} model id, such as claude-{alias}-4-8 "
                f"(not {model[:60]!r}).",
            )
        result[alias] = model
    return result


def parse_pin_argument(text: str) -> tuple[str, str]:
    """Split a command's `ALIAS=ID` (`opus=claude-opus-4-8`)."""
    alias, equals, model = text.partition("=")
    if not equals or not alias.strip() or not model.strip():
        raise PolicyError("pins", f"{text!r} is not a pin: write ALIAS=ID, e.g. opus=claude-opus-4-8.")
    return alias.strip(), model.strip()


# --- Reading.


def policy_read(tenant: Tenant) -> Policy:
    """Return the tenant's stored policy (two queries; DEFAULT when it has none)."""
    row = TenantPolicy.objects.filter(tenant=tenant).prefetch_related("pins").first()
    if row is None:
        return DEFAULT
    return Policy(
        providers=frozenset(split_list(row.providers)),
        models=tuple(split_list(row.model_patterns)),
        pins={pin.alias: pin.model for pin in row.pins.all()},
    )


# Keyed by the tenant id's integer: hashing a UUID object runs Python code, an int's does not.
# As many tenants as the DEK cache's default covers (10,000 tenants, two keys each) and then
# some: at 4,096, traffic over 10,000 tenants emptied it again and again and read a policy
# row on most requests. An entry is a few hundred bytes; tenants without a policy share one.
_cache: dict[int, tuple[datetime, Policy]] = {}
MAX_CACHED = 20_000


def policy_for(tenant: Tenant) -> Policy:
    """Return the tenant's policy as resolve() needs it: read once per (tenant, updated_at) per process."""
    cached = _cache.get(tenant.id.int)
    if cached is not None and cached[0] == tenant.updated_at:
        return cached[1]
    policy = policy_read(tenant)
    if len(_cache) >= MAX_CACHED:
        _cache.clear()
    _cache[tenant.id.int] = (tenant.updated_at, policy)
    return policy


def forget_policy(tenant_id: UUID) -> None:
    """Read this tenant's policy again next time, whatever tenant object asks."""
    _cache.pop(tenant_id.int, None)


def clear_cache() -> None:
    """Forget every policy kept in memory (tests)."""
    _cache.clear()
