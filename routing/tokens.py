"""Create, revoke and check service tokens. Tokens are stored hashed and compared in constant time.

A token is scoped: it resolves the tenants it names, or all tenants when created with
`--all-tenants`. Creating and revoking a token, and refusing a request for a tenant outside its
scope, each write a ServiceTokenEvent (never the token).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import NamedTuple

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from credentials.selectors import ActiveKey
from credentials.services import Actor
from tenants.models import Tenant

from . import usage
from .models import Scope, ServiceToken, ServiceTokenEvent, TokenEventKind
from .policy_rules import DEFAULT as DEFAULT_POLICY
from .policy_rules import Policy
from .selectors import token_request

TOKEN_PREFIX = "sin_"
MAX_EXPIRES_DAYS = 3650


class TokenError(Exception):
    """A token could not be created or revoked; the message says why."""


class TokenRefused(Exception):
    """A presented token does not let a request through; the message says why, for its holder."""


class TokenUnknown(TokenRefused):
    """No token has this value (or none was sent)."""


class TokenRevoked(TokenRefused):
    """The token was revoked."""


class TokenExpired(TokenRefused):
    """The token's expiry has passed."""


class TenantOutOfScope(TokenRefused):
    """The token may not resolve this tenant."""


class IssuedToken(NamedTuple):
    """What `token_create` did: the row, and the token itself when it was created just now (else None)."""

    row: ServiceToken
    token: str | None

    @property
    def created(self) -> bool:
        return self.token is not None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _scope_detail(scope: str, tenants: Sequence[Tenant], expires_at) -> str:
    named = ", ".join(sorted(tenant.slug for tenant in tenants)) if scope == Scope.TENANTS else Scope(scope).label
    expiry = f"; expires {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else "; does not expire"
    return f"scope: {named}{expiry}"


def _same_scope(row: ServiceToken, scope: str, tenants: Sequence[Tenant]) -> bool:
    """Whether `row` resolves what a token of `scope` for `tenants` would (any all-tenant scope is all)."""
    if row.covers_all_tenants or scope != Scope.TENANTS:
        return row.covers_all_tenants == (scope != Scope.TENANTS)
    return {tenant.pk for tenant in row.tenants.all()} == {tenant.pk for tenant in tenants}


@sensitive_variables("token")
def token_create(
    *,
    name: str,
    tenants: Sequence[Tenant] = (),
    all_tenants: bool = False,
    expires_days: int | None = None,
    actor: Actor | None = None,
) -> IssuedToken:
    """Create a token for `tenants`, or for all tenants (said explicitly); return it once.

    A live token of the same name and scope is the safe reading of a re-run: it is returned
    with `token=None` and nothing is created. Anything else under a live name is a TokenError.
    """
    actor = actor or Actor.command("create_service_token")
    name = name.strip()
    if not name or len(name) > 100 or any(char.isspace() for char in name):
        raise TokenError("A token name is 1 to 100 characters without spaces, e.g. worker-eu-1.")
    if all_tenants and tenants:
        raise TokenError("Give --tenant SLUG (one or more) or --all-tenants, not both.")
    if not all_tenants and not tenants:
        raise TokenError(
            "Say which tenants the token may resolve: --tenant SLUG (repeat it for several), "
            "or --all-tenants for every tenant."
        )
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRES_DAYS:
        raise TokenError(f"--expires-days is a whole number of days from 1 to {MAX_EXPIRES_DAYS}.")
    scope = Scope.ALL_TENANTS if all_tenants else Scope.TENANTS
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            row = ServiceToken.objects.create(name=name, token_hash=token_hash(token), prefix=token[:10], scope=scope)
            if expires_days is not None:
                row.expires_at = row.created_at + timedelta(days=expires_days)
                row.save(update_fields=["expires_at"])
            if scope == Scope.TENANTS:
                row.tenants.set(tenants)
            token_event(row, TokenEventKind.CREATED, actor.label, _scope_detail(scope, tenants, row.expires_at))
    except IntegrityError:
        return IssuedToken(_existing(name, scope, tenants, timezone.now()), None)
    return IssuedToken(row, token)


def _existing(name: str, scope: str, tenants: Sequence[Tenant], now) -> ServiceToken:
    """Return the live token holding `name` if it is what was asked for; else say why not."""
    existing = ServiceToken.objects.filter(name=name, revoked_at__isnull=True).first()
    if existing is None:  # revoked between the two statements
        raise TokenError(f"The token named {name!r} was revoked just now: run the command again.")
    if not existing.is_expired(now) and _same_scope(existing, scope, tenants):
        return existing
    if existing.is_expired(now):
        raise TokenError(
            f"Service token {existing.name} expired on {existing.expires_at:%Y-%m-%d %H:%M} UTC: revoke it "
            f"(revoke_service_token {existing.name}) and create it again, or pick another name."
        )
    raise TokenError(
        f"A live token named {existing.name!r} exists with another scope ({existing.scope_label()}): "
        "revoke it first or pick another name."
    )


