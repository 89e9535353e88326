"""Reads of routing's own records: service tokens, and who received each tenant's keys."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connections, router
from django.db.models import Field, Max, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from credentials.driver import Columns, columns, connection_for, fetch_all, literal
from credentials.models import Status, TenantModelCredential
from credentials.selectors import ActiveKey, active_key, active_key_columns
from tenants.models import Tenant

from .models import KeyRelease, PolicyEvent, Scope, ServiceToken, TenantPolicy

DAY = timedelta(hours=24)
MONTH = timedelta(days=30)


def service_tokens(*, include_revoked: bool = False) -> QuerySet[ServiceToken]:
    """Return service tokens by name, newest first within a name; revoked ones only when asked."""
    rows = ServiceToken.objects.prefetch_related("tenants").order_by("name", "-created_at")
    if not include_revoked:
        rows = rows.filter(revoked_at__isnull=True)
    return rows


@dataclass(frozen=True)
class CallerReleases:
    """How often one caller received a tenant's key for one provider."""

    caller: str
    last_day: int
    last_month: int
    last_released_at: datetime


def key_releases(*, tenant: Tenant, now: datetime | None = None) -> dict[str, list[CallerReleases]]:
    """Return, per provider, who received the tenant's key: releases in the last 24 hours and
    30 days and the latest one, by caller, most recent first.

    Counts are kept by the hour, so "the last 24 hours" is the current hour and the 23 before it.
    """
    this_hour = (now or timezone.now()).replace(minute=0, second=0, microsecond=0)
    since_day = this_hour - DAY + timedelta(hours=1)
    since_month = this_hour - MONTH + timedelta(hours=1)
    rows = (
        KeyRelease.objects.filter(tenant=tenant, hour__gte=since_month)
        .values("provider", "caller")
        .annotate(
            last_month=Sum("count"),
            last_day=Coalesce(Sum("count", filter=Q(hour__gte=since_day)), 0),
            latest=Max("last_released_at"),
        )
        .order_by("provider", "-latest", "caller")
    )
    releases: dict[str, list[CallerReleases]] = {}
    for row in rows:
        releases.setdefault(row["provider"], []).append(
            CallerReleases(row["caller"], row["last_day"], row["last_month"], row["latest"])
        )
    return releases


def policy_events(*, tenant: Tenant, limit: int = 20) -> QuerySet[PolicyEvent]:
    """Return a tenant's latest policy changes, newest first."""
    return PolicyEvent.objects.filter(tenant=tenant).order_by("-created_at", "-id")[:limit]


# --- The HTTP API's hot path: the token, the tenant it names and that tenant's keys, in one statement.

TOKEN_FIELDS = ("id", "name", "scope", "token_hash", "expires_at", "revoked_at")
TENANT_FIELDS = tuple(field.attname for field in Tenant._meta.concrete_fields)


@dataclass(slots=True)
class TokenRequest:
    """A service token found by its hash, the tenant a request named (None: no tenant has that slug),
    whether the token's scope covers it, whether the tenant has a policy of its own, and (only
    when the scope covers it) the tenant's active keys."""

    token_id: int
    name: str
    scope: str
    token_hash: str
    expires_at: datetime | None
    revoked_at: datetime | None
    tenant: Tenant | None
    in_scope: bool
    has_policy: bool
    keys: dict[str, ActiveKey]


@functools.lru_cache(maxsize=8)
def _token_request_statement(database: str, vendor: str) -> tuple[str, Columns, Columns, Columns]:
    connection = connections[database]
    quote = connection.ops.quote_name
    token_columns = columns(connection, ServiceToken, TOKEN_FIELDS, alias="t")
    tenant_columns = columns(connection, Tenant, TENANT_FIELDS, alias="n")
    key_columns = active_key_columns(connection, alias="c")
    members = ServiceToken.tenants.through._meta
    member_token, member_tenant = (_column(members.get_field(name)) for name in ("servicetoken", "tenant"))
    t, n, c, m = (quote(letter) for letter in "tncm")
    in_scope = (
        f"({t}.{quote('scope')} <> {literal(Scope.TENANTS)} OR EXISTS (SELECT 1 FROM {quote(members.db_table)} {m} "  # noqa: S608 - names from the models
        f"WHERE {m}.{quote(member_token)} = {t}.{quote('id')} AND {m}.{quote(member_tenant)} = {n}.{quote('id')}))"
    )
    credential = TenantModelCredential._meta
    policy = TenantPolicy._meta
    has_policy = (
        f"EXISTS (SELECT 1 FROM {quote(policy.db_table)} {quote('p')} "  # noqa: S608 - names from the models
        f"WHERE {quote('p')}.{quote(_column(policy.get_field('tenant')))} = {n}.{quote('id')})"
    )
    sql = (
        f"SELECT {token_columns.sql}, {tenant_columns.sql}, CASE WHEN {in_scope} THEN 1 ELSE 0 END, "  # noqa: S608 - names from the models, values as parameters
        f"CASE WHEN {has_policy} THEN 1 ELSE 0 END, {key_columns.sql} "
        f"FROM {quote(ServiceToken._meta.db_table)} {t} "
        f"LEFT JOIN {quote(Tenant._meta.db_table)} {n} ON {n}.{quote('slug')} = %s "
        f"LEFT JOIN {quote(credential.db_table)} {c} ON {c}.{quote(credential.get_field('tenant').column)} = "
        f"{n}.{quote('id')} AND {c}.{quote('status')} = {literal(Status.ACTIVE)} AND {in_scope} "
        f"WHERE {t}.{quote('token_hash')} = %s"
    )
    return sql, token_columns, tenant_columns, key_columns


def _column(field: object) -> str:
    assert isinstance(field, Field)
    return field.column


def token_request(*, token_hash: str, slug: str) -> TokenRequest | None:
    """Return the token with this hash, the tenant `slug` names and its keys if the token may resolve it.

    One statement through the database driver (prepared on PostgreSQL), read fresh on every
    request: a token revoked or a key replaced a moment ago is seen by the next request.
    """
    connection = connection_for(router.db_for_read(ServiceToken))
    sql, token_columns, tenant_columns, key_columns = _token_request_statement(connection.alias, connection.vendor)
    rows = fetch_all(connection, sql, [slug, token_hash])
    if not rows:
        return None
    first = rows[0]
    token_id, name, scope, digest, expires_at, revoked_at = token_columns.converted(
        connection, first[: len(token_columns)]
    )
    tenant_end = len(token_columns) + len(tenant_columns)
    tenant_values = tenant_columns.converted(connection, first[len(token_columns) : tenant_end])
    tenant = (
        Tenant.from_db(connection.alias, TENANT_FIELDS, list(tenant_values)) if tenant_values[0] is not None else None
    )
    keys = {}
    for row in rows:
        values = row[tenant_end + 2 :]
        if values[0] is not None and tenant is not None:
            key = active_key(connection, key_columns, values, tenant_id=tenant.pk)
            keys[key.provider] = key
    return TokenRequest(
        token_id,
        name,
        scope,
        digest,
        expires_at,
        revoked_at,
        tenant=tenant,
        in_scope=bool(first[tenant_end]),
        has_policy=bool(first[tenant_end + 1]),
        keys=keys,
    )
