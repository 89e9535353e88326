"""Reads of tenant model credentials."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Q, QuerySet
from django.utils import timezone

from providers import spec
from providers.base import EXPIRY_WARNING
from tenants.models import Tenant

from .driver import Columns, columns, connection_for, fetch_all, literal
from .memo import BoundedMemo
from .models import CredentialEvent, EventKind, Provider, Status, TenantModelCredential


def active_credentials(*, tenant: Tenant | None = None) -> QuerySet[TenantModelCredential]:
    """Return active credentials, of one tenant or of all, in a stable order."""
    rows = TenantModelCredential.objects.filter(status=Status.ACTIVE).select_related("tenant")
    if tenant is not None:
        rows = rows.filter(tenant=tenant)
    return rows.order_by("tenant__slug", "provider")


def credentials_to_rewrap(*, primary: tuple[str, str], tenant: Tenant | None = None) -> QuerySet[TenantModelCredential]:
    """Return every credential (active or revoked) whose DEK is not under the primary KEK."""
    kek_id, kek_version = primary
    rows = TenantModelCredential.objects.filter(~Q(kek_id=kek_id) | ~Q(kek_version=kek_version) | Q(needs_rewrap=True))
    if tenant is not None:
        rows = rows.filter(tenant=tenant)
    return rows.select_related("tenant").order_by("id")


@dataclass(slots=True)
class SealedCredential:
    """A credential's envelope as rewrapping reads it, with its tenant's slug to name it by."""

    id: UUID
    tenant_id: UUID
    tenant_slug: str
    provider: str
    kek_id: str
    kek_version: str
    wrapped_dek: bytes
    ciphertext: bytes
    envelope_version: int
    needs_rewrap: bool

    @property
    def pk(self) -> UUID:
        return self.id


# Selected columns, in SealedCredential's order.
_SEALED_CREDENTIAL_COLUMNS = [
    "tenant__slug" if field.name == "tenant_slug" else field.name for field in fields(SealedCredential)
]


def credentials_to_rewrap_after(
    *, primary: tuple[str, str], tenant: Tenant | None = None, after: UUID | None = None, limit: int
) -> list[SealedCredential]:
    """Return the next `limit` credentials to rewrap, in id order, after the id `after`.

    Plain records rather than model instances: building 10,000 instances (and their tenants)
    took longer than rewrapping them.
    """
    rows = credentials_to_rewrap(primary=primary, tenant=tenant)
    if after is not None:
        rows = rows.filter(id__gt=after)
    return [SealedCredential(*values) for values in rows.values_list(*_SEALED_CREDENTIAL_COLUMNS)[:limit]]


class CredentialState(models.TextChoices):
    """What the console says about a provider's active key (the value doubles as a CSS class)."""

    VERIFIED = "verified", "verified"
    UNVERIFIED = "unverified", "unverified"
    REJECTED = "rejected", "rejected"
    NEEDS_REENTRY = "needs-re-entry", "needs re-entry"
    UNCHECKABLE = "cannot-be-checked-now", "cannot be checked now"
    NONE = "none", "no key yet"


@dataclass(frozen=True)
class ProviderCredentials:
    """What the tenant console shows for one provider."""

    provider: Provider
    active: TenantModelCredential | None
    state: CredentialState
    detail: str
    revoked: list[TenantModelCredential]

    @property
    def label(self) -> str:
        return spec(self.provider).label

    @property
    def expires_soon(self) -> bool:
        return self.active is not None and self.active.facts.expires_soon(timezone.now())

    def with_state(self, state: CredentialState, detail: str) -> ProviderCredentials:
        return dataclasses.replace(self, state=state, detail=detail)


def tenant_credential_rows(*, tenant: Tenant) -> list[ProviderCredentials]:
    """Return, per provider, the active key (with its last check) and the revoked ones, in two queries."""
    rows = list(TenantModelCredential.objects.filter(tenant=tenant).order_by("-created_at"))
    last_check = {}
    checks = CredentialEvent.objects.filter(
        tenant=tenant, kind__in=[EventKind.VALIDATED, EventKind.VALIDATION_FAILED]
    ).order_by("created_at", "id")
    for event in checks:
        last_check[event.credential_id] = event
    result = []
    for provider in Provider:
        mine = [row for row in rows if row.provider == provider]
        active = next((row for row in mine if row.status == Status.ACTIVE), None)
        revoked = [row for row in mine if row.status == Status.REVOKED]
        state, detail = CredentialState.NONE, ""
        if active is not None:
            check = last_check.get(active.id)
            if active.rejected_at is not None:
                reason = check.detail if check is not None and check.kind == EventKind.VALIDATION_FAILED else ""
                state, detail = CredentialState.REJECTED, reason or "The provider rejected this key."
            elif active.validated_at:
                state = CredentialState.VERIFIED
            else:
                state, detail = CredentialState.UNVERIFIED, "Not verified with the provider yet."
        result.append(ProviderCredentials(provider, active, state, detail, revoked))
    return result