@transaction.atomic
def token_revoke(*, name: str, actor: Actor | None = None) -> tuple[ServiceToken, bool]:
    """Revoke the live token with this name; return it and whether it was revoked just now.

    A name whose tokens are all revoked already is the safe reading of a re-run: the latest of
    them is returned with False. A name no token ever had is a TokenError.
    """
    actor = actor or Actor.command("revoke_service_token")
    row = ServiceToken.objects.select_for_update().filter(name=name, revoked_at__isnull=True).first()
    if row is None:
        revoked = ServiceToken.objects.filter(name=name).order_by("-revoked_at").first()
        if revoked is None:
            live = list(ServiceToken.objects.filter(revoked_at__isnull=True).values_list("name", flat=True))
            known = f" Live tokens: {', '.join(live)}." if live else " There is no live token."
            raise TokenError(f"No service token is named {name!r}.{known}")
        return revoked, False
    row.revoked_at = timezone.now()
    row.save(update_fields=["revoked_at"])
    token_event(row, TokenEventKind.REVOKED, actor.label, f"prefix {row.prefix}...")
    return row, True


UNKNOWN = "Send Authorization: Bearer <service token> (create_service_token)."


def token_check_form(presented: str) -> None:
    """Raise TokenUnknown when `presented` cannot be a token (no lookup made)."""
    if not presented.startswith(TOKEN_PREFIX) or len(presented) > 200:
        raise TokenUnknown(UNKNOWN)


def token_digest(presented: str) -> str:
    """Return the SHA-256 to look a presented token up by; TokenUnknown when it cannot be a token."""
    token_check_form(presented)
    return token_hash(presented)


def _check_live(*, name: str, revoked_at, expires_at) -> None:
    """Raise TokenRevoked or TokenExpired for a token that is no longer live."""
    if revoked_at is not None:
        raise TokenRevoked(f"Service token {name} was revoked: ask an operator for a new one (create_service_token).")
    if expires_at is not None and expires_at <= timezone.now():
        raise TokenExpired(
            f"Service token {name} expired on {expires_at:%Y-%m-%d %H:%M} UTC: ask an operator for "
            "a new one (create_service_token), roll it out, then revoke this one."
        )


@sensitive_variables("presented")
def token_authenticate(presented: str) -> ServiceToken:
    """Return the live token matching `presented`, or raise TokenRefused. Notes its use (routing.usage)."""
    digest = token_digest(presented)
    row = ServiceToken.objects.filter(token_hash=digest).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        raise TokenUnknown(UNKNOWN)
    _check_live(name=row.name, revoked_at=row.revoked_at, expires_at=row.expires_at)
    usage.note(ServiceToken, row.pk)
    return row


def token_tenant(*, token: ServiceToken, slug: str) -> Tenant | None:
    """Return the tenant with this slug if `token` may resolve it; None if no tenant has it.

    A token scoped to named tenants is refused any other slug, whether a tenant has it or not
    (so it learns nothing about other tenants), and the refusal is recorded.
    """
    if token.covers_all_tenants:
        return Tenant.objects.filter(slug=slug).first()
    tenant = token.tenants.filter(slug=slug).first()
    if tenant is None:
        raise _refused(token, slug, Tenant.objects.filter(slug=slug).first())
    return tenant


class Grant(NamedTuple):
    """What a request's token lets it have: who asks (the token's name), the tenant it named
    (None: no tenant has that slug), that tenant's active keys as they are now, and its policy
    when the same statement showed it has none of its own (the default; None: read it)."""

    caller: str
    tenant: Tenant | None
    keys: dict[str, ActiveKey]
    policy: Policy | None = None


@sensitive_variables("presented")
def token_grant(presented: str, slug: str) -> Grant:
    """Check `presented` and the tenant `slug` against its scope, and read that tenant's keys: one statement.

    The same answers as token_authenticate() then token_tenant(), for the HTTP API's hot path:
    nothing is cached, so a token revoked or a key replaced a moment ago counts on the next request.
    """
    digest = token_digest(presented)
    found = token_request(token_hash=digest, slug=slug)
    if found is None or not hmac.compare_digest(found.token_hash, digest):
        raise TokenUnknown(UNKNOWN)
    _check_live(name=found.name, revoked_at=found.revoked_at, expires_at=found.expires_at)
    usage.note(ServiceToken, found.token_id)
    if not found.in_scope:
        raise _refused(ServiceToken.objects.get(pk=found.token_id), slug, found.tenant)
    return Grant(found.name, found.tenant, found.keys, None if found.has_policy else DEFAULT_POLICY)


def _refused(token: ServiceToken, slug: str, asked: Tenant | None) -> TenantOutOfScope:
    """Record that `token` asked for a tenant outside its scope; return the error to raise."""
    token_event(token, TokenEventKind.REFUSED_TENANT, f"token:{token.name}", f"asked for tenant {slug!r}", asked)
    return TenantOutOfScope(
        f"Service token {token.name} may not resolve tenant {slug!r}: it is outside the token's scope. "
        f"An operator can issue a token for it (create_service_token NAME --tenant {slug})."
    )


def token_event(
    token: ServiceToken, kind: str, actor: str, detail: str, tenant: Tenant | None = None
) -> ServiceTokenEvent:
    """Write a token's audit event (no secret in it)."""
    return ServiceTokenEvent.objects.create(token=token, kind=kind, actor=actor, detail=detail[:500], tenant=tenant)
