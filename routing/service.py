"""The provider-resolution service: for a tenant and a repo's `.sinatrarc`, which provider and
which concrete model serve a request, and with which key.

    from routing.service import resolve, RoutingError
    r = resolve(tenant, sinatrarc="agent:\\n  model: opus\\n", caller="worker-eu")   # or config={...}
    r.provider, r.model, r.api_key.reveal()

`resolve()` is a read: its only side effects are caches, and the credential's `last_used_at` and
key-release counts, both gathered in memory and written at most once a minute per process
(routing.usage, routing.release). The rules themselves live in `routing.rules`.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from prometheus_client import Counter, Histogram

from credentials.kms import KmsError, KmsUnavailable
from credentials.models import TenantModelCredential
from credentials.selectors import ActiveKey, active_keys
from credentials.services import credential_open
from providers import Provider, spec
from providers.secret import Secret
from tenants.models import Tenant

from . import aliases, catalog, release, rules, usage
from .errors import (
    ConfigError,
    CredentialUnavailable,
    MissingCredential,
    PolicyDenied,
    RoutingError,
    TenantInactive,
    UnsupportedProvider,
)
from .policy_rules import DEFAULT as DEFAULT_POLICY
from .policy_rules import Policy, policy_for
from .rules import ANTHROPIC, OPENROUTER, Kind, Route, Source, Target
from .sinatrarc import AgentConfig, config_from_mapping, parse_sinatrarc

DEFAULT_CALLER = "python"

__all__ = [
    "ConfigError",
    "CredentialUnavailable",
    "MissingCredential",
    "PolicyDenied",
    "Resolution",
    "RoutingError",
    "TenantInactive",
    "UnsupportedProvider",
    "resolve",
    "resolve_agent",
]

RESOLUTIONS = Counter(
    "sinatra_resolutions",
    "Resolutions by provider and outcome (ok, or the error code: invalid_config, missing_credential, ...).",
    ["provider", "outcome"],
)
RESOLVE_SECONDS = Histogram(
    "sinatra_resolve_duration_seconds",
    "Time resolve() takes, in seconds.",
    buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0, 5.0),
)


# The counters of successful resolutions, one per provider, looked up once (labels() takes a lock).
_RESOLVED = {provider.value: RESOLUTIONS.labels(provider.value, "ok") for provider in Provider}


@dataclass(frozen=True)
class Resolution:
    """Which provider and model serve a request, and the key to call it with.

    `api_key` is a Secret (its repr is the hint), or None when the worker uses the host's
    own `claude login` (`credential_source == "host"`).
    """

    provider: str
    model: str
    requested: str
    base_url: str
    api_key: Secret | None
    credential_source: str
    key_hint: str
    reason: str
    warnings: tuple[str, ...] = ()

    def as_dict(self, *, include_key: bool = False) -> dict:
        """Return the fields as JSON-ready data; the key only when asked (the HTTP API)."""
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        data["warnings"] = list(self.warnings)
        del data["api_key"]
        if include_key:
            data["api_key"] = self.api_key.reveal() if self.api_key is not None else None
        return data


class _Key(NamedTuple):
    source: Source
    secret: Secret | None
    credential: ActiveKey | None = None


def resolve(
    tenant: Tenant,
    sinatrarc: str | bytes | None = None,
    *,
    config: Mapping | None = None,
    caller: str = DEFAULT_CALLER,
    record_use: bool = True,
    keys: Mapping[str, ActiveKey] | None = None,
    policy: Policy | None = None,
) -> Resolution:
    """Resolve a request of `tenant` whose repo has this `.sinatrarc` text (or parsed `config`).

    `caller` names who receives the key, for key-release accounting (the HTTP API passes the
    service token's name). `record_use=False` (previews in the console) counts no release and
    leaves `last_used_at` alone. `keys`: the tenant's active keys, when the caller read them
    just now in the same statement as something else (the HTTP API, with its token); else
    they are read here. `policy`: the policy to apply instead of the tenant's own (as for
    resolve_agent).
    """
    try:
        _check_active(tenant)
        if config is not None and sinatrarc is not None:
            raise ConfigError("Pass the .sinatrarc text or its parsed config, not both.")
        agent = config_from_mapping(config) if config is not None else parse_sinatrarc(sinatrarc)
    except RoutingError as exc:
        RESOLUTIONS.labels("none", exc.code).inc()
        raise
    return resolve_agent(tenant, agent, caller=caller, record_use=record_use, keys=keys, policy=policy)


def resolve_agent(
    tenant: Tenant,
    agent: AgentConfig,
    *,
    caller: str = DEFAULT_CALLER,
    record_use: bool = True,
    policy: Policy | None = None,
    keys: Mapping[str, ActiveKey] | None = None,
) -> Resolution:
    """Resolve a request whose agent configuration is already parsed (the API's and commands' fields).

    `policy` replaces the tenant's own (the console previews a policy before it is saved; the
    HTTP API passes the default when its statement showed the tenant has none of its own);
    `keys` as for resolve().
    """
    started = time.perf_counter()
    try:
        resolution = _resolve_agent(tenant, agent, caller=caller, record_use=record_use, policy=policy, keys=keys)
    except RoutingError as exc:
        RESOLUTIONS.labels("none", exc.code).inc()
        raise
    finally:
        RESOLVE_SECONDS.observe(time.perf_counter() - started)
    _RESOLVED[resolution.provider].inc()
    return resolution


def _resolve_agent(
    tenant: Tenant,
    agent: AgentConfig,
    *,
    caller: str = DEFAULT_CALLER,
    record_use: bool = True,
    policy: Policy | None = None,
    keys: Mapping[str, ActiveKey] | None = None,
) -> Resolution:
    """The work of `resolve_agent()`, which measures it."""
    if caller is not DEFAULT_CALLER and not (isinstance(caller, str) and 0 < len(caller) <= release.MAX_CALLER_LENGTH):
        raise ValueError(f"caller names who receives the key: 1 to {release.MAX_CALLER_LENGTH} characters.")
    _check_active(tenant)
    policy = policy_for(tenant) if policy is None else policy
    restricted = policy is not DEFAULT_POLICY  # the default restricts nothing: its checks are skipped
    requested, origin = rules.requested_model(sinatrarc_model=agent.model, tenant_default=tenant.default_model)
    kind, route = rules.route(requested, agent.model_provider)

    rows = active_keys(tenant_id=tenant.pk) if keys is None else keys
    fallback = False
    if (
        route.provider == ANTHROPIC
        and agent.model_provider is None
        and kind in rules.OPENROUTER_FALLBACK_KINDS
        and not _has_key(rows, ANTHROPIC)
        and _has_key(rows, OPENROUTER)
    ):
        if restricted and not policy.allows_provider(OPENROUTER):
            raise _denied(
                tenant,
                f"{requested} would go through OpenRouter, because tenant {tenant.slug} has no Anthropic key, but "
                f"its policy allows only {policy.provider_labels()}: add an Anthropic key, or allow OpenRouter.",
            )
        route, fallback = rules.ROUTES[(kind, OPENROUTER)], True
    if restricted and not policy.allows_provider(route.provider):
        allowed = [provider for provider in Provider if policy.allows_provider(provider)]
        instead = next((provider for provider in allowed if (kind, provider) in rules.ROUTES), None)
        hint = f": write model_provider: {instead.value} to send it there" if instead else ""
        raise _denied(
            tenant,
            f"Tenant {tenant.slug}'s policy allows only {policy.provider_labels()}; {requested} goes to "
            f"{Provider(route.provider).label} ({route.because}){hint}.",
        )

    key = _key(tenant, rows, route.provider)
    pin = policy.pin(requested.lower()) if restricted and kind is Kind.ALIAS else None
    choice = _concrete_model(requested, kind, route, key, pin)
    if choice.from_list:  # the provider's own list named the alias's newest model: history notes changes
        aliases.alias_observed(provider=route.provider, alias=requested.lower(), model=choice.model)
    if restricted and not policy.allows_model(choice.model):
        raise _denied(
            tenant,
            f"Tenant {tenant.slug}'s policy allows only models matching {', '.join(policy.models)}; "
            f"{requested} means {choice.model} on {Provider(route.provider).label}, which matches none of them.",
        )
    if record_use and key.credential is not None:
        usage.note(TenantModelCredential, key.credential.pk)
    if record_use and key.secret is not None:  # host credentials release no key
        release.count(caller=caller, tenant_id=tenant.id, provider=route.provider)
    return Resolution(
        provider=route.provider,
        model=choice.model,
        requested=requested,
        base_url=spec(route.provider).base_url,
        api_key=key.secret,
        credential_source=key.source.value,
        key_hint=key.secret.hint if key.secret is not None else "",
        # The slug only where the sentence names it: the common sentences are shared by every tenant.
        reason=_reason(
            tenant.slug if pin or fallback else "",
            requested,
            origin,
            kind,
            route,
            choice.model,
            key.source,
            fallback,
            pin,
        ),
        warnings=choice.warnings,
    )


def _denied(tenant: Tenant, rule: str) -> PolicyDenied:
    return PolicyDenied(rule, change_at=f"{settings.SINATRA_BASE_URL}/t/{tenant.slug}/policy/")


def _check_active(tenant: Tenant) -> None:
    if not tenant.is_active:
        raise TenantInactive(f"Tenant {tenant.slug} is deactivated: nothing is served for it.")


def _environment_key(provider: str) -> str:
    if not settings.SINATRA_SINGLE_TENANT:
        return ""  # multi-tenant mode never uses a global key
    return spec(provider).environment_key


def _host_serves(provider: str) -> bool:
    return settings.SINATRA_SINGLE_TENANT and settings.SANDBOX_PROVIDER == "docker" and provider == ANTHROPIC


def _has_key(rows: Mapping, provider: str) -> bool:
    """Whether the tenant has its own key (row, or environment in single-tenant) for a provider."""
    return provider in rows or bool(_environment_key(provider))


def _key(tenant: Tenant, rows: Mapping, provider: str) -> _Key:
    """Apply rule 7's sources in order: the tenant's row, the environment, the host."""
    row = rows.get(provider)
    if row is not None:
        try:
            return _Key(Source.TENANT, credential_open(row), row)
        except KmsUnavailable as exc:
            raise CredentialUnavailable(
                f"The {Provider(provider).label} key of {tenant.slug} cannot be read now: {exc}"
            ) from None
        except KmsError:
            raise CredentialUnavailable(
                f"The {Provider(provider).label} key of {tenant.slug} ({row.key_hint}) no longer decrypts: "
                "enter it again, or ask an operator to check the KMS configuration."
            ) from None
    environment = _environment_key(provider)
    if environment:
        return _Key(Source.ENVIRONMENT, Secret(environment))
    if _host_serves(provider):
        return _Key(Source.HOST, None)
    raise MissingCredential(
        provider,
        f"Tenant {tenant.slug} has no {Provider(provider).label} API key: add one on "
        f"{settings.SINATRA_BASE_URL}/t/{tenant.slug}/credentials/ or with `python manage.py seed_credential "
        f"--tenant {tenant.slug} --provider {provider}`.",
    )


def _concrete_model(requested: str, kind: Kind, route: Route, key: _Key, pin: str | None) -> catalog.ModelChoice:
    alias = requested.lower()
    match route.target:
        case Target.NEWEST_ANTHROPIC:  # a pinned alias means its pin: the catalog is not asked
            return (
                catalog.anthropic_id(pin, secret=key.secret)
                if pin
                else catalog.newest_anthropic(alias, secret=key.secret)
            )
        case Target.NEWEST_OPENROUTER:
            return catalog.openrouter_slug_for_claude_id(pin) if pin else catalog.newest_openrouter(alias)
        case Target.ANTHROPIC_ID:
            return catalog.anthropic_id(requested, secret=key.secret)
        case Target.OPENROUTER_SLUG_OF_ID:
            return catalog.openrouter_slug_for_claude_id(requested)
        case Target.OPENROUTER_SLUG:
            return catalog.openrouter_slug(requested)
        case Target.ANTHROPIC_ID_OF_SLUG:
            return catalog.anthropic_id(requested, secret=key.secret)
    raise AssertionError(f"unhandled target {route.target}")  # pragma: no cover


@functools.lru_cache(maxsize=4096)  # the same few sentences, over and over (a tenant's slug only in a few)
def _reason(
    slug: str,
    requested: str,
    origin: str,
    kind: Kind,
    route: Route,
    model: str,
    source: Source,
    fallback: bool,
    pin: str | None,
) -> str:
    """The sentence that says why; `slug` is named only by a pin's and a fallback's ("" otherwise)."""
    provider = Provider(route.provider).label
    pinned = f", pinned by tenant {slug}'s policy to {pin}" if pin else ""
    if fallback:
        return (
            f"{requested} ({origin}{pinned}) would go to Anthropic directly, but tenant {slug} has only an "
            f"OpenRouter key, so it goes through OpenRouter as {model} (one key is enough to get going)."
        )
    what = {
        Kind.ALIAS: f"an alias pinned by tenant {slug}'s policy to {pin}"
        if pin
        else f"an alias for the newest Claude {requested.lower().title()} model",
        Kind.CLAUDE_ID: "a Claude model id",
        Kind.ANTHROPIC_SLUG: "a vendor/model slug",
        Kind.SLUG: "a vendor/model slug",
    }[kind]
    via = {
        Source.TENANT: "",
        Source.ENVIRONMENT: f", with the {provider} key from the environment (single-tenant mode)",
        Source.HOST: ", with the host's own claude login (single-tenant, docker sandbox)",
    }[source]
    return f"{requested} ({origin}) is {what}; {route.because}, so {provider} serves {model}{via}."
