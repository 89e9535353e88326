"""The routing rules of DESIGN.md ("Routing: which provider and model serve a request"), as tables.

Read it next to the design, rule by rule:

1. The model: `agent.model`, else the tenant's default model, else `sonnet`  -> `requested_model()`
2. What kind of name it is: an alias, a `claude-` id, a `vendor/model` slug,
   or another bare name (an error that says what to write instead)          -> `classify()`, `NOT_CLAUDE`
3. A bare name goes to Anthropic, or to OpenRouter under `model_provider:
   openrouter` (as OpenRouter's slug for the same model)                     -> `ROUTES`
4. A `vendor/model` slug goes to OpenRouter as given (dashed Claude names
   normalised by the catalog)                                                -> `ROUTES`
5. `model_provider` is `anthropic` or `openrouter`; `openai` is refused with
   the way forward                                                           -> `check_model_provider()`
6. The provider needs a key; a bare Claude name headed for Anthropic goes
   through OpenRouter when that is the tenant's only key                     -> `OPENROUTER_FALLBACK_KINDS`
7. Single-tenant evaluation: environment keys, then (docker) host
   credentials, serve tenants without rows                                   -> `CREDENTIAL_SOURCES`

Everything here is pure: no database, no network. `routing.service.resolve()` applies it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from providers import Provider
from providers.claude_names import vendor_of_bare_name

from .catalog import ALIASES
from .errors import ConfigError, UnsupportedProvider, shown

ANTHROPIC = Provider.ANTHROPIC
OPENROUTER = Provider.OPENROUTER
DEFAULT_MODEL = "sonnet"


# --- Rule 1: which model is asked for, and where that came from.


def requested_model(*, sinatrarc_model: str | None, tenant_default: str) -> tuple[str, str]:
    """Return (model, where it came from)."""
    if sinatrarc_model:
        return sinatrarc_model, "from .sinatrarc"
    if tenant_default:
        return tenant_default, "the tenant's default model"
    return DEFAULT_MODEL, "the default model"


# --- Rule 2: the kinds of name.


class Kind(StrEnum):
    ALIAS = "alias"  # opus, sonnet, haiku
    CLAUDE_ID = "Claude model id"  # claude-opus-4-7, claude-sonnet-4-5-20250929
    ANTHROPIC_SLUG = "Anthropic slug"  # anthropic/claude-opus-4-7 (or 4.7)
    SLUG = "slug"  # openai/gpt-5, meta-llama/llama-3.1-405b-instruct
    NOT_CLAUDE = "bare name that is not Claude"  # gpt-5: an error


# Vendors and models are case-insensitive at OpenRouter: the catalog sends its own case.
_SLUG = re.compile(r"~?[A-Za-z0-9][A-Za-z0-9._\-]*/[A-Za-z0-9][A-Za-z0-9._:\-]*")


def classify(name: str) -> Kind:
    """Return what kind of model name this is; a malformed slug is a ConfigError."""
    if "/" not in name:
        if name.lower() in ALIASES:
            return Kind.ALIAS
        if name.lower().startswith("claude-"):
            return Kind.CLAUDE_ID
        return Kind.NOT_CLAUDE
    if not _SLUG.fullmatch(name):
        raise ConfigError(f"{shown(name)} is not a vendor/model slug: write it like openai/gpt-5.")
    return Kind.ANTHROPIC_SLUG if name.lower().startswith("anthropic/claude-") else Kind.SLUG


def not_claude_error(name: str) -> ConfigError:
    """Say what to write instead of a bare name that is not a Claude model."""
    name = shown(name)
    vendor = vendor_of_bare_name(name)
    if vendor is not None:
        return ConfigError(
            f"{name} is not a Claude model: write {vendor}/{name.lower()} to use it through OpenRouter "
            "(the tenant needs an OpenRouter key)."
        )
    return ConfigError(
        f"{name} is not a model name Sinatra knows: write opus, sonnet, haiku or fable, a Claude model id "
        "(claude-...), or an OpenRouter slug such as openai/gpt-5."
    )


# --- Rule 5: model_provider.


def check_model_provider(model_provider: str | None) -> None:
    """Refuse a model_provider this version does not serve, saying what to do instead."""
    if model_provider in (None, ANTHROPIC, OPENROUTER):
        return
    if model_provider == "openai":
        raise UnsupportedProvider(
            "Direct OpenAI is not supported in this version: add an OpenRouter key, write "
            "model: openai/<model> (e.g. openai/gpt-5) and drop model_provider: openai."
        )
    raise ConfigError(
        f"agent.model_provider {shown(model_provider or '')!r} is not one Sinatra knows: use anthropic or openrouter."
    )


# --- Rules 3 and 4: which provider serves each kind of name.


class Target(StrEnum):
    """How the concrete model id is found (see routing.catalog)."""

    NEWEST_ANTHROPIC = "newest Anthropic id of the alias's family"
    NEWEST_OPENROUTER = "newest plain anthropic/claude-<family>-* slug on OpenRouter"
    ANTHROPIC_ID = "the Claude model id as given"
    OPENROUTER_SLUG_OF_ID = "OpenRouter's slug for the Claude model id"
    OPENROUTER_SLUG = "the slug as given, dashed Claude names in OpenRouter's dotted form"
    ANTHROPIC_ID_OF_SLUG = "the Anthropic id of the anthropic/ slug"


@dataclass(frozen=True)
class Route:
    provider: str
    target: Target
    because: str


_BARE_TO_ANTHROPIC = "bare names go to Anthropic directly"
_FORCED = "model_provider: openrouter sends it through OpenRouter"

# (kind of name, model_provider or None when not set) -> route. A pair that is absent is an error.
ROUTES: dict[tuple[Kind, str | None], Route] = {
    (Kind.ALIAS, None): Route(ANTHROPIC, Target.NEWEST_ANTHROPIC, _BARE_TO_ANTHROPIC),
    (Kind.ALIAS, ANTHROPIC): Route(ANTHROPIC, Target.NEWEST_ANTHROPIC, "model_provider: anthropic"),
    (Kind.ALIAS, OPENROUTER): Route(OPENROUTER, Target.NEWEST_OPENROUTER, _FORCED),
    (Kind.CLAUDE_ID, None): Route(ANTHROPIC, Target.ANTHROPIC_ID, _BARE_TO_ANTHROPIC),
    (Kind.CLAUDE_ID, ANTHROPIC): Route(ANTHROPIC, Target.ANTHROPIC_ID, "model_provider: anthropic"),
    (Kind.CLAUDE_ID, OPENROUTER): Route(OPENROUTER, Target.OPENROUTER_SLUG_OF_ID, _FORCED),
    (Kind.ANTHROPIC_SLUG, None): Route(OPENROUTER, Target.OPENROUTER_SLUG, "slugs go to OpenRouter"),
    (Kind.ANTHROPIC_SLUG, OPENROUTER): Route(OPENROUTER, Target.OPENROUTER_SLUG, "slugs go to OpenRouter"),
    (Kind.ANTHROPIC_SLUG, ANTHROPIC): Route(
        ANTHROPIC, Target.ANTHROPIC_ID_OF_SLUG, "model_provider: anthropic sends a Claude slug to Anthropic"
    ),
    (Kind.SLUG, None): Route(OPENROUTER, Target.OPENROUTER_SLUG, "slugs go to OpenRouter"),
    (Kind.SLUG, OPENROUTER): Route(OPENROUTER, Target.OPENROUTER_SLUG, "slugs go to OpenRouter"),
}


def route(name: str, model_provider: str | None) -> tuple[Kind, Route]:
    """Apply rules 2 to 5: return the name's kind and the route it takes, or raise."""
    check_model_provider(model_provider)
    kind = classify(name)
    if kind is Kind.NOT_CLAUDE:
        raise not_claude_error(name)
    found = ROUTES.get((kind, model_provider))
    if found is None:  # (Kind.SLUG, anthropic): Anthropic serves only Claude models
        raise ConfigError(
            f"{shown(name)} is not a Claude model, so Anthropic cannot serve it: drop model_provider: anthropic "
            "to send it through OpenRouter."
        )
    return kind, found


# --- Rule 6: only an OpenRouter key.

# Kinds that fall back to OpenRouter when headed for Anthropic without model_provider, the
# tenant has no Anthropic key and has an OpenRouter key ("you only need one key to get going").
OPENROUTER_FALLBACK_KINDS = frozenset({Kind.ALIAS, Kind.CLAUDE_ID})


# --- Rule 7: where a key comes from, in order.


class Source(StrEnum):
    TENANT = "tenant"  # the tenant's active TenantModelCredential
    ENVIRONMENT = "environment"  # ANTHROPIC_API_KEY / OPENROUTER_API_KEY, single-tenant only
    HOST = "host"  # the host's `claude login`, single-tenant with SANDBOX_PROVIDER=docker, Anthropic only


CREDENTIAL_SOURCES = (Source.TENANT, Source.ENVIRONMENT, Source.HOST)