def keys_needing_attention(*, tenant: Tenant, now: datetime) -> QuerySet[TenantModelCredential]:
    """Return a tenant's active keys that its provider rejected or that expire within EXPIRY_WARNING."""
    return TenantModelCredential.objects.filter(
        Q(rejected_at__isnull=False) | Q(key_expires_at__lte=now + EXPIRY_WARNING),
        tenant=tenant,
        status=Status.ACTIVE,
    ).order_by("provider")


def tenant_events(*, tenant: Tenant, limit: int = 50) -> QuerySet[CredentialEvent]:
    """Return a tenant's latest credential events, newest first."""
    return (
        CredentialEvent.objects.filter(tenant=tenant)
        .select_related("credential")
        .order_by("-created_at", "-id")[:limit]
    )


# --- The hot path of routing.resolve(): thousands of calls a minute per worker.
#
# The ORM spends far longer building and compiling a query, and instantiating models, than the
# database spends running it (about 240 µs against 30 µs here, see docs/performance.md). This
# selector runs the same indexed SELECT, its SQL built once, through the database driver
# (credentials.driver: prepared on PostgreSQL), converts each value with the ORM's own
# converters, and returns small ActiveKey records with just what resolving needs.


@dataclass(frozen=True, slots=True)
class ActiveKey:
    """An active credential as resolve() needs it: its envelope and what names it.

    Immutable: one is shared by every read that returned the same row (`active_key()`).
    """

    id: UUID
    tenant_id: UUID
    provider: str
    key_hint: str
    kek_id: str
    wrapped_dek: bytes
    ciphertext: bytes
    envelope_version: int
    needs_rewrap: bool

    @property
    def pk(self) -> UUID:
        return self.id


# Selected columns, in ActiveKey's order; tenant_id is the caller's own argument.
ACTIVE_KEY_FIELDS = tuple(field.name for field in fields(ActiveKey) if field.name != "tenant_id")


def active_key_columns(connection: BaseDatabaseWrapper, *, alias: str) -> Columns:
    """The columns an ActiveKey is read from, for statements that join them to others (routing's API)."""
    return _active_key_columns(connection.alias, connection.vendor, alias)


@functools.lru_cache(maxsize=16)
def _active_key_columns(database: str, vendor: str, alias: str) -> Columns:
    return columns(connections[database], TenantModelCredential, ACTIVE_KEY_FIELDS, alias=alias)


# Each ActiveKey made, by the tenant asked for and the row exactly as the driver returned it:
# converting the same values again on every resolve (a UUID from text on SQLite, ...) cost more
# than looking them up. A row that changed in any column (a new key, a rewrapped DEK, a flag)
# is a different entry, so an entry can never stand for a row other than the one just read.
# Ciphertext and wrapped DEKs only, no plaintext.
_active_key_memo: BoundedMemo[tuple[str, int, tuple[Any, ...]], ActiveKey] = BoundedMemo(20_000)


def active_key(
    connection: BaseDatabaseWrapper, selected: Columns, row: tuple[Any, ...], *, tenant_id: UUID
) -> ActiveKey:
    """The ActiveKey of `row`, a tuple of `selected` (active_key_columns) as the driver returned them."""
    memo_key = (connection.vendor, tenant_id.int, row)
    key = _active_key_memo.get(memo_key)
    if key is None:
        values = selected.convert(connection, row)
        key = _active_key_memo.put(memo_key, ActiveKey(values[0], tenant_id, *values[1:]))
    return key


@functools.lru_cache(maxsize=8)
def _active_keys_statement(database: str, vendor: str) -> tuple[str, Columns, Field]:
    connection = connections[database]
    quote = connection.ops.quote_name
    selected = _active_key_columns(database, vendor, "c")
    tenant, status = _concrete_field("tenant"), _concrete_field("status")
    c = quote("c")
    sql = (
        f"SELECT {selected.sql} FROM {quote(TenantModelCredential._meta.db_table)} {c} "  # noqa: S608 - names from the model, values as parameters
        f"WHERE {c}.{quote(tenant.column)} = %s AND {c}.{quote(status.column)} = {literal(Status.ACTIVE)}"
    )
    return sql, selected, tenant.target_field  # type: ignore[attr-defined]  # a ForeignKey


def _concrete_field(name: str) -> Field:
    field = TenantModelCredential._meta.get_field(name)
    assert isinstance(field, Field)
    return field


def active_keys(*, tenant_id: UUID) -> dict[str, ActiveKey]:
    """Return a tenant's active credentials by provider: one indexed SELECT through the driver."""
    connection = connection_for(router.db_for_read(TenantModelCredential))
    sql, selected, tenant_id_field = _active_keys_statement(connection.alias, connection.vendor)
    rows = fetch_all(connection, sql, [tenant_id_field.get_db_prep_value(tenant_id, connection)])
    keys = {}
    for row in rows:
        key = active_key(connection, selected, row, tenant_id=tenant_id)
        keys[key.provider] = key
    return keys
